"""Why don't my numbers match? One clean/degraded pair scored under the conventions people mix up.

The same metric name hides different computations, and each library has its own default. For
one pair (already prepared at the analysis size, in [0, 1]) :func:`score_conventions` computes:

- **LPIPS-VGG** with the ``lpips`` package's linear weights v0.1 (its default) and v0.0 (its
  first release, which feeds the [−1, 1] image to VGG without input scaling), and v0.1 fed
  [0, 1] images as they are (the package expects [−1, 1]: a common bug). The package's VGG trunk
  is ours: its ``ScalingLayer`` on [−1, 1] input is exactly ImageNet normalisation of [0, 1].
- **SSIM**: Wang et al.'s Gaussian 11 × 11, σ 1.5 (this app, scikit-image with
  ``gaussian_weights=True, use_sample_covariance=False``, pytorch-msssim with ``data_range=1``);
  scikit-image's default (uniform 7 × 7, sample covariance); pytorch-msssim's default
  ``data_range=255`` on [0, 1] images; Wang's MATLAB ``ssim.m`` (see :func:`ssim_matlab`).
- **Perceptual** (Σ mean|Δφ| over the first four block outputs) with and without ImageNet
  normalisation of the input.
- **Style** (summed over the same layers) under the Gram normalisations ``none``, ``chw`` and
  ``gatys`` of :mod:`perceptual_viz.gram`.

Each row says whose default it is and why its number differs. Words are messages.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from . import chrome, metrics
from .backbone import VGGFeatures
from .compare import lpips_unavailable_reason
from .errors import InputError
from .features import FeatureCache, image_key
from .gram import gram, grams_distance
from .layers import block_outputs
from .messages import Text, english, msg
from .tables import Table

Features = dict[str, torch.Tensor]

# MATLAB's rgb2gray: the first row of the inverse of the NTSC (YIQ) matrix, as rgb2gray.m has it.
RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
SKIMAGE_WINDOW = 7  # structural_similarity's default win_size (uniform filter)
PYTORCH_MSSSIM_RANGE = 255.0  # pytorch_msssim.ssim's default data_range

COLUMNS: tuple[Text, ...] = (
    msg("metric"),
    msg("convention"),
    msg("value"),
    msg("this app"),
    msg("whose default"),
    msg("why it differs"),
)


@dataclass(frozen=True)
class Convention:
    """One metric computed one way: ``key`` a stable id (JSON), ``value`` ``None`` when it cannot be
    computed here (``why`` then says why); ``this_app``: the way this app's Compare table does it."""

    key: str
    metric: Text
    name: Text
    value: float | None
    default_of: Text
    why: Text
    this_app: bool = False


