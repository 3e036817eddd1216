"""The Equal-MSE figure: the same pixel error made every way, scored and ranked by the network."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..images import to_pil
from ..lessons import equal_mse as em
from . import AUTO, Analysis, Figure, check_choice, chunk_for

TARGET_KINDS = ("MSE", "PSNR (dB)")
DEFAULTS: dict[str, Any] = {
    "target_kind": "MSE",
    "target": 0.005,
    "rank_by": "LPIPS",
    "seed": 0,
}  # the app's defaults
UNTRAINED_NOTE = (
    "⚠️ **Untrained weights:** these scores and this ranking are what a *random* network sees "
    "(LPIPS's learned weights are not calibrated for it); load ImageNet weights to see the lesson."
)


PSNR_RANGE = (6.0, 60.0)  # dB: from "wrecked" to "invisible"


def target_mse(kind: str, value: float) -> float:
    """The target as an MSE, from an MSE or a PSNR in dB (within :data:`PSNR_RANGE`)."""
    check_choice("the target kind", kind, TARGET_KINDS)
    v = float(value)
    if not math.isfinite(v):
        raise InputError("the target must be a finite number")
    if kind == "PSNR (dB)":
        lo, hi = PSNR_RANGE
        if not lo <= v <= hi:
            raise InputError(f"a PSNR target must be between {lo:g} and {hi:g} dB; got {v:g}")
        return em.psnr_to_mse(v)
    lo_mse, hi_mse = em.psnr_to_mse(PSNR_RANGE[1]), em.MAX_TARGET_MSE
    if not lo_mse <= v <= hi_mse:
        raise InputError(f"an MSE target must be between {lo_mse:g} and {hi_mse:g}; got {v:g}")
    return v


def _caption(rank: int, e: em.GalleryEntry) -> str:
    return f"#{rank} {e.match.name}"


def _picture(rank: int, e: em.GalleryEntry) -> Image.Image:
    """The degraded image titled with its rank, what was done and every score (never clipped)."""
    m, sc = e.match, e.scores
    off_target = "" if m.within else f" · MSE {chrome.num(m.mse)} (off target)"
    sub = (
        f"{m.setting}{off_target}\nLPIPS {chrome.num(sc.lpips)} · SSIM {sc.ssim:.2f} · "
        f"perceptual {chrome.num(sc.perceptual_total)}"
    )
    return chrome.titled(to_pil(m.image), f"#{rank} {m.label}", sub, min_width=200)


def _info(g: em.Gallery, size_hw: tuple[int, int], trained: bool) -> str:
    h, w = size_hw
    off = [e.match for e in g.entries if not e.match.within]
    return (
        f"**Target MSE {g.target_mse:.4g}** (PSNR {em.mse_to_psnr(g.target_mse):.2f} dB), "
        f"each degradation's strength found by bisection to within ±{g.tolerance:.0%} of it. "
        f"Ranked by **{g.rank_by}**, least damaged first (as the network sees it). "
        f"{w}×{h} px, scored in one VGG pass on {g.device} in {g.seconds:.2f} s."
        + "".join(f"\n\n⚠️ {m.label}: {m.note}" for m in off)
        + "".join(f"\n\n{n}" for n in g.notes)
        + ("" if trained else f"\n\n{UNTRAINED_NOTE}")
    )


def equal_mse(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: Analysis,
    size: str,
    target_kind: str = "MSE",
    target: float = 0.005,
    rank_by: str = "LPIPS",
    seed: int = 0,
    tolerance: float = em.DEFAULT_TOLERANCE,
    progress: Callable[..., Any] | None = None,
    chunk_images: int | str | None = AUTO,
) -> Figure:
    """Every equal-MSE degradation of ``clean`` at the target, ranked least damaged first.

    Pictures: the clean image, then the gallery in rank order. Extras: ``gallery`` (the
    gallery's captions), ``table``, ``info``, ``data`` (the JSON summary).
    """
    mse = target_mse(target_kind, target)
    g = em.gallery(
        model,
        clean.tensor,
        mse,
        seed=int(seed),
        rank_by=rank_by,
        tolerance=tolerance,
        cache=cache,
        clean_key=clean.key,
        progress=progress,
        chunk_images=chunk_for(model.device, chunk_images),
    )
    gallery = {_caption(i, e): _picture(i, e) for i, e in enumerate(g.entries, start=1)}
    settings = {
        "analysis_size": str(size),
        "size_hw": list(clean.size),
        "target_kind": target_kind,
        "target": float(target),
        "target_mse": g.target_mse,
        "tolerance": g.tolerance,
        "rank_by": g.rank_by,
        "seed": int(seed),
    }
    data = g.as_dict()
    extras = {
        "gallery": list(gallery),
        "table": g.table(),
        "info": _info(g, clean.size, model.status.trained),
        "data": data,
        "seconds": g.seconds,
    }
    return Figure(
        "equal-mse",
        {"clean": to_pil(clean.array), **gallery},
        {"settings": settings, "gallery": data},
        extras,
    )
