"""Train with it: the same small network trained with different losses, side by side.

Perceptual loss was invented to *train* image-transformation networks (Johnson, Alahi & Fei-Fei
2016; Ledig et al. 2017). Its headline result is what this lesson reproduces in under a minute on
a CPU: a network trained with pixel MSE learns the average of the plausible answers — blur —
and wins on PSNR, while the same network trained with a VGG feature loss keeps edges and
texture, wins on LPIPS, and (alone) grows faint grid artefacts of its own, which is why people
mix in a little pixel loss.

What is trained, and how (every choice is the same for every loss, so the loss is the only
difference between the networks):

- **Tasks** (:data:`TASKS`). ``"sr4"``: ×4 super-resolution — a high-resolution patch is
  downsampled ×4 (bicubic, antialiased) and upsampled back (bicubic); the network maps that
  blurry upsampled input to the original (SRCNN-style, as in Johnson et al.'s SR setup).
  ``"denoise"``: Gaussian noise of σ ``noise`` (default 0.1), clipped to [0, 1].
  ``"deblur"``: Gaussian blur of σ ``blur`` px (default 1.5).
- **Losses** (:data:`LOSSES`). ``"mse"`` and ``"l1"`` on pixels; ``"perceptual"``: Johnson et
  al.'s feature reconstruction loss at relu2_2 (``layers``), made scale-free as in
  :mod:`.reconstruct`: ``‖φ(y) − φ(t)‖² / ‖φ(t)‖²`` over the batch, averaged over the layers, so
  one set of settings works for torchvision's weights and for the original Caffe ones (whose
  activations are ~100× larger); ``"perceptual+mse"``: that plus ``pixel_weight · MSE``;
  ``"perceptual+style"``: plus ``style_weight`` × the relative Gram difference
  ``‖G(y) − G(t)‖²_F / ‖G(t)‖²_F`` (G = F Fᵀ / (C·H·W)) at relu1_2 and relu2_2. ``tv_weight``
  (default 0) adds Johnson et al.'s total-variation term to the losses that use VGG.
- **The network** (:class:`ResidualCNN`): ``depth`` 3×3 convolutions of ``width`` channels with
  ReLUs between, on a space-to-depth view of the input, and a skip connection — the output is
  the input plus what the convolutions add. The last convolution starts at zero, so every
  network starts as the identity (its first output *is* the degraded input), and all of them
  are copies of one network initialised from ``seed``.
- **Data**: patches of ``patch`` px cut at random from the training images (resized so their
  longest side is at most ``train_size``), flipped or transposed at random, ``batch`` per step,
  from one seeded sampler — every network sees the same patches in the same order. The
  evaluation image is held out: resized so its longest side is at most ``eval_size``, trimmed
  to a multiple of 4 px, degraded once (its noise from its own seed) and never trained on.
- **Optimisation**: Adam, learning rate decayed along a cosine from ``lr`` to ``lr / 20`` (as in
  :mod:`.reconstruct`), the same for every network.
- **Speed**: per step, the outputs of every network whose loss needs VGG, and the target
  patches, go through VGG in **one** batched forward (the targets' features are detached, so no
  gradient is asked of them; the backward still runs over their rows, which costs less than a
  second forward pass would). On CUDA that forward runs under the model's autocast (with
  gradient scaling for fp16); the small networks stay in fp32. Pixel losses never touch VGG.

The defaults (network, learning rate, jitter, training photos, sizes, weights) and the runs that
chose them are in ``docs/app.md`` ("How the defaults were chosen").

``train`` yields :class:`TrainStep` items for streaming — the untrained networks' outputs
(step 0), every ``every`` steps, and a final one with ``done=True`` — and stops early when
``should_stop()`` returns True (checked before every step) or once ``time.monotonic()`` passes
``deadline``. :func:`evaluate` scores outputs against the ground truth (MSE, PSNR, SSIM, LPIPS)
in one VGG pass. Work is bounded per device by :func:`budget` (:func:`limits`).

The VGG model is shared: nothing on it is changed (no ``requires_grad_``, no ``train()``), and
gradients flow only to the small networks. This module sets no process-wide state (threads,
seeds): its randomness comes from its own seeded generators.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..archs import Arch, check_arch
from ..backbone import VGGFeatures
from ..compare import ScoreSettings, score_pairs
from ..degrade import degrade
from ..errors import InputError
from ..features import resize_images
from ..gram import gram
from ..layers import layer
from ..messages import Text, msg
from ..metrics import normalized_feature_distance, psnr, relative_perceptual_distance
from ..options import LOSSES, TASKS, LossName, StopReason, Task, is_one_of
from .reconstruct import _grad_mode, _integer, _number, _snapshot, check_loop, stop_reason, total_variation

DEFAULT_LOSSES: tuple[LossName, ...] = ("mse", "perceptual", "perceptual+mse")
VGG_LOSSES: frozenset[LossName] = frozenset({"perceptual", "perceptual+mse", "perceptual+style"})
SCALE = 4  # the super-resolution factor of "sr4"
DEFAULT_LAYERS = ("relu2_2",)  # Johnson et al.'s layer for SR (the same name in VGG16 and VGG19)
STYLE_LAYERS = ("relu1_2", "relu2_2")
DEFAULT_PIXEL_WEIGHT = 10.0
DEFAULT_STYLE_WEIGHT = 1.0
DEFAULT_TV_WEIGHT = 0.0
DEFAULT_NOISE = 0.1
DEFAULT_BLUR = 1.5
NOISE_RANGE = (0.01, 0.5)
BLUR_RANGE = (0.5, 4.0)
DEFAULT_LR = 3e-3
LR_FLOOR = 0.05  # the cosine schedule ends at lr × LR_FLOOR
DEFAULT_DEPTH = 5
DEPTH_RANGE = (2, 10)
AUGMENT = True  # random flips and transposes of the training patches
JITTER = 4  # VGG sees each batch shifted by a random 0–JITTER px (a multiple of 4: patches stay so)
FOLD = 2  # the networks' convolutions run at 1/FOLD of the resolution (space-to-depth)
MIN_PATCH = 16
MIN_EVAL = 32  # the evaluation image's longest side, px
MIN_EVAL_SIDE = 16  # … and its shortest (VGG's four poolings before relu5_3; SSIM's 11-px window)
EVAL_SEED_OFFSET = 7919  # the evaluation image's noise: its own seed, never a training draw
# The bundled photos (perceptual_viz.assets) the lesson trains on by default, and the one it holds
# out: chelsea's fur is where the networks differ most.
DEFAULT_EVAL_SAMPLE = "chelsea.png"
DEFAULT_TRAIN_SAMPLES = ("astronaut.png", "coffee.png", "rocket.jpg", "camera.png", "brick.png")


@dataclass(frozen=True)
class _Budget:
    """Defaults and bounds of one device type."""

    steps: int
    max_steps: int
    patch: int
    max_patch: int
    batch: int
    max_batch: int
    width: int
    max_width: int
    train_size: int
    eval_size: int
    max_size: int


# Anything not listed is treated like cpu.
_DEVICE_BUDGET = {
    "cpu": _Budget(250, 1000, 32, 96, 8, 32, 48, 96, 300, 256, 384),
    "mps": _Budget(250, 1000, 32, 96, 8, 32, 48, 96, 300, 256, 384),
    "cuda": _Budget(1000, 5000, 96, 256, 16, 64, 64, 128, 600, 512, 1024),
}
# The bounds of a training run made ahead of time (tools/train_reference.py), on any device: the
# networks themselves stay the live ones (the CPU default width), only the run is longer.
OFFLINE_BUDGET = _Budget(250, 100_000, 32, 256, 8, 128, 48, 128, 1024, 256, 1024)


def _device_type(device: torch.device | str) -> str:
    t = torch.device(device).type
    return t if t in _DEVICE_BUDGET else "cpu"


def budget(device: torch.device | str) -> _Budget:
    """The defaults and bounds used on ``device``."""
    return _DEVICE_BUDGET[_device_type(device)]


def limits(device: torch.device | str) -> tuple[int, int]:
    """(max_steps, max_patch in px) allowed on ``device``: small on cpu/mps, larger on cuda."""
    b = budget(device)
    return b.max_steps, b.max_patch


def uses_vgg(loss: str) -> bool:
    """Does this loss need the VGG features of the network's output?"""
    return loss in VGG_LOSSES


