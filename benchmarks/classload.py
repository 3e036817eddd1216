"""A class of N students at once, as a lecturer runs one: ``python benchmarks/load.py --class 30``.

The app is served exactly as a host serves it (``python app.py`` in its own process, real weights
with ``--weights``), and N students, each with their own ``gradio_client.Client``, act together
in four phases:

1. **same sample** — the teacher says "click the cat": N × ``/overview`` of the bundled chelsea;
2. **view changes** — everyone changes the layer twice (``/feature_grid``, the same two layers);
3. **own photos** — each uploads a photo of their own (``/overview``, N different images);
4. **compare** — each compares the cat with a degradation of their choice (``/compare``).

Printed per phase: p50 / p95 / max, errors, the latency of the same request made by one student
alone on the same app, and for the phases whose work cannot be shared (3, 4) the *floor*: N × a
bare VGG forward at the same size, measured in this run. The class app is started as a host
starts it (without the showcase's long demos, which no phase uses) and left to finish its
background precompute (the benchmark waits until its CPU is idle) before the class arrives.

Every result is checked against the same request made alone on a second app that shares nothing
(``PERCEPTUAL_VIZ_RESULT_CACHE_MB=0``, no precompute): the same pictures pixel for pixel and the
same numbers to 1e-5 (batched and unbatched convolutions round differently in the last bits).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import close_clients, make_client  # noqa: E402

from benchmarks.harness import free_port, stop  # noqa: E402
from perceptual_viz.assets import SAMPLES_DIR  # noqa: E402
from perceptual_viz.degrade import DEGRADATIONS  # noqa: E402

ARCH, SIZE, CMAP = "vgg16", "224", "viridis"
CAT = SAMPLES_DIR / "chelsea.png"
LAYERS = ("relu4_3", "relu2_2")  # the teacher's two layer changes
PHOTO_SOURCES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png", "brick.png")
TARGETS = {"same sample": ("alone", 2.0), "view changes": ("alone", 3.0), "own photos": ("floor", 1.2)}
TARGETS["compare"] = ("floor", 1.2)
TIMING = re.compile(r" in \d+ ms")
REL = 1e-5


# --------------------------------------------------------------------------- the class's requests


@dataclass(frozen=True)
class Call:
    endpoint: str
    args: tuple[Any, ...]  # Path arguments are uploaded

    def key(self) -> str:
        return json.dumps([self.endpoint, [str(a) for a in self.args]])


OPEN = Call("/status", (ARCH,))  # what opening the page asks for (a session starts)


def own_photos(folder: Path, n: int) -> list[Path]:
    """``n`` distinct photo-shaped images (300×450 crops, flips, colour shifts of the samples)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        with Image.open(SAMPLES_DIR / PHOTO_SOURCES[k % len(PHOTO_SOURCES)]) as src:
            im = ImageOps.fit(src.convert("RGB"), (450 + 2 * (k % 7), 300), centering=((k * 0.13) % 1, 0.5))
        if (k // len(PHOTO_SOURCES)) % 2:
            im = ImageOps.mirror(im)
        shift = np.array([(k * 29) % 61 - 30, (k * 17) % 41 - 20, (k * 11) % 31 - 15], np.int16)
        arr = np.clip(np.asarray(im, np.int16) + shift, 0, 255).astype(np.uint8)
        path = folder / f"photo_{k:02d}.png"
        Image.fromarray(arr).save(path)
        out.append(path)
    return out


def degradation_choices(n: int) -> list[tuple[str, float, int]]:
    """``n`` distinct (degradation, strength, seed): what a class picks when each chooses."""
    names = list(DEGRADATIONS)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        levels = DEGRADATIONS[name].levels(4)
        out.append((name, float(levels[(i // len(names)) % 4]), i))
    return out


def phases(n: int, photos: Sequence[Path]) -> dict[str, list[list[Call]]]:
    """Phase name → per student, the calls they make in it (in order)."""
    over = lambda img: Call("/overview", (img, ARCH, SIZE, CMAP))  # noqa: E731
    grid = lambda layer: Call(  # noqa: E731
        "/feature_grid", (CAT, ARCH, SIZE, layer, 16, "mean", "channel", CMAP)
    )
    return {
        "same sample": [[over(CAT)] for _ in range(n)],
        "view changes": [[grid(layer) for layer in LAYERS] for _ in range(n)],
        "own photos": [[over(photos[i])] for i in range(n)],
        "compare": [
            [Call("/compare", (CAT, None, "degrade", d, s, seed, ARCH, SIZE, "relu2_2"))]
            for d, s, seed in degradation_choices(n)
        ],
    }


# --------------------------------------------------------------------------- the app in its own process


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return math.nan


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def close(self) -> None:
        stop(self.proc, grace_s=20)

    def wait_idle(self, quiet_s: float = 2.0, timeout_s: float = 900.0) -> float:
        """Wait until the app's CPU stays still for ``quiet_s`` (its precompute has finished)."""
        t0 = time.monotonic()
        last, still = _cpu_seconds(self.proc.pid), 0.0
        if math.isnan(last):
            time.sleep(30)
            return 30.0
        while time.monotonic() - t0 < timeout_s:
            time.sleep(0.5)
            now = _cpu_seconds(self.proc.pid)
            still = still + 0.5 if now - last < 0.05 else 0.0
            last = now
            if still >= quiet_s:
                break
        return time.monotonic() - t0


def serve(weights: str, root: Path, *, shared: bool = True) -> Server:
    """``python app.py`` on a free port (showcase off); ``shared=False``: no result cache (and so
    no precompute either)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PERCEPTUAL_VIZ_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(root / "gradio"),
    }
    # The showcase's long demos (sweeps, reconstructions) play no part in the four phases and
    # take minutes of CPU on a first start: off. The samples' default views are still computed.
    cmd = [sys.executable, str(ROOT / "app.py"), "--weights", weights, "--port", str(port), "--no-showcase"]
    if not shared:
        env["PERCEPTUAL_VIZ_RESULT_CACHE_MB"] = "0"
    log = root / "app.log"
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2):
                return Server(proc, url, log)
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the app did not answer within 300 s:\n{log.read_text()[-2000:]}")


# --------------------------------------------------------------------------- calling


def make_call(c: Any, call: Call) -> Any:
    from gradio_client import handle_file

    args = [handle_file(str(a)) if isinstance(a, Path) else a for a in call.args]
    return c.predict(*args, api_name=call.endpoint)


def reuse_ssl_contexts() -> None:
    """Share one SSL context between the clients' file transfers (see tests/support.py: each
    ``gradio_client`` upload/download builds a fresh one, ~30 ms of CPU a browser never spends,
    on the same cores as the app)."""
    sys.path.insert(0, str(ROOT))
    from tests.support import reuse_ssl_contexts as reuse

    reuse()


@dataclass
class Phase:
    name: str
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    results: list[tuple[Call, Any]] = field(default_factory=list)
    alone_s: float = math.nan
    floor_s: float | None = None

    def p(self, q: float) -> float:
        return float(np.percentile(self.seconds, q)) if self.seconds else math.nan


def run_phase(clients: Sequence[Any], plan: Sequence[Sequence[Call]], phase: Phase) -> None:
    """Every student's calls in their own thread, all released together."""
    start = threading.Barrier(len(plan) + 1)
    lock = threading.Lock()

    def student(i: int) -> None:
        start.wait(timeout=120)
        for call in plan[i]:
            t0 = time.perf_counter()
            try:
                res = make_call(clients[i], call)
            except Exception as exc:
                with lock:
                    phase.errors.append(f"student {i} {call.endpoint}: {type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                phase.seconds.append(time.perf_counter() - t0)
                phase.results.append((call, res))

    threads = [threading.Thread(target=student, args=(i,), daemon=True) for i in range(len(plan))]
    for t in threads:
        t.start()
    start.wait(timeout=120)
    for t in threads:
        t.join(900)


# --------------------------------------------------------------------------- comparing results


def digest(value: Any) -> Any:
    """A result with files replaced by their pixels' hash (pictures) or left out (zips), texts
    without their timing, and numbers kept for a tolerant comparison."""
    if isinstance(value, dict):
        return {k: digest(v) for k, v in value.items() if k not in ("seconds", "url", "orig_name")}
    if isinstance(value, (list, tuple)):
        return [digest(v) for v in value]
    if isinstance(value, str):
        p = Path(value)
        if len(value) < 4096 and p.suffix.lower() in (".png", ".webp", ".jpg", ".zip") and p.is_file():
            if p.suffix.lower() == ".zip":
                return "<zip>"
            with Image.open(p) as im:
                return "pixels:" + hashlib.sha256(np.asarray(im.convert("RGB")).tobytes()).hexdigest()[:16]
        return TIMING.sub("", value)
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL, abs_tol=1e-9)
    return bool(a == b)


# --------------------------------------------------------------------------- the run


def bare_forward_s(weights: str, image: Path, repeats: int = 5) -> float:
    """Median seconds of one bare VGG forward (every conv) of ``image`` at the analysis size."""
    import torch

    from perceptual_viz.backbone import load_vgg
    from perceptual_viz.figures import analyse, load

    torch.set_num_threads(os.cpu_count() or 1)  # as the app's interactive lane runs it alone
    model = load_vgg(ARCH, weights, "cpu")
    x = analyse(model, load(str(image)), SIZE).tensor
    times = []
    with torch.inference_mode():
        model(x, [model.layers[-1].name])
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x, [model.layers[-1].name])
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def class_run(
    n: int = 30, weights: str = "untrained", workdir: Path | None = None, check: bool = True
) -> dict:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    reuse_ssl_contexts()
    with tempfile.TemporaryDirectory(prefix="pviz-class-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        photos = own_photos(root / "photos", n)
        plan = phases(n, photos)
        reference: dict[str, Any] = {}
        fresh_alone: dict[str, float] = {}
        if check:  # every distinct request, alone, on an app that shares nothing
            ref = serve(weights, root / "reference", shared=False)
            try:
                ref.wait_idle()
                c = make_client(ref.url, root / "reference-client")
                for name, per_student in plan.items():
                    for calls in per_student:
                        for call in calls:
                            if call.key() not in reference:
                                t0 = time.perf_counter()
                                reference[call.key()] = digest(make_call(c, call))
                                fresh_alone.setdefault(name, time.perf_counter() - t0)
                c.close()
            finally:
                ref.close()
        app = serve(weights, root / "class")
        out: dict[str, Any] = {"n": n, "weights": weights, "phases": {}}
        forward = math.nan
        try:
            out["precompute_s"] = round(app.wait_idle(), 1)
            teacher = make_client(app.url, root / "teacher")
            students = [make_client(app.url, root / f"student{i:02d}") for i in range(n)]
            try:  # everyone has the page open before the teacher speaks (their sessions exist)
                opened = Phase("page open")
                run_phase(students, [[OPEN]] * n, opened)
                make_call(teacher, OPEN)
                # Sessions open: what N answers cost with no work at all, once and (the shape of
                # the view-change phase) twice in a row per student.
                for key, calls in (("no_work", [OPEN]), ("no_work_twice", [OPEN] * len(LAYERS))):
                    again = Phase("status")
                    run_phase(students, [calls] * n, again)
                    out[key] = {"p50_s": again.p(50), "p95_s": again.p(95), "errors": len(again.errors)}
                for name, per_student in plan.items():
                    phase = Phase(name)
                    # one student alone first, with a request of the phase none of the class makes
                    # (own photos, compare) or the class's own (same sample, view changes)
                    solo = _solo(name, per_student, photos, root)
                    t0 = time.perf_counter()
                    make_call(teacher, solo)
                    phase.alone_s = time.perf_counter() - t0
                    if name in ("own photos", "compare"):
                        if math.isnan(forward):  # with the app idle, just before the class needs it
                            app.wait_idle(quiet_s=1.0, timeout_s=60)
                            forward = out["bare_forward_s"] = bare_forward_s(weights, photos[0], 7)
                        phase.floor_s = n * forward
                    run_phase(students, per_student, phase)
                    mismatched = [
                        call.endpoint
                        for call, res in phase.results
                        if check and not same(digest(res), reference[call.key()])
                    ]
                    out["phases"][name] = {
                        "requests": len(phase.seconds) + len(phase.errors),
                        "errors": phase.errors[:5],
                        "n_errors": len(phase.errors),
                        "p50_s": phase.p(50),
                        "p95_s": phase.p(95),
                        "max_s": max(phase.seconds, default=math.nan),
                        "alone_s": phase.alone_s,
                        "alone_fresh_s": fresh_alone.get(name, math.nan),
                        "floor_s": phase.floor_s,
                        "mismatched": len(mismatched) if check else None,
                    }
            finally:
                close_clients([teacher, *students])
        finally:
            app.close()
    return out


def _solo(name: str, per_student: Sequence[Sequence[Call]], photos: Sequence[Path], root: Path) -> Call:
    """The request one student makes alone before the class: the class's own for the phases
    whose work is shared; for own photos and compare one of the same cost that nobody repeats."""
    first = per_student[0][0]
    if name == "own photos":
        (extra,) = own_photos(root / "solo-photo", 1 + len(photos))[-1:]
        return Call(first.endpoint, (extra, *first.args[1:]))
    if name == "compare":
        return Call(first.endpoint, (*first.args[:5], 10_000, *first.args[6:]))  # another seed
    return first


def report(r: dict) -> str:
    head = (
        f"{'phase':<13} {'p50 s':>6} {'p95 s':>6} {'max s':>6}  {'alone s':>7} {'warm s':>6} {'floor s':>7}  "
        "p95 vs target            errors  same"
    )
    lines = [
        f"A class of {r['n']} at once ({ARCH}, weights {r['weights']}, analysis size {SIZE}; app in its own "
        f"process as app.py serves it; bare forward {r['bare_forward_s']:.3f} s; precompute took "
        f"{r.get('precompute_s', 0):.0f} s before the class arrived)",
        head,
        "-" * len(head),
    ]
    for name, p in r["phases"].items():
        basis, factor = TARGETS[name]
        ref = _reference(p, basis)
        verdict = "ok" if p["p95_s"] <= factor * ref and not p["n_errors"] else "MISSED"
        floor = f"{p['floor_s']:.2f}" if p["floor_s"] else "—"
        same_s = (
            "—"
            if p["mismatched"] is None
            else ("all" if p["mismatched"] == 0 else f"{p['mismatched']} differ")
        )
        lines.append(
            f"{name:<13} {p['p50_s']:6.2f} {p['p95_s']:6.2f} {p['max_s']:6.2f}  "
            f"{p['alone_fresh_s']:7.2f} {p['alone_s']:6.2f} {floor:>7}  "
            f"{p['p95_s'] / ref:4.2f}× ≤ {factor}× {basis} {verdict:<6} {p['n_errors']:>3}  {same_s}"
        )
        lines += [f"  ERROR {e}" for e in p["errors"]]
    lines.append(
        "alone: the same request by one student on an app that shares nothing (no result cache, no "
        "precompute); warm: by one student on the class's app just before the class"
    )
    if "no_work" in r:
        w = r["no_work"]
        lines.append(
            f"{r['n']} students asking at once for something that needs no work (/status): "
            f"p50 {w['p50_s']:.2f} s, p95 {w['p95_s']:.2f} s: the server's own floor for {r['n']} answers"
        )
    if "no_work_twice" in r:
        w = r["no_work_twice"]
        lines.append(
            f"the same twice in a row per student (the view-change phase's shape, {r['n'] * len(LAYERS)} "
            f"answers): p50 {w['p50_s']:.2f} s, p95 {w['p95_s']:.2f} s"
        )
    return "\n".join(lines)


def _reference(p: dict[str, Any], basis: str) -> float:
    """What a phase's p95 is held to: the floor, or the same request by one student alone on an
    app that has not computed it (without the check: alone on the class's app)."""
    if basis == "floor":
        return float(p["floor_s"])
    return p["alone_s"] if math.isnan(p["alone_fresh_s"]) else p["alone_fresh_s"]


def failed(r: dict) -> bool:
    for name, p in r["phases"].items():
        basis, factor = TARGETS[name]
        ref = _reference(p, basis)
        if p["n_errors"] or p["p95_s"] > factor * ref or p["mismatched"]:
            return True
    return False


def main(n: int, weights: str, check: bool = True, write: Callable[[str], Any] = print) -> int:
    r = class_run(n, weights, check=check)
    write(report(r))
    return 1 if failed(r) else 0
