"""What does a layer keep? Reconstruct an image from its VGG features alone.

Two experiments, both "optimise an image, starting from noise, until the network sees what it
saw in the target":

- ``"content"`` — **feature inversion** (Mahendran & Vedaldi 2015; Johnson et al. 2016, fig. 3):
  match the activations of the chosen layer(s). From shallow layers (relu1_2, relu2_2) the photo
  comes back almost exactly; from deeper ones (relu4_3, relu5_3) the layout and the objects
  survive but colour and fine texture are lost — the network has thrown them away.
- ``"texture"`` — **texture synthesis** (Gatys, Ecker & Bethge 2015): match only the Gram
  matrices of the chosen layers. The result has the target's texture (bricks, fur, eyes…)
  scattered with none of its layout, which shows that Gram matrices keep texture and discard
  *where* things are.

The objective (:func:`objective`) is scale-free, so one set of weights works for every layer,
every image size and every set of weights (torchvision's, or the original Caffe ones whose
activations are on a much larger scale):

- content, per layer l: ``‖φ_l(x) − φ_l(t)‖² / ‖φ_l(t)‖²`` (relative squared error), averaged
  over the chosen layers;
- style, per layer l: ``‖G_l(x) − G_l(t)‖²_F / ‖G_l(t)‖²_F`` with G = F Fᵀ / (C·H·W) (gram.py's
  ``"chw"`` normalisation; the ratio is the same for ``"gatys"`` or none since x and t have the
  same size — the division only keeps fp32 values moderate), averaged over the chosen layers;
- plus ``tv_weight · total_variation(x)`` (:func:`total_variation`: squared differences of each
  pixel with its right and lower neighbour, as a mean so it does not depend on the size).

Optimisation (chosen by experiment with ImageNet VGG16 weights on the bundled samples, 128 px):
Adam on the pixels, clamped to [0, 1] after every step (this converged lower than a sigmoid
parameterisation at equal cost), learning rate decayed along a cosine from ``lr`` to
``lr / 20`` over the run (a constant rate oscillates: at 150 steps it ended with ~2× the content
error); the image starts as grey with faint Gaussian noise, 0.5 + 0.1·N(0, 1), drawn from a
seeded CPU generator so a run is reproducible on any device (full-range uniform noise left
colour speckle the network does not see even with 10× the total-variation weight, which in turn
blurs shallow reconstructions; the faint noise reached a 5× lower style error on the bricks).

Defaults (``ReconstructSettings.resolved``), 128 px (their cost: ``docs/PERFORMANCE.md``):

- content: the third block output (relu3_3; relu3_4 on VGG19), the layer Johnson et al. use for
  the feature-reconstruction loss of their style transfer. Shallower layers give the photo back
  almost exactly; relu3_3 is close with slightly softened detail; relu4_3 and relu5_3 show the
  lesson most strongly (texture and colour drift). tv_weight 1, lr 0.1, 200 steps;
- texture: relu1_1, relu2_1, relu3_1, relu4_1 (Gatys' style layers without relu5_1, which is only
  8 × 8 at 128 px, costs ~40 % more per step and did not improve the result). The last layer of
  each block (relu1_2 … relu4_3) ended with a 1.5–2.7× higher style error at ~35 % more time per
  step. tv_weight 0.5, lr 0.05, 200 steps (a step costs ~1.7× a content step).

Work is bounded by :func:`limits` (steps and size per device). ``reconstruct`` yields
:class:`ReconstructStep` items for streaming — the initial noise, every ``every`` steps, and a
final one with ``done=True`` — and stops early when ``should_stop()`` returns True (checked
before every step) or when ``time.monotonic()`` passes ``deadline``.

The VGG model is shared: nothing on it is changed (no ``requires_grad_``, no ``train()``), and
gradients flow only to the image.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

import torch

from ..archs import Arch, check_arch
from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import resize_images
from ..gram import gram
from ..layers import block_outputs, layer
from ..messages import Text, msg
from ..metrics import relative_perceptual_distance
from ..options import RECONSTRUCT_MODES, ReconstructMode, StopReason, is_one_of

# Why a long optimisation stopped early (see :func:`stop_reason`), in a reader's words.
STOP_REASONS: dict[str, Text] = {"cancelled": msg("cancelled"), "time limit": msg("time limit")}


def stopped_text(reason: str) -> Text:
    """A stop reason of :func:`stop_reason` in a reader's words (any other reason as it is)."""
    return STOP_REASONS.get(reason, reason)