def _choices(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence):
        raise InputError(
            msg("losses must be a list of names or a comma-separated string, not {value}", value=repr(value))
        )
    return tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


def _losses(value: object) -> tuple[LossName, ...]:
    """The losses asked for (a list, or a comma-separated string), each checked."""
    losses = _choices(value)
    if not losses:
        raise InputError(msg("choose at least one loss of {losses}", losses=", ".join(LOSSES)))
    unknown = [n for n in losses if not is_one_of(n, LOSSES)]
    if unknown:
        raise InputError(
            msg("unknown loss {loss!r}; choose from {losses}", loss=unknown[0], losses=", ".join(LOSSES))
        )
    return tuple(n for n in losses if is_one_of(n, LOSSES))


def _bounded(name: str, value: object, lo: int, hi: int, dev: str, unit: str = "") -> int:
    v = _integer(name, value)
    if not lo <= v <= hi:
        raise InputError(
            msg(
                "{name} must be between {lo} and {hi}{unit} on {device}, not {value}",
                name=name,
                lo=lo,
                hi=hi,
                unit=unit,
                device=dev,
                value=v,
            )
        )
    return v


def _in_range(name: str, value: object, bounds: tuple[float, float]) -> float:
    v = _number(name, value, positive=True)
    if not bounds[0] <= v <= bounds[1]:
        raise InputError(
            msg(
                "{name} must be between {lo:g} and {hi:g}, not {value}",
                name=name,
                lo=bounds[0],
                hi=bounds[1],
                value=repr(value),
            )
        )
    return v


