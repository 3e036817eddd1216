"""Image-quality metrics, batched and device-agnostic: MSE, PSNR, SSIM, MS-SSIM, perceptual, LPIPS.

All functions take (N, C, H, W) float tensors in [0, 1] (``data_range`` = 1) on any device and
return one value per image, shape (N,). Pixel metrics, SSIM and MS-SSIM always run in fp32, even
under ``torch.autocast``. DISTS, which needs the backbone, lives in :mod:`perceptual_viz.dists`.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import InputError
from .messages import msg
from .options import CRITERIA, Criterion, is_one_of

# SSIM constants of Wang, Bovik, Sheikh & Simoncelli (2004).
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_CHUNK_PIXELS = 512 * 512  # per CPU chunk of a batch
# MS-SSIM (Wang, Simoncelli & Bovik 2003): the exponent of each of the five scales' terms, and the
# smallest side that leaves the 11-px window room at the coarsest scale after four halvings
# (pytorch-msssim's rule: the shorter side must exceed (11 − 1) · 2⁴ = 160 px).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_MIN_SIDE = (SSIM_WINDOW - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1


def _fp32(*xs: torch.Tensor) -> list[torch.Tensor]:
    return [x.float() for x in xs]


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape:
        raise InputError(f"images must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.ndim != 4:
        raise InputError(f"expected (N, C, H, W) tensors, got {x.ndim} dimensions")


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image, (N,).

    >>> import torch
    >>> x = torch.zeros(2, 3, 32, 32)
    >>> mse(x, x + 0.1)
    tensor([0.0100, 0.0100])
    """
    _check_pair(x, y)
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = _fp32(x, y)
        return (x - y).pow(2).mean(dim=(1, 2, 3))


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, (N,); ``inf`` for identical images.

    >>> import torch
    >>> x = torch.zeros(2, 3, 32, 32)
    >>> psnr(x, x + 0.1), psnr(x, x)
    (tensor([20., 20.]), tensor([inf, inf]))
    """
    m = mse(x, y)
    return torch.where(
        m > 0, 10 * torch.log10(data_range**2 / m.clamp_min(1e-30)), torch.full_like(m, math.inf)
    )


def squared_error_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(x − y)² averaged over colour channels, (N, H, W)."""
    _check_pair(x, y)
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = _fp32(x, y)
        return (x - y).pow(2).mean(dim=1)


@functools.lru_cache(maxsize=8)
def _gaussian_1d(size: int, sigma: float, device: str) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return (g / g.sum()).to(device=device, dtype=torch.float32)


