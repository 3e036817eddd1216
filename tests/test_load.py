"""The app under a full classroom: many users at once get exactly their own results, and memory
stays flat while the shared feature cache churns through new images.

The workload (20 users × 5 mixed requests, each user with its own images and its own
``gradio_client.Client``) is the one ``benchmarks/load.py`` times, imported from there so that
both always exercise the same thing. Everything runs in-process on loopback, offline, with
untrained weights. Latencies are printed (``pytest -s``), never asserted.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import math
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from perceptual_viz.export import read_bundle

from .support import import_benchmark, serve

gradio_client = pytest.importorskip("gradio_client")


load = import_benchmark("load")

PER_CLIENT = 5
# The CI run and the soak (``python -m pytest -m soak``): the same users and requests, the soak
# on full-size images. Small images change no concurrency or isolation property; they make a
# forward pass ~5× cheaper.
QUICK = {"clients": 8, "image_px": 96, "size": "original"}
SOAK = {"clients": 20, "image_px": 224, "size": load.SIZE}
SCALES = [pytest.param(QUICK, id="quick"), pytest.param(SOAK, id="soak", marks=pytest.mark.soak)]
# Scores may differ in their last float bits between a request computed alone and the same
# request under load: a clean image's activations can come from a batch of 2 (clean + degraded,
# computed together) in one run and from a batch of 1 (cached by another request) in the other,
# and batched convolutions round differently. That is ~1e-7 relative. Cross-talk between users
# (another image's features, another degradation) would change scores by orders of magnitude
# more, so 1e-5 separates the two cleanly.
REL = 1e-5
TIMING = re.compile(r" in \d+ ms")  # compare's info line says how long it took
NUMBER = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")


# --------------------------------------------------------------------------- comparing results


def _last_digit(s: str) -> float:
    """The value of one unit in the last printed digit of a number string ("0.155" → 0.001)."""
    mant, _, exp = s.lower().partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 10.0 ** (int(exp or 0) - decimals)


def _same_text(a: str, b: str) -> bool:
    """Equal text; printed numbers may differ by one unit in their last digit (or by REL)."""
    pa, pb = NUMBER.split(TIMING.sub("", a)), NUMBER.split(TIMING.sub("", b))
    if len(pa) != len(pb):
        return False
    for j, (x, y) in enumerate(zip(pa, pb, strict=True)):
        if x == y:
            continue
        if j % 2 == 0:  # text between numbers must match exactly
            return False
        fx, fy = float(x), float(y)
        if abs(fx - fy) > 1.001 * max(_last_digit(x), _last_digit(y)) + REL * abs(fx):
            return False
    return True


def _pixels(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.int16)


def _is_image_file(v: Any) -> bool:
    return isinstance(v, str) and v.lower().endswith(IMAGE_SUFFIXES) and Path(v).is_file()


def _is_zip_file(v: Any) -> bool:
    return isinstance(v, str) and v.lower().endswith(".zip") and Path(v).is_file()


def _bundle(path: str) -> dict[str, Any]:
    """An export zip as comparable values: its record (without creation time) and its pixels."""
    record, pics = read_bundle(path)
    record.pop("created")
    return {"record": record, "pixels": {n: np.asarray(p, dtype=np.int16) for n, p in pics.items()}}


def _differences(got: Any, ref: Any, where: str = "") -> list[str]:
    """Where ``got`` differs from ``ref`` beyond the tolerances (empty: the same result)."""
    if isinstance(got, np.ndarray) and isinstance(ref, np.ndarray):
        if got.shape != ref.shape:
            return [f"{where}: picture {got.shape} vs {ref.shape}"]
        diff = int(np.abs(got - ref).max())
        return [] if diff <= 1 else [f"{where}: pixels differ by up to {diff}"]
    if _is_zip_file(got) and _is_zip_file(ref):  # the export bundle of /compare
        return _differences(_bundle(got), _bundle(ref), f"{where}(zip)")
    if _is_image_file(got) and _is_image_file(ref):
        a, b = _pixels(got), _pixels(ref)
        if a.shape != b.shape:
            return [f"{where}: picture {a.shape} vs {b.shape}"]
        diff = int(np.abs(a - b).max())
        return [] if diff <= 1 else [f"{where}: pixels differ by up to {diff}"]
    if isinstance(got, dict) and isinstance(ref, dict):
        if set(got) != set(ref):
            return [f"{where}: keys {sorted(got)} vs {sorted(ref)}"]
        out = []
        for k in ref:
            if k == "seconds":  # compare's own timing
                continue
            out += _differences(got[k], ref[k], f"{where}.{k}")
        return out
    if isinstance(got, list | tuple) and isinstance(ref, list | tuple):
        if len(got) != len(ref):
            return [f"{where}: {len(got)} items vs {len(ref)}"]
        out = []
        for j, (x, y) in enumerate(zip(got, ref, strict=True)):
            out += _differences(x, y, f"{where}[{j}]")
        return out
    if isinstance(got, bool) or isinstance(ref, bool) or got is None or ref is None:
        return [] if got == ref else [f"{where}: {got!r} vs {ref!r}"]
    if isinstance(got, int) and isinstance(ref, int):
        return [] if got == ref else [f"{where}: {got} vs {ref}"]
    if isinstance(got, int | float) and isinstance(ref, int | float):
        if math.isclose(got, ref, rel_tol=REL, abs_tol=1e-12):
            return []
        return [
            f"{where}: {got!r} vs {ref!r} (relative difference {abs(got - ref) / max(abs(ref), 1e-300):.1e})"
        ]
    if isinstance(got, str) and isinstance(ref, str):
        return [] if _same_text(got, ref) else [f"{where}: {got!r} vs {ref!r}"]
    return [] if got == ref else [f"{where}: {got!r} vs {ref!r}"]


def _key(req) -> tuple:
    return (req.endpoint, req.args)


# --------------------------------------------------------------------------- isolation


@pytest.mark.slow
@pytest.mark.parametrize("scale", SCALES)
def test_concurrent_users_get_exactly_their_own_results(served, tmp_path, scale):
    pool, url = served.pool, served.url
    images = load.make_images(tmp_path / "images", 12, size=scale["image_px"])
    assert len({load.content_hash(p) for p in images}) == len(images), "the test images must all differ"
    clients = scale["clients"]
    plan = load.workload(images, clients, PER_CLIENT, scale["size"])
    requests = [r for reqs in plan for r in reqs]
    assert len(requests) == clients * PER_CLIENT
    assert {r.endpoint for r in requests} == set(load.ENDPOINTS)
    assert len({tuple(sorted({a for a in r.args if isinstance(a, Path)})) for r in requests}) > 12

    # 1. Every distinct request alone, one after another, each on a cold cache.
    reference: dict[tuple, Any] = {}
    alone: list[float] = []
    ref_client = load.make_client(url, tmp_path / "reference")
    try:
        for req in requests:
            if _key(req) in reference:
                continue
            pool.cache.clear()
            t0 = time.perf_counter()
            reference[_key(req)] = load.call(ref_client, req)
            alone.append(time.perf_counter() - t0)
    finally:
        ref_client.close()

    # The comparison below is not vacuous: two users' compare results differ far beyond it.
    compares = [r for r in requests if r.endpoint == "/compare"]
    other = next(r for r in compares if r.args[0] != compares[0].args[0])
    assert _differences(reference[_key(compares[0])], reference[_key(other)])

    # 2. All of them at once: 20 threads, 20 clients; the cache starts cold again, so features
    # are computed under load and then shared (and evicted) between concurrent requests.
    pool.cache.clear()
    outcomes, wall = load.run_concurrent(url, plan, tmp_path / "concurrent", timeout_s=900)
    summary = load.summarize(outcomes, wall, clients, PER_CLIENT, scale["size"])
    print()
    print(
        f"alone (sequential, cold cache): {len(alone)} requests, p50 {np.percentile(alone, 50):.2f} s, "
        f"p95 {np.percentile(alone, 95):.2f} s"
    )
    print(load.report(summary))

    errors = [f"{o.request}: {o.error}" for o in outcomes if o.error is not None]
    assert not errors, "\n".join(errors)
    assert len(outcomes) == len(requests)
    mismatches = []
    for o in outcomes:
        diffs = _differences(o.result, reference[_key(o.request)], "result")
        if diffs:
            mismatches.append(f"{o.request}:\n    " + "\n    ".join(diffs[:5]))
    assert not mismatches, f"{len(mismatches)} results differ from the same request alone:\n" + "\n".join(
        mismatches[:10]
    )
    # the scores are really there and were compared (not, say, an empty JSON)
    scores = [o.result[6] for o in outcomes if o.request.endpoint == "/compare"]
    assert scores and all({"mse", "ssim", "psnr", "perceptual", "style", "lpips"} <= set(s) for s in scores)
    assert pool.cache.nbytes <= pool.cache.max_bytes
    pool.cache.clear()  # the next test measures memory: leave nothing behind


# --------------------------------------------------------------------------- memory


def _rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory in MB (the app runs in-process), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"{field} not in /proc/self/status")


def _trim() -> bool:
    """Hand memory that is already free back to the OS (glibc ``malloc_trim``); False if unavailable.

    glibc keeps freed blocks in per-thread arenas, so the raw RSS of a process whose threads
    allocate ~50 MB of activations per request wobbles by ±50 MB from one moment to the next.
    After a trim, RSS is (nearly) the memory still in use: a leak of live objects still shows
    in full, the allocator's idle reserve does not.
    """
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim(0) in (0, 1)
    except (OSError, AttributeError):
        return False


def _settled_rss_mb() -> tuple[float, float]:
    """(raw RSS, RSS after gc and a trim), in MB."""
    gc.collect()
    raw = _rss_mb()
    _trim()
    return raw, _rss_mb()


def _shifted_crops(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` distinct ``size``² crops of the bundled photos at shifting offsets, deterministic."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for name in ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"):
        with Image.open(load.SAMPLES / name) as im:
            photos.append(im.convert("RGB"))
    out = []
    for i in range(n):
        im = photos[i % len(photos)]
        ox, oy = (i * 13) % (im.width - size), (i * 7) % (im.height - size)
        path = folder / f"crop_{i:03d}.png"
        im.crop((ox, oy, ox + size, oy + size)).save(path)
        out.append(path)
    return out


CHANNEL_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")


@pytest.mark.slow
@pytest.mark.parametrize(
    "scale",
    [
        pytest.param({"n": 40, "warmup": 16, "px": 128, "size": "original", "cache_mb": 30}, id="quick"),
        pytest.param(
            {"n": 200, "warmup": 40, "px": 224, "size": "224", "cache_mb": 96},
            id="soak",
            marks=pytest.mark.soak,
        ),
    ],
)
def test_memory_plateaus_while_the_cache_churns(tmp_path, monkeypatch, scale):
    """``n`` requests on ``n`` new images, with a cache smaller than two images' activations.

    Every request runs VGG on a new image and the cache evicts continuously. After a warm-up
    (allocator pools, Gradio's first responses), resident memory must stay flat: a leak of one
    image's activations per request would add several GB.
    """
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # uploads and outputs land here
    n, warmup, size = scale["n"], scale["warmup"], scale["size"]
    images = _shifted_crops(tmp_path / "crops", n, scale["px"])
    hashes = set()
    for p in images:
        hashes.add(hashlib.sha256(p.read_bytes()).hexdigest())
    assert len(hashes) == n

    clients: list[Any] = []
    errors: list[str] = []

    def student(j: int, part: list[tuple[int, Path]]) -> None:
        for i, path in part:
            layer = CHANNEL_LAYERS[i % len(CHANNEL_LAYERS)]
            req = load.Request(j, "/channel", (path, "vgg16", size, layer, i % 64, "viridis", 0.5))
            try:
                _, _, stats = load.call(clients[j], req)
                if stats["layer"] != layer or stats["channel"] != i % 64:
                    errors.append(f"{req}: wrong stats {stats}")
            except Exception as exc:
                errors.append(f"{req}: {type(exc).__name__}: {exc}")

    def batch(indices: range) -> None:
        """These images through two concurrent users (the queue's two workers), bounded in time."""
        parts = [[(i, images[i]) for i in indices if i % 2 == j] for j in range(2)]
        threads = [threading.Thread(target=student, args=(j, parts[j]), daemon=True) for j in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads), "requests did not finish within 600 s"

    with serve(cache_mb=scale["cache_mb"]) as app:
        pool = app.pool
        try:
            clients += [load.make_client(app.url, tmp_path / f"downloads{j}") for j in range(2)]
            model = pool.get("vgg16")
            t0 = time.perf_counter()
            forwards0 = model.forward_count
            batch(range(warmup))
            raw_warm, rss_warm = _settled_rss_mb()
            batch(range(warmup, n))
            raw_end, rss_end = _settled_rss_mb()
            seconds = time.perf_counter() - t0
            forwards = model.forward_count - forwards0
        finally:
            load.close_clients(clients)

    growth, raw_growth = rss_end - rss_warm, raw_end - raw_warm
    cache_mb, budget_mb = pool.cache.nbytes / 2**20, pool.cache.max_bytes / 2**20
    print()
    print(
        f"memory: {n} requests on {n} new images in {seconds:.1f} s ({forwards} VGG forward passes); "
        f"RSS after {warmup}: {rss_warm:.0f} MB (raw {raw_warm:.0f}), after {n}: {rss_end:.0f} MB "
        f"(raw {raw_end:.0f}); growth over the last {n - warmup}: {growth:+.0f} MB (raw {raw_growth:+.0f}); "
        f"peak {_rss_mb('VmHWM'):.0f} MB; cache {cache_mb:.1f} of {budget_mb:.0f} MB "
        f"({len(pool.cache)} tensors)"
    )
    assert not errors, "\n".join(errors[:10])
    assert forwards >= n, "every new image must run VGG (otherwise this test measures nothing)"
    assert pool.cache.nbytes <= pool.cache.max_bytes
    assert growth < 150, f"resident memory grew by {growth:.0f} MB over {n - warmup} requests"
    # Without the trim the allocator's reserve adds noise, but must not grow without bound either.
    assert raw_growth < 300, f"raw resident memory grew by {raw_growth:.0f} MB over {n - warmup} requests"