def _task_losses_layers(s: TrainSettings, arch: Arch) -> tuple[tuple[LossName, ...], tuple[str, ...]]:
    """The task checked, and the losses and the perceptual loss's layers as tuples of known names."""
    if not is_one_of(s.task, TASKS):
        raise InputError(
            msg("unknown task {task!r}; choose one of {tasks}", task=s.task, tasks=", ".join(TASKS))
        )
    losses = _losses(s.losses)
    names = DEFAULT_LAYERS if s.layers is None else _choices(s.layers)
    if not names:
        raise InputError(msg("choose at least one VGG layer for the perceptual loss"))
    for n in names:
        layer(arch, n)  # InputError naming the valid layers
    return losses, names


@dataclass(frozen=True)
class TrainSettings:
    """What to train and how; ``None`` fields get per-device defaults (:func:`budget`)."""

    task: Task = "sr4"  # "sr4" | "denoise" | "deblur"
    losses: tuple[LossName, ...] = DEFAULT_LOSSES  # one network per loss, in this order
    steps: int | None = None  # optimisation steps (the same for every network)
    patch: int | None = None  # side of the square training patches, px (a multiple of 4)
    batch: int | None = None  # patches per step
    width: int | None = None  # channels of the network's hidden layers
    depth: int = DEFAULT_DEPTH  # 3×3 convolutions in the network
    lr: float = DEFAULT_LR  # Adam, cosine-decayed to lr / 20
    layers: tuple[str, ...] | None = None  # VGG layers of the perceptual loss; None → relu2_2
    # The perceptual loss compares features unit-normalised over channels at each position
    # (metrics.normalized_feature_distance, LPIPS's normalisation) instead of relative_l2 per layer.
    feature_norm: bool = False
    pixel_weight: float = DEFAULT_PIXEL_WEIGHT  # weight of MSE in "perceptual+mse"
    style_weight: float = DEFAULT_STYLE_WEIGHT  # weight of the Gram term in "perceptual+style"
    tv_weight: float = DEFAULT_TV_WEIGHT  # total variation added to every loss that uses VGG
    noise: float = DEFAULT_NOISE  # σ of "denoise" (images in [0, 1])
    blur: float = DEFAULT_BLUR  # σ in px of "deblur"
    train_size: int | None = None  # training images' longest side at most this, px
    eval_size: int | None = None  # the evaluation image's longest side, px
    seed: int = 0

    def resolved(
        self, arch: Arch, device: torch.device | str, bounds: _Budget | None = None
    ) -> TrainSettings:
        """A copy with every default filled in and every value checked (:class:`InputError`);
        ``bounds``: other defaults and bounds than ``device``'s (e.g. :data:`OFFLINE_BUDGET`)."""
        losses, names = _task_losses_layers(self, check_arch(arch))
        b, dev = bounds or budget(device), _device_type(device)
        patch = _bounded(
            "patch", b.patch if self.patch is None else self.patch, MIN_PATCH, b.max_patch, dev, " px"
        )
        if patch % SCALE:
            raise InputError(
                msg("patch must be a multiple of {scale} px, not {value}", scale=SCALE, value=patch)
            )
        return replace(
            self,
            losses=losses,
            layers=names,
            steps=_bounded("steps", b.steps if self.steps is None else self.steps, 1, b.max_steps, dev),
            patch=patch,
            batch=_bounded("batch", b.batch if self.batch is None else self.batch, 1, b.max_batch, dev),
            width=_bounded("width", b.width if self.width is None else self.width, 4, b.max_width, dev),
            depth=_bounded("depth", self.depth, *DEPTH_RANGE, dev),
            lr=_in_range("lr", self.lr, (1e-6, 0.1)),
            pixel_weight=_number("pixel_weight", self.pixel_weight, positive=False),
            style_weight=_number("style_weight", self.style_weight, positive=False),
            tv_weight=_number("tv_weight", self.tv_weight, positive=False),
            noise=_in_range("noise", self.noise, NOISE_RANGE),
            blur=_in_range("blur", self.blur, BLUR_RANGE),
            train_size=_bounded(
                "train_size",
                b.train_size if self.train_size is None else self.train_size,
                patch,
                b.max_size * 4,
                dev,
                " px",
            ),
            eval_size=_bounded(
                "eval_size",
                b.eval_size if self.eval_size is None else self.eval_size,
                MIN_EVAL,
                b.max_size,
                dev,
                " px",
            ),
            seed=_integer("seed", self.seed),
            feature_norm=bool(self.feature_norm),
        )


