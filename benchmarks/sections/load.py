"""The app under concurrent users: ``benchmarks/load.py`` (the app in-process, each user with
its own client sending mixed requests at once), its table printed as it finishes. No goal of its
own: an error under load makes ``run.py`` exit 1. ``--no-load`` skips it."""

from __future__ import annotations

from typing import Any

from benchmarks.harness import import_script, progress
from benchmarks.sections import Context, Outcome

SIZES: dict[str, dict[str, Any]] = {  # keyword arguments of load.py's run(...)
    "full": {"clients": 20, "per_client": 5},
    "quick": {"clients": 5, "per_client": 3},
    "smoke": {"clients": 2, "per_client": 2, "image_px": 48, "size": "original"},
}


def run(ctx: Context) -> Outcome:
    """The load run of this run's size; its summary goes to the JSON file as ``load``."""
    if not ctx.args.load:
        return Outcome(data={"load": None})
    mod = import_script("load")
    kw = ctx.pick(SIZES)
    progress(f"load: {kw['clients']} clients × {kw['per_client']} requests")
    summary = mod.run(device=ctx.device.type, **kw)
    print()
    print(mod.report(summary))
    return Outcome(data={"load": summary})
