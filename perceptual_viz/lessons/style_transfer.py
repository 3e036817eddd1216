"""Style transfer (Gatys, Ecker & Bethge 2016): one photo's content in another photo's style.

Optimise an image x — starting from the content photo c (or, as in the paper, from noise) —
to minimise ``α · content(x) + β · style(x) + γ · TV(x)``:

- **content**: ``‖φ_l(x) − φ_l(c)‖² / ‖φ_l(c)‖²`` at one layer (relu3_3 on VGG16, relu4_2 on
  VGG19): Gatys' content loss made scale-free, as the reconstruction lesson does
  (:func:`~perceptual_viz.metrics.relative_perceptual_distance`);
- **style**: ``Σ_l w_l E_l(x, s) / Σ_l w_l E_l(c, s)`` over relu1_1 … relu5_1 with w_l = 1/5
  and E_l Gatys' textbook ``1/(4 N_l² M_l²) · Σ (G_l(x) − G_l(s))²``
  (:func:`~perceptual_viz.gram.gatys_energy`, which also allows a style photo s of another
  size). The unit, the content photo's own style distance, is one number per pair and weights:
  the style term is 1 where the content photo starts, whatever the pair and whichever the
  weights (torchvision's, the original Caffe ones with activations ~100× larger and E_l ~10⁸×
  larger, or untrained ones), and the textbook's balance between the layers is kept. Gatys'
  β/α of 10³–10⁴ applies to raw sums on Caffe's scale; here β ≈ 10 does that job;
- **TV**: :func:`~perceptual_viz.lessons.reconstruct.total_variation`, the smoothness term.

:func:`distances` measures a result unweighted: its content distance (the relative error above)
and its style distance (``Σ_l w_l E_l``, the textbook value, in the weights' own units).

How the defaults were chosen (ImageNet VGG16, 100 steps at 128 px, chelsea × brick and
astronaut × chelsea):

- the unit. Dividing by the style photo's own Gram energy Σ_l w_l E_l(0, s) instead made β mean
  5× more for the astronaut (her Grams are that much further from the cat's than the cat's are
  from the bricks): at a β where the cat kept her eyes the astronaut lost her face. Dividing
  each layer by its own energy let relu5_1 rule: a brick wall's relu5_1 Grams are ~10× weaker
  than a cat's, so that term started 50× larger than the others and wiped out the cat;
- the content layer. relu3_3 (Johnson et al.'s) keeps the eyes, the nose and the outline while
  the bricks cover the whole picture (β = 10); with relu4_2 or relu4_3 the same β leaves only
  an eye, and a β small enough to keep the face puts bricks only in the flat background.
  VGG19 keeps Gatys' relu4_2 (not measured here: no VGG19 weights were at hand);
- β = 10 spreads the style over the whole picture; β = 3 keeps more of the photo;
- γ = 10 removes the coloured speckle left at γ ≤ 5 without blurring the bricks, and barely
  changes the content distance at the end;
- Adam on the pixels from the content photo, clamped to [0, 1], the learning rate 0.03
  cosine-decayed (:func:`~perceptual_viz.lessons.reconstruct.optimise`, shared with the
  reconstruction lesson). L-BFGS (strong Wolfe line search) reached the same objective for the
  same number of VGG passes, so the simpler loop, which reports and stops after every step, is
  kept. 0.06 did no better than 0.03.

Each step is one VGG pass of x up to relu5_1, giving the content and the style layers at once;
the targets (the content photo's features and style distance, the style photo's Grams) are
computed once, before the first step. Work is bounded per device (:func:`limits`);
:func:`style_transfer` yields :class:`StyleStep` items for streaming and stops early on
``should_stop()`` or at ``deadline``, like :func:`~perceptual_viz.lessons.reconstruct.reconstruct`.
The VGG model is shared and never changed; gradients flow only to the image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import torch

from ..archs import ARCHITECTURES, Arch, check_arch
from ..backbone import VGGFeatures
from ..errors import InputError
from ..gram import gatys_energy, gram
from ..layers import layer
from ..messages import msg
from ..metrics import relative_perceptual_distance
from ..options import STYLE_INITS, StopReason, StyleInit, is_one_of
from .reconstruct import (
    Budget,
    _grad_mode,
    _integer,
    _number,
    check_loop,
    check_work,
    initial_image,
    optimise,
    resize_target,
    total_variation,
)

CONTENT_LAYERS: dict[Arch, str] = {name: spec.content_layer for name, spec in ARCHITECTURES.items()}
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # Gatys' five, w_l = 1/5
CONTENT_WEIGHT = 1.0
STYLE_WEIGHT = 10.0
TV_WEIGHT = 10.0
LR = 0.03
# 100 steps at 128 px take 25–45 s on a 2-core CPU (see docs/app.md#style-transfer).
BUDGET = Budget({"cpu": (100, 400, 256), "mps": (100, 400, 256), "cuda": (300, 2000, 512)})


def limits(device: torch.device | str) -> tuple[int, int]:
    """(max steps, max px) allowed on ``device``: small on cpu/mps, larger on cuda."""
    return BUDGET.limits(device)


def default_steps(device: torch.device | str) -> int:
    """Steps used when ``StyleSettings.steps`` is None."""
    return BUDGET.default_steps(device)


@dataclass(frozen=True)
class StyleSettings:
    """The weights of the three terms, the layers, and how hard to try; ``None`` → defaults."""

    content_weight: float = CONTENT_WEIGHT  # α
    style_weight: float = STYLE_WEIGHT  # β
    tv_weight: float = TV_WEIGHT  # γ
    content_layer: str | None = None  # None → CONTENT_LAYERS[arch]
    style_layers: tuple[str, ...] = STYLE_LAYERS
    steps: int | None = None  # None → default_steps(device)
    px: int = 128  # the analysis size: longest side of the result (and of the style photo), px
    seed: int = 0  # of the starting noise (init "noise")
    init: StyleInit = "content"  # start from the content photo, or from faint noise
    lr: float = LR  # Adam's learning rate, cosine-decayed to lr / 20

    def resolved(self, arch: Arch, device: torch.device | str) -> StyleSettings:
        """A copy with every default filled in and every value checked (``ValueError`` if not valid)."""
        arch = check_arch(arch)
        if not is_one_of(self.init, STYLE_INITS):
            raise InputError(
                msg(
                    "start from one of {choices}, not {value}",
                    choices=", ".join(STYLE_INITS),
                    value=repr(self.init),
                )
            )
        names = (self.style_layers,) if isinstance(self.style_layers, str) else self.style_layers
        names = tuple(dict.fromkeys(str(n) for n in names))
        if not names:
            raise InputError(msg("choose at least one style layer"))
        content_layer = CONTENT_LAYERS[arch] if self.content_layer is None else str(self.content_layer)
        for n in (content_layer, *names):
            layer(arch, n)  # ValueError naming the valid layers
        given = default_steps(device) if self.steps is None else self.steps
        steps, px = check_work(given, self.px, limits(device), BUDGET.device_type(device), "px")
        alpha, beta, gamma = (_number(k, getattr(self, k), positive=False) for k in _WEIGHTS)
        if alpha + beta == 0:
            raise InputError(msg("the content weight and the style weight cannot both be 0"))
        return replace(
            self,
            content_weight=alpha,
            style_weight=beta,
            tv_weight=gamma,
            content_layer=content_layer,
            style_layers=names,
            steps=steps,
            px=px,
            seed=_integer("seed", self.seed),
            lr=_number("lr", self.lr, positive=True),
        )


_WEIGHTS = ("content_weight", "style_weight", "tv_weight")


@dataclass
class StyleStep:
    """One progress report of :func:`style_transfer`."""

    step: int  # optimisation steps done so far
    total: int  # steps planned
    image: torch.Tensor  # (1, 3, h, w) float32 in [0, 1], detached, on CPU
    loss: float  # the objective at ``image``
    parts: dict[str, float] = field(default_factory=dict)  # weighted "content", "style", "tv": sum = loss
    distances: dict[str, float] = field(default_factory=dict)  # unweighted "content", "style" (see distances)
    seconds: float = 0.0  # elapsed since the call started
    done: bool = False  # the last item
    stopped: StopReason = ""  # "" or why it stopped early: "cancelled", "time limit"


# --------------------------------------------------------------------------- the objective


@dataclass(frozen=True)
class Targets:
    """What the optimisation matches, computed once: the content photo (at the result's size)
    and its features at the content layer, the style photo's Grams (``"chw"``) at the style
    layers, and the style term's unit: the content photo's own style distance Σ_l w_l E_l(c, s)
    (at least a millionth of the style photo's Gram energy Σ_l w_l E_l(0, s), for a pair of
    identical photos)."""

    content: torch.Tensor
    features: torch.Tensor
    grams: dict[str, torch.Tensor]
    unit: torch.Tensor


def targets(
    model: VGGFeatures, content: torch.Tensor, style: torch.Tensor, settings: StyleSettings
) -> Targets:
    """:class:`Targets` of ``content`` and ``style`` ((1, 3, H, W) in [0, 1], any sizes), each
    resized so its longest side is ``settings.px``; fp32, no grad, on the model's device."""
    s = settings.resolved(model.arch, model.device)
    dev = model.device
    return _targets(model, resize_target(content, s.px, dev), resize_target(style, s.px, dev), s)


def _targets(model: VGGFeatures, c: torch.Tensor, st: torch.Tensor, s: StyleSettings) -> Targets:
    layers, at = s.style_layers, str(s.content_layer)
    with _grad_mode(False):
        fc = model(c, [at, *layers])
        fs = model(st, layers)
        grams = {n: gram(fs[n].float(), "chw") for n in layers}
        energy = _style_energy({n: torch.zeros_like(g) for n, g in grams.items()}, grams)
        start = _style_energy({n: gram(fc[n].float(), "chw") for n in layers}, grams)
        unit = torch.maximum(start, 1e-6 * energy) + 1e-30
    return Targets(c, fc[at].float(), grams, unit)


def _style_energy(grams: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_l w_l E_l with w_l = 1 / (number of layers), a 0-d tensor."""
    return torch.stack([gatys_energy(grams[n], target[n]).sum() for n in target]).mean()


def _objective(
    model: VGGFeatures, x: torch.Tensor, t: Targets, s: StyleSettings
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss at ``x`` and its detached values: the weighted parts ("content", "style", "tv",
    summing to the loss) and the unweighted distances ("d_content", "d_style")."""
    layers, at = s.style_layers, str(s.content_layer)
    feats = model(x, [at, *layers])  # one pass, up to the deepest layer
    if feats[at].shape != t.features.shape:
        raise InputError(
            msg(
                "the image is {shape} but the targets were computed for {target}",
                shape=str(tuple(x.shape)),
                target=str(tuple(t.content.shape)),
            )
        )
    content = relative_perceptual_distance({at: feats[at].float()}, {at: t.features}, [at])
    style = _style_energy({n: gram(feats[n].float(), "chw") for n in layers}, t.grams)
    parts = {
        "content": s.content_weight * content,
        "style": s.style_weight * style / t.unit,
        "tv": s.tv_weight * total_variation(x).sum(),
    }
    loss = parts["content"] + parts["style"] + parts["tv"]
    values = {k: v.detach() for k, v in parts.items()}
    return loss, {**values, "d_content": content.detach(), "d_style": style.detach()}


def distances(
    model: VGGFeatures, image: torch.Tensor, t: Targets, settings: StyleSettings
) -> dict[str, float]:
    """How far ``image`` ((1, 3, h, w) in [0, 1], the size of ``t.content``) is from the content
    photo (``"content"``: ‖φ_l(x) − φ_l(c)‖² / ‖φ_l(c)‖² at the content layer) and from the style
    photo (``"style"``: Σ_l w_l E_l, Gatys' textbook style distance, in the weights' units)."""
    s = settings.resolved(model.arch, model.device)
    with _grad_mode(False):
        _, values = _objective(model, image.to(model.device, torch.float32), t, s)
    return {"content": float(values["d_content"]), "style": float(values["d_style"])}


# --------------------------------------------------------------------------- the loop


def style_transfer(
    model: VGGFeatures,
    content: torch.Tensor,
    style: torch.Tensor,
    settings: StyleSettings | None = None,
    *,
    every: int = 10,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[StyleStep]:
    """Optimise an image until it has ``content``'s features and ``style``'s Grams.

    ``content``, ``style``: (1, 3, H, W) in [0, 1], any sizes; each is resized so its longest
    side is ``settings.px``. Settings and images are checked here, before the first item is
    requested. Yields the starting image (step 0), then every ``every`` steps, and a last item
    with ``done=True`` — early with ``stopped="cancelled"`` when ``should_stop()`` returns True,
    or ``stopped="time limit"`` once ``time.monotonic() >= deadline`` (both checked before each
    step). Each item's ``loss``, ``parts`` and ``distances`` are measured at its ``image``.
    """
    s = (settings or StyleSettings()).resolved(model.arch, model.device)
    every, deadline = check_loop(every, should_stop, deadline)
    # resized (and checked) now: errors come from this call, not from the first next()
    c, st = resize_target(content, s.px, model.device), resize_target(style, s.px, model.device)
    return _run(model, c, st, s, every, should_stop, deadline)


def _run(
    model: VGGFeatures,
    content: torch.Tensor,  # both resized already
    style: torch.Tensor,
    s: StyleSettings,
    every: int,
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> Iterator[StyleStep]:
    t0 = time.monotonic()
    t = _targets(model, content, style, s)
    h, w = t.content.shape[-2:]
    x0 = t.content if s.init == "content" else initial_image((h, w), s.seed, model.device)
    total = int(s.steps or 0)
    for r in optimise(x0, lambda x: _objective(model, x, t, s), total, s.lr, every, should_stop, deadline):
        parts = {k: r.values[k] for k in ("content", "style", "tv")}
        dist = {"content": r.values["d_content"], "style": r.values["d_style"]}
        yield StyleStep(r.step, total, r.image, r.loss, parts, dist, time.monotonic() - t0, r.done, r.stopped)