@dataclass
class TrainStep:
    """One progress report of :func:`train`."""

    step: int  # optimisation steps done so far
    total: int  # steps planned
    # loss → mean training loss over the steps since the previous report (empty at step 0;
    # the previous values again when no step ran since)
    losses: dict[str, float]
    outputs: dict[str, torch.Tensor]  # loss → (1, 3, h, w) eval output in [0, 1], fp32, on CPU
    psnr: dict[str, float]  # loss → PSNR (dB) of that output against the ground truth
    seconds: float = 0.0  # elapsed since the call started
    done: bool = False  # the last item
    stopped: StopReason = ""  # "" or why it stopped early: "cancelled", "time limit"


# --------------------------------------------------------------------------- the data


def _as_image(x: object, what: Text) -> torch.Tensor:
    """(1, 3, H, W) float32 on CPU in [0, 1] (grey repeated), or an InputError naming ``what``."""
    if not isinstance(x, torch.Tensor):
        raise InputError(msg("{what} must be a torch tensor, not {type}", what=what, type=type(x).__name__))
    t = x.unsqueeze(0) if x.ndim == 3 else x
    if t.ndim != 4 or t.shape[0] != 1 or t.shape[1] not in (1, 3):
        raise InputError(
            msg(
                "{what} must be one image of shape (1, 3, H, W), got {shape}",
                what=what,
                shape=str(tuple(x.shape)),
            )
        )
    t = t.detach().to("cpu", torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise InputError(msg("{what} contains NaN or infinite values", what=what))
    return t.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def _fit(x: torch.Tensor, longest: int) -> torch.Tensor:
    """``x`` shrunk so its longest side is ``longest`` px (never enlarged)."""
    h, w = x.shape[-2:]
    if max(h, w) <= longest:
        return x
    scale = longest / max(h, w)
    return resize_images(x, (max(1, round(h * scale)), max(1, round(w * scale))))


def training_images(images: Sequence[torch.Tensor], s: TrainSettings) -> list[torch.Tensor]:
    """The training images on CPU, longest side at most ``train_size``, each ≥ one patch."""
    if isinstance(images, torch.Tensor | str) or not isinstance(images, Sequence) or not images:
        raise InputError(msg("give at least one training image (a list of (1, 3, H, W) tensors)"))
    out = []
    for i, x in enumerate(images, start=1):
        t = _fit(_as_image(x, msg("training image {i}", i=i)), int(s.train_size or 0))
        h, w = t.shape[-2:]
        if min(h, w) < int(s.patch or 0):
            raise InputError(
                msg(
                    "training image {i} is {w}×{h} px after resizing, smaller than the {patch}-px patch; "
                    "use a larger image or a smaller patch",
                    i=i,
                    w=w,
                    h=h,
                    patch=s.patch,
                )
            )
        out.append(t)
    return out


def _degrade(hr: torch.Tensor, s: TrainSettings, g: torch.Tensor | torch.Generator) -> torch.Tensor:
    """The network's input for high-resolution ``hr`` (N, 3, H, W) on CPU; H, W multiples of 4."""
    if s.task == "sr4":
        h, w = hr.shape[-2:]
        low = F.interpolate(hr, size=(h // SCALE, w // SCALE), mode="bicubic", antialias=True)
        return F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    if s.task == "deblur":
        return degrade(hr, "blur", float(s.blur))
    assert isinstance(g, torch.Generator)
    return (hr + float(s.noise) * torch.randn(hr.shape, generator=g)).clamp(0, 1)


def eval_pair(eval_image: torch.Tensor, settings: TrainSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """(network input, ground truth) of the held-out image, (1, 3, h, w) float32 on CPU.

    The truth is ``eval_image`` resized so its longest side is at most ``eval_size`` and trimmed
    (centred) to a multiple of 4 px; the input is its degradation (noise drawn from its own seed).
    ``settings`` must be resolved.
    """
    t = _fit(_as_image(eval_image, msg("the evaluation image")), int(settings.eval_size or 0))
    h, w = t.shape[-2:]
    hh, ww = h - h % SCALE, w - w % SCALE
    if min(hh, ww) < MIN_EVAL_SIDE:
        raise InputError(
            msg(
                "the evaluation image is too elongated: {w}×{h} px at eval size, under {side} px across",
                w=w,
                h=h,
                side=MIN_EVAL_SIDE,
            )
        )
    top, left = (h - hh) // 2, (w - ww) // 2
    truth = t[..., top : top + hh, left : left + ww].contiguous()
    g = torch.Generator(device="cpu").manual_seed(int(settings.seed) + EVAL_SEED_OFFSET)
    return _degrade(truth, settings, g), truth


class PatchSampler:
    """Seeded random patches of the training images: (input, target) batches on CPU.

    Each patch comes from an image chosen uniformly, at a uniformly random position, flipped
    and/or transposed at random (the 8 symmetries of a square: 8× the data of a few photos); the
    same seed gives the same patches (and the same noise) on every device.
    """

    def __init__(self, images: Sequence[torch.Tensor], settings: TrainSettings) -> None:
        self.images = list(images)
        self.s = settings
        self.g = torch.Generator(device="cpu").manual_seed(int(settings.seed))

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor]:
        p, n = int(self.s.patch or 0), int(self.s.batch or 0)
        crops = []
        for _ in range(n):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=self.g))]
            h, w = img.shape[-2:]
            top = int(torch.randint(h - p + 1, (1,), generator=self.g))
            left = int(torch.randint(w - p + 1, (1,), generator=self.g))
            crop = img[..., top : top + p, left : left + p]
            if AUGMENT:
                flips = [int(v) for v in torch.randint(2, (3,), generator=self.g)]
                if flips[0]:
                    crop = crop.flip(-1)
                if flips[1]:
                    crop = crop.flip(-2)
                if flips[2]:
                    crop = crop.transpose(-1, -2)
            crops.append(crop)
        target = torch.cat(crops)
        return _degrade(target, self.s, self.g), target


