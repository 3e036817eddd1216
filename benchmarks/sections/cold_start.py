"""The app's cold start: ``python app.py`` on a machine without network and with empty caches,
seconds until ``GET /`` answers and until a first ``/overview`` returns; separately, how long
weight resolution took (more than 5 s would mean it blocks on a timeout). Report only. On in a
full run, off in ``--quick``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.harness import ROOT, Target, failed, free_port, progress, stop
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import ASSET_PHOTO

WEIGHTS_LIMIT_S = 5.0
_RESOLVE = (
    "import json, time; from perceptual_viz.backbone import resolve_weights; "
    "t = time.perf_counter(); sd, st = resolve_weights('vgg16', 'auto'); "
    "print(json.dumps([time.perf_counter() - t, st.source, str(st.message)]))"
)


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh machine: no offline switch, empty torch / HF caches."""
    drop = ("PERCEPTUAL_VIZ_OFFLINE", "HF_HUB_OFFLINE", "PERCEPTUAL_VIZ_WEIGHTS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    for var, sub in (
        ("TORCH_HOME", "torch"),
        ("HF_HOME", "hf"),
        ("HF_HUB_CACHE", "hf/hub"),
        ("HUGGINGFACE_HUB_CACHE", "hf/hub"),
        ("XDG_CACHE_HOME", "xdg"),
    ):
        env[var] = str(tmp / sub)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _weights(env: dict[str, str]) -> dict[str, Any]:
    """Weight resolution alone, in a fresh interpreter with ``env``: seconds, source, message."""
    r = subprocess.run(
        [sys.executable, "-c", _RESOLVE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if r.returncode == 0 and r.stdout.strip():
        secs, source, message = json.loads(r.stdout.strip().splitlines()[-1])
        return {"weights_s": secs, "weights_source": source, "weights_message": message}
    return {"error": f"resolve_weights failed: {(r.stderr or r.stdout).strip()[-200:]}"}


def _wait_ready(
    proc: subprocess.Popen[bytes], url: str, t0: float, timeout_s: float, log: Path
) -> str | None:
    """``None`` once ``GET url`` answers 200; else why not (the app exited, or time ran out)."""
    while True:
        if proc.poll() is not None:
            return f"app exited with {proc.returncode}: {log.read_text()[-300:]}"
        if time.perf_counter() - t0 > timeout_s:
            return f"no answer within {timeout_s:.0f} s"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return None
        except OSError:
            time.sleep(0.1)


def _first_overview(url: str, tmp: Path, t0: float) -> dict[str, float]:
    """One ``/overview`` at 224 through ``gradio_client``: its own seconds, and since launch."""
    from gradio_client import Client, handle_file

    t1 = time.perf_counter()
    client = Client(url, verbose=False, download_files=str(tmp / "dl"), analytics_enabled=False)
    client.predict(handle_file(str(ASSET_PHOTO)), "vgg16", "224", "viridis", api_name="/overview")
    t2 = time.perf_counter()
    return {"overview_s": t2 - t1, "first_response_s": t2 - t0}


def _serve(env: dict[str, str], tmp: Path, timeout_s: float) -> dict[str, Any]:
    """``python app.py`` from launch: seconds to ready and to the first response, or the error."""
    out: dict[str, Any] = {}
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with (tmp / "app.log").open("w") as log:
        t0 = time.perf_counter()
        cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            why = _wait_ready(proc, url, t0, timeout_s, tmp / "app.log")
            if why is not None:
                return {"error": why}
            out["ready_s"] = time.perf_counter() - t0
            out.update(_first_overview(url, tmp, t0))
        except Exception as exc:
            out["error"] = failed(exc)
        finally:
            stop(proc)
    return out


def cold_start(timeout_s: float = 180.0) -> dict[str, Any]:
    """Weight resolution, then the app served, both with the environment of a fresh machine."""
    progress("cold start")
    with tempfile.TemporaryDirectory(prefix="pv-cold-") as td:
        tmp = Path(td)
        env = _clean_env(tmp)
        out = _weights(env)
        if "error" not in out:
            out.update(_serve(env, tmp, timeout_s))
    return out


def print_cold(cold: dict[str, Any]) -> None:
    """What the cold start measured, and whether weight resolution blocked."""
    print()
    if "weights_s" in cold:
        slow = cold["weights_s"] > WEIGHTS_LIMIT_S
        print(
            f"Cold start: weight resolution took {cold['weights_s']:.3f} s → {cold['weights_source']} — "
            + ("> 5 s: BLOCKS on a timeout" if slow else "≤ 5 s: does not block on timeouts")
        )
        print(f"  status: {cold['weights_message']}")
    if "ready_s" in cold:
        print(
            f"Cold start: GET / answers after {cold['ready_s']:.1f} s; first /overview (224, via "
            f"gradio_client) done after {cold.get('first_response_s', float('nan')):.1f} s "
            f"(the call itself {cold.get('overview_s', float('nan')):.1f} s)"
        )
    if "error" in cold:
        print(f"Cold start: {cold['error']}")


def cold_target(c: dict[str, Any] | None) -> Target:
    """Report only: the times, or why there are none."""
    target = "app cold start, no network, empty caches"
    if c is None:
        return Target(target, "skipped (pass --cold-start)", "—", "—", "report only", "—")
    if "error" in c and "ready_s" not in c:
        return Target(target, c["error"][:80], "—", "—", "report only", "—")
    ours = f"ready {c['ready_s']:.1f} s · first /overview {c.get('first_response_s', float('nan')):.1f} s"
    return Target(
        target,
        ours + f" · weights {c['weights_s']:.2f} s",
        "—",
        "—",
        "report only; weights resolution ≤ 5 s",
        "—",
    )


def run(ctx: Context) -> Outcome:
    """The cold start when ``--cold-start`` (or the run's size) asks for it; prints what it found."""
    cold = cold_start() if ctx.args.cold_start else None
    if cold is not None:
        print_cold(cold)
    return Outcome(targets=[cold_target(cold)], data={"cold_start": cold})
