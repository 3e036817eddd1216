"""Scoring one pair: ``score_pairs`` (MSE, PSNR, SSIM, perceptual, style and LPIPS from one batched
VGG16 pass), with and without the clean image's features cached, vs the ``lpips`` package computing
LPIPS alone on the same weights; plus our LPIPS value next to the package's. Goals: ≤ 1.0× lpips,
≤ 0.6× when cached. What MS-SSIM and DISTS add to a cached pair (DISTS: its L2-pooled stages of the
degraded image, about one more VGG pass) is timed too and printed under the table."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from benchmarks.harness import (
    Job,
    Plan,
    Row,
    Target,
    Timing,
    Value,
    fmt_ms,
    fmt_ratio,
    mark,
    measure_group,
    progress,
    rows_from,
)
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import SEED, astronaut, models, noisy, resized, to_tensor
from perceptual_viz.backbone import VGGFeatures
from perceptual_viz.compare import ScoreSettings, score_pairs
from perceptual_viz.features import FeatureCache

LP_LABEL = "lpips.LPIPS vgg (LPIPS only)"
# The scores compared with the lpips package: everything but MS-SSIM and DISTS, timed apart.
LPIPS_SET = ScoreSettings(dists=False, ms_ssim=False)
EVERY = "clean cached, + MS-SSIM + DISTS"
SIZES = {"full": (224, 512), "quick": (224,), "smoke": (64,)}


def _jobs(
    model: VGGFeatures,
    lp: torch.nn.Module | None,
    pair: tuple[np.ndarray, torch.Tensor, torch.Tensor],
    cache: FeatureCache,
    every_cache: FeatureCache,
) -> dict[str, Job | None]:
    """The timed calls on one pair (the clean photo, and the pair as tensors). "clean cached":
    the same clean tensor and ``cache`` (already holding it), a fresh degraded image per call, made
    outside the timed region; the same with every score, on a cache of its own."""
    clean_np, clean, deg = pair
    device = model.device
    seeds = iter(range(SEED + 1, SEED + 1_000_000))

    def run_nocache(_: object) -> object:
        with torch.inference_mode():
            return score_pairs(model, clean, deg, settings=LPIPS_SET)

    def fresh(seeds: Iterator[int] = seeds) -> torch.Tensor:
        return to_tensor(noisy(clean_np, next(seeds)), device)

    def run_cached(d: torch.Tensor) -> object:
        with torch.inference_mode():
            return score_pairs(model, clean, d, cache=cache, settings=LPIPS_SET)

    def run_every(d: torch.Tensor) -> object:
        with torch.inference_mode():
            return score_pairs(model, clean, d, cache=every_cache)

    a, b = clean * 2 - 1, deg * 2 - 1  # lpips wants [-1, 1]

    def run_lpips(_: object) -> object:
        with torch.inference_mode():
            return lp(a, b) if lp is not None else None

    return {
        "no cache": Job(run_nocache),
        "clean cached": Job(run_cached, fresh),
        EVERY: Job(run_every, fresh),
        LP_LABEL: None if lp is None else Job(run_lpips),
    }


def _cache_check(target: str, cached: Timing | str, plan: Plan, hits: int, misses: int) -> dict[str, int]:
    """Proof the cached job did what it says: per call, one hit (clean) and one miss (degraded)."""
    n_cached = cached.n + max(plan.warmup, 1) if isinstance(cached, Timing) else 0
    if hits != n_cached or misses != n_cached:
        print(f"WARNING: {target}: the clean image was not always served from the cache", file=sys.stderr)
    return {"cached_calls": n_cached, "clean_hits": hits, "degraded_misses": misses}


def _lpips_values(
    model: VGGFeatures, lp: torch.nn.Module | None, clean: torch.Tensor, deg: torch.Tensor, size: int
) -> list[Value]:
    """Our LPIPS of the pair (from ``score_pairs``) next to the lpips package's."""
    ours_lp = score_pairs(model, clean, deg, settings=LPIPS_SET).scores[0].lpips
    if lp is None:
        return [Value(f"LPIPS {size}²", "ours (score_pairs)", ours_lp, "lpips", None, "lpips not installed")]
    with torch.inference_mode():
        ref = float(lp(clean * 2 - 1, deg * 2 - 1).reshape(-1)[0])
    diff = abs(ours_lp - ref) if ours_lp is not None else None
    return [
        Value(f"LPIPS {size}²", "lpips package", ref, "lpips", 0.0),
        Value(f"LPIPS {size}²", "ours (score_pairs)", ours_lp, "lpips", diff),
    ]


