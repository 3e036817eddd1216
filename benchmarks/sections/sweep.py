"""A sweep of K noise levels (``figures.sweep``: degrading, scoring, tables and thumbnails, fresh
cache) vs the bare network passes of the K+1 images it needs: a batched VGG16 forward and DISTS's
L2-pooled stages after relu1_2. Goal: ≤ 1.2× the bare passes, in one forward pass."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from PIL import Image

from benchmarks.harness import Job, Target, Timing, fmt_ms, fmt_ratio, mark, measure_group, progress
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import SEED, astronaut, models, resized
from perceptual_viz.dists import dists_available, dists_stages
from perceptual_viz.figures import analyse
from perceptual_viz.figures import sweep as fsw
from perceptual_viz.images import load_image
from perceptual_viz.layers import block_outputs

SIZES = {"full": (8, 224), "quick": (4, 224), "smoke": (2, 64)}  # (K, side)
GOAL = 1.2  # the sweep / the bare network passes


def bench_sweep(ctx: Context, k: int, size: int) -> tuple[dict[str, Timing | str], int]:
    """``figures.sweep.sweep`` of K noise levels (fresh cache: clean + K images) vs the bare network
    passes of K+1 images (VGG16 forward and, with dists-pytorch installed, DISTS's stages)."""
    model, _ = models(ctx)
    device = model.device
    progress(f"sweep K={k} {size}²")
    photo = Image.fromarray((resized(astronaut(), size) * 255).round().astype(np.uint8))
    clean = analyse(model, load_image(photo), str(size))
    x = torch.rand(k + 1, 3, *clean.size, generator=torch.Generator().manual_seed(SEED)).to(device)
    names = list(block_outputs(model.arch))
    passes: list[int] = []

    def run_sweep(_: object) -> object:
        n0 = model.forward_count
        with torch.inference_mode():
            r = fsw.sweep(model, clean, str(size), ["noise"], k=k, chunk_images=None)
        passes.append(model.forward_count - n0)
        return r

    def run_bare(_: object) -> object:
        with torch.inference_mode():
            feats = model(x, names)
            if dists_available():
                dists_stages(model, x, feats["relu1_2"])
            return feats

    res = measure_group({"sweep": Job(run_sweep), "bare": Job(run_bare)}, ctx.plan, device)
    return res, max(passes) if passes else -1


def sweep_target(k: int, size: int, res: dict[str, Timing | str], passes: int, goal: float = GOAL) -> Target:
    """The sweep against the bare network passes, and one forward pass."""
    ours, bare = res["sweep"], res["bare"]
    target = f"sweep K={k} {size}² (noise)"
    if not isinstance(ours, Timing) or not isinstance(bare, Timing):
        return Target(target, str(ours), str(bare), "-", f"≤ {goal:g}× bare passes", "✗")
    ratio = ours.median_ms / bare.median_ms
    return Target(
        target,
        f"{fmt_ms(ours)} ms · forward passes: {passes}",
        f"bare forward + DISTS stages b{k + 1} {fmt_ms(bare)} ms",
        f"{fmt_ratio(ratio)}×",
        f"≤ {goal:g}× bare passes, 1 forward pass",
        mark(ratio <= goal and passes == 1),
    )


def run(ctx: Context) -> Outcome:
    """The sweep of this run's size; one summary line under the timing table."""
    k, size = ctx.pick(SIZES)
    res, passes = bench_sweep(ctx, k, size)
    sw, bare = res["sweep"], res["bare"]
    line = (
        f"Sweep K={k} at {size}² (figures.sweep, fresh cache: degrade + score + thumbnails): "
        f"{fmt_ms(sw) if isinstance(sw, Timing) else sw} ms in {passes} forward pass(es); "
        f"bare forward + DISTS stages of {k + 1} images: "
        f"{fmt_ms(bare) if isinstance(bare, Timing) else bare} ms"
    )
    timings = {n: asdict(t) if isinstance(t, Timing) else t for n, t in res.items()}
    data = {"sweep": {"k": k, "forward_passes": passes, **timings}}
    return Outcome(targets=[sweep_target(k, size, res, passes)], lines=[line], data=data)