# --------------------------------------------------------------------------- the networks


class ResidualCNN(nn.Module):
    """``x + f(x)``: a residual network of ``depth`` 3×3 convolutions, ``width`` channels, ReLUs.

    The convolutions run on a space-to-depth view of the input (``pixel_unshuffle`` by
    :data:`FOLD`: each 2 × 2 block of pixels becomes 12 channels at half the resolution) and
    ``pixel_shuffle`` puts their output back (Shi et al. 2016): the same layers at a quarter of
    the cost and with twice the reach in pixels. The last convolution is initialised to zero, so
    a new network is the identity.
    """

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        outer = 3 * FOLD * FOLD
        chans = [outer, *([width] * (depth - 1)), outer]
        mods: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            mods += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU(inplace=True)]
        last = mods[-2]
        assert isinstance(last, nn.Conv2d) and last.bias is not None
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.body = nn.Sequential(*mods[:-1])  # no ReLU after the last convolution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.pixel_shuffle(self.body(F.pixel_unshuffle(x, FOLD)), FOLD)


def parameter_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def build_networks(settings: TrainSettings, device: torch.device | str) -> dict[str, ResidualCNN]:
    """One network per loss, all copies of one network initialised from ``settings.seed``.

    Built on CPU under a forked RNG (the caller's random state is untouched), then moved.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(settings.seed))
        first = ResidualCNN(int(settings.width or 0), int(settings.depth))
    return {name: copy.deepcopy(first).to(device) for name in settings.losses}


# --------------------------------------------------------------------------- the losses


def _style(fy: dict[str, torch.Tensor], ft: dict[str, torch.Tensor]) -> torch.Tensor:
    gy = {n: gram(fy[n], "chw") for n in STYLE_LAYERS}
    gt = {n: gram(ft[n], "chw") for n in STYLE_LAYERS}
    return relative_perceptual_distance(gy, gt, STYLE_LAYERS)


def vgg_layers(settings: TrainSettings) -> tuple[str, ...]:
    """Every layer one training step reads from VGG."""
    names = tuple(settings.layers or ())
    if "perceptual+style" in settings.losses:
        names = tuple(dict.fromkeys([*names, *STYLE_LAYERS]))
    return names


def step_losses(
    model: VGGFeatures,
    outputs: dict[str, torch.Tensor],
    target: torch.Tensor,
    s: TrainSettings,
    shift: tuple[int, int] = (0, 0),
) -> dict[str, torch.Tensor]:
    """Each network's loss on one batch: loss name → 0-d fp32 tensor, differentiable w.r.t. its
    output. The outputs of the networks that need VGG and the target go through VGG in one
    batched forward; the target's features are detached."""
    out: dict[str, torch.Tensor] = {}
    need = [n for n in s.losses if uses_vgg(n)]
    fy: dict[str, dict[str, torch.Tensor]] = {}
    ft: dict[str, torch.Tensor] = {}
    if need:
        names = vgg_layers(s)
        b = target.shape[0]
        batch = torch.cat([*(outputs[n] for n in need), target])
        if JITTER:
            (dy, dx), h, w = shift, target.shape[-2] - JITTER, target.shape[-1] - JITTER
            batch = batch[..., dy : dy + h, dx : dx + w]
        feats = model(batch, names)
        ft = {k: f[-b:].detach().float() for k, f in feats.items()}
        fy = {n: {k: f[i * b : (i + 1) * b].float() for k, f in feats.items()} for i, n in enumerate(need)}
    for n in s.losses:
        y = outputs[n].float()
        if n == "mse":
            out[n] = (y - target).pow(2).mean()
        elif n == "l1":
            out[n] = (y - target).abs().mean()
        else:
            distance = normalized_feature_distance if s.feature_norm else relative_perceptual_distance
            loss = distance(fy[n], ft, s.layers or ())
            if n == "perceptual+mse":
                loss = loss + float(s.pixel_weight) * (y - target).pow(2).mean()
            elif n == "perceptual+style":
                loss = loss + float(s.style_weight) * _style(fy[n], ft)
            if s.tv_weight:
                loss = loss + float(s.tv_weight) * total_variation(y).mean()
            out[n] = loss
    return out


