"""Score clean-vs-degraded pairs: MSE, PSNR, SSIM, MS-SSIM, perceptual, style, LPIPS and DISTS.

``score_pairs`` takes one clean image and K degraded versions of it (already prepared to the
analysis size, see :func:`perceptual_viz.features.prepare`), runs **one** batched VGG pass over
whatever the feature cache does not already hold (so re-scoring a new strength forwards only
the degraded image), and returns one :class:`PairScores` per degraded image. DISTS adds the
L2-pooled stages of its network after relu1_2 (the clean image's are kept in the cache too);
MS-SSIM shares SSIM's finest scale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import dists as dists_mod
from . import metrics
from .archs import ARCHITECTURES, Arch
from .backbone import VGGFeatures
from .errors import InputError
from .features import FeatureCache, image_key
from .gram import FORMULAS, gram, style_distances
from .layers import block_outputs
from .messages import Text, msg
from .options import Criterion, GramNorm


@dataclass(frozen=True)
class ScoreSettings:
    """Which layers and formulas the scores use; defaults follow the reference loss."""

    layers: tuple[str, ...] | None = None  # None → block outputs 1–4 (relu1_2 … relu4_3)
    layer_weights: tuple[float, ...] | None = None  # None → 1 each
    criterion: Criterion = "l1"  # "l1" (reference) | "mse" (1/N_l ‖Δφ‖²)
    style_layers: tuple[str, ...] | None = None  # None → same as ``layers``
    gram_norm: GramNorm = "chw"  # "none" (reference) | "chw" | "gatys"
    lpips: bool = True
    dists: bool = True  # costs about one more VGG pass of the degraded images
    ms_ssim: bool = True  # only for images whose shorter side is at least 161 px

    def feature_layers(self, arch: Arch) -> tuple[str, ...]:
        return self.layers or block_outputs(arch)[:4]

    def gram_layers(self, arch: Arch) -> tuple[str, ...]:
        return self.style_layers or self.feature_layers(arch)


@dataclass
class PairScores:
    """Scores of one degraded image against the clean one (plain floats, ready for JSON)."""

    mse: float
    psnr: float  # inf for identical images
    ssim: float
    perceptual: dict[str, float]  # per layer, unweighted
    perceptual_total: float
    perceptual_label: Text
    style: dict[str, float]
    style_total: float
    style_label: Text
    lpips: float | None
    lpips_layers: dict[str, float] | None
    ms_ssim: float | None = None  # None: switched off, or the images are too small
    dists: float | None = None  # None: switched off, or unavailable (see dists_unavailable_reason)
    notes: list[Text] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "mse": self.mse,
            "psnr": None if math.isinf(self.psnr) else self.psnr,
            "ssim": self.ssim,
            "perceptual": {
                "total": self.perceptual_total,
                "layers": self.perceptual,
                "formula": str(self.perceptual_label),
            },
            "style": {"total": self.style_total, "layers": self.style, "formula": str(self.style_label)},
            "lpips": self.lpips,
            "ms_ssim": self.ms_ssim,
            "dists": self.dists,
        }


@dataclass
class PairBatch:
    """Everything ``score_pairs`` computed, for callers that also draw maps."""

    scores: list[PairScores]
    clean_features: dict[str, torch.Tensor]  # (1, C, h, w) per layer
    degraded_features: dict[str, torch.Tensor]  # (K, C, h, w) per layer
    seconds: float
    device: str


def _floats(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().to("cpu", torch.float64)]


def _check_pair(clean: torch.Tensor, degraded: torch.Tensor) -> None:
    if clean.ndim != 4 or clean.shape[0] != 1:
        raise InputError("clean must be one image of shape (1, 3, H, W)")
    if degraded.ndim != 4 or degraded.shape[1:] != clean.shape[1:]:
        raise InputError(
            f"degraded images {tuple(degraded.shape)} must match the clean image {tuple(clean.shape)}"
        )


Features = dict[str, torch.Tensor]


@dataclass(frozen=True)
class _Keys:
    """Cache keys of a scoring run's images (only with a cache)."""

    clean: str
    degraded: list[str]
    store_degraded: bool


def _features(
    model: VGGFeatures,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    s: ScoreSettings,
    cache: FeatureCache | None,
    keys: _Keys | None,
) -> tuple[Features, Features, Features | None]:
    """Clean (1, …) and degraded (K, …) activations in one pass, and the clean Grams if cached."""
    names = score_names(s, model.arch)
    if cache is None or keys is None:
        with torch.inference_mode():
            feats = model(torch.cat([clean, degraded]), names)
        return {n: f[:1] for n, f in feats.items()}, {n: f[1:] for n, f in feats.items()}, None
    fc, fd = cache.pair(model, clean, keys.clean, degraded, keys.degraded, names, keys.store_degraded)
    # The clean image's Grams are the same on every re-score: keep them with its activations.
    grams_c = {
        n: cache.memo(model, keys.clean, f"gram:{s.gram_norm}:{n}", _gram_of(fc[n], s.gram_norm))
        for n in s.gram_layers(model.arch)
    }
    return fc, fd, grams_c


