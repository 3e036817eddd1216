"""The Sweep figure: each degradation at growing strengths, every metric, in one batched VGG pass."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..compare import PairScores, ScoreSettings, score_pairs, unavailable_reasons
from ..degrade import DEGRADATIONS, degrade, lookup
from ..errors import InputError
from ..features import FeatureCache
from ..images import to_pil
from ..messages import Joined, Text, msg
from ..plots import line_chart
from . import AUTO, Analysis, Figure, Progress, Table, chunk_for

METRICS = ("MSE", "1 − SSIM", "1 − MS-SSIM", "perceptual", "style", "LPIPS", "DISTS")
# The metrics as a reader calls them (the others are the same in every language).
METRIC_NAMES: dict[str, Text] = {"perceptual": msg("perceptual"), "style": msg("style")}
LEVELS_RANGE = (2, 8)
DEFAULT_NAMES = ("noise", "blur", "jpeg", "brightness")  # the app's default choice
DEFAULT_LEVELS = 5
# Pixels per VGG batch: 72 images at 224² (all of 9 degradations × 8 levels) go through in one
# pass; at 512² the batch is split so activations stay near 2 GB (and a time limit can stop a
# sweep between batches).
SWEEP_PIXELS = 72 * 224 * 224
THUMB_PX = 128
COLUMNS: list[Text] = [
    msg("degradation"),
    msg("level"),
    msg("strength"),
    "MSE",
    "PSNR",
    "SSIM",
    "1 − SSIM",
    msg("perceptual"),
    msg("style"),
    "LPIPS",
    "MS-SSIM",
    "1 − MS-SSIM",
    "DISTS",
]
TABLE_COLUMNS: tuple[Text, ...] = (msg("degradation"), msg("level"), msg("metric"), msg("relative value"))


def max_levels(names: Sequence[str]) -> int:
    """The most levels every one of ``names`` can give (integer strengths have few)."""
    return min([LEVELS_RANGE[1], *(lookup(n).max_levels for n in names)])


def _check(names: Sequence[str], k: int) -> None:
    if not names:
        raise InputError(msg("pick at least one degradation"))
    for n in names:
        lookup(n)
    lo, hi = LEVELS_RANGE
    if not lo <= k <= hi:
        raise InputError(msg("levels must be between {lo} and {hi}", lo=lo, hi=hi))
    if k > max_levels(names):
        few = [n for n in names if lookup(n).max_levels < k]
        raise InputError(
            msg(
                "{names} has only {n} distinct levels; choose K ≤ {n}",
                names=", ".join(few),
                n=max_levels(names),
            )
        )


def _row(n: str, lvl: int, s: float, sc: PairScores) -> list[Any]:
    """One row of the raw table (the degradation by its short name: its key in English)."""
    nan = float("nan")
    psnr = sc.psnr if not math.isinf(sc.psnr) else nan
    lp = sc.lpips if sc.lpips is not None else nan
    ms = sc.ms_ssim if sc.ms_ssim is not None else nan
    ds = sc.dists if sc.dists is not None else nan
    d = lookup(n).short_name
    pixel = [sc.mse, psnr, sc.ssim, 1 - sc.ssim]
    return [d, lvl, s, *pixel, sc.perceptual_total, sc.style_total, lp, ms, 1 - ms, ds]


def charts(plot: Table) -> dict[str, Image.Image]:
    """One line chart per metric: relative value against severity level, a line per degradation."""
    out = {}
    records = plot.records()
    for m in METRICS:
        series: dict[str, list[tuple[float, float]]] = {}
        for r in records:
            if r["metric"] == m:
                series.setdefault(r["degradation"], []).append((r["level"], r["relative value"]))
        title = msg("{metric} (÷ its largest value in the sweep)", metric=METRIC_NAMES.get(m, m))
        out[f"chart {m}"] = line_chart(
            series,
            title=title,
            xlabel=msg("severity level"),
            ylabel=msg("relative value"),
            names=_legend(series),
            ylim=(0.0, 1.05),
        )
    return out


def _legend(series: dict[str, Any]) -> dict[str, Text]:
    """What a chart's legend calls each line: the degradation's short name (records key the
    lines by their English names; a degradation no longer registered keeps that name)."""
    short = {str(d.short_name): d.short_name for d in DEGRADATIONS.values()}
    return {key: short.get(key, key) for key in series}


def _relative(table: Table) -> Table:
    """Long format for plots: each metric divided by its largest value in the sweep (its texts
    stay messages; its records are in English)."""
    rows = []
    for m in METRICS:
        values = table.column(m)
        top = max((v for v in values if not math.isnan(v)), default=0.0)
        for row, r, v in zip(table.rows, table.records(), values, strict=True):
            rel = float(v / top) if top and not math.isnan(v) else float("nan")
            rows.append([row[0], r["level"], METRIC_NAMES.get(m, m), rel])
    return Table(list(TABLE_COLUMNS), rows)


def _score(
    model: VGGFeatures,
    clean: torch.Tensor,
    batch: list[torch.Tensor],
    per: int,
    progress: Progress | None,
    deadline: float | None,
    steps: int,
) -> tuple[list[PairScores], str]:
    scores: list[PairScores] = []
    device = str(model.device)
    # Over several passes the clean image is forwarded once, then served from a cache that keeps
    # nothing else; in one pass, a plain forward of clean + K is cheapest.
    cache = FeatureCache() if per < len(batch) else None
    for i in range(0, len(batch), per):
        if progress is not None and i:
            done = msg("scoring: {done} of {total} images", done=i, total=len(batch))
            progress((steps + i / len(batch)) / (steps + 1), done)
        if deadline is not None and time.monotonic() > deadline:
            raise InputError(
                msg(
                    "the sweep hit the time limit after {done} of {total} images; "
                    "try fewer degradations, fewer levels or a smaller analysis size",
                    done=i,
                    total=len(batch),
                )
            )
        res = score_pairs(model, clean, torch.cat(batch[i : i + per]), cache=cache, store_degraded=False)
        scores += res.scores
        device = res.device
    return scores, device


@dataclass(frozen=True)
class SweepFigure(Figure):
    """The clean image, a chart per metric and the degraded images. ``table``: raw values;
    ``plot``: relative values, long format; ``info``: how it was scored and how to read the
    charts; ``charts`` and ``thumbnails``: the names of those pictures."""

    table: Table
    plot: Table
    info: Text
    charts: list[str]
    thumbnails: list[str]
    kind = "sweep"


def _thumbnails(meta: list[tuple[str, int, float]], batch: list[torch.Tensor]) -> dict[str, Image.Image]:
    """Each degraded image, small, titled with its degradation, level and setting."""
    thumbs: dict[str, Image.Image] = {}
    for (n, lvl, s), t in zip(meta, batch, strict=True):
        small = F.interpolate(t, scale_factor=min(1.0, THUMB_PX / max(t.shape[-2:])), mode="area")
        d = lookup(n)
        title = msg("{degradation} · level {level}", degradation=d.label, level=lvl)
        thumbs[f"{n} L{lvl} ({s:g})"] = chrome.titled(to_pil(small), title, d.setting(s), min_width=THUMB_PX)
    return thumbs


def _info(images: int, per: int, device: str, seconds: float, missing: list[Text]) -> Text:
    """How the sweep was scored, how to read its charts, and which metrics are missing and why."""
    if per >= images:
        passes: Text = msg("one batched pass")
    else:
        passes = msg("{count} passes of ≤ {per}", count=math.ceil(images / per), per=per)
    said = msg(
        "{images} degraded images + the clean one scored in {passes} on {device} in {seconds:.2f} s. "
        "Plots: each metric divided by its largest value in this sweep, so all share a 0–1 scale "
        "(MSE, 1 − SSIM, 1 − MS-SSIM, perceptual, style, LPIPS and DISTS all grow with damage).",
        images=images,
        passes=passes,
        device=device,
        seconds=seconds,
    )
    return Joined((said, *missing), "\n\n") if missing else said


def sweep(
    model: VGGFeatures,
    clean: Analysis,
    size: str,
    names: Sequence[str],
    k: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
    deadline: float | None = None,
    chunk_images: int | str | None = AUTO,
) -> SweepFigure:
    """Every chosen degradation at ``k`` severity levels, scored in one batched VGG pass.

    ``chunk_images`` caps the images per pass: ``"auto"`` gives short passes on a CPU (with a
    ``progress`` call between them, where a long job gives way) and one pass on a GPU; ``None``
    one pass, split only when very large.
    Pictures: the clean image, a chart per metric, the degraded images (titled).
    """
    names, k = list(names), int(k)
    _check(names, k)
    t0 = time.perf_counter()
    batch, meta = [], []
    for i, n in enumerate(names):
        if progress is not None:
            progress(
                (i + 1) / (len(names) + 1), msg("degrading: {degradation}", degradation=lookup(n).short_name)
            )
        for lvl, s in enumerate(lookup(n).levels(k), start=1):
            batch.append(degrade(clean.tensor, n, s, seed=int(seed)))
            meta.append((n, lvl, s))
    if progress is not None:
        scoring = msg("scoring {n} images in one VGG pass", n=len(batch))
        progress(len(names) / (len(names) + 1), scoring)
    per = max(1, SWEEP_PIXELS // (clean.size[0] * clean.size[1]))
    chunk = chunk_for(model.device, chunk_images)
    if chunk is not None:
        per = max(1, min(per, chunk))
    scores, device = _score(model, clean.tensor, batch, per, progress, deadline, len(names))
    table = Table(COLUMNS, [_row(n, lvl, s, sc) for (n, lvl, s), sc in zip(meta, scores, strict=True)])
    thumbs = _thumbnails(meta, batch)
    missing = list(unavailable_reasons(model.arch, *clean.size).values())  # why a chart is empty
    info = _info(len(batch), per, device, time.perf_counter() - t0, missing)
    settings = {
        "analysis_size": str(size),
        "size_hw": list(clean.size),
        "degradations": names,
        "levels": k,
        "seed": int(seed),
        "score_settings": dataclasses.asdict(ScoreSettings()),
    }
    record = {"settings": settings, "table": table.records()}
    plot = _relative(table)
    lines = charts(plot)
    pictures = {"clean": to_pil(clean.array), **lines, **thumbs}
    return SweepFigure(pictures, record, table, plot, info, list(lines), list(thumbs))
