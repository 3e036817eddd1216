"""Score clean-vs-degraded pairs: MSE, PSNR, SSIM, perceptual, style and LPIPS from one forward.

``score_pairs`` takes one clean image and K degraded versions of it (already prepared to the
analysis size, see :func:`perceptual_viz.features.prepare`), runs **one** batched VGG pass over
whatever the feature cache does not already hold (so re-scoring a new strength forwards only
the degraded image), and returns one :class:`PairScores` per degraded image.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

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


def _features(
    model: VGGFeatures,
    clean: torch.Tensor,
    degraded: torch.Tensor,
    s: ScoreSettings,
    cache: FeatureCache | None,
    clean_key: str | None,
    store_degraded: bool,
) -> tuple[Features, Features, Features | None]:
    """Clean (1, …) and degraded (K, …) activations in one pass, and the clean Grams if cached."""
    names = score_names(s, model.arch)
    if cache is None:
        with torch.inference_mode():
            feats = model(torch.cat([clean, degraded]), names)
        return {n: f[:1] for n, f in feats.items()}, {n: f[1:] for n, f in feats.items()}, None
    ckey = clean_key or image_key(clean)
    keys = [image_key(d) for d in degraded]
    fc, fd = cache.pair(model, clean, ckey, degraded, keys, names, store_degraded)
    # The clean image's Grams are the same on every re-score: keep them with its activations.
    grams_c = {
        n: cache.memo(model, ckey, f"gram:{s.gram_norm}:{n}", _gram_of(fc[n], s.gram_norm))
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
    pixel: dict[str, list[float]],
    perc: metrics.LayerScores,
    sty: dict[str, torch.Tensor],
    lp: metrics.LayerScores | None,
    s: ScoreSettings,
    style_names: tuple[str, ...],
) -> list[PairScores]:
    """One :class:`PairScores` of plain floats per degraded image, from the batch's tensors."""
    perc_layers = {n: _floats(v) for n, v in perc.layers.items()}
    perc_total = _floats(perc.total)
    sty_layers = {n: _floats(v) for n, v in sty.items()}
    lp_total = _floats(lp.total) if lp is not None else None
    lp_layers = {n: _floats(v) for n, v in lp.layers.items()} if lp is not None else None
    perc_label, style_label = _labels(s)
    return [
        PairScores(
            mse=pixel["mse"][i],
            psnr=pixel["psnr"][i],
            ssim=pixel["ssim"][i],
            perceptual={n: v[i] for n, v in perc_layers.items()},
            perceptual_total=perc_total[i],
            perceptual_label=perc_label,
            style={n: v[i] for n, v in sty_layers.items()},
            style_total=sum(sty_layers[n][i] for n in style_names),
            style_label=style_label,
            lpips=lp_total[i] if lp_total is not None else None,
            lpips_layers={n: v[i] for n, v in lp_layers.items()} if lp_layers is not None else None,
        )
        for i in range(len(pixel["mse"]))
    ]


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
    reuses the clean image's activations across calls; ``store_degraded=False`` keeps one-off
    degraded images (a sweep) out of it.

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
    """
    s = settings or ScoreSettings()
    _check_pair(clean, degraded)
    t0 = time.perf_counter()
    style_names = s.gram_layers(model.arch)
    fc, fd, grams_c = _features(model, clean, degraded, s, cache, clean_key, store_degraded)
    k = degraded.shape[0]
    ce = clean.expand(k, *clean.shape[1:])
    # Feature metrics broadcast the clean image's (1, …) features against the K degraded ones,
    # so its Grams and LPIPS normalisation are computed once, not K times.
    with torch.inference_mode():
        pixel = {
            "mse": _floats(metrics.mse(ce, degraded)),
            "psnr": _floats(metrics.psnr(ce, degraded)),
            "ssim": _floats(metrics.ssim(ce, degraded)),  # type: ignore[arg-type]
        }
        perc, lp = metrics.perceptual_and_lpips(
            fc, fd, s.feature_layers(model.arch), s.layer_weights, s.criterion, _lpips_layers(s, model.arch)
        )
        sty = style_distances(fc, fd, style_names, s.gram_norm, grams_c)
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


def _lpips_layers(settings: ScoreSettings, arch: Arch) -> tuple[str, ...]:
    return block_outputs(arch) if settings.lpips and lpips_unavailable_reason(arch) is None else ()


def score_names(settings: ScoreSettings, arch: Arch) -> list[str]:
    """Every layer a scoring run needs, in order (for pre-warming the cache)."""
    lp = _lpips_layers(settings, arch)
    return list(dict.fromkeys([*settings.feature_layers(arch), *settings.gram_layers(arch), *lp]))