# The perceptual distance's formula per criterion (the same in every language).
PERCEPTUAL_FORMULAS = {"l1": "Σ_l mean|φ_l(a) − φ_l(b)|", "mse": "Σ_l w_l · ‖φ_l(a) − φ_l(b)‖² / N_l"}


def _labels(s: ScoreSettings) -> tuple[Text, Text]:
    formula = PERCEPTUAL_FORMULAS[s.criterion]
    perc = (
        msg("{formula} (L1, reference)", formula=formula)
        if s.criterion == "l1"
        else msg("{formula} (size-normalised MSE)", formula=formula)
    )
    style = msg(
        "Σ_l style distance, Gram normalisation '{norm}': {formula}",
        norm=s.gram_norm,
        formula=FORMULAS[s.gram_norm],
    )
    return perc, style


def _pair_scores(
    pixel: dict[str, list[float] | None],
    perc: metrics.LayerScores,
    sty: dict[str, torch.Tensor],
    lp: metrics.LayerScores | None,
    s: ScoreSettings,
    style_names: tuple[str, ...],
) -> list[PairScores]:
    """One :class:`PairScores` of plain floats per degraded image, from the batch's tensors;
    ``pixel`` holds the lists of MSE, PSNR and SSIM, and of MS-SSIM and DISTS (or ``None``)."""
    perc_layers = {n: _floats(v) for n, v in perc.layers.items()}
    perc_total = _floats(perc.total)
    sty_layers = {n: _floats(v) for n, v in sty.items()}
    lp_total = _floats(lp.total) if lp is not None else None
    lp_layers = {n: _floats(v) for n, v in lp.layers.items()} if lp is not None else None
    perc_label, style_label = _labels(s)
    mse, psnr, ssim = (pixel[k] or [] for k in ("mse", "psnr", "ssim"))
    ms, ds = pixel["ms_ssim"], pixel["dists"]
    return [
        PairScores(
            mse=mse[i],
            psnr=psnr[i],
            ssim=ssim[i],
            perceptual={n: v[i] for n, v in perc_layers.items()},
            perceptual_total=perc_total[i],
            perceptual_label=perc_label,
            style={n: v[i] for n, v in sty_layers.items()},
            style_total=sum(sty_layers[n][i] for n in style_names),
            style_label=style_label,
            lpips=lp_total[i] if lp_total is not None else None,
            lpips_layers={n: v[i] for n, v in lp_layers.items()} if lp_layers is not None else None,
            ms_ssim=ms[i] if ms is not None else None,
            dists=ds[i] if ds is not None else None,
        )
        for i in range(len(mse))
    ]


def _pixel_scores(
    clean: torch.Tensor, degraded: torch.Tensor, s: ScoreSettings
) -> dict[str, list[float] | None]:
    """MSE, PSNR, SSIM and (when on and the images are large enough) MS-SSIM of each pair; the
    clean image broadcasts. MS-SSIM's finest scale is SSIM's own computation."""
    ce = clean.expand(degraded.shape[0], *clean.shape[1:])
    out: dict[str, list[float] | None] = {
        "mse": _floats(metrics.mse(ce, degraded)),
        "psnr": _floats(metrics.psnr(ce, degraded)),
    }
    if s.ms_ssim and metrics.ms_ssim_fits(*clean.shape[-2:]):
        ssim, ms = metrics.ssim_and_ms_ssim(ce, degraded)
        return {**out, "ssim": _floats(ssim), "ms_ssim": _floats(ms)}
    return {**out, "ssim": _floats(metrics.ssim(ce, degraded)), "ms_ssim": None}  # type: ignore[arg-type]


def _dists(
    model: VGGFeatures,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    fc: Features,
    fd: Features,
    cache: FeatureCache | None,
    keys: _Keys | None,
) -> list[float] | None:
    """DISTS of each pair from the relu1_2 already computed, the clean image's stages cached."""
    if cache is None or keys is None:
        both = dists_mod.dists_stages(
            model, torch.cat([clean, degraded]), torch.cat([fc["relu1_2"], fd["relu1_2"]])
        )
        d = dists_mod.dists_distance([t[:1] for t in both], [t[1:] for t in both])
    else:
        kept = keys.degraded if keys.store_degraded else None
        d = dists_mod.cached_dists(
            model, cache, clean, keys.clean, fc["relu1_2"], degraded, fd["relu1_2"], kept
        )
    return _floats(d) if d is not None else None