def _extra_line(size: int, res: dict[str, Timing | str]) -> str:
    """What MS-SSIM and DISTS add to scoring a pair whose clean image is cached."""
    base, every = res["clean cached"], res[EVERY]
    if not isinstance(base, Timing) or not isinstance(every, Timing):
        return f"score pair {size}², {EVERY}: {every}"
    extra = every.median_ms - base.median_ms
    return (
        f"score pair {size}², {EVERY}: {fmt_ms(every)} ms, {extra:.0f} ms more than without them "
        f"({fmt_ms(base)} ms)"
    )


def bench_scoring(ctx: Context) -> tuple[list[Row], list[Value], dict[str, Any], list[str]]:
    """``score_pairs`` (no cache / clean features cached) vs ``lpips.LPIPS`` on the same pair, and
    the cached pair with every score."""
    model, lp = models(ctx)
    rows: list[Row] = []
    values: list[Value] = []
    checks: dict[str, Any] = {}
    lines: list[str] = []
    photo = astronaut()
    for size in ctx.pick(SIZES):
        clean_np = resized(photo, size)
        clean = to_tensor(clean_np, model.device)
        deg = to_tensor(noisy(clean_np, SEED), model.device)
        target = f"score pair {size}²"
        progress(target)
        cache, every_cache = FeatureCache(), FeatureCache()
        score_pairs(
            model, clean, deg, cache=cache, settings=LPIPS_SET
        )  # prime the cache with the clean image
        score_pairs(model, clean, deg, cache=every_cache)
        hits0, misses0 = cache.hits, cache.misses
        jobs = _jobs(model, lp, (clean_np, clean, deg), cache, every_cache)
        res = measure_group(jobs, ctx.plan, model.device)
        checks[target] = _cache_check(
            target, res["clean cached"], ctx.plan, cache.hits - hits0, cache.misses - misses0
        )
        for label in ("no cache", "clean cached"):
            rows += rows_from("score", f"{target}, {label}", {**res, "ours": res[label]}, "ours", [LP_LABEL])
        values += _lpips_values(model, lp, clean, deg, size)
        lines.append(_extra_line(size, res))
    return rows, values, checks, lines


def score_targets(rows: list[Row]) -> list[Target]:
    """Per scored pair: ours vs lpips, ≤ 1.0× without the cache, ≤ 0.6× with it."""
    out = []
    for r in rows:
        if r.section != "score":
            continue
        goal = 0.6 if r.target.endswith("clean cached") else 1.0
        ok = None if r.ratio is None else r.ratio <= goal
        out.append(
            Target(
                r.target,
                f"{fmt_ms(r.ours)} ms",
                f"lpips (LPIPS only) {r.note or fmt_ms(r.peer_timing) + ' ms'}",
                "-" if r.ratio is None else f"{fmt_ratio(r.ratio)}×",
                f"≤ {goal:g}× lpips",
                mark(ok),
            )
        )
    return out


def run(ctx: Context) -> Outcome:
    """Every pair size of this run; the cache checks go to the JSON file."""
    rows, values, checks, lines = bench_scoring(ctx)
    data = {"cache_checks": checks}
    return Outcome(rows=rows, values=values, targets=score_targets(rows), lines=lines, data=data)
