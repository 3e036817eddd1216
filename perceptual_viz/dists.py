"""DISTS (Ding, Ma, Wang & Simoncelli 2020) on this package's VGG16: structure and texture similarity.

DISTS runs VGG16 with every max-pool replaced by an *L2-pool* (a 3 × 3 Hanning-weighted
√(Σ w·x²), stride 2 — the reference's ``L2pooling(filter_size=5)``, whose Hanning window of 5 has
zero ends) and compares six stages per channel: the image itself (stage 0), relu1_2, and the
relu2_2 … relu5_3 of the L2-pooled network. For a channel with spatial means μ, variances σ² and
covariance σ_xy:

* texture ``(2 μx μy + c1) / (μx² + μy² + c1)`` — the first moment of the features, a close
  cousin of the Gram matrix's statistics;
* structure ``(2 σxy + c2) / (σx² + σy² + c2)`` — their correlation.

DISTS = 1 − Σ (α · texture + β · structure) over all 1475 channels, with the learned α, β of the
``dists-pytorch`` package (its ``weights.pt``, MIT) divided by their total, so identical images
score 0. c1 = c2 = 1e-6. The first stage is the ordinary network up to relu1_2, so its
activations come from the same pass (and cache) as every other feature; the L2-pooled stages
reuse the same conv modules.

Without ``dists-pytorch`` installed, :func:`dists_available` is False and scores leave DISTS out
with a reason (see :func:`perceptual_viz.compare.dists_unavailable_reason`).
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .backbone import VGGFeatures
from .errors import InputError
from .features import FeatureCache
from .layers import block_outputs
from .messages import msg
from .metrics import _needs_grad, _row_step, _rows

PACKAGE = "DISTS_pytorch"  # the import name of the dists-pytorch distribution
C1 = C2 = 1e-6
# Channels of the six stages: the image, relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
STAGE_CHANNELS = (3, 64, 128, 256, 512, 512)
Stages = list[torch.Tensor]  # the six stages' activations, each (N, C, h, w)
Moments = list[torch.Tensor]  # per stage, the spatial mean and variance of each channel, (2, N, C)


def dists_available() -> bool:
    """True when the optional ``dists-pytorch`` package (which ships α and β) is installed."""
    return _weights_cpu() is not None


def _weights_file() -> str | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "weights.pt")
    return path if os.path.isfile(path) else None


@functools.lru_cache(maxsize=1)
def _weights_cpu() -> tuple[torch.Tensor, torch.Tensor] | None:
    """α and β, each (1475,), divided by Σα + Σβ; read from the package's data, never imported
    (importing it would import torchvision's model zoo)."""
    path = _weights_file()
    if path is None:
        return None
    sd = torch.load(path, map_location="cpu", weights_only=True)
    alpha, beta = sd["alpha"].double().flatten(), sd["beta"].double().flatten()
    total = alpha.sum() + beta.sum()
    return (alpha / total).float(), (beta / total).float()


def dists_weights() -> tuple[torch.Tensor, torch.Tensor] | None:
    """The normalised (α, β), each (1475,): together they sum to 1. ``None`` without the package."""
    return _weights_cpu()


@functools.lru_cache(maxsize=8)
def _l2_filter(channels: int, device: str) -> torch.Tensor:
    """The reference's depthwise L2-pooling filter: the outer product of ``hanning(5)[1:-1]`` =
    (½, 1, ½) with itself, divided by its sum, one per channel: (C, 1, 3, 3)."""
    a = torch.hann_window(5, periodic=False, dtype=torch.float64)[1:-1]
    g = a[:, None] * a[None, :]
    return (g / g.sum()).float().expand(channels, 1, 3, 3).contiguous().to(device)


def l2_pool(t: torch.Tensor) -> torch.Tensor:
    """DISTS's L2-pooling of (N, C, H, W) in fp32: √(Hanning-weighted mean of t² + 1e-12), stride 2.

    >>> import torch
    >>> l2_pool(torch.full((1, 2, 8, 6), 3.0))[0, :, 1:, 1:].unique()  # away from the zero padding
    tensor([3.])
    """
    with torch.autocast(device_type=t.device.type, enabled=False):
        t = t.float()
        w = _l2_filter(t.shape[1], str(t.device))
        return F.conv2d(t * t, w, stride=2, padding=1, groups=t.shape[1]).add_(1e-12).sqrt_()


def _check_model(model: VGGFeatures) -> None:
    if model.arch != "vgg16":
        raise InputError(msg("DISTS's weights are calibrated for VGG16 only, not {arch}", arch=model.arch))


def dists_stages(model: VGGFeatures, x: torch.Tensor, relu1_2: torch.Tensor | None = None) -> Stages:
    """The six DISTS stages of images ``x`` ([0, 1] RGB, (N, 3, H, W)): ``x``, relu1_2 (``relu1_2``
    if given, e.g. from a :class:`~perceptual_viz.features.FeatureCache`, else one forward), then
    relu2_2 … relu5_3 of the network with L2-pools, on ``model``'s own conv modules."""
    _check_model(model)
    if relu1_2 is None:
        relu1_2 = model(x, ["relu1_2"])["relu1_2"]
    ends = [model.info(n).index for n in block_outputs(model.arch)]
    out, h = [x, relu1_2], relu1_2
    amp = model.amp_dtype is not None and h.device.type == "cuda"
    for start, end in itertools.pairwise(ends):
        h = l2_pool(h).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=model.amp_dtype or torch.float16, enabled=amp):
            # start + 1 is the max-pool the L2-pool replaces: the stage's convs and ReLUs follow it.
            for i in range(start + 2, end + 1):
                h = model.features[i](h)
        out.append(h)
    return out


