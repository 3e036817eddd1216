"""The default "Train with it" run as a user starts it: ``python -m perceptual_viz train`` on the
bundled photos (chelsea held out), default settings, timed from launch to the printed JSON
(interpreter start, weights and the final scoring included). Goal: ≤ 60 s; ``--quick`` runs 10
steps, report only. ``--no-train`` skips it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from benchmarks.harness import ROOT, Target, mark, progress
from benchmarks.sections import Context, Outcome
from perceptual_viz.assets import sample

STEPS = {"full": None, "quick": 10, "smoke": 2}  # None: the lesson's default
TRAIN_BUDGET_S = 60.0


def train_command(weights: str, device: str, steps: int | None) -> list[str]:
    """The command line a user types for the default run (``steps``: fewer steps than the default)."""
    from perceptual_viz.lessons import train as tl

    photos = [str(sample(n)) for n in tl.DEFAULT_TRAIN_SAMPLES]
    cmd = [sys.executable, "-m", "perceptual_viz", "train", *photos]
    cmd += ["--eval", str(sample(tl.DEFAULT_EVAL_SAMPLE)), "--weights", weights, "--device", device]
    cmd += ["--json", "--quiet", *(["--steps", str(steps)] if steps is not None else [])]
    return cmd


def train_section(ctx: Context) -> dict[str, Any]:
    """The run, timed from launch to its JSON; what it printed, or its last error line."""
    steps = ctx.pick(STEPS)
    quick = steps is not None
    progress("train: the default run of the Train-with-it lesson" + (f" ({steps} steps)" if quick else ""))
    cmd = train_command(ctx.args.weights, ctx.device.type, steps)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "seconds": seconds}
    d = json.loads(proc.stdout)
    runs = {n: {**r["eval"], "final_loss": r["final_loss"]} for n, r in d["runs"].items()}
    out = {"seconds": seconds, "training_s": d["seconds"], "steps": d["steps"], "quick": quick}
    out.update({"weights": d["weights"]["source"], "trained": d["weights"]["trained"], "runs": runs})
    return out


def print_train(r: dict[str, Any]) -> None:
    """The run's time and each network's scores on the held-out photo."""
    print()
    print(
        f"Train with it, default run ({r['steps']} steps, {', '.join(r['runs'])}; weights {r['weights']}): "
        f"{r['seconds']:.1f} s from launch to JSON, of which training {r['training_s']:.1f} s"
    )
    for n, s in r["runs"].items():
        lp = "—" if s["lpips"] is None else f"{s['lpips']:.4f}"
        print(f"  {n:16s} PSNR {s['psnr']:.2f} dB · SSIM {s['ssim']:.4f} · LPIPS {lp}")


def train_target(r: dict[str, Any] | None) -> Target:
    """Seconds from launch to JSON against the budget (report only with fewer steps)."""
    target = "train default run (sr4, default losses)"
    goal = f"≤ {TRAIN_BUDGET_S:g} s"
    if r is None:
        return Target(target, "skipped (--no-train)", "—", "—", goal, "—")
    if "error" in r:
        return Target(target, r["error"][:80], "—", "—", goal, "✗")
    ours = f"{r['seconds']:.1f} s ({r['steps']} steps; training {r['training_s']:.1f} s)"
    if r["quick"]:
        return Target(target + f", {r['steps']} steps", ours, "—", "—", "report only in --quick", "—")
    ratio = f"{r['seconds'] / TRAIN_BUDGET_S:.2f}× budget"
    return Target(target, ours, "—", ratio, goal, mark(r["seconds"] <= TRAIN_BUDGET_S))


def run(ctx: Context) -> Outcome:
    """The train run unless ``--no-train``; prints its result unless it failed."""
    r = train_section(ctx) if ctx.args.train else None
    if r is not None and "error" not in r:
        print_train(r)
    return Outcome(targets=[train_target(r)], data={"train": r})
