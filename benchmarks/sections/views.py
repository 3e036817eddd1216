"""View changes after an upload: the grids and channel details a user asks for once the upload's
one forward pass filled the feature cache, each timed on the server with its PNG encoding.
Goal: every change ≤ 100 ms, and not one forward pass."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.harness import Target, clock, mark, progress
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import ASSET_PHOTO, models
from perceptual_viz.features import FeatureCache
from perceptual_viz.figures import analyse
from perceptual_viz.figures import features as ff
from perceptual_viz.images import load_image

VIEW_LAYERS = ("conv1_2", "relu1_2", "relu3_3", "pool4", "relu5_3")
VIEW_BUDGET_MS = 100.0


@dataclass(frozen=True)
class ViewPlan:
    """The analysis size of the app, whether every change is made (else each kind once), rounds."""

    size: str
    all_steps: bool
    rounds: int


PLANS = {
    "full": ViewPlan("512", True, 3),
    "quick": ViewPlan("512", False, 1),
    "smoke": ViewPlan("224", False, 1),
}


def _png(*pictures: Image.Image) -> int:
    """Encode each picture as PNG exactly as the app's endpoints do (serve.png_file); total bytes."""
    from perceptual_viz.ui.serve import png_file

    return sum(Path(png_file(pic)).stat().st_size for pic in pictures)


def view_changes(quick: bool, size: str = "512") -> list[tuple[str, Callable[..., int]]]:
    """The view changes a user makes after an upload at analysis ``size``: (label,
    fn(model, cache, analysis) → PNG bytes)."""
    steps: list[tuple[str, Callable[..., int]]] = []
    for i, layer in enumerate(VIEW_LAYERS):
        for k in (16, 64):
            sort, scope = ("mean", "max")[i % 2], ("channel", "layer")[(i + k // 16) % 2]
            cmap = ("viridis", "magma", "inferno", "gray")[(i + k) % 4]

            kw = {"layer": layer, "k": k, "sort": sort, "scope": scope, "cmap": cmap}

            def grid(m: Any, c: Any, a: Any, kw: dict[str, Any] = kw) -> int:
                return _png(*ff.grid(m, c, a, size, **kw).pictures.values())

            steps.append((f"grid {layer} k{k} {sort}/{scope}/{cmap}", grid))
    for layer, ch, cmap in (("relu1_2", 5, "viridis"), ("relu3_3", 100, "magma"), ("relu5_3", 300, "gray")):

        def detail(m: Any, c: Any, a: Any, layer: str = layer, ch: int = ch, cm: str = cmap) -> int:
            return _png(*ff.channel(m, c, a, size, layer, ch, cmap=cm).pictures.values())

        steps.append((f"channel {layer}[{ch}] {cmap}", detail))
    if quick:  # fewer steps: every kind of change once
        steps = [steps[0], steps[3], steps[6], steps[9], steps[-1]]
    return steps


@dataclass
class ViewResult:
    """The view changes' server times (ms), the slowest one, and the forward passes they made."""

    size: str
    steps: int
    rounds: int
    median_ms: float
    max_ms: float
    slowest: str
    forward_passes: int
    png_bytes: int


def bench_views(ctx: Context, plan: ViewPlan) -> ViewResult:
    """View changes after an upload at ``plan.size``: server time incl. PNG encoding, no forward."""
    model, _ = models(ctx)
    progress(f"view changes {plan.size}")
    a = analyse(model, load_image(ASSET_PHOTO), plan.size)
    cache = FeatureCache()
    ff.overview(model, cache, a, plan.size)  # the upload: the one forward pass, fills the cache
    steps = view_changes(not plan.all_steps, plan.size)
    for _, fn in steps:  # warm-up (allocators, colour maps, PIL)
        fn(model, cache, a)
    before = model.forward_count
    times: list[tuple[float, str]] = []
    png = 0
    for _ in range(plan.rounds):
        for label, fn in steps:
            secs, png = clock(model.device, fn, model, cache, a)
            times.append((secs * 1e3, label))
    passes = model.forward_count - before
    worst = max(times)
    return ViewResult(
        "×".join(map(str, a.size[::-1])),
        len(steps),
        plan.rounds,
        statistics.median(t for t, _ in times),
        worst[0],
        worst[1],
        passes,
        png,
    )


def view_target(v: ViewResult) -> Target:
    """The slowest change against the budget, and no forward pass."""
    ok = v.max_ms <= VIEW_BUDGET_MS and v.forward_passes == 0
    return Target(
        f"view change {v.size} ({v.steps} kinds × {v.rounds}, incl. PNG)",
        f"median {v.median_ms:.1f} ms · max {v.max_ms:.1f} ms · forward passes: {v.forward_passes}",
        "—",
        f"{v.max_ms / VIEW_BUDGET_MS:.2f}× budget",
        f"every change ≤ {VIEW_BUDGET_MS:g} ms, 0 forward passes",
        mark(ok),
    )


def run(ctx: Context) -> Outcome:
    """The view changes of this run's size; two summary lines under the timing table."""
    v = bench_views(ctx, ctx.pick(PLANS))
    lines = [
        f"View changes at {v.size} after one upload ({v.steps} kinds × {v.rounds} rounds, "
        f"each incl. PNG encoding): median {v.median_ms:.1f} ms, max {v.max_ms:.1f} ms ({v.slowest})",
        f"forward passes: {v.forward_passes}",
    ]
    return Outcome(targets=[view_target(v)], lines=lines, data={"views": asdict(v)})