def _chunks(a: torch.Tensor, b: torch.Tensor) -> list[slice]:
    """The cache-sized chunks of pixels of the (N, P, C) row views ``a`` and ``b`` (all at once on
    a GPU), so a product of two large maps is never held whole."""
    step = _row_step(a, b)
    return [slice(i, i + step) for i in range(0, a.shape[1], step)]


def _mean_var(f: torch.Tensor) -> torch.Tensor:
    """Spatial mean and (population) variance of each channel of fp32 (N, C, h, w): (2, N, C)."""
    rows = _rows(f)
    mean = rows.mean(dim=1)
    var = torch.zeros_like(mean)
    for part in _chunks(rows, rows):
        var = var + (rows[:, part] - mean[:, None]).pow(2).sum(dim=1)
    return torch.stack([mean, var / rows.shape[1]])


def dists_moments(stages: Sequence[torch.Tensor]) -> Moments:
    """The per-channel mean and variance of each stage (kept with a clean image's stages)."""
    with torch.autocast(device_type=stages[0].device.type, enabled=False):
        return [_mean_var(s.float()) for s in stages]


def _stage_similarity(
    fx: torch.Tensor, fy: torch.Tensor, mx: torch.Tensor, my: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Texture and structure terms of one stage per channel, (N, C); ``fx`` may be a batch of 1."""
    a, b = _rows(fx), _rows(fy)
    exy = torch.zeros(max(a.shape[0], b.shape[0]), a.shape[2], device=b.device)
    for part in _chunks(a, b):
        exy = exy + (a[:, part] * b[:, part]).sum(dim=1)
    (ux, vx), (uy, vy) = mx, my
    cov = exy / a.shape[1] - ux * uy
    texture = (2 * ux * uy + C1) / (ux * ux + uy * uy + C1)
    structure = (2 * cov + C2) / (vx + vy + C2)
    return texture, structure


def dists_distance(
    sx: Sequence[torch.Tensor], sy: Sequence[torch.Tensor], moments_x: Moments | None = None
) -> torch.Tensor | None:
    """DISTS of two sets of stages (from :func:`dists_stages`) per image, (N,), in fp32; a batch
    of 1 in ``sx`` broadcasts against ``sy``. ``moments_x``: :func:`dists_moments` of ``sx`` if
    already known. ``None`` without the ``dists-pytorch`` package."""
    w = _weights_cpu()
    if w is None:
        return None
    alpha, beta = (t.to(sy[0].device) for t in w)
    with torch.autocast(device_type=sy[0].device.type, enabled=False):
        fx, fy = [s.float() for s in sx], [s.float() for s in sy]
        mx = moments_x if moments_x is not None else dists_moments(fx)
        my = dists_moments(fy)
        total = torch.zeros(max(fx[0].shape[0], fy[0].shape[0]), device=fy[0].device)
        start = 0
        for k, c in enumerate(STAGE_CHANNELS):
            texture, structure = _stage_similarity(fx[k], fy[k], mx[k], my[k])
            total = total + texture @ alpha[start : start + c] + structure @ beta[start : start + c]
            start += c
        return 1 - total


def dists(model: VGGFeatures, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """DISTS of ``y`` against ``x`` per image, (N,): 0 for identical images, larger when further.

    ``model`` must be a VGG16 (α, β were learned on it); raises :class:`InputError` otherwise,
    and when the optional ``dists-pytorch`` package is not installed. One batched pass for both.

    >>> import torch
    >>> from perceptual_viz import load_vgg
    >>> model = load_vgg("vgg16", weights="untrained", device="cpu")
    >>> x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    >>> d = dists(model, x, torch.cat([x, (x + 0.3).clamp(0, 1)]))
    >>> abs(float(d[0])) < 1e-5, bool(d[1] > d[0])
    (True, True)
    """
    _check_model(model)
    if not dists_available():
        raise InputError(msg("DISTS needs the optional 'dists-pytorch' package (pip install dists-pytorch)"))
    if x.ndim != 4 or y.ndim != 4 or x.shape[1:] != y.shape[1:] or len(x) not in (1, len(y)):
        raise InputError(f"images must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    with torch.inference_mode(not _needs_grad(x, y)):
        both = dists_stages(model, torch.cat([x, y]))
        return dists_distance([s[: len(x)] for s in both], [s[len(x) :] for s in both])  # type: ignore[return-value]


STAGE_TAGS = tuple(f"dists:{k}" for k in range(1, len(STAGE_CHANNELS)))  # cache tags of stages 1–5


def _stored_clean(
    model: VGGFeatures, cache: FeatureCache, clean: torch.Tensor, key: str
) -> tuple[Stages, Moments] | None:
    """The clean image's stages and moments from ``cache``, or ``None`` unless all are there
    (stage 0 is the image itself)."""
    stored = [cache.peek(model, key, t) for t in STAGE_TAGS]
    moments = [cache.peek(model, key, f"{t}:moments") for t in STAGE_TAGS]
    found = [t for t in stored + moments if t is not None]
    if len(found) < 2 * len(STAGE_TAGS):
        return None
    n = len(STAGE_TAGS)
    return [clean, *found[:n]], [*dists_moments([clean]), *found[n:]]


def _known_pairs(
    model: VGGFeatures, cache: FeatureCache, keys: Sequence[str] | None, tag: str
) -> torch.Tensor | None:
    """The DISTS values kept for every one of ``keys`` under ``tag``, or ``None``."""
    if keys is None:
        return None
    known = [v for k in keys if (v := cache.peek(model, k, tag)) is not None]
    return torch.cat(known) if len(known) == len(keys) else None


def cached_dists(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: torch.Tensor,
    clean_key: str,
    clean_relu: torch.Tensor,
    degraded: torch.Tensor,
    degraded_relu: torch.Tensor,
    degraded_keys: Sequence[str] | None = None,
) -> torch.Tensor | None:
    """DISTS of each of ``degraded`` (K, …) against ``clean`` (1, …) given their relu1_2, (K,).

    The clean image's stages and moments are kept in ``cache`` under its key: the first call runs
    the L2-pooled stages of clean and degraded in one batch, later ones only the degraded images'.
    With ``degraded_keys`` each pair's value is kept too, so scoring the same pair again is free.
    """
    if not dists_available():
        return None
    pair_tag = f"dists-vs:{clean_key}"
    known = _known_pairs(model, cache, degraded_keys, pair_tag)
    if known is not None:
        return known
    stored = _stored_clean(model, cache, clean, clean_key)
    if stored is not None:
        d = dists_distance(stored[0], dists_stages(model, degraded, degraded_relu), stored[1])
    else:
        both = dists_stages(model, torch.cat([clean, degraded]), torch.cat([clean_relu, degraded_relu]))
        sx = [t[:1] for t in both]
        mx = dists_moments(sx)
        for tag, stage, moments in zip(STAGE_TAGS, sx[1:], mx[1:], strict=True):
            cache.keep(model, clean_key, tag, stage)
            cache.keep(model, clean_key, f"{tag}:moments", moments)
        d = dists_distance(sx, [t[1:] for t in both], mx)
    if d is not None and degraded_keys is not None:
        for key, v in zip(degraded_keys, d, strict=True):
            cache.keep(model, key, pair_tag, v.view(1))
    return d
