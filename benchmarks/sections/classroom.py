"""Interactive latency beside long jobs: ``benchmarks/load.py``'s ``classroom_run`` (fresh
/overview requests with the app idle, then while students' reconstructions run; in a full run
also a mixed workload's p95). Goal: ≤ 3× idle. ``--no-classroom`` skips it."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Target, import_script, mark, progress
from benchmarks.sections import Context, Outcome

SIZES: dict[str, dict[str, Any]] = {  # keyword arguments of load.py's classroom_run(...)
    "full": {},
    "quick": {"n_long": 2, "probes": 2, "steps": 60, "px": 64, "mixed_clients": 0},
    "smoke": {"n_long": 1, "probes": 1, "steps": 30, "px": 32, "mixed_clients": 0},
}
GOAL = 3.0  # busy / idle


def classroom_targets(r: dict[str, Any] | None, goal: float = GOAL) -> list[Target]:
    """Busy vs idle latency against the goal; the mixed workload's p95, report only."""
    if r is None:
        return [Target("interactive beside long jobs", "skipped (--no-classroom)", "—", "—", "—", "—")]
    ok = r["ratio"] <= goal and r.get("long_jobs_running_throughout", False)
    out = [
        Target(
            f"fresh /overview beside {r['n_long']} reconstructions",
            f"median {np.median(r['busy_s']):.2f} s",
            f"same idle {np.median(r['idle_s']):.2f} s",
            f"{r['ratio']:.2f}×",
            f"≤ {goal:g}× idle",
            mark(ok),
        )
    ]
    if "mixed" in r:
        m, a = r["mixed"]["endpoints"]["all"], r["mixed_alone"]["endpoints"]["all"]
        out.append(
            Target(
                f"interactive p95, {r['mixed']['clients']} users + 2 reconstructions",
                f"p95 {m['p95_s']:.2f} s",
                f"same users alone p95 {a['p95_s']:.2f} s",
                f"{m['p95_s'] / a['p95_s']:.2f}×",
                "report only",
                "—",
            )
        )
    return out


def run(ctx: Context) -> Outcome:
    """The classroom run of this run's size, on ``--weights``; prints its report."""
    r = None
    if ctx.args.classroom:
        mod = import_script("load")
        progress("classroom: interactive requests beside long jobs")
        r = mod.classroom_run(ctx.args.weights, ctx.device.type, **ctx.pick(SIZES))
        print()
        print(mod.classroom_report(r))
    return Outcome(targets=classroom_targets(r), data={"classroom": r})
