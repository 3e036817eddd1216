"""The GPU path, on CUDA only: the VGG16 forward with autocast on (the default) vs off, and 8
concurrent batch-1 requests through ``MicroBatcher`` vs 8 sequential forwards. Timing rows only;
on a CPU one line says they were not run."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from benchmarks.harness import Job, Row, measure_group, progress, rows_from
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import SEED, models
from perceptual_viz.backbone import VGGFeatures, load_vgg
from perceptual_viz.batching import MicroBatcher
from perceptual_viz.layers import block_outputs

N_REQUESTS = 8


def _forward(m: VGGFeatures, x: torch.Tensor, names: list[str]) -> Job:
    """``m(x, names)`` under inference mode, as a job."""

    def run(_: object) -> object:
        with torch.inference_mode():
            return m(x, names)

    return Job(run)


def bench_autocast(ctx: Context, x: torch.Tensor, names: list[str]) -> list[Row]:
    """Our default (autocast on) vs the same network loaded with ``amp=False``."""
    model, _ = models(ctx)
    fp32 = load_vgg("vgg16", "untrained", model.device, amp=False)
    target = "VGG16 forward 224² b8, autocast"
    progress(target)
    jobs: dict[str, Job | None] = {
        "ours": _forward(model, x, names),
        "autocast off (fp32)": _forward(fp32, x, names),
    }
    res = measure_group(jobs, ctx.plan, model.device)
    return rows_from("cuda", f"{target} on ({model.amp_dtype})", res, "ours", ["autocast off (fp32)"])


def bench_batcher(ctx: Context, x: torch.Tensor, names: list[str]) -> list[Row]:
    """``N_REQUESTS`` single images at once through ``MicroBatcher`` vs one after another."""
    model, _ = models(ctx)
    singles = [x[i : i + 1] for i in range(N_REQUESTS)]
    target = f"{N_REQUESTS} concurrent requests 224² b1"
    progress(target)
    batcher = MicroBatcher()

    def run_batched(_: object) -> object:
        with ThreadPoolExecutor(N_REQUESTS) as pool:
            return list(pool.map(lambda im: batcher(model, im, names), singles))

    def run_sequential(_: object) -> object:
        with torch.inference_mode():
            return [model(im, names) for im in singles]

    res = measure_group({"ours": Job(run_batched), "sequential": Job(run_sequential)}, ctx.plan, model.device)
    return rows_from("cuda", f"{target}, MicroBatcher", res, "ours", ["sequential"])


def run(ctx: Context) -> Outcome:
    """Both comparisons on CUDA; on any other device, the line that says so."""
    if ctx.device.type != "cuda":
        line = "CUDA-only rows (autocast on vs off, MicroBatcher vs sequential): not run, device is cpu"
        return Outcome(lines=[line])
    model, _ = models(ctx)
    names = list(block_outputs(model.arch))
    x = torch.rand(8, 3, 224, 224, generator=torch.Generator().manual_seed(SEED)).to(model.device)
    return Outcome(rows=bench_autocast(ctx, x, names) + bench_batcher(ctx, x, names))