def score_pairs(
    model: VGGFeatures,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    *,
    settings: ScoreSettings | None = None,
    cache: FeatureCache | None = None,
    clean_key: str | None = None,
    store_degraded: bool = True,
) -> PairBatch:
    """Score each of ``degraded`` (K, 3, H, W) against ``clean`` (1, 3, H, W); one VGG pass.

    Both must already be on ``model.device``, in [0, 1], at the same size. ``cache`` (optional)
    reuses the clean image's activations (and Grams and DISTS stages) across calls;
    ``store_degraded=False`` keeps one-off degraded images (a sweep) out of it.

    >>> import torch
    >>> from perceptual_viz import load_vgg
    >>> model = load_vgg("vgg16", weights="untrained", device="cpu")
    >>> g = torch.Generator().manual_seed(0)
    >>> clean = torch.rand(1, 3, 32, 32, generator=g)
    >>> noisy = (clean + 0.1 * torch.randn(2, 3, 32, 32, generator=g)).clamp(0, 1)
    >>> scores = score_pairs(model, clean, noisy, settings=ScoreSettings(lpips=False)).scores
    >>> len(scores), list(scores[0].perceptual)
    (2, ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3'])
    >>> s = scores[0]
    >>> 15 < s.psnr < 30 and 0 < s.ssim < 1 and s.perceptual_total > 0 and s.lpips is None
    True
    >>> s.ms_ssim is None  # 32 px is too small for MS-SSIM's five scales
    True
    """
    s = settings or ScoreSettings()
    _check_pair(clean, degraded)
    t0 = time.perf_counter()
    style_names = s.gram_layers(model.arch)
    keys = None
    if cache is not None:
        keys = _Keys(clean_key or image_key(clean), [image_key(d) for d in degraded], store_degraded)
    fc, fd, grams_c = _features(model, clean, degraded, s, cache, keys)
    # Feature metrics broadcast the clean image's (1, …) features against the K degraded ones,
    # so its Grams and LPIPS normalisation are computed once, not K times.
    with torch.inference_mode():
        pixel = _pixel_scores(clean, degraded, s)
        perc, lp = metrics.perceptual_and_lpips(
            fc, fd, s.feature_layers(model.arch), s.layer_weights, s.criterion, _lpips_layers(s, model.arch)
        )
        sty = style_distances(fc, fd, style_names, s.gram_norm, grams_c)
        on = _dists_on(s, model.arch)
        pixel["dists"] = _dists(model, clean, degraded, fc, fd, cache, keys) if on else None
    scores = _pair_scores(pixel, perc, sty, lp, s, style_names)
    return PairBatch(scores, fc, fd, time.perf_counter() - t0, str(model.device))


def _gram_of(f: torch.Tensor, norm: GramNorm) -> Callable[[], torch.Tensor]:
    return lambda: gram(f, norm)


def lpips_unavailable_reason(arch: Arch) -> Text | None:
    """Why LPIPS is not reported, or ``None`` when it is."""
    if not metrics.lpips_available():
        return msg("LPIPS unavailable: the optional 'lpips' package is not installed")
    if not ARCHITECTURES[arch].lpips:
        return msg("LPIPS unavailable: its linear weights are calibrated for VGG16 only")
    return None


def dists_unavailable_reason(arch: Arch) -> Text | None:
    """Why DISTS is not reported, or ``None`` when it is."""
    if not dists_mod.dists_available():
        return msg("DISTS unavailable: the optional 'dists-pytorch' package is not installed")
    if not ARCHITECTURES[arch].dists:
        return msg("DISTS unavailable: its weights are calibrated for VGG16 only")
    return None


def ms_ssim_unavailable_reason(height: int, width: int) -> Text | None:
    """Why MS-SSIM is not reported for images of this size, or ``None`` when it is."""
    if metrics.ms_ssim_fits(height, width):
        return None
    return msg(
        "MS-SSIM unavailable: its five scales need a shorter side of at least {px} px; this image is {w}×{h}",
        px=metrics.MS_SSIM_MIN_SIDE,
        w=width,
        h=height,
    )


def unavailable_reasons(arch: Arch, height: int, width: int) -> dict[str, Text]:
    """Why each score that cannot be had for ``arch`` at this image size is missing, by its key
    ("lpips", "ms_ssim", "dists"); empty when every score can be computed."""
    reasons = {
        "lpips": lpips_unavailable_reason(arch),
        "ms_ssim": ms_ssim_unavailable_reason(height, width),
        "dists": dists_unavailable_reason(arch),
    }
    return {k: r for k, r in reasons.items() if r is not None}


def _dists_on(settings: ScoreSettings, arch: Arch) -> bool:
    return settings.dists and dists_unavailable_reason(arch) is None


def _lpips_layers(settings: ScoreSettings, arch: Arch) -> tuple[str, ...]:
    return block_outputs(arch) if settings.lpips and lpips_unavailable_reason(arch) is None else ()


def score_names(settings: ScoreSettings, arch: Arch) -> list[str]:
    """Every layer a scoring run needs, in order (for pre-warming the cache)."""
    lp = _lpips_layers(settings, arch)
    ds = ("relu1_2",) if _dists_on(settings, arch) else ()
    return list(dict.fromkeys([*settings.feature_layers(arch), *settings.gram_layers(arch), *lp, *ds]))