@dataclass(frozen=True)
class ConventionScores:
    """Every row for one pair, the analysis size, ssim.m's down-sampling factor there, notes, and
    ``pair``: what the degraded image is (filled by the front ends' figure function)."""

    rows: tuple[Convention, ...]
    size: tuple[int, int]
    matlab_factor: int
    seconds: float
    notes: tuple[Text, ...] = ()
    pair: Text = field(default="")

    def value(self, key: str) -> float | None:
        """The number of the row ``key`` (e.g. ``"ssim.skimage_default"``)."""
        return next(r.value for r in self.rows if r.key == key)

    def table(self) -> Table:
        """The rows for reading: numbers to 4 significant digits, ✓ for this app's conventions."""
        rows = [
            [r.metric, r.name, chrome.num(r.value, 4), "✓" if r.this_app else "", r.default_of, r.why]
            for r in self.rows
        ]
        return Table(list(COLUMNS), rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, texts in English."""
        rows = [
            {
                "key": r.key,
                "metric": english(r.metric),
                "convention": english(r.name),
                "value": r.value,
                "this_app": r.this_app,
                "default_of": english(r.default_of),
                "why": english(r.why),
            }
            for r in self.rows
        ]
        h, w = self.size
        return {
            "conventions": rows,
            "size": [h, w],
            "matlab_downsample": self.matlab_factor,
            "pair": english(self.pair),
            "notes": [english(n) for n in self.notes],
            "seconds": round(self.seconds, 4),
        }


# --------------------------------------------------------------------------- SSIM ports


def rgb2gray(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 1, H, W) luminance as MATLAB's ``rgb2gray`` computes it for double images
    (uint8 images are also rounded to integers there)."""
    w = torch.tensor(RGB2GRAY, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def matlab_factor(height: int, width: int) -> int:
    """ssim.m's down-sampling factor f = max(1, round(min(M, N) / 256)), with MATLAB's ``round``
    (halves away from zero: 640 px → 3, where Python's ``round(2.5)`` gives 2).

    >>> matlab_factor(224, 337), matlab_factor(384, 512), matlab_factor(640, 640)
    (1, 2, 3)
    """
    return max(1, math.floor(min(height, width) / 256 + 0.5))


def _symmetric_pad(x: torch.Tensor, before: int, after: int, dim: int) -> torch.Tensor:
    """MATLAB's 'symmetric' padding (the edge pixel repeated: c b a | a b c … x y z | z y x)."""
    parts = [x.narrow(dim, 0, before).flip(dim), x] if before else [x]
    if after:
        parts.append(x.narrow(dim, x.shape[dim] - after, after).flip(dim))
    return torch.cat(parts, dim=dim)


def matlab_downsample(x: torch.Tensor, f: int) -> torch.Tensor:
    """ssim.m's ``imfilter(img, ones(f)/f², 'symmetric', 'same')`` then ``img(1:f:end, 1:f:end)``.

    imfilter centres an f × f kernel on element ⌊(f + 1)/2⌋, so output pixel i averages input
    pixels i − ⌊(f − 1)/2⌋ … i + ⌊f/2⌋; keeping every f-th from the first is an f × f average pool
    (stride f) of the padded image: ⌈M/f⌉ × ⌈N/f⌉ pixels.
    """
    if f <= 1:
        return x
    before, after = (f - 1) // 2, f // 2
    x = _symmetric_pad(_symmetric_pad(x, before, after, 2), before, after, 3)
    return F.avg_pool2d(x, f, stride=f)


def ssim_matlab(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """SSIM as Wang's reference MATLAB code ``ssim.m`` (2009, with automatic down-sampling)
    computes it for its usual use, ``ssim(rgb2gray(a), rgb2gray(b))``, per image (N,).

    Grey levels by :func:`rgb2gray`; f = :func:`matlab_factor`; if f > 1, :func:`matlab_downsample`;
    then ``filter2(fspecial('gaussian', 11, 1.5), ·, 'valid')`` moments, K = (0.01, 0.03), and the
    mean of the map. L = 1 on [0, 1] images is ssim.m's L = 255 on the same images × 255.
    """
    f = matlab_factor(*x.shape[-2:])
    gx, gy = (matlab_downsample(rgb2gray(t.float()), f) for t in (x, y))
    return metrics.ssim_with_window(gx, gy)


def ssim_skimage_default(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """scikit-image's ``structural_similarity(a, b, data_range=1, channel_axis=-1)`` with every other
    argument at its default: a uniform 7 × 7 window and sample (co)variances (÷ 48, not ÷ 49)."""
    window = torch.full((SKIMAGE_WINDOW,), 1.0 / SKIMAGE_WINDOW)
    return metrics.ssim_with_window(x, y, window, sample_covariance=True)


# --------------------------------------------------------------------------- the rows


@dataclass(frozen=True)
class _Words:
    metric: Text
    name: Text
    default_of: Text
    why: Text
    this_app: bool = False


_THIS_APP = msg("what this app's table shows")
# What each row is, whose default, and why it differs: key → words (the values come later).
WORDS: dict[str, _Words] = {
    "lpips.v0.1": _Words(
        "LPIPS-VGG",
        msg("v0.1, inputs scaled to [−1, 1]"),
        msg("lpips package: LPIPS(net='vgg'), its default version 0.1 (its default net is 'alex')"),
        msg("what this app's table shows; the package expects images in [−1, 1] (or normalize=True)"),
        this_app=True,
    ),
    "lpips.v0.1_unit_range": _Words(
        "LPIPS-VGG",
        msg("v0.1, images in [0, 1] passed as they are"),
        msg("a common bug: lpips.LPIPS()(x, y) on [0, 1] tensors without normalize=True"),
        msg(
            "the network sees every pixel squeezed into the bright half of its range, so the distance shrinks"
        ),
    ),
    "lpips.v0.0": _Words(
        "LPIPS-VGG",
        msg("v0.0, inputs in [−1, 1]"),
        msg("lpips package version='0.0' (the first arXiv release of Zhang et al. 2018)"),
        msg(
            "v0.0 skips the input scaling (VGG sees [−1, 1] without ImageNet normalisation) "
            "and has other linear weights"
        ),
    ),
    "ssim.wang": _Words(
        "SSIM",
        msg("Gaussian 11×11, σ 1.5, RGB, population covariance"),
        msg(
            "Wang et al. 2004; scikit-image with gaussian_weights=True, use_sample_covariance=False; "
            "pytorch-msssim ssim(data_range=1)"
        ),
        msg("what this app's table shows: the mean over the valid region and the 3 colour channels"),
        this_app=True,
    ),
    "ssim.skimage_default": _Words(
        "SSIM",
        msg("uniform 7×7 window, sample covariance"),
        msg("scikit-image structural_similarity default (win_size=7, use_sample_covariance=True)"),
        msg("a smaller, flat window sees finer detail; sample (co)variances (÷ N − 1) weigh structure more"),
    ),
    "ssim.pytorch_msssim_default": _Words(
        "SSIM",
        msg("Gaussian 11×11, σ 1.5, data_range = 255 on [0, 1] images"),
        msg("pytorch-msssim ssim(X, Y) with its default data_range=255"),
        msg(
            "C1 and C2 are made for 0–255 values: on [0, 1] images they swamp the statistics "
            "and push SSIM towards 1"
        ),
    ),
    "ssim.matlab": _Words(
        "SSIM",
        msg("MATLAB ssim.m: grey levels (rgb2gray), f×f down-sampling, Gaussian 11×11"),
        msg("Wang's reference MATLAB code ssim.m (with automatic down-sampling)"),
        msg(
            "luminance only (colour errors are not seen); from 384 px on, the f×f average "
            "and down-sampling hide fine detail"
        ),
    ),
    "perceptual.imagenet": _Words(
        msg("perceptual"),
        msg("ImageNet-normalised input, Σ mean|Δφ|"),
        msg("the reference perceptual loss (Johnson et al. 2016); torchvision's VGG weights expect it"),
        _THIS_APP,
        this_app=True,
    ),
    "perceptual.unnormalised": _Words(
        msg("perceptual"),
        msg("raw [0, 1] input, no ImageNet normalisation"),
        msg("a common bug: VGG features of tensors that skipped torchvision's Normalize"),
        msg(
            "VGG was trained on normalised inputs: raw ones shift every activation "
            "and change the distance's scale"
        ),
    ),
    "style.none": _Words(
        msg("style"),
        msg("raw Gram G = F Fᵀ, mean |ΔG|"),
        msg("the reference style loss of this app's source material (L1 of raw Grams)"),
        msg("raw Gram entries grow with the layer's H·W, so the number grows with the image size"),
    ),
    "style.chw": _Words(
        msg("style"),
        msg("G ÷ C·H·W, mean |ΔG|"),
        msg("Johnson et al. 2016's Gram normalisation (÷ C·H·W)"),
        msg("what this app's table shows: comparable across layers and image sizes"),
        this_app=True,
    ),
    "style.gatys": _Words(
        msg("style"),
        msg("1/(4N²M²) · Σ (ΔG)², N = C, M = H·W"),
        msg("Gatys et al. 2016"),
        msg(
            "squared Gram differences ÷ 4N²M²: it grows with the square of the activations, "
            "a scale of its own"
        ),
    ),
}


def _row(key: str, value: float | None, why: Text | None = None) -> Convention:
    """The row ``key`` of :data:`WORDS` with its ``value`` (and, if given, ``why`` it has none)."""
    w = WORDS[key]
    return Convention(key, w.metric, w.name, value, w.default_of, why or w.why, w.this_app)


def _ssim_rows(clean: torch.Tensor, degraded: torch.Tensor) -> list[Convention]:
    with torch.inference_mode():
        values = {
            "ssim.wang": metrics.ssim_with_window(clean, degraded),
            "ssim.skimage_default": ssim_skimage_default(clean, degraded),
            "ssim.pytorch_msssim_default": metrics.ssim_with_window(
                clean, degraded, data_range=PYTORCH_MSSSIM_RANGE
            ),
            "ssim.matlab": ssim_matlab(clean, degraded),
        }
    return [_row(k, float(v[0])) for k, v in values.items()]


def _input_for(model: VGGFeatures, seen: torch.Tensor) -> torch.Tensor:
    """What to hand ``model`` (which ImageNet-normalises its input) so that its convolutions see
    ``seen``: a VGG fed ``seen`` directly, as a hand-written loss without normalisation does."""
    return seen * model.std.to(seen.dtype) + model.mean.to(seen.dtype)


def _pair_features(
    model: VGGFeatures, clean: torch.Tensor, degraded: torch.Tensor, names: Sequence[str]
) -> tuple[Features, Features]:
    with torch.inference_mode():
        f = model(torch.cat([clean, degraded]), names)
    return {n: t[:1] for n, t in f.items()}, {n: t[1:] for n, t in f.items()}


def _lpips(pair: tuple[Features, Features], names: Sequence[str], version: str) -> float | None:
    with torch.inference_mode():
        res = metrics.lpips_vgg_version(*pair, names, version)
    return None if res is None else float(res.total[0])


def _lpips_rows(
    model: VGGFeatures, clean: torch.Tensor, degraded: torch.Tensor, normal: tuple[Features, Features]
) -> list[Convention]:
    """v0.1 on [−1, 1] (the app's), v0.1 fed [0, 1] as they are, and v0.0 on [−1, 1]."""
    names = block_outputs(model.arch)
    reason = lpips_unavailable_reason(model.arch)
    if reason is not None:
        return [_row(k, None, reason) for k in ("lpips.v0.1", "lpips.v0.1_unit_range", "lpips.v0.0")]
    # The package's ScalingLayer turns x into ((x + 1)/2 − mean)/std: ImageNet normalisation of
    # (x + 1)/2. Fed [0, 1] images, the network sees them squeezed into [0.5, 1].
    unit = _pair_features(model, (clean + 1) / 2, (degraded + 1) / 2, names)
    # v0.0 skips the ScalingLayer: VGG sees the [−1, 1] image itself.
    v00 = _pair_features(model, _input_for(model, 2 * clean - 1), _input_for(model, 2 * degraded - 1), names)
    return [
        _row("lpips.v0.1", _lpips(normal, names, "v0.1")),
        _row("lpips.v0.1_unit_range", _lpips(unit, names, "v0.1")),
        _row("lpips.v0.0", _lpips(v00, names, "v0.0")),
    ]


def _perceptual_rows(
    model: VGGFeatures, clean: torch.Tensor, degraded: torch.Tensor, normal: tuple[Features, Features]
) -> list[Convention]:
    names = block_outputs(model.arch)[:4]
    raw = _pair_features(model, _input_for(model, clean), _input_for(model, degraded), names)
    with torch.inference_mode():
        ours = metrics.perceptual_distance(*normal, names).total
        forgot = metrics.perceptual_distance(*raw, names).total
    return [_row("perceptual.imagenet", float(ours[0])), _row("perceptual.unnormalised", float(forgot[0]))]


def _style_rows(normal: tuple[Features, Features], names: Sequence[str]) -> list[Convention]:
    """The style distance summed over ``names`` under each Gram normalisation; one raw Gram per
    layer and image serves all three (``chw`` is it ÷ C·H·W)."""
    totals = dict.fromkeys(("none", "chw", "gatys"), 0.0)
    with torch.inference_mode():
        for n in names:
            fa, fb = normal[0][n], normal[1][n]
            _, c, h, w = fa.shape
            ga, gb = gram(fa), gram(fb)
            totals["none"] += float(grams_distance(ga, gb, "none", c, h * w)[0])
            totals["chw"] += float(grams_distance(ga / (c * h * w), gb / (c * h * w), "chw", c, h * w)[0])
            totals["gatys"] += float(grams_distance(ga, gb, "gatys", c, h * w)[0])
    return [_row(f"style.{norm}", v) for norm, v in totals.items()]


def _normal_features(
    model: VGGFeatures,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    cache: FeatureCache | None,
    keys: tuple[str, str] | None,
) -> tuple[Features, Features]:
    """The pair's ImageNet-normalised activations of the 5 block outputs, through ``cache`` (the
    Compare view that shows this pair has usually computed them already)."""
    names = block_outputs(model.arch)
    if cache is None:
        return _pair_features(model, clean, degraded, names)
    ck, dk = keys or (image_key(clean), image_key(degraded))
    with torch.inference_mode():
        return cache.pair(model, clean, ck, degraded, [dk], names)


def score_conventions(
    model: VGGFeatures,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    *,
    cache: FeatureCache | None = None,
    keys: tuple[str, str] | None = None,
) -> ConventionScores:
    """``degraded`` against ``clean`` (each (1, 3, H, W) in [0, 1] on ``model.device``, the same
    size) under every convention of this module; ``cache`` (with the images' ``keys``) reuses the
    pair's normal activations. Costs 3 VGG passes of the pair beyond those (2 for VGG19).

    >>> import torch
    >>> from perceptual_viz import load_vgg
    >>> model = load_vgg("vgg16", weights="untrained", device="cpu")
    >>> x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    >>> res = score_conventions(model, x, (x * 0.9).clamp(0, 1))
    >>> [r.key for r in res.rows if r.this_app]
    ['lpips.v0.1', 'ssim.wang', 'perceptual.imagenet', 'style.chw']
    >>> res.value("ssim.pytorch_msssim_default") > res.value("ssim.wang")
    True
    """
    if clean.ndim != 4 or clean.shape[0] != 1 or degraded.shape != clean.shape:
        raise InputError(msg("conventions score one clean and one degraded image of the same size"))
    t0 = time.perf_counter()
    normal = _normal_features(model, clean, degraded, cache, keys)
    names = block_outputs(model.arch)[:4]
    rows = [
        *_lpips_rows(model, clean, degraded, normal),
        *_ssim_rows(clean, degraded),
        *_perceptual_rows(model, clean, degraded, normal),
        *_style_rows(normal, names),
    ]
    h, w = (int(v) for v in clean.shape[-2:])
    f = matlab_factor(h, w)
    notes: list[Text] = [
        msg("perceptual and style rows sum over {layers}", layers=", ".join(names)),
        msg("ssim.m's down-sampling factor at {w}×{h} px: f = {f}", w=w, h=h, f=f),
    ]
    if not model.status.trained:
        notes.append(
            msg("UNTRAINED VGG weights: the LPIPS, perceptual and style rows are computed but mean nothing")
        )
    return ConventionScores(tuple(rows), (h, w), f, time.perf_counter() - t0, tuple(notes))
