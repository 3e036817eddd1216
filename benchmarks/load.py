"""Load benchmark: the app under a classroom of concurrent users, launched in-process, offline.

    python benchmarks/load.py                         # 20 clients × 5 mixed requests (~40 s on 2 cores)
    python benchmarks/load.py --class 30 --weights vgg16.pth    # a class in four phases (classload.py)
    python benchmarks/load.py --clients 5 --requests 3
    python benchmarks/load.py --classroom --weights vgg16.pth   # quick views beside long jobs

Each simulated user has its own ``gradio_client.Client`` and its own images, and sends a mix of
``/compare`` (various degradations and strengths), ``/feature_grid`` (various layers and k),
``/channel``, ``/overview`` and ``/gram``; all users start together. The app is served exactly as
``app.py`` serves it (:func:`perceptual_viz.ui.serve.launch`: queue concurrency 2, untrained VGG16,
analysis size 224). The report gives request count, errors, p50/p95/max latency per endpoint
and overall (latency = from sending the request to having every output file, so it includes the
time spent waiting in the queue), and the throughput. ``tests/test_load.py`` runs the same
workload and checks every result against the same request computed alone.
"""

from __future__ import annotations

import os

os.environ.setdefault("PERCEPTUAL_VIZ_OFFLINE", "1")

import argparse
import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import free_port  # noqa: E402
from perceptual_viz.assets import SAMPLES_DIR as SAMPLES  # noqa: E402
from perceptual_viz.degrade import DEGRADATIONS  # noqa: E402

SOURCES = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png", "brick.png")
WARMUP_SAMPLE = "patches.png"  # not used by the workload's images
ARCH, SIZE = "vgg16", "224"

DEGS = tuple(DEGRADATIONS)
GRID = (
    ("conv1_2", 4),
    ("relu2_2", 16),
    ("pool2", 9),
    ("relu3_3", 25),
    ("conv4_1", 64),
    ("relu4_3", 1),
    ("pool5", 12),
    ("relu5_1", 36),
)
CHANNEL = (
    ("relu1_2", 64),
    ("conv2_1", 128),
    ("relu3_3", 256),
    ("pool3", 256),
    ("relu4_2", 512),
    ("conv5_3", 512),
)
BLOCKS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
NORMS = ("none", "chw", "gatys")
CMAPS = ("viridis", "magma", "inferno", "gray")
SORTS = ("mean", "max", "index")
SCOPES = ("channel", "layer")
ENDPOINTS = ("/compare", "/feature_grid", "/channel", "/overview", "/gram")


# --------------------------------------------------------------------------- images


