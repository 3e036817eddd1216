"""Timing of perceptual_viz against peer libraries, printed as ratios (ours / peer; < 1 = we are faster).

    python benchmarks/run.py                 # full run (a few minutes on a 2-core CPU)
    python benchmarks/run.py --quick         # reduced targets, few repeats (about a minute)
    python benchmarks/run.py --smoke         # every section once at toy sizes: checks the harness only
    python benchmarks/run.py --device cuda --json results.json
    python benchmarks/run.py --no-load       # skip the app under concurrent users
    python benchmarks/run.py --quick --cold-start   # quick, plus the app's cold start

Sections: (1) SSIM vs pytorch_msssim, piq, kornia and scikit-image, with a value check on a real
photo pair; (2) scoring one pair with ``score_pairs`` (with and without the feature cache) vs the
``lpips`` package scoring LPIPS alone, on the same VGG16 weights; (3) a bare VGG16 forward;
(4) view changes after an upload at 512 (no forward pass, PNG encoding included); (5) a sweep of
K degradation levels vs a bare batched forward of K+1 images; on CUDA, autocast on/off and
MicroBatcher vs sequential; (6) the app under concurrent users (benchmarks/load.py: 20 clients ×
5 requests, 5 × 3 in --quick); (7) the app's cold start offline with empty caches (full run, or
--cold-start). It ends with the TARGETS table: one row per goal, with a ✓/✗ verdict. Each number
is the median of several timed runs after warm-up. See benchmarks/README.md and
docs/PERFORMANCE.md.

This file is the command line and the report; how a target is timed lives in ``harness.py``,
what each section times in ``sections/<name>.py``, run in the order of ``LIBRARY``, then ``APP``.
"""

from __future__ import annotations

import os

os.environ.setdefault("PERCEPTUAL_VIZ_OFFLINE", "1")

import argparse
import datetime
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import (
    CpuMeter,
    Mode,
    Plan,
    Row,
    Target,
    Value,
    mode_flags,
    mode_of,
    pick_device,
    progress,
    targets_table,
    timing_table,
    toggle,
    values_table,
)
from benchmarks.sections import (
    Context,
    Outcome,
    browser,
    classroom,
    cold_start,
    cuda,
    forward,
    load,
    score,
    ssim,
    sweep,
    train,
    views,
)
from benchmarks.sections.inputs import PEER_DISTS, SEED, import_peers

# Timed in this process and reported together (the timing table, then each one's summary lines).
LIBRARY = (ssim, score, forward, views, sweep, cuda)
# The app and the command line, each printing its own report as it finishes.
APP = (load, classroom, train, browser, cold_start)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags; ``--browser`` and ``--cold-start`` left unset are decided by the run's size."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode_flags(p)
    toggle(p, "load", "end with the app under concurrent users (benchmarks/load.py); --no-load skips it")
    toggle(
        p,
        "classroom",
        "interactive latency beside long jobs, vs idle (benchmarks/load.py); --no-classroom skips it",
    )
    toggle(
        p,
        "train",
        "the default Train-with-it run, timed end to end (--quick: 10 steps); --no-train skips it",
    )
    toggle(
        p,
        "browser",
        "click → painted in Chromium (benchmarks/browser.py; default: on in a full run, off in --quick)",
        default=None,
    )
    p.add_argument(
        "--weights",
        default="untrained",
        help="weights of the classroom and train rows: untrained (default) | auto | PATH",
    )
    toggle(
        p,
        "cold-start",
        "time `python app.py` from launch to first response, offline with empty caches "
        "(default: on in a full run, off in --quick)",
        default=None,
    )
    args = p.parse_args(argv)
    args.mode = mode_of(args)
    args.quick = args.quick or args.smoke  # smoke: quick's defaults for the optional sections
    for name in ("browser", "cold_start"):
        if getattr(args, name) is None:
            setattr(args, name, not args.quick)
    return args


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist: str) -> str | None:
    """An installed distribution's version, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(ctx: Context) -> dict[str, Any]:
    """What the numbers depend on: date, versions, threads, CPU, device, the peers' versions."""
    env: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "device": str(ctx.device),
        "mode": ctx.mode.name,
        "peers": {
            name: (version(dist) or "?") if ctx.peers.get(name) is not None else None
            for name, dist in PEER_DISTS.items()
        },
    }
    if ctx.device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(ctx.device)
    return env