# --------------------------------------------------------------------------- the loop


def train(
    model: VGGFeatures,
    train_images: Sequence[torch.Tensor],
    eval_image: torch.Tensor,
    settings: TrainSettings | None = None,
    *,
    every: int = 10,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[TrainStep]:
    """Train one :class:`ResidualCNN` per loss on the same patches; stream their progress.

    ``train_images``: (1, 3, H, W) tensors in [0, 1] (grey allowed), each at least one patch
    across after resizing; ``eval_image``: the held-out image (never trained on). Settings are
    validated here, before the first item is requested. Yields the untrained networks' outputs
    (step 0), then every ``every`` steps, and a last item with ``done=True`` — early with
    ``stopped="cancelled"`` when ``should_stop()`` returns True, or ``stopped="time limit"``
    once ``time.monotonic() >= deadline`` (both checked before each step).
    """
    s = (settings or TrainSettings()).resolved(model.arch, model.device)
    every, deadline = check_loop(every, should_stop, deadline)
    images = training_images(train_images, s)
    x_eval, truth = eval_pair(eval_image, s)
    held_out = _as_image(eval_image, msg("the evaluation image"))
    for i, img in enumerate(train_images, start=1):
        t = _as_image(img, msg("training image {i}", i=i))
        if t.shape == held_out.shape and torch.equal(t, held_out):
            raise InputError(
                msg("training image {i} is the evaluation image; hold the evaluation image out", i=i)
            )
    return _run(model, images, x_eval, truth, s, every, should_stop, deadline)


class _Trainer:
    """The networks, their optimiser and the patch sampler of one run."""

    def __init__(self, model: VGGFeatures, images: list[torch.Tensor], s: TrainSettings) -> None:
        self.model, self.s = model, s
        self.dev = model.device
        # Outside inference mode whatever the caller's (parameters and the images the patches are
        # cut from must be ordinary tensors for autograd): copies of the images, new networks.
        with _grad_mode(True):
            self.nets = build_networks(s, self.dev)
            self.sampler = PatchSampler([im.clone() for im in images], s)
            groups = [{"params": list(net.parameters())} for net in self.nets.values()]
            self.opt = torch.optim.Adam(groups, lr=float(s.lr))
        fp16 = self.dev.type == "cuda" and model.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)

    def step(self, i: int) -> dict[str, float]:
        """Optimisation step ``i`` (0-based) on a fresh batch; each network's loss before it."""
        total = int(self.s.steps or 1)
        cos = 0.5 * (1.0 + math.cos(math.pi * i / total))
        for group in self.opt.param_groups:
            group["lr"] = float(self.s.lr) * (LR_FLOOR + (1.0 - LR_FLOOR) * cos)
        with _grad_mode(True):
            x, t = self.sampler()
            x, t = x.to(self.dev), t.to(self.dev)
            dy, dx = (int(v) for v in torch.randint(JITTER + 1, (2,), generator=self.sampler.g))
            outputs = {n: net(x) for n, net in self.nets.items()}
            losses = step_losses(self.model, outputs, t, self.s, (dy, dx))
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(torch.stack(list(losses.values())).sum()).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        return {n: float(v.detach()) for n, v in losses.items()}

    def outputs(self, x_eval: torch.Tensor) -> dict[str, torch.Tensor]:
        with _grad_mode(False):
            x = x_eval.to(self.dev)
            return {n: _snapshot(net(x).clamp(0, 1)) for n, net in self.nets.items()}