MIN_SIZE = 32  # VGG's pooling needs a few pixels to work on
MIN_SIDE = 16  # the shorter side of a very elongated image is kept at least this long
INIT_MEAN = 0.5
INIT_STD = 0.1
LR_FLOOR = 0.05  # the cosine schedule ends at lr × LR_FLOOR
TEXTURE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
DEFAULT_TV: dict[ReconstructMode, float] = {"content": 1.0, "texture": 0.5}
DEFAULT_LR: dict[ReconstructMode, float] = {"content": 0.1, "texture": 0.05}


@dataclass(frozen=True)
class Budget:
    """A long optimisation's (default steps, max steps, max size in px) per device type; a
    device type not listed is treated like cpu."""

    table: Mapping[str, tuple[int, int, int]]

    def device_type(self, device: torch.device | str) -> str:
        t = torch.device(device).type
        return t if t in self.table else "cpu"

    def limits(self, device: torch.device | str) -> tuple[int, int]:
        """(max steps, max size in px) allowed on ``device``."""
        _, max_steps, max_size = self.table[self.device_type(device)]
        return max_steps, max_size

    def default_steps(self, device: torch.device | str) -> int:
        return self.table[self.device_type(device)][0]


BUDGET = Budget({"cpu": (200, 400, 192), "mps": (200, 400, 192), "cuda": (500, 2000, 512)})


def limits(device: torch.device | str) -> tuple[int, int]:
    """(max_steps, max_size in px) allowed on ``device``: small on cpu/mps, larger on cuda."""
    return BUDGET.limits(device)


def default_steps(device: torch.device | str) -> int:
    """Steps used when ``ReconstructSettings.steps`` is None."""
    return BUDGET.default_steps(device)


def default_layers(mode: ReconstructMode, arch: Arch) -> tuple[str, ...]:
    """Content: the third block output (relu3_3 / relu3_4); texture: relu1_1 … relu4_1 (Gatys)."""
    if mode == "content":
        return (block_outputs(arch)[2],)
    return TEXTURE_LAYERS


def _number(name: str, value: object, *, positive: bool) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(msg("{name} must be a number, not {value}", name=name, value=repr(value))) from None
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise InputError(
            msg(
                "{name} must be a finite number {bound}, not {value}",
                name=name,
                bound="> 0" if positive else "≥ 0",
                value=repr(value),
            )
        )
    return v


def _integer(name: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float | str):
        try:
            if float(value) == int(float(value)):
                return int(float(value))
        except (ValueError, OverflowError):
            pass
    raise InputError(msg("{name} must be a whole number, not {value}", name=name, value=repr(value)))


def check_work(
    steps: object, size: object, top: tuple[int, int], device: str, size_name: str = "size"
) -> tuple[int, int]:
    """(steps, size in px) as whole numbers within ``top`` = (max steps, max size) on the
    ``device`` type, or an :class:`InputError` naming the bounds (and ``size_name``)."""
    max_steps, max_size = top
    steps = _integer("steps", steps)
    if not 1 <= steps <= max_steps:
        raise InputError(
            msg(
                "steps must be between 1 and {top} on {device}, not {value}",
                top=max_steps,
                device=device,
                value=steps,
            )
        )
    size = _integer(size_name, size)
    if not MIN_SIZE <= size <= max_size:
        raise InputError(
            msg(
                "{name} must be between {low} and {top} px on {device}, not {value}",
                name=size_name,
                low=MIN_SIZE,
                top=max_size,
                device=device,
                value=size,
            )
        )
    return steps, size