def print_header(env: dict[str, Any], plan: Plan) -> None:
    """The report's header: when, on what, against which peers, and how it was timed."""
    print("perceptual_viz benchmarks — ratio = ours / peer (< 1: ours is faster)")
    print(f"date      {env['date']}")
    threads = f"threads {env['torch_threads']} (interop {env['torch_interop_threads']})"
    print(f"torch     {env['torch']} · {threads} · python {env['python']}")
    print(f"cpu       {env['cpu']} ({env['cpu_count']} logical cores)")
    print(f"device    {env['device']}" + (f" ({env['gpu']})" if "gpu" in env else ""))
    peers = ", ".join(f"{k} {v}" if v else f"{k} (not installed)" for k, v in env["peers"].items())
    print(f"peers     {peers}")
    print(
        f"method    {plan.warmup} warm-up run(s) each, then {plan.min_repeats}–{plan.max_repeats} timed runs "
        f"(~{plan.budget_s:g} s per implementation), ours and peers interleaved round-robin; median; "
        f"time.perf_counter, CUDA synchronised; inference_mode; mode {env['mode']}"
    )
    print("weights   untrained seeded VGG16 for ours, copied into lpips' slices (same network both sides)")


def print_report(env: dict[str, Any], plan: Plan, rows: list[Row], values: list[Value]) -> None:
    """The header, the value checks and the timing table of the library sections."""
    print_header(env, plan)
    print()
    print("Values on the same photo pair (astronaut + N(0, 0.1²) noise, seed 0, clipped to [0, 1]):")
    print(values_table(values))
    print()
    print("Timing (ms, median):")
    print(timing_table(rows))
    print()
    print(
        "score pair = ours: MSE+PSNR+SSIM+perceptual+style+LPIPS (one batched VGG16 pass to relu5_3); "
        "peer: LPIPS only."
    )
    print(
        "clean cached = same clean image and FeatureCache, a fresh degraded image per call "
        "(only it is forwarded)."
    )


def print_targets(targets: list[Target], mode: Mode) -> None:
    """The TARGETS table and its count of verdicts."""
    print()
    print("TARGETS (issue 'Fast everywhere it matters'; ratio = ours / peer, or / budget):")
    print(targets_table(targets))
    n_ok = sum(t.verdict == "✓" for t in targets)
    n_bad = sum(t.verdict == "✗" for t in targets)
    print(f"met {n_ok}, not met {n_bad}, report only {len(targets) - n_ok - n_bad}")
    if mode.name == "smoke":
        print("smoke run: toy sizes, one repeat each — it checks the harness; these verdicts say nothing")


def print_summary(env: dict[str, Any], lines: list[str], share: float | None) -> None:
    """The library sections' summary lines, the wall time and the background load."""
    print()
    for line in lines:
        print(line)
    print(f"total wall time {env['wall_s']} s")
    if share is not None:
        print(
            f"background load: other processes used {share:.0%} of the CPU during the run"
            + (" — absolute times are noisy; ratios are fairer (interleaved)" if share > 0.1 else "")
        )


def results(
    env: dict[str, Any], plan: Plan, outcomes: list[Outcome], targets: list[Target]
) -> dict[str, Any]:
    """Everything the run measured, for ``--json``."""
    parts = {k: v for o in outcomes for k, v in o.data.items()}
    rows = [r for o in outcomes for r in o.rows]
    return {
        "environment": env,
        "plan": asdict(plan),
        "values": [asdict(v) for o in outcomes for v in o.values],
        "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
        **{k: parts[k] for k in ("cache_checks", "views", "sweep", "cold_start")},
        "targets": [asdict(t) for t in targets],
        **{k: parts[k] for k in ("load", "classroom", "train", "browser")},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Every section in order, the report, the TARGETS; exit 1 on an error under load."""
    args = parse_args(argv)
    t0 = time.perf_counter()
    meter = CpuMeter()
    ctx = Context(args.mode, pick_device(args.device), args, import_peers())
    env = environment(ctx)
    progress("peers imported")
    torch.manual_seed(SEED)
    library = [section.run(ctx) for section in LIBRARY]
    env["wall_s"] = round(time.perf_counter() - t0, 1)
    share = meter.others_share()
    env["other_processes_cpu_share"] = None if share is None else round(share, 3)
    rows = [r for o in library for r in o.rows]
    print_report(env, ctx.plan, rows, [v for o in library for v in o.values])
    print_summary(env, [line for o in library for line in o.lines], share)
    outcomes = library + [section.run(ctx) for section in APP]
    targets = [t for o in outcomes for t in o.targets]
    print_targets(targets, ctx.mode)
    if args.json is not None:
        args.json.write_text(json.dumps(results(env, ctx.plan, outcomes, targets), indent=2))
    load_run = next(o.data["load"] for o in outcomes if "load" in o.data)
    return 1 if load_run is not None and load_run["errors"] else 0  # an error under load is a bug


if __name__ == "__main__":
    raise SystemExit(main())