def make_images(folder: Path, n: int = 12, size: int = 224) -> list[Path]:
    """``n`` distinct PNGs made from the bundled samples (crops, flips, colour shifts), deterministic.

    Most are ``size`` × ``size``; every fourth is wider, so the workload also has a non-square
    analysis size and a /gram pair that needs resizing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        with Image.open(SAMPLES / SOURCES[k % len(SOURCES)]) as src:
            im = src.convert("RGB")
        w = size + (56 if k % 4 == 3 else 0)
        ox = (k * 37) % (im.width - w + 1)
        oy = (k * 53) % (im.height - size + 1)
        im = im.crop((ox, oy, ox + w, oy + size))
        if (k // len(SOURCES)) % 2:
            im = ImageOps.mirror(im)
        shift = np.array([(k * 29) % 61 - 30, (k * 17) % 41 - 20, (k * 11) % 31 - 15], np.int16)
        arr = np.clip(np.asarray(im, np.int16) + shift, 0, 255).astype(np.uint8)
        if k % 3 == 2:
            arr = np.ascontiguousarray(arr[..., ::-1])
        path = folder / f"load_{k:02d}.png"
        Image.fromarray(arr).save(path)
        out.append(path)
    return out


def content_hash(path: Path) -> str:
    with Image.open(path) as im:
        return hashlib.sha256(np.asarray(im.convert("RGB")).tobytes()).hexdigest()


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Request:
    """One API call. Image arguments are local paths (uploaded by :func:`call`)."""

    client: int
    endpoint: str
    args: tuple[Any, ...]

    def __str__(self) -> str:
        shown = [a.name if isinstance(a, Path) else repr(a) for a in self.args]
        return f"client {self.client}: {self.endpoint}({', '.join(shown)})"


def _strength(name: str, i: int) -> float:
    """One of four in-range severities of ``name``, varying with the client."""
    return float(DEGRADATIONS[name].levels(4)[(i // 3) % 4])


def client_requests(i: int, images: Sequence[Path], per_client: int = 5, size: str = SIZE) -> list[Request]:
    """Client ``i``'s mixed requests, on its own pair of images (P, Q), at analysis ``size``."""
    n = len(images)
    p = images[i % n]
    q = images[(i % n + 1 + i // n) % n]
    deg_a, deg_b = DEGS[i % len(DEGS)], DEGS[(i * 4 + 5) % len(DEGS)]
    layer, k = GRID[i % len(GRID)]
    ch_layer, ch_count = CHANNEL[i % len(CHANNEL)]
    cmap = CMAPS[i % len(CMAPS)]
    compare_a = Request(
        i, "/compare", (p, None, "degrade", deg_a, _strength(deg_a, i), i, ARCH, size, BLOCKS[i % 4])
    )
    if i % 5 == 4:  # a user uploading their own "degraded" image (another picture, resized)
        compare_b = Request(i, "/compare", (p, q, "upload", "jpeg", 20.0, 0, ARCH, size, BLOCKS[(i + 1) % 4]))
    else:
        compare_b = Request(
            i, "/compare", (q, None, "degrade", deg_b, _strength(deg_b, i + 1), 7 * i, ARCH, size, "relu3_3")
        )
    templates = [
        compare_a,
        Request(i, "/feature_grid", (p, ARCH, size, layer, k, SORTS[i % 3], SCOPES[i % 2], cmap)),
        Request(i, "/channel", (p, ARCH, size, ch_layer, (i * 37) % ch_count, cmap, (i % 5) / 4)),
        Request(i, "/overview", (q, ARCH, size, CMAPS[(i + 1) % len(CMAPS)])),
        Request(
            i,
            "/gram",
            (p, None if i % 3 == 0 else q, ARCH, size, BLOCKS[i % 5], NORMS[i % 3], 4 + 4 * (i % 32), cmap),
        ),
        compare_b,
    ]
    del templates[len(templates) - 1 if i % 6 == 0 else i % 6]  # five of six; at least one compare
    r = i % len(templates)  # users start on different endpoints
    return (templates[r:] + templates[:r])[:per_client]


def workload(
    images: Sequence[Path], clients: int = 20, per_client: int = 5, size: str = SIZE
) -> list[list[Request]]:
    """One list of requests per client (``size``: the analysis size every request asks for)."""
    if not 1 <= per_client <= 5:
        raise ValueError("per_client must be between 1 and 5")
    return [client_requests(i, images, per_client, size) for i in range(clients)]


# --------------------------------------------------------------------------- serving and calling


def launch_app(
    cache_mb: float | None = None, device: str = "cpu", weights: str = "untrained", limits: Any = None
) -> tuple[Any, Any, str]:
    """(pool, demo, url): the app served in-process as ``app.py`` serves it (untrained VGG16 unless
    ``weights`` says otherwise), on loopback; ``limits`` are the lanes' (default: the device's).

    Close it with :func:`close_app`. Each app keeps its own pool (``build_demo`` holds no module
    state), so two can run side by side in one process.
    """
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool
    from perceptual_viz.ui.serve import launch

    port = free_port()
    pool = ModelPool(ARCH, weights, device, cache_mb=cache_mb)
    demo = build_demo(pool, limits)
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    return pool, demo, f"http://127.0.0.1:{port}/"


def close_app(demo: Any) -> None:
    """Stop an app :func:`launch_app` started (thread-safely: see ``perceptual_viz.ui.serve.close``)."""
    from perceptual_viz.ui.serve import close

    close(demo)


def make_client(url: str, download_dir: Path) -> Any:
    """A ``gradio_client.Client`` with its own download folder (clients never share output files)."""
    from gradio_client import Client

    download_dir.mkdir(parents=True, exist_ok=True)
    return Client(
        url, verbose=False, download_files=str(download_dir), analytics_enabled=False, max_workers=2
    )


def close_clients(clients: Sequence[Any]) -> None:
    """Close ``gradio_client`` clients together. Each ``close`` waits up to 1 s for its heartbeat
    thread (blocked on the server's event stream), so closing 20 one after the other idles 20 s."""
    threads = [threading.Thread(target=c.close, daemon=True) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def call(client: Any, req: Request) -> Any:
    from gradio_client import handle_file

    args = [handle_file(str(a)) if isinstance(a, Path) else a for a in req.args]
    return client.predict(*args, api_name=req.endpoint)


@dataclass
class Outcome:
    request: Request
    seconds: float
    result: Any = None
    error: str | None = None


def run_concurrent(
    url: str, plan: Sequence[Sequence[Request]], download_root: Path, timeout_s: float = 900.0
) -> tuple[list[Outcome], float]:
    """Every client's requests, one thread and one ``Client`` per client, all starting together.

    Returns the outcomes (in plan order) and the wall time. Raises if the run exceeds
    ``timeout_s`` (the threads are daemons, so a stuck server cannot hang the caller forever).
    """
    clients = [make_client(url, download_root / f"client{i:02d}") for i in range(len(plan))]
    results: list[list[Outcome]] = [[] for _ in plan]
    start = threading.Barrier(len(plan) + 1)

    def user(i: int) -> None:
        start.wait(timeout=120)
        for req in plan[i]:
            t0 = time.perf_counter()
            try:
                res = call(clients[i], req)
                results[i].append(Outcome(req, time.perf_counter() - t0, res))
            except Exception as exc:
                msg = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
                results[i].append(Outcome(req, time.perf_counter() - t0, None, msg))

    threads = [
        threading.Thread(target=user, args=(i,), name=f"load-user-{i}", daemon=True) for i in range(len(plan))
    ]
    try:
        for t in threads:
            t.start()
        start.wait(timeout=120)
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        for t in threads:
            t.join(max(0.0, deadline - time.perf_counter()))
        wall = time.perf_counter() - t0
        stuck = [t.name for t in threads if t.is_alive()]
        if stuck:
            raise RuntimeError(f"load run not finished after {timeout_s:.0f} s: {', '.join(stuck)}")
    finally:
        close_clients(clients)
    return [o for r in results for o in r], wall


# --------------------------------------------------------------------------- report


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def summarize(
    outcomes: Sequence[Outcome], wall: float, clients: int, per_client: int, size: str = SIZE
) -> dict[str, Any]:
    rows = {}
    for name in (*ENDPOINTS, "all"):
        mine = [o for o in outcomes if name in ("all", o.request.endpoint)]
        if not mine:
            continue
        secs = [o.seconds for o in mine]
        rows[name] = {
            "requests": len(mine),
            "errors": sum(o.error is not None for o in mine),
            "p50_s": round(percentile(secs, 50), 3),
            "p95_s": round(percentile(secs, 95), 3),
            "max_s": round(max(secs), 3),
        }
    return {
        "clients": clients,
        "requests_per_client": per_client,
        "size": size,
        "requests": len(outcomes),
        "errors": sum(o.error is not None for o in outcomes),
        "error_messages": [f"{o.request}: {o.error}" for o in outcomes if o.error is not None][:10],
        "wall_s": round(wall, 2),
        "throughput_rps": round(len(outcomes) / wall, 3) if wall > 0 else None,
        "endpoints": rows,
    }


def report(summary: dict[str, Any]) -> str:
    head = ["endpoint", "requests", "errors", "p50 (s)", "p95 (s)", "max (s)"]
    body = [
        [
            name,
            str(r["requests"]),
            str(r["errors"]),
            f"{r['p50_s']:.2f}",
            f"{r['p95_s']:.2f}",
            f"{r['max_s']:.2f}",
        ]
        for name, r in summary["endpoints"].items()
    ]
    widths = [max(len(row[c]) for row in (head, *body)) for c in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(
            c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-+-".join("-" * w for w in widths)
    out = [
        f"Load: {summary['clients']} clients × {summary['requests_per_client']} mixed requests, all at once "
        f"(a gradio_client.Client and a thread each; app served as app.py serves it; untrained {ARCH}, "
        f"size {summary.get('size', SIZE)})",
        line(head),
        rule,
        *(line(b) for b in body[:-1]),
        rule,
        line(body[-1]),
        f"{summary['requests']} requests, {summary['errors']} errors, wall {summary['wall_s']:.1f} s, "
        f"throughput {summary['throughput_rps']:.2f} requests/s "
        "(latency = queue wait + compute + transfer, per request)",
    ]
    out += [f"ERROR {m}" for m in summary["error_messages"]]
    return "\n".join(out)


# --------------------------------------------------------------------------- lanes under long jobs


def _timed_overview(client: Any, image: Path) -> float:
    t0 = time.perf_counter()
    call(client, Request(-2, "/overview", (image, ARCH, SIZE, "viridis")))
    return time.perf_counter() - t0


def _reconstructions(url: str, root: Path, n: int, steps: int, px: int) -> tuple[list[Any], list[Any]]:
    """``n`` students pressing Reconstruct with the tab's defaults (content from relu3_3)."""
    from gradio_client import handle_file

    clients = [make_client(url, root / f"long{i}") for i in range(n)]
    jobs = [
        c.submit(
            handle_file(str(SAMPLES / SOURCES[i % len(SOURCES)])),
            "content",
            ["relu3_3"],
            steps,
            px,
            i,
            ARCH,
            api_name="/reconstruct",
        )
        for i, c in enumerate(clients)
    ]
    return clients, jobs


def _stop(clients: Sequence[Any], jobs: Sequence[Any]) -> None:
    for j in jobs:
        j.cancel()
    close_clients(clients)


def _wait_streaming(job: Any, timeout: float = 300.0) -> None:
    t0 = time.monotonic()
    while not job.outputs():
        if job.done() or time.monotonic() - t0 > timeout:
            raise RuntimeError("the first long job never started streaming")
        time.sleep(0.05)


def classroom_run(
    weights: str = "untrained",
    device: str = "cpu",
    n_long: int = 4,
    probes: int = 5,
    steps: int = 200,
    px: int = 128,
    mixed_clients: int = 10,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Interactive latency while long jobs run, against the same idle, in one run.

    A student uploads fresh photos (``/overview`` at 224, so VGG really runs) ``probes`` times
    with the app idle, then again while ``n_long`` students run default reconstructions
    (``steps`` at ``px``; one runs, the others wait in the long lane). Then ``mixed_clients``
    users run the mixed interactive workload while reconstructions run, for its p95.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from perceptual_viz.ui.lanes import LaneLimits

    with tempfile.TemporaryDirectory(prefix="pviz-lanes-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        fresh = make_images(root / "fresh", 2 * probes, 224)
        pool, demo, url = launch_app(device=device, weights=weights)
        limits = LaneLimits.resolve(pool.get(ARCH).device.type)
        out: dict[str, Any] = {"weights": str(pool.get(ARCH).status.message), "limits": limits.describe()}
        viewer = make_client(url, root / "viewer")
        try:
            call(viewer, Request(-1, "/overview", (SAMPLES / WARMUP_SAMPLE, ARCH, SIZE, "viridis")))
            out["idle_s"] = [round(_timed_overview(viewer, im), 3) for im in fresh[:probes]]
            clients, jobs = _reconstructions(url, root, n_long, steps, px)
            try:
                _wait_streaming(jobs[0])
                out["busy_s"] = [round(_timed_overview(viewer, im), 3) for im in fresh[probes:]]
                out["long_jobs_running_throughout"] = not jobs[0].done()
            finally:
                _stop(clients, jobs)
            if mixed_clients:
                images = make_images(root / "mixed", 12)
                plan = workload(images, mixed_clients, 5)
                pool.cache.clear()
                outcomes, wall = run_concurrent(url, plan, root / "mixed-idle")
                out["mixed_alone"] = summarize(outcomes, wall, mixed_clients, 5)
                pool.cache.clear()
                clients, jobs = _reconstructions(url, root / "mixed-long", 2, steps, px)
                try:
                    _wait_streaming(jobs[0])
                    outcomes, wall = run_concurrent(url, plan, root / "mixed")
                finally:
                    _stop(clients, jobs)
                out["mixed"] = summarize(outcomes, wall, mixed_clients, 5)
        finally:
            viewer.close()
            close_app(demo)
    idle, busy = np.median(out["idle_s"]), np.median(out["busy_s"])
    out["ratio"] = round(float(busy / idle), 3)
    out.update(n_long=n_long, steps=steps, px=px, probes=probes)
    return out


def classroom_report(r: dict[str, Any]) -> str:
    lines = [
        f"Interactive under long jobs ({r['limits']}; {r['weights']}):",
        f"  fresh-image /overview at {SIZE}, idle: median {np.median(r['idle_s']):.2f} s {r['idle_s']}",
        f"  same while {r['n_long']} reconstructions ({r['steps']} steps at {r['px']} px) run or wait: "
        f"median {np.median(r['busy_s']):.2f} s {r['busy_s']} → {r['ratio']:.2f}× idle"
        + ("" if r.get("long_jobs_running_throughout", True) else "  (the long job ended early: invalid)"),
    ]
    if "mixed" in r:
        m, a = r["mixed"]["endpoints"]["all"], r["mixed_alone"]["endpoints"]["all"]
        lines.append(
            f"  mixed load, {r['mixed']['clients']} users × 5 interactive requests at once: "
            f"p50 {a['p50_s']:.2f} s, p95 {a['p95_s']:.2f} s alone; beside 2 reconstructions "
            f"p50 {m['p50_s']:.2f} s, p95 {m['p95_s']:.2f} s ({r['mixed']['errors']} errors)"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


def run(
    clients: int = 20,
    per_client: int = 5,
    device: str = "cpu",
    workdir: Path | None = None,
    image_px: int = 224,
    size: str = SIZE,
) -> dict[str, Any]:
    """Launch the app, warm it up, run the workload concurrently; the summary (see :func:`report`).

    ``image_px``, ``size``: the images' side and the analysis size asked for (smaller for a
    smoke run that checks the harness rather than the machine)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with tempfile.TemporaryDirectory(prefix="pviz-load-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        images = make_images(root / "images", 12, size=image_px)
        plan = workload(images, clients, per_client, size)
        pool, demo, url = launch_app(device=device)
        try:
            warm = make_client(url, root / "warmup")
            try:  # first forward pass, first PNG encodes: not part of the measurement
                call(
                    warm,
                    Request(
                        -1, "/channel", (SAMPLES / WARMUP_SAMPLE, ARCH, SIZE, "relu3_3", 0, "viridis", 0.5)
                    ),
                )
            finally:
                warm.close()
            pool.cache.clear()
            outcomes, wall = run_concurrent(url, plan, root / "clients")
        finally:
            close_app(demo)
    return summarize(outcomes, wall, clients, per_client, size)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The app under concurrent load (in-process, offline).")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--requests", type=int, default=5, help="requests per client (1–5)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument(
        "--classroom",
        action="store_true",
        help="instead: interactive latency while default reconstructions run, vs idle",
    )
    p.add_argument(
        "--class",
        dest="class_n",
        type=int,
        metavar="N",
        help="instead: a class of N students in four phases, the app in its own process (see classload.py)",
    )
    p.add_argument("--no-check", action="store_true", help="for --class: skip the alone-vs-class comparison")
    p.add_argument("--weights", default="untrained", help="for --classroom, --class: untrained | auto | PATH")
    args = p.parse_args(argv)
    if args.class_n:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import classload  # type: ignore[import-not-found]

        return int(classload.main(args.class_n, args.weights, check=not args.no_check))
    if args.classroom:
        r = classroom_run(args.weights, args.device, mixed_clients=args.clients // 2)
        print(classroom_report(r))
        return 1 if r.get("mixed", {}).get("errors") else 0
    summary = run(args.clients, args.requests, args.device)
    print(report(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