@dataclass(frozen=True)
class ReconstructSettings:
    """What to reconstruct and how hard to try; ``None`` fields get per-mode/per-device defaults."""

    mode: ReconstructMode = "content"  # "content" (feature inversion) or "texture" (Gram matching)
    layers: tuple[str, ...] | None = None  # None → default_layers(mode, arch)
    steps: int | None = None  # None → default_steps(device)
    size: int = 128  # longest side of the optimised image, px
    tv_weight: float | None = None  # None → DEFAULT_TV[mode]
    lr: float | None = None  # None → DEFAULT_LR[mode] (Adam, cosine-decayed to lr / 20)
    seed: int = 0

    def resolved(self, arch: Arch, device: torch.device | str) -> ReconstructSettings:
        """A copy with every default filled in and every value checked (``ValueError`` if not valid)."""
        arch = check_arch(arch)
        if not is_one_of(self.mode, RECONSTRUCT_MODES):
            raise InputError(
                msg(
                    "unknown reconstruction mode {mode!r}; choose one of {modes}",
                    mode=self.mode,
                    modes=", ".join(RECONSTRUCT_MODES),
                )
            )
        names = self.layers
        if names is None:
            names = default_layers(self.mode, arch)
        elif isinstance(names, str):
            names = (names,)
        names = tuple(dict.fromkeys(str(n) for n in names))
        if not names:
            raise InputError(msg("choose at least one layer to reconstruct from"))
        for n in names:
            layer(arch, n)  # ValueError naming the valid layers
        given = default_steps(device) if self.steps is None else self.steps
        steps, size = check_work(given, self.size, limits(device), BUDGET.device_type(device))
        tv = DEFAULT_TV[self.mode] if self.tv_weight is None else self.tv_weight
        lr = DEFAULT_LR[self.mode] if self.lr is None else self.lr
        return replace(
            self,
            layers=names,
            steps=steps,
            size=size,
            tv_weight=_number("tv_weight", tv, positive=False),
            lr=_number("lr", lr, positive=True),
            seed=_integer("seed", self.seed),
        )


@dataclass
class ReconstructStep:
    """One progress report of :func:`reconstruct`."""

    step: int  # optimisation steps done so far
    total: int  # steps planned
    image: torch.Tensor  # (1, 3, h, w) float32 in [0, 1], detached, on CPU (ready for display)
    loss: float  # the objective at ``image``
    parts: dict[str, float] = field(default_factory=dict)  # weighted terms, summing to ``loss``
    seconds: float = 0.0  # elapsed since the call started
    done: bool = False  # the last item
    stopped: StopReason = ""  # "" or why it stopped early: "cancelled", "time limit"


# --------------------------------------------------------------------------- the objective


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Per-image (N,) total variation of (N, C, H, W): the mean squared difference of each pixel
    with its right neighbour plus the mean squared difference with its lower neighbour."""
    if x.ndim != 4:
        raise InputError(msg("expected images of shape (N, C, H, W), got {shape}", shape=str(tuple(x.shape))))
    x = x.float()
    zero = x.new_zeros(x.shape[0])
    dx = (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean(dim=(1, 2, 3)) if x.shape[-1] > 1 else zero
    dy = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean(dim=(1, 2, 3)) if x.shape[-2] > 1 else zero
    return dx + dy


def resize_target(target: torch.Tensor, size: int, device: torch.device | str) -> torch.Tensor:
    """(1, 3, H, W) [0, 1] → (1, 3, h, w) float32 on ``device``, longest side ``size`` px.

    Antialiased bilinear (as ``features.resize_images``), done once on CPU because antialiasing
    is not implemented on every backend. The shorter side is kept ≥ 16 px (very elongated
    images lose a little of their aspect ratio).
    """
    if not isinstance(target, torch.Tensor):
        raise InputError(msg("the target must be a torch tensor, not {type}", type=type(target).__name__))
    if target.ndim == 3:
        target = target.unsqueeze(0)
    if target.ndim != 4 or target.shape[0] != 1 or target.shape[1] not in (1, 3):
        raise InputError(
            msg("expected one image of shape (1, 3, H, W), got {shape}", shape=str(tuple(target.shape)))
        )
    if target.shape[-1] < 1 or target.shape[-2] < 1:
        raise InputError(msg("the target image is empty: {shape}", shape=str(tuple(target.shape))))
    x = target.detach().to("cpu", torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise InputError(msg("the target image contains NaN or infinite values"))
    x = x.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()
    h, w = x.shape[-2:]
    scale = size / max(h, w)
    hw = (size, max(MIN_SIDE, round(w * scale))) if h >= w else (max(MIN_SIDE, round(h * scale)), size)
    return resize_images(x, hw).to(device)


def _features(model: VGGFeatures, t: torch.Tensor, s: ReconstructSettings) -> dict[str, torch.Tensor]:
    layers = s.layers or ()
    with _grad_mode(False):
        feats = model(t, layers)
        if s.mode == "texture":
            return {n: gram(feats[n].float(), "chw") for n in layers}
        return {n: feats[n].float() for n in layers}


def target_features(
    model: VGGFeatures, target: torch.Tensor, settings: ReconstructSettings
) -> dict[str, torch.Tensor]:
    """What the optimisation matches: ``{layer: activation}`` (content) or ``{layer: Gram}``
    (texture) of ``target`` resized so its longest side is ``settings.size``; fp32, no grad."""
    s = settings.resolved(model.arch, model.device)
    return _features(model, resize_target(target, s.size, model.device), s)


def objective(
    model: VGGFeatures,
    image: torch.Tensor,
    target_features: Mapping[str, torch.Tensor],
    settings: ReconstructSettings,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss being minimised (a 0-d fp32 tensor on the model's device, differentiable w.r.t.
    ``image``) and its weighted parts ``{"content" | "style": …, "tv": …}`` as floats, summing
    to the loss.

    ``target_features`` comes from :func:`target_features` with the same settings; ``image`` is
    (1, 3, h, w) in [0, 1] (on any device) at the size those features were computed for.
    """
    s = settings.resolved(model.arch, model.device)
    loss, parts = _objective(model, image.to(model.device), target_features, s)
    return loss, {k: float(v) for k, v in parts.items()}


