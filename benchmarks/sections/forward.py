"""A bare VGG16 forward to relu5_3: our wrapper (normalisation + forward) vs torchvision's plain
``features[:30]`` and lpips' 5-slice net, the same modules and weights on pre-normalised input.
Timing rows only: it shows what our wrapper costs, and has no goal of its own."""

from __future__ import annotations

import torch

from benchmarks.harness import Job, Row, measure_group, progress, rows_from
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import SEED, models

TV_LABEL = "torchvision features[:30]"
LPNET_LABEL = "lpips net (5 slices)"
SIZE = {"full": 224, "quick": 224, "smoke": 64}
BATCH = 2


def bench_forward(ctx: Context, size: int, batch: int) -> list[Row]:
    """VGG16 → relu5_3 on a batch: our wrapper vs torchvision's plain ``features[:30]`` and lpips' net."""
    model, lp = models(ctx)
    device = model.device
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(SEED)).to(device)
    xn = model.normalize(x)
    target = f"VGG16→relu5_3 {size}² b{batch}"
    progress(target)
    plain = model.features[:30]  # the same modules (same weights), without our wrapper

    def run_ours(_: object) -> object:
        with torch.inference_mode():
            return model(x, ["relu5_3"])

    def run_plain(_: object) -> object:
        with torch.inference_mode():
            return plain(xn)

    def run_lp_net(_: object) -> object:
        with torch.inference_mode():
            return lp.net(xn) if lp is not None else None

    jobs = {
        "ours": Job(run_ours),
        TV_LABEL: Job(run_plain),
        LPNET_LABEL: None if lp is None else Job(run_lp_net),
    }
    res = measure_group(jobs, ctx.plan, device)
    return rows_from("forward", target, res, "ours", [TV_LABEL, LPNET_LABEL])


def run(ctx: Context) -> Outcome:
    """One batch of ``BATCH`` images at this run's size."""
    return Outcome(rows=bench_forward(ctx, ctx.pick(SIZE), BATCH))