def fit(
    model: VGGFeatures,
    train_images: Sequence[torch.Tensor],
    settings: TrainSettings,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    start: nn.Module | None = None,
    frozen: Sequence[str] = (),
) -> dict[str, ResidualCNN]:
    """Train one network per loss for ``settings.steps`` steps (``settings`` resolved) and return
    them, in eval mode on CPU — the loop of :func:`train` without an evaluation image (how the
    reference networks are made, ``tools/train_reference.py``). ``progress(step, losses)`` is
    called after every step with each network's loss on that step's batch. ``start``: a trained
    :class:`ResidualCNN` every network starts as a copy of, instead of the seed's new network (a
    warm start, as SRGAN's VGG-loss network starts from its MSE one); ``frozen``: names of
    parameters (``net.named_parameters()``) no network changes, e.g. ``"body.8.bias"``."""
    tr = _Trainer(model, training_images(train_images, settings), settings)
    with torch.no_grad():
        for net in tr.nets.values():
            if start is not None:
                net.load_state_dict(start.state_dict())
            for name, p in net.named_parameters():
                p.requires_grad_(name not in frozen)
    for i in range(int(settings.steps or 0)):
        losses = tr.step(i)
        if progress is not None:
            progress(i + 1, losses)
    return {n: net.to("cpu").eval() for n, net in tr.nets.items()}


