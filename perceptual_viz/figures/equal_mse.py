"""The Equal-MSE figure: the same pixel error made every way, scored and ranked by the network."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..images import to_pil
from ..lessons import equal_mse as em
from ..messages import Joined, Text, msg
from . import AUTO, Analysis, Figure, Progress, Table, check_choice, chunk_for

TARGET_KINDS = ("MSE", "PSNR (dB)")
DEFAULTS: dict[str, Any] = {
    "target_kind": "MSE",
    "target": 0.005,
    "rank_by": "LPIPS",
    "seed": 0,
}  # the app's defaults
UNTRAINED_NOTE = msg(
    "⚠️ **Untrained weights:** these scores and this ranking are what a *random* network sees "
    "(LPIPS's learned weights are not calibrated for it); load ImageNet weights to see the lesson."
)


PSNR_RANGE = (6.0, 60.0)  # dB: from "wrecked" to "invisible"


def target_mse(kind: str, value: float) -> float:
    """The target as an MSE, from an MSE or a PSNR in dB (within :data:`PSNR_RANGE`)."""
    check_choice(msg("the target kind"), kind, TARGET_KINDS)
    v = float(value)
    if not math.isfinite(v):
        raise InputError(msg("the target must be a finite number"))
    if kind == "PSNR (dB)":
        lo, hi = PSNR_RANGE
        if not lo <= v <= hi:
            raise InputError(
                msg(
                    "a PSNR target must be between {lo:g} and {hi:g} dB; got {value:g}", lo=lo, hi=hi, value=v
                )
            )
        return em.psnr_to_mse(v)
    lo_mse, hi_mse = em.psnr_to_mse(PSNR_RANGE[1]), em.MAX_TARGET_MSE
    if not lo_mse <= v <= hi_mse:
        raise InputError(
            msg(
                "an MSE target must be between {lo:g} and {hi:g}; got {value:g}",
                lo=lo_mse,
                hi=hi_mse,
                value=v,
            )
        )
    return v


def _caption(rank: int, e: em.GalleryEntry) -> str:
    return f"#{rank} {e.match.name}"


def _picture(rank: int, e: em.GalleryEntry) -> Image.Image:
    """The degraded image titled with its rank, what was done and every score (never clipped)."""
    m, sc = e.match, e.scores
    off_target = None if m.within else msg("MSE {mse} (off target)", mse=chrome.num(m.mse))
    scores = msg(
        "LPIPS {lpips} · DISTS {dists} · SSIM {ssim:.2f} · perceptual {perceptual}",
        lpips=chrome.num(sc.lpips),
        dists=chrome.num(sc.dists),
        ssim=sc.ssim,
        perceptual=chrome.num(sc.perceptual_total),
    )
    sub = Joined((Joined(tuple(t for t in (m.setting, off_target) if t)), scores), "\n")
    return chrome.titled(to_pil(m.image), Joined((f"#{rank}", m.label), " "), sub, min_width=200)


def _info(g: em.Gallery, size_hw: tuple[int, int], trained: bool) -> Text:
    """What was matched and how, then a warning for each match off target, the gallery's notes,
    and the untrained-weights warning (Markdown paragraphs)."""
    h, w = size_hw
    off = [e.match for e in g.entries if not e.match.within]
    head = msg(
        "**Target MSE {mse:.4g}** (PSNR {psnr:.2f} dB), each degradation's strength found by bisection "
        "to within ±{tolerance:.0%} of it. Ranked by **{metric}**, least damaged first (as the network "
        "sees it). {w}×{h} px, scored in one VGG pass on {device} in {seconds:.2f} s.",
        mse=g.target_mse,
        psnr=em.mse_to_psnr(g.target_mse),
        tolerance=g.tolerance,
        metric=em.metric_name(g.rank_by),
        w=w,
        h=h,
        device=g.device,
        seconds=g.seconds,
    )
    warnings = [Joined(("⚠️", Joined((m.label, m.note), ": ")), " ") for m in off]
    untrained = [] if trained else [UNTRAINED_NOTE]
    return Joined((head, *warnings, *g.notes, *untrained), "\n\n")


@dataclass(frozen=True)
class EqualMseFigure(Figure):
    """The clean image and the gallery in rank order. ``gallery``: the gallery's picture names;
    ``table``: one row per match; ``info``: what was matched and how (Markdown); ``data``: the
    JSON summary (English); ``seconds``: how long it took."""

    gallery: list[str]
    table: Table
    info: Text
    data: dict[str, Any]
    seconds: float
    kind = "equal-mse"


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
    progress: Progress | None = None,
    chunk_images: int | str | None = AUTO,
) -> EqualMseFigure:
    """Every equal-MSE degradation of ``clean`` at the target, ranked least damaged first.

    Pictures: the clean image, then the gallery in rank order.
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
    return EqualMseFigure(
        {"clean": to_pil(clean.array), **gallery},
        {"settings": settings, "gallery": data},
        gallery=list(gallery),
        table=g.table(),
        info=_info(g, clean.size, model.status.trained),
        data=data,
        seconds=g.seconds,
    )