def _objective(
    model: VGGFeatures, image: torch.Tensor, tf: Mapping[str, torch.Tensor], s: ReconstructSettings
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """:func:`objective` with resolved settings and detached tensor parts (no device sync)."""
    layers = s.layers or ()
    missing = [n for n in layers if n not in tf]
    if missing:
        raise InputError(msg("target_features lacks the layers {layers}", layers=", ".join(missing)))
    feats = model(image, layers)
    fx = {}
    for n in layers:
        f = feats[n].float()
        t = tf[n]
        if s.mode == "texture":
            f = gram(f, "chw")
        if f.shape != t.shape:
            raise InputError(
                msg(
                    "{layer}: the image gives shape {shape} but the target {target}; "
                    "optimise an image of the size target_features was computed for",
                    layer=n,
                    shape=str(tuple(f.shape)),
                    target=str(tuple(t.shape)),
                )
            )
        fx[n] = f
    main = relative_perceptual_distance(fx, tf, layers)
    tv = float(s.tv_weight or 0.0) * total_variation(image).sum()
    name = "style" if s.mode == "texture" else "content"
    return main + tv, {name: main.detach(), "tv": tv.detach()}


# --------------------------------------------------------------------------- the loop


def check_loop(
    every: int, should_stop: Callable[[], bool] | None, deadline: float | None
) -> tuple[int, float | None]:
    """A long loop's reporting period (a whole number ≥ 1), stop callback and deadline, checked
    before any work: (every, deadline), or an :class:`InputError` saying what to change."""
    every = _integer("every", every)
    if every < 1:
        raise InputError(msg("every must be at least 1, not {value}", value=every))
    if should_stop is not None and not callable(should_stop):
        raise InputError(msg("should_stop must be a callable returning True to stop"))
    if deadline is not None:
        deadline = _number("deadline", deadline, positive=False)
    return every, deadline


def stop_reason(should_stop: Callable[[], bool] | None, deadline: float | None) -> StopReason:
    """Why a long optimisation stops before its last step: "cancelled" (``should_stop()`` says
    so), "time limit" (``time.monotonic()`` passed ``deadline``), or "" to go on."""
    if should_stop is not None and should_stop():
        return "cancelled"
    if deadline is not None and time.monotonic() >= deadline:
        return "time limit"
    return ""


@contextlib.contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    """Grad on/off whatever the caller's mode (even inside ``torch.inference_mode()``).

    Used only around work between two yields: grad mode is thread-local, and a context held
    across a ``yield`` would leak into the consumer's code.
    """
    with torch.inference_mode(False), torch.set_grad_enabled(enabled):
        yield


def initial_image(size_hw: tuple[int, int], seed: int, device: torch.device | str) -> torch.Tensor:
    """The starting point: 0.5 + 0.1·N(0, 1), clamped to [0, 1], drawn on CPU from ``seed``."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    x = INIT_MEAN + INIT_STD * torch.randn((1, 3, *size_hw), generator=g, dtype=torch.float32)
    return x.clamp_(0, 1).to(device)


def _snapshot(x: torch.Tensor) -> torch.Tensor:
    # ``.to("cpu")`` of a CPU tensor is the tensor itself: clone, or the next step would change it.
    return x.detach().to("cpu", torch.float32).clone()


def reconstruct(
    model: VGGFeatures,
    target: torch.Tensor,
    settings: ReconstructSettings | None = None,
    *,
    every: int = 10,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[ReconstructStep]:
    """Optimise noise until its features (content) or Grams (texture) match ``target``'s.

    ``target``: (1, 3, H, W) in [0, 1], any size; it is resized so its longest side is
    ``settings.size``. Settings are validated here, before the first item is requested.
    Yields the initial noise (step 0), then every ``every`` steps, and a last item with
    ``done=True`` — early with ``stopped="cancelled"`` when ``should_stop()`` returns True, or
    ``stopped="time limit"`` once ``time.monotonic() >= deadline`` (both checked before each
    step). Each item's ``loss`` is the objective at its ``image``.
    """
    s = (settings or ReconstructSettings()).resolved(model.arch, model.device)
    every, deadline = check_loop(every, should_stop, deadline)
    t = resize_target(target, s.size, model.device)  # errors now, not at the first next()
    return _run(model, t, s, every, should_stop, deadline)


def _run(
    model: VGGFeatures,
    t: torch.Tensor,
    s: ReconstructSettings,
    every: int,
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> Iterator[ReconstructStep]:
    t0 = time.monotonic()
    total = int(s.steps or 0)
    tf = _features(model, t, s)
    x0 = initial_image((t.shape[-2], t.shape[-1]), s.seed, model.device)
    for r in optimise(
        x0, lambda x: _objective(model, x, tf, s), total, float(s.lr or 0.0), every, should_stop, deadline
    ):
        yield ReconstructStep(
            step=r.step,
            total=total,
            image=r.image,
            loss=r.loss,
            parts=r.values,
            seconds=time.monotonic() - t0,
            done=r.done,
            stopped=r.stopped,
        )


@dataclass
class Report:
    """One report of :func:`optimise`: the image after ``step`` steps (a CPU snapshot), the
    objective there and the values it reported (as floats)."""

    step: int
    image: torch.Tensor
    loss: float
    values: dict[str, float]
    done: bool
    stopped: StopReason


Objective = Callable[[torch.Tensor], tuple[torch.Tensor, dict[str, torch.Tensor]]]


def optimise(
    x0: torch.Tensor,
    objective: Objective,
    total: int,
    lr: float,
    every: int,
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> Iterator[Report]:
    """Adam on the pixels of ``x0`` (a copy; clamped to [0, 1] after every step, the learning
    rate cosine-decayed from ``lr`` to ``lr × LR_FLOOR`` over ``total`` steps), minimising
    ``objective(x)`` → (0-d loss, {name: detached value}).

    Reports step 0, every ``every`` steps, and a last one with ``done=True`` — early when
    :func:`stop_reason` says so (checked before every step). Each report's loss and values
    are the objective at its image. Grad mode is set around each piece of work, never held
    across a ``yield``.
    """
    with _grad_mode(True):
        x = x0.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
    step = 0
    while True:
        stopped = stop_reason(should_stop, deadline)
        last = bool(stopped) or step >= total
        if last:
            with _grad_mode(False):
                loss, values = objective(x.detach())
        else:
            with _grad_mode(True):
                loss, values = objective(x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
        if last or step % every == 0:
            floats = {k: float(v) for k, v in values.items()}
            yield Report(step, _snapshot(x), float(loss.detach()), floats, last, stopped)
        if last:
            return
        with _grad_mode(False):
            cos = 0.5 * (1.0 + math.cos(math.pi * step / total))
            for group in opt.param_groups:
                group["lr"] = lr * (LR_FLOOR + (1.0 - LR_FLOOR) * cos)
            opt.step()
            x.clamp_(0, 1)
        step += 1
