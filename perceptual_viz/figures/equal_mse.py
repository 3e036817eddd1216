"""The Equal-MSE figure: the same pixel error made every way, scored and ranked by the network."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..images import to_pil
from ..lessons import equal_mse as em
from . import AUTO, Analysis, Figure, check_choice, chunk_for

TARGET_KINDS = ("MSE", "PSNR (dB)")
UNTRAINED_NOTE = (
    "⚠️ **Untrained weights:** these scores and this ranking are what a *random* network sees "
    "(LPIPS's learned weights are not calibrated for it); load ImageNet weights to see the lesson."
)


def target_mse(kind: str, value: float) -> float:
    """The target as an MSE, from an MSE or a PSNR in dB."""
    check_choice("the target kind", kind, TARGET_KINDS)
    v = float(value)
    if not math.isfinite(v):
        raise InputError("the target must be a finite number")
    return em.psnr_to_mse(v) if kind == "PSNR (dB)" else v


def _fmt(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def _caption(rank: int, e: em.GalleryEntry) -> str:
    m, sc = e.match, e.scores
    off_target = "" if m.within else f" · ⚠️ MSE {m.mse:.3g}"
    return (
        f"#{rank} {m.label} ({m.setting}){off_target} · SSIM {sc.ssim:.2f} · LPIPS {_fmt(sc.lpips)} · "
        f"perceptual {sc.perceptual_total:.3g}"
    )


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
    gallery = {_caption(i, e): to_pil(e.match.image) for i, e in enumerate(g.entries, start=1)}
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