def _blur_valid(t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter over each channel of (N, C, H, W), 'valid' region only."""
    c = t.shape[1]
    k = g.numel()
    t = F.conv2d(t, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(t, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def _dense_channels_last(t: torch.Tensor) -> torch.Tensor:
    """``t`` in channels-last layout with the canonical strides, copied only if need be.

    ``torch.from_numpy(hwc).permute(2, 0, 1)[None]`` — the usual way to make a tensor from an
    image array — *is* channels-last, but its batch stride is 3 instead of 3·H·W, and
    ``contiguous(memory_format=channels_last)`` keeps such a tensor as it is. oneDNN's
    depthwise convolution then takes a slow path (~2× slower for the whole SSIM), so the
    strides are made canonical here.
    """
    n, c, h, w = t.shape
    if t.stride() == (c * h * w, 1, w * c, c):
        return t
    out = torch.empty((n, c, h, w), dtype=t.dtype, device=t.device, memory_format=torch.channels_last)
    return out.copy_(t)


def _ssim_map(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """Per-channel SSIM map (N, C, H − 10, W − 10) of fp32 images.

    Each moment is filtered on its own, so few large maps are alive at once (cache-friendly), and
    on the CPU the images are channels-last, where oneDNN's depthwise convolution is ~2× faster.
    Without autograd the moments are combined in place on this function's own temporaries.
    """
    if x.device.type == "cpu":
        x, y = _dense_channels_last(x), _dense_channels_last(y)
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        mx, my = _blur_valid(x, g), _blur_valid(y, g)
        vx = _blur_valid(x * x, g) - mx * mx
        vy = _blur_valid(y * y, g) - my * my
        cxy = _blur_valid(x * y, g) - mx * my
        return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    mx, my = _blur_valid(x, g), _blur_valid(y, g)
    mxy = mx * my
    mx2, my2 = mx.pow_(2), my.pow_(2)
    vx = _blur_valid(x * x, g).sub_(mx2)
    vy = _blur_valid(y * y, g).sub_(my2)
    den = mx2.add_(my2).add_(c1).mul_(vx.add_(vy).add_(c2))
    del vx, vy
    cxy = _blur_valid(x * y, g).sub_(mxy)
    num = mxy.mul_(2.0).add_(c1).mul_(cxy.mul_(2.0).add_(c2))
    return num.div_(den)


def ssim_with_window(
    x: torch.Tensor,
    y: torch.Tensor,
    window: torch.Tensor | None = None,
    data_range: float = 1.0,
    *,
    sample_covariance: bool = False,
) -> torch.Tensor:
    """SSIM per image, (N,), with any separable window: ``window`` is its 1-D profile (k values
    summing to 1: 1/k each for a uniform window; ``None``: the Gaussian 11, σ 1.5 of
    :func:`ssim`), over the valid region, averaged over the map and the channels, in fp32.

    ``sample_covariance`` divides the (co)variances by k² − 1 instead of k² (scikit-image's
    ``use_sample_covariance``); that equals the population formula with C2 divided by
    k²/(k² − 1), which is how it is computed. :func:`ssim` is the Gaussian 11 × 11, σ 1.5 case.
    """
    _check_pair(x, y)
    if window is None:
        window = _gaussian_1d(SSIM_WINDOW, SSIM_SIGMA, str(x.device))
    k = window.numel()
    if min(x.shape[-2:]) < k:
        raise InputError(f"SSIM needs images of at least {k}×{k} px")
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = _fp32(x, y)
        g = window.to(device=x.device, dtype=torch.float32).flatten()
        c2 = (SSIM_K2 * data_range) ** 2
        if sample_covariance:
            c2 *= (k * k - 1) / (k * k)
        return _ssim_map(x, y, g, (SSIM_K1 * data_range) ** 2, c2).mean(dim=(1, 2, 3))


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    *,
    return_map: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Structural similarity (Wang et al. 2004) per image, (N,).

    Gaussian window 11 × 11, σ = 1.5, K1 = 0.01, K2 = 0.03, population (co)variances, computed
    over the valid region (no padding), averaged over the map and over colour channels — the
    same as scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1.0, channel_axis=-1)``.

    With ``return_map`` also returns the SSIM map averaged over channels, (N, H − 10, W − 10):
    pixel (i, j) of the map is centred on pixel (i + 5, j + 5) of the image.

    >>> import torch
    >>> x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> ssim(x, x)
    tensor([1.])
    >>> bool(ssim(x, (x + 0.2).clamp(0, 1)) < 1)
    True
    >>> score, smap = ssim(x, x, return_map=True)
    >>> smap.shape
    torch.Size([1, 22, 22])
    """
    _check_pair(x, y)
    if min(x.shape[-2:]) < SSIM_WINDOW:
        raise InputError(f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW} px")
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = _fp32(x, y)
        g = _gaussian_1d(SSIM_WINDOW, SSIM_SIGMA, str(x.device))
        c1 = (SSIM_K1 * data_range) ** 2
        c2 = (SSIM_K2 * data_range) ** 2
        if x.device.type == "cpu" and x.shape[0] > 1:
            # A few images at a time keep the moment maps in cache: ~2× faster on CPU for batches.
            step = max(1, SSIM_CHUNK_PIXELS // (x.shape[-2] * x.shape[-1]))
            smap = torch.cat(
                [_ssim_map(x[i : i + step], y[i : i + step], g, c1, c2) for i in range(0, len(x), step)]
            )
        else:
            smap = _ssim_map(x, y, g, c1, c2)
        score = smap.mean(dim=(1, 2, 3))
        if return_map:
            return score, smap.mean(dim=1)
        return score


def _ssim_cs(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """SSIM and its contrast-structure term, each averaged over the valid map per channel: (2, N, C).

    cs = (2σ_xy + C2) / (σ_x² + σ_y² + C2); SSIM = luminance · cs, the mean of their product.
    Like :func:`_ssim_map`, in place on its own temporaries when no autograd is needed.
    """
    if x.device.type == "cpu":
        x, y = _dense_channels_last(x), _dense_channels_last(y)
    mx, my = _blur_valid(x, g), _blur_valid(y, g)
    if _needs_grad(x, y):
        vx = _blur_valid(x * x, g) - mx * mx
        vy = _blur_valid(y * y, g) - my * my
        cs = (2 * (_blur_valid(x * y, g) - mx * my) + c2) / (vx + vy + c2)
        lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
        return torch.stack([(lum * cs).mean(dim=(2, 3)), cs.mean(dim=(2, 3))])
    mxy = mx * my
    mx2, my2 = mx.pow_(2), my.pow_(2)
    vx = _blur_valid(x * x, g).sub_(mx2)
    vy = _blur_valid(y * y, g).sub_(my2)
    lum_den = mx2.add_(my2).add_(c1)
    cs_den = vx.add_(vy).add_(c2)
    cs = _blur_valid(x * y, g).sub_(mxy).mul_(2.0).add_(c2).div_(cs_den)
    lum = mxy.mul_(2.0).add_(c1).div_(lum_den)
    return torch.stack([lum.mul_(cs).mean(dim=(2, 3)), cs.mean(dim=(2, 3))])


def _halve(t: torch.Tensor) -> torch.Tensor:
    """pytorch-msssim's 2× down-sampling: a 2 × 2 average, an odd side padded by one zero
    each side (and the zero counted in the average)."""
    return F.avg_pool2d(t, kernel_size=2, padding=[s % 2 for s in t.shape[2:]])


def _ms_ssim_chunk(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, c1: float, c2: float) -> torch.Tensor:
    """(SSIM, MS-SSIM) of fp32 images, each (N,): SSIM is the finest scale's full term."""
    w = torch.tensor(MS_SSIM_WEIGHTS, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    terms, first = [], None
    for level in range(len(MS_SSIM_WEIGHTS)):
        s, cs = _ssim_cs(x, y, g, c1, c2)
        if level == 0:
            first = s
        if level < len(MS_SSIM_WEIGHTS) - 1:
            terms.append(torch.relu(cs))
            x, y = _halve(x), _halve(y)
    terms.append(torch.relu(s))
    per_channel = torch.stack(terms).pow(w).prod(dim=0)  # (N, C)
    return torch.stack([first.mean(dim=1), per_channel.mean(dim=1)])  # type: ignore[union-attr]


def ms_ssim_fits(height: int, width: int) -> bool:
    """Can MS-SSIM be computed for images of this size (shorter side > 160 px)?

    >>> ms_ssim_fits(224, 336), ms_ssim_fits(160, 400)
    (True, False)
    """
    return min(height, width) >= MS_SSIM_MIN_SIDE


def ssim_and_ms_ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`ssim` and :func:`ms_ssim` together, each (N,): MS-SSIM's finest scale is SSIM's
    own computation, so both cost about 1.3 SSIMs. Raises :class:`InputError` for images too
    small for MS-SSIM (see :func:`ms_ssim_fits`)."""
    _check_pair(x, y)
    if not ms_ssim_fits(*x.shape[-2:]):
        raise InputError(
            msg(
                "MS-SSIM needs images whose shorter side is at least {px} px (five scales of the "
                "{window}-px window); these are {h}×{w}",
                px=MS_SSIM_MIN_SIDE,
                window=SSIM_WINDOW,
                h=x.shape[-2],
                w=x.shape[-1],
            )
        )
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = _fp32(x, y)
        g = _gaussian_1d(SSIM_WINDOW, SSIM_SIGMA, str(x.device))
        c1 = (SSIM_K1 * data_range) ** 2
        c2 = (SSIM_K2 * data_range) ** 2
        step = len(x)
        if x.device.type == "cpu":
            step = max(1, SSIM_CHUNK_PIXELS // (x.shape[-2] * x.shape[-1]))
        both = torch.cat(
            [_ms_ssim_chunk(x[i : i + step], y[i : i + step], g, c1, c2) for i in range(0, len(x), step)],
            dim=1,
        )
        return both[0], both[1]


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) per image, (N,), in fp32.

    SSIM's contrast-structure term at five scales (a 2 × 2 average pool between them) and its
    luminance term only at the coarsest, each clipped at 0 and raised to the exponents
    (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), multiplied, per channel, then averaged over the
    channels: the same as pytorch-msssim's ``ms_ssim(x, y, data_range=1, size_average=False)``
    (Gaussian 11 × 11, σ 1.5, valid region). Images need a shorter side of at least 161 px,
    else :class:`InputError`.

    >>> import torch
    >>> x = torch.rand(2, 3, 176, 176, generator=torch.Generator().manual_seed(0))
    >>> ms_ssim(x, x)
    tensor([1., 1.])
    >>> bool(ms_ssim(x, (x + 0.2).clamp(0, 1))[0] < 1)
    True
    >>> ms_ssim(x[..., :160, :], x[..., :160, :])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    perceptual_viz.errors.InputError: MS-SSIM needs images whose shorter side is at least 161 px ...
    """
    return ssim_and_ms_ssim(x, y, data_range)[1]


# --------------------------------------------------------------------------- perceptual


@dataclass
class LayerScores:
    """A weighted sum over layers and its per-layer terms (each (N,), before weighting)."""

    total: torch.Tensor
    layers: dict[str, torch.Tensor]
    weights: dict[str, float]
    label: str  # how the number was computed, for display


def _layer_weights(
    names: Sequence[str], weights: Sequence[float] | Mapping[str, float] | None
) -> dict[str, float]:
    if weights is None:
        return dict.fromkeys(names, 1.0)
    if isinstance(weights, Mapping):
        return {n: float(weights.get(n, 1.0)) for n in names}
    if len(weights) != len(names):
        raise InputError(f"{len(weights)} layer weights given for {len(names)} layers")
    return {n: float(w) for n, w in zip(names, weights, strict=True)}


# Rows (pixels) per chunk of a CPU metric pass, as fp32 values across the batch: ~1 MB, so each
# chunk's temporaries stay in the L2 cache instead of streaming 100 MB maps through memory
# several times (relu1_2 of 8 images at 224² is 103 MB). ~7× faster for L1 + LPIPS.
ROW_CHUNK_VALUES = 1 << 18


def _rows(t: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N, H·W, C): a view for both channels-last and contiguous tensors."""
    n, c, h, w = t.shape
    return t.permute(0, 2, 3, 1).reshape(n, h * w, c)


def _row_step(a: torch.Tensor, b: torch.Tensor) -> int:
    """Rows per chunk: cache-sized on the CPU, everything at once on a GPU (few large kernels)."""
    p = a.shape[1]
    if a.device.type != "cpu":
        return p
    return max(1, ROW_CHUNK_VALUES // (max(a.shape[0], b.shape[0]) * a.shape[2]))


def _needs_grad(*ts: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in ts)


def _check_features(fa: torch.Tensor, fb: torch.Tensor) -> None:
    if fa.ndim != 4 or fb.ndim != 4 or fa.shape[1:] != fb.shape[1:]:
        raise InputError(f"feature maps must match, got {tuple(fa.shape)} and {tuple(fb.shape)}")
    if fa.shape[0] != fb.shape[0] and 1 not in (fa.shape[0], fb.shape[0]):
        raise InputError(f"batch sizes {fa.shape[0]} and {fb.shape[0]} do not broadcast")


def _layer_terms(
    fa: torch.Tensor, fb: torch.Tensor, criterion: Criterion | None, lin: torch.Tensor | None
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """One layer's feature distance (``criterion``) and LPIPS term (``lin``), each (N,) or None.

    Both come from one read of the two maps: without autograd the maps are walked in
    cache-sized chunks of pixels (the same values, a fraction of the memory traffic); with an
    input that requires grad, whole-tensor differentiable ops are used.
    """
    _check_features(fa, fb)
    with torch.autocast(device_type=fa.device.type, enabled=False):
        # Channels are the last axis of the row view, so LPIPS's Σ_c w_c · d_c is a
        # matrix–vector product over contiguous memory for channels-last activations.
        a, b = _rows(fa.float()), _rows(fb.float())
        p, c = a.shape[1], a.shape[2]
        if lin is not None:
            lin = lin.to(a.device)
        if _needs_grad(fa, fb):
            dist = lp = None
            if criterion is not None:
                d = a - b
                dist = (d.abs() if criterion == "l1" else d.pow(2)).mean(dim=(1, 2))
            if lin is not None:
                lp = ((_unit_rows(a) - _unit_rows(b)).pow(2) @ lin).mean(dim=1)
            return dist, lp
        step = _row_step(a, b)
        dparts, lparts = [], []
        for i in range(0, p, step):
            # A batch-1 ``a`` (a clean image) broadcasts against ``b``.
            xa, xb = a[:, i : i + step], b[:, i : i + step]
            if criterion is not None:
                d = xb - xa
                dparts.append((d.abs_() if criterion == "l1" else d.pow_(2)).sum(dim=(1, 2)))
            if lin is not None:
                ua, ub = _unit_rows(xa), _unit_rows(xb)
                # In place on whichever is the full batch (the difference is squared anyway).
                u = (ub.sub_(ua) if ub.shape[0] >= ua.shape[0] else ua.sub_(ub)).pow_(2)
                lparts.append((u @ lin).sum(dim=1))
        dist = torch.stack(dparts).sum(0) / (p * c) if dparts else None
        lp = torch.stack(lparts).sum(0) / p if lparts else None
        return dist, lp


def _check_criterion(criterion: str) -> None:
    if not is_one_of(criterion, CRITERIA):
        raise InputError(f"criterion must be 'l1' or 'mse', not {criterion!r}")


def feature_distance(fa: torch.Tensor, fb: torch.Tensor, criterion: Criterion = "l1") -> torch.Tensor:
    """Distance of two feature maps of one layer per image, (N,), in fp32.

    ``"l1"``: mean |φ(x) − φ(y)| (the reference); ``"mse"``: 1/N_l · ‖φ(x) − φ(y)‖², N_l = C·H·W.
    A batch of 1 broadcasts against a batch of N. Differentiable when an input requires grad.
    """
    _check_criterion(criterion)
    return _layer_terms(fa, fb, criterion, None)[0]  # type: ignore[return-value]


def perceptual_distance(
    fa: Mapping[str, torch.Tensor],
    fb: Mapping[str, torch.Tensor],
    names: Sequence[str],
    weights: Sequence[float] | Mapping[str, float] | None = None,
    criterion: Criterion = "l1",
) -> LayerScores:
    """Σ_l w_l · d(φ_l(a), φ_l(b)) over the layers ``names``, with the per-layer terms.

    ``fa``/``fb`` map layer names to activations (N, C, H, W), e.g. from :class:`VGGFeatures`;
    ``criterion`` is ``"l1"`` (mean |Δφ|, the reference) or ``"mse"`` (‖Δφ‖² / N_l).

    >>> import torch
    >>> fa, fb = {"relu1_2": torch.ones(1, 4, 8, 8)}, {"relu1_2": torch.zeros(1, 4, 8, 8)}
    >>> d = perceptual_distance(fa, fb, ["relu1_2"])
    >>> d.total, d.layers, d.label
    (tensor([1.]), {'relu1_2': tensor([1.])}, 'Σ mean|Δφ|')
    >>> perceptual_distance(fa, fb, ["relu1_2"], weights=[0.5], criterion="mse").total
    tensor([0.5000])
    """
    return perceptual_and_lpips(fa, fb, names, weights, criterion)[0]


def feature_distance_maps(
    fa: Mapping[str, torch.Tensor],
    fb: Mapping[str, torch.Tensor],
    names: Sequence[str],
    size: tuple[int, int],
    criterion: Criterion = "l1",
) -> dict[str, torch.Tensor]:
    """Per-layer spatial distance (channel mean of |Δφ| or Δφ²), upsampled to ``size``: (N, H, W)."""
    out = {}
    for n in names:
        with torch.autocast(device_type=fa[n].device.type, enabled=False):
            d = fa[n].float() - fb[n].float()
            d = (d.abs() if criterion == "l1" else d.pow(2)).mean(dim=1, keepdim=True)
            out[n] = F.interpolate(d, size=size, mode="bilinear", align_corners=False)[:, 0]
    return out


def relative_l2(a: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """‖a − target‖² / ‖target‖² over the whole tensors: a 0-d tensor, differentiable.

    Scale-free (the same for features 100× larger), so one weight fits every layer, image size
    and set of weights; ``1e-12 · numel`` keeps an all-zero target finite. The terms of the
    lessons' objectives (:func:`relative_perceptual_distance`).

    >>> import torch
    >>> t = torch.full((1, 4, 8, 8), 2.0)
    >>> relative_l2(t * 1.5, t), relative_l2(t * 150, t * 100)
    (tensor(0.2500), tensor(0.2500))
    """
    return (a - target).pow(2).sum() / (target.pow(2).sum() + 1e-12 * target.numel())


def relative_perceptual_distance(
    fa: Mapping[str, torch.Tensor], ft: Mapping[str, torch.Tensor], names: Sequence[str]
) -> torch.Tensor:
    """The mean over the layers ``names`` of :func:`relative_l2` of ``fa`` against ``ft``, 0-d.

    The loss the reconstruction and training lessons minimise: of feature maps (content,
    Johnson et al.'s feature reconstruction loss made scale-free), or of Gram matrices (style).
    """
    return torch.stack([relative_l2(fa[n], ft[n]) for n in names]).mean()


def normalized_feature_distance(
    fa: Mapping[str, torch.Tensor], ft: Mapping[str, torch.Tensor], names: Sequence[str]
) -> torch.Tensor:
    """LPIPS's distance without its learned weights (Zhang et al. 2018's unweighted baseline),
    0-d and differentiable: at every position each layer's features are unit-normalised over the
    channels (+1e-10), their squared differences summed over the channels, averaged over the
    positions and the batch, and the layers ``names`` summed. A loss the reference networks of
    the Train lesson can be trained with: unlike :func:`relative_perceptual_distance`, every
    position counts alike, however weak its features.

    >>> import torch
    >>> f = {"a": torch.ones(1, 2, 4, 4)}
    >>> g = {"a": torch.cat([torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)], dim=1)}
    >>> round(float(normalized_feature_distance(f, g, ["a"])), 4)  # (1 - 1/√2)² + (1/√2)²
    0.5858
    """
    terms = []
    for n in names:
        ones = torch.ones(fa[n].shape[1], device=fa[n].device)  # LPIPS with every weight 1
        lp = _layer_terms(fa[n], ft[n], None, ones)[1]
        assert lp is not None
        terms.append(lp.mean())
    return torch.stack(terms).sum()


# --------------------------------------------------------------------------- LPIPS


def lpips_available() -> bool:
    """True when the optional ``lpips`` package (which ships the linear weights) is installed."""
    return importlib.util.find_spec("lpips") is not None


@functools.lru_cache(maxsize=2)
def _lpips_lin_cpu(version: str = "v0.1") -> tuple[torch.Tensor, ...] | None:
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "weights", version, "vgg.pth")
    if not os.path.isfile(path):
        return None
    sd = torch.load(path, map_location="cpu", weights_only=True)
    return tuple(sd[f"lin{i}.model.1.weight"].float().view(-1) for i in range(5))


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """LPIPS's channel normalisation x / (‖x‖₂ over channels + 1e-10) on the (N, P, C) row view.

    Out of place: autograd keeps the square root's output for the backward pass."""
    return x / (x.pow(2).sum(dim=-1, keepdim=True).sqrt() + 1e-10)


def lpips_vgg(
    fa: Mapping[str, torch.Tensor], fb: Mapping[str, torch.Tensor], names: Sequence[str]
) -> LayerScores | None:
    """LPIPS-VGG (Zhang et al. 2018, v0.1) from the 5 block outputs of a VGG16, or ``None``.

    ``names`` are relu1_2 … relu5_3. LPIPS's input scaling equals ImageNet normalisation, so the
    features of our backbone are exactly the ones the ``lpips`` package computes. Each layer is
    unit-normalised over channels, squared differences are weighted by the package's linear
    weights, averaged over space, and summed over layers.
    """
    if _lpips_lin_cpu() is None:
        return None
    if len(names) != 5:
        raise InputError("LPIPS-VGG needs the 5 block outputs relu1_2 … relu5_3")
    return perceptual_and_lpips(fa, fb, (), lpips_names=names)[1]


# The linear weights the lpips package ships: v0.1 (its default) and v0.0 (its first release).
LPIPS_VERSIONS = ("v0.1", "v0.0")


def lpips_vgg_version(
    fa: Mapping[str, torch.Tensor], fb: Mapping[str, torch.Tensor], names: Sequence[str], version: str
) -> LayerScores | None:
    """:func:`lpips_vgg` with the package's linear weights of ``version`` (one of
    :data:`LPIPS_VERSIONS`), or ``None`` without the package. The features are the caller's:
    v0.0 of the package feeds [−1, 1] images to VGG without its input scaling, so its features
    are those of a VGG that sees 2x − 1 (see :mod:`perceptual_viz.conventions`)."""
    if version not in LPIPS_VERSIONS:
        raise InputError(f"LPIPS version must be one of {', '.join(LPIPS_VERSIONS)}, not {version!r}")
    lins = _lpips_lin_cpu(version)
    if lins is None:
        return None
    if len(names) != len(lins):
        raise InputError("LPIPS-VGG needs the 5 block outputs relu1_2 … relu5_3")
    per = {n: _layer_terms(fa[n], fb[n], None, lin)[1] for n, lin in zip(names, lins, strict=True)}
    return LayerScores(sum(per.values()), per, dict.fromkeys(per, 1.0), f"LPIPS-VGG {version}")  # type: ignore[arg-type]


def perceptual_and_lpips(
    fa: Mapping[str, torch.Tensor],
    fb: Mapping[str, torch.Tensor],
    names: Sequence[str],
    weights: Sequence[float] | Mapping[str, float] | None = None,
    criterion: Criterion = "l1",
    lpips_names: Sequence[str] = (),
) -> tuple[LayerScores, LayerScores | None]:
    """:func:`perceptual_distance` and :func:`lpips_vgg` together, reading each layer once.

    Layers in both sets (relu1_2 … relu4_3 by default) give their feature distance and their
    LPIPS term from one pass over the two maps. ``lpips_names`` empty → no LPIPS (``None``).
    """
    _check_criterion(criterion)
    lins = _lpips_lin_cpu() if lpips_names else None
    if lins is not None and len(lpips_names) != 5:
        raise InputError("LPIPS-VGG needs the 5 block outputs relu1_2 … relu5_3")
    lin_of = dict(zip(lpips_names, lins, strict=True)) if lins is not None else {}
    dist, lp = {}, {}
    for n in dict.fromkeys([*names, *lin_of]):
        d, p = _layer_terms(fa[n], fb[n], criterion if n in names else None, lin_of.get(n))
        if d is not None:
            dist[n] = d
        if p is not None:
            lp[n] = p
    w = _layer_weights(names, weights)
    total = sum(w[n] * dist[n] for n in names)
    label = "Σ mean|Δφ|" if criterion == "l1" else "Σ w·‖Δφ‖²/N"
    perc = LayerScores(total, {n: dist[n] for n in names}, w, label)  # type: ignore[arg-type]
    if not lin_of:
        return perc, None
    per = {n: lp[n] for n in lin_of}
    lpips = LayerScores(sum(per.values()), per, dict.fromkeys(per, 1.0), "LPIPS-VGG v0.1")  # type: ignore[arg-type]
    return perc, lpips
