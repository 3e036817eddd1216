"""Click → painted in Chromium: ``benchmarks/browser.py`` (the app in-process, headless
``/usr/bin/chromium``): layer changes on Feature maps, and the warmed showcase demos. Goals: a
layer change's median ≤ 250 ms, each demo ≤ 1 s. On in a full run, off in ``--quick``."""

from __future__ import annotations

from typing import Any

from benchmarks.harness import Target, import_script, mark, progress
from benchmarks.sections import Context, Outcome

VIEW_GOAL_S = 0.25
DEMO_GOAL_S = 1.0


def browser_section(weights: str) -> dict[str, Any] | str:
    """The browser rows and their printed report, or why they cannot run here."""
    mod = import_script("browser")
    why = mod.unavailable()
    if why:
        print(f"\nbrowser rows skipped: {why}")
        return why
    progress("browser: layer changes and warmed showcase demos in Chromium")
    r = mod.run(weights)
    print()
    print(mod.report(r))
    return r


def browser_targets(
    r: dict[str, Any] | str | None, view_goal: float = VIEW_GOAL_S, demo_goal: float = DEMO_GOAL_S
) -> list[Target]:
    """The layer change's median and each warmed demo against their goals; why, when skipped."""
    if r is None or isinstance(r, str):
        why = "skipped (--no-browser)" if r is None else f"skipped: {r}"
        return [Target("browser: layer change repaint", why, "—", "—", f"median ≤ {view_goal} s", "—")]
    out = [
        Target(
            f"browser: layer change repaint ({r['weights']} weights)",
            f"median {r['view_median_s'] * 1000:.0f} ms (max {r['view_max_s'] * 1000:.0f})",
            "—",
            "—",
            f"median ≤ {view_goal * 1000:.0f} ms",
            mark(r["view_median_s"] <= view_goal),
        )
    ]
    for kind, secs in r.get("showcase_s", {}).items():
        out.append(
            Target(
                f"browser: warmed showcase {kind}",
                f"{secs:.2f} s",
                "—",
                "—",
                f"≤ {demo_goal:g} s",
                mark(secs <= demo_goal),
            )
        )
    return out


def run(ctx: Context) -> Outcome:
    """The browser rows when ``--browser`` (or the run's size) asks for them, on ``--weights``."""
    r = browser_section(ctx.args.weights) if ctx.args.browser else None
    return Outcome(targets=browser_targets(r), data={"browser": r})