def _run(
    model: VGGFeatures,
    images: list[torch.Tensor],
    x_eval: torch.Tensor,
    truth: torch.Tensor,
    s: TrainSettings,
    every: int,
    should_stop: Callable[[], bool] | None,
    deadline: float | None,
) -> Iterator[TrainStep]:
    t0 = time.monotonic()
    total = int(s.steps or 0)
    tr = _Trainer(model, images, s)
    history: dict[str, list[float]] = {n: [] for n in s.losses}
    reported = 0  # steps covered by the previous report
    means: dict[str, float] = {}

    step = 0
    while True:
        stopped = stop_reason(should_stop, deadline)
        last = bool(stopped) or step >= total
        if last or step % every == 0:
            if step > reported:
                means = {n: sum(h[reported:step]) / (step - reported) for n, h in history.items()}
                reported = step
            outs = tr.outputs(x_eval)
            yield TrainStep(
                step=step,
                total=total,
                losses=dict(means),
                outputs=outs,
                psnr={n: float(psnr(o, truth)[0]) for n, o in outs.items()},
                seconds=time.monotonic() - t0,
                done=last,
                stopped=stopped,
            )
        if last:
            return
        for n, v in tr.step(step).items():
            history[n].append(v)
        step += 1


# --------------------------------------------------------------------------- scoring


def evaluate(
    model: VGGFeatures, outputs: dict[str, torch.Tensor], truth: torch.Tensor, *, dists: bool = False
) -> dict[str, dict[str, float | None]]:
    """name → {"mse", "psnr", "ssim", "lpips"} of each output against ``truth``, in one VGG pass;
    with ``dists``, "dists" too (one more pass: the reference networks are judged on it, the live
    run is not).

    PSNR is ``None`` for an output identical to the truth; LPIPS (DISTS) is ``None`` when it
    cannot be computed (see :func:`perceptual_viz.compare.lpips_unavailable_reason`).
    """
    if not outputs:
        return {}
    names = list(outputs)
    with torch.inference_mode():
        dev = model.device
        batch = torch.cat([outputs[n].to(dev, torch.float32) for n in names])
        shown = ScoreSettings(dists=dists, ms_ssim=False)
        scores = score_pairs(model, truth.to(dev, torch.float32), batch, settings=shown).scores
    out: dict[str, dict[str, float | None]] = {}
    for n, sc in zip(names, scores, strict=True):
        out[n] = {
            "mse": sc.mse,
            "psnr": None if math.isinf(sc.psnr) else sc.psnr,
            "ssim": sc.ssim,
            "lpips": sc.lpips,
        }
        if dists:
            out[n]["dists"] = sc.dists
    return out
