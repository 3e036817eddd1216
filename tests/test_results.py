"""One computation per distinct request, for the whole class (``perceptual_viz.ui.results``).

These tests count work, never time: forward passes (the feature cache's misses), renders (calls
of the figure functions) and computations of the result cache, with N students' identical
requests arriving together from N threads through the same callables Gradio runs.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from perceptual_viz.assets import sample
from perceptual_viz.figures import compare as fc
from perceptual_viz.figures import features as ff
from perceptual_viz.ui.lanes import FairSlots
from perceptual_viz.ui.results import ResultCache, result_bytes

N = 12  # students asking together


# --------------------------------------------------------------------------- the cache alone


def _together(n: int, fn: Any) -> list[Any]:
    """``fn(i)`` from ``n`` threads released at once; their results (exceptions re-raised)."""
    start = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        start.wait(10)
        try:
            out[i] = fn(i)
        except BaseException as exc:  # handed back to the test
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_identical_concurrent_requests_compute_once_and_share_the_result():
    cache = ResultCache(2**20)
    calls = []

    def compute() -> tuple[str, int]:
        calls.append(1)
        time.sleep(0.3)  # long enough that every other thread arrives while it runs
        return ("picture", 42)

    got = _together(N, lambda i: cache.get_or_compute("k", compute))
    assert len(calls) == 1
    assert all(g is got[0] for g in got)  # the very same result object
    assert cache.misses == 1 and cache.joined + cache.hits == N - 1 and cache.joined > 0


def test_an_error_is_shared_by_the_waiting_requests_and_never_kept():
    cache = ResultCache(2**20)
    calls = []

    def fail() -> None:
        calls.append(1)
        time.sleep(0.3)
        raise ValueError("bad image")

    got = _together(6, lambda i: cache.get_or_compute("k", fail))
    assert len(calls) == 1 and all(isinstance(g, ValueError) for g in got)
    assert len(cache) == 0
    assert cache.get_or_compute("k", lambda: "fine") == "fine"  # the next request computes again


def test_the_cache_stays_within_its_byte_budget_and_keeps_pinned_entries(tmp_path: Path):
    files = []
    for i in range(8):
        f = tmp_path / f"p{i}.png"
        f.write_bytes(os.urandom(10_000))
        files.append(str(f))
    cache = ResultCache(35_000)
    with cache.pinning():
        cache.get_or_compute("pinned", lambda: (files[0], "a default view"))
    for i in range(1, 8):
        cache.get_or_compute(f"k{i}", lambda i=i: (files[i], f"caption {i}"))
        assert cache.nbytes <= cache.max_bytes
    assert cache.nbytes == sum(result_bytes(e.value) for e in cache._data.values())
    assert "pinned" in cache._data and "k7" in cache._data and "k1" not in cache._data
    assert result_bytes((files[0], files[0], "ab")) == 10_000 + 2 * len(files[0]) + 2 + 16  # its bytes once


def test_a_result_whose_file_was_cleaned_up_is_computed_again(tmp_path: Path):
    f = tmp_path / "grid.png"
    f.write_bytes(b"png")
    cache = ResultCache(2**20)
    calls = []

    def compute() -> str:
        calls.append(1)
        f.write_bytes(b"png")
        return str(f)

    cache.get_or_compute("k", compute)
    os.utime(f, (0, 0))  # long ago
    cache.get_or_compute("k", compute)
    assert f.stat().st_mtime > 0  # handed out again: touched, so the clean-up does not age it out
    f.unlink()  # Gradio's delete_cache removed it
    assert cache.get_or_compute("k", compute) == str(f) and len(calls) == 2


def test_keys_follow_content_not_paths_and_numbers_not_their_spelling(tmp_path: Path):
    a, b, c = tmp_path / "a.png", tmp_path / "copy" / "a.png", tmp_path / "c.png"
    b.parent.mkdir()
    a.write_bytes(b"same pixels")
    b.write_bytes(b"same pixels")
    c.write_bytes(b"other pixels")
    cache = ResultCache(2**20)
    key = lambda img, k: cache.key("grid", "vgg16|w", {"image": str(img), "k": k}, {"image"})  # noqa: E731
    assert key(a, 16) == key(b, 16.0)  # another upload of the same file; a slider's 16.0
    assert key(a, 16) != key(c, 16) and key(a, 16) != key(a, 17)
    assert cache.key("grid", "vgg19|w", {"image": str(a), "k": 16}, {"image"}) != key(a, 16)


def test_fair_slots_serve_first_come_first_served():
    slots = FairSlots(1)
    order: list[int] = []
    gate = threading.Event()

    def holder() -> None:
        with slots:
            gate.wait(10)

    first = threading.Thread(target=holder)
    first.start()
    time.sleep(0.05)

    def waiter(i: int) -> None:
        with slots:
            order.append(i)

    threads = []
    for i in range(6):  # each joins the line after the previous one is in it
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while slots.waiting < i + 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    gate.set()
    for t in [first, *threads]:
        t.join(10)
    assert order == list(range(6))


# --------------------------------------------------------------------------- the app's endpoints


@pytest.fixture(scope="module")
def app():
    """The app's Blocks and context (untrained VGG16, CPU), not served: its event functions are
    called directly, as Gradio's workers call them."""
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool

    pool = ModelPool("vgg16", "untrained", "cpu")
    demo = build_demo(pool)
    return demo, demo.ctx


def _fn(demo: Any, api_name: str) -> Any:
    (fn,) = [f.fn for f in demo.fns.values() if f.api_name == api_name]
    return fn


class Counting:
    """Counts calls of a figure function (the renders)."""

    def __init__(self, fn: Any) -> None:
        self.fn, self.calls = fn, 0
        self._lock = threading.Lock()

    def __call__(self, *a: Any, **kw: Any) -> Any:
        with self._lock:
            self.calls += 1
        return self.fn(*a, **kw)


def _fresh(ctx: Any) -> None:
    ctx.results.clear()
    ctx.cache.clear()


def test_a_class_asking_for_the_same_overview_costs_one_forward_and_one_render(app, monkeypatch):
    demo, ctx = app
    _fresh(ctx)
    render = Counting(ff.overview)
    monkeypatch.setattr(ff, "overview", render)
    forwards = ctx.cache.misses
    cat = str(sample("chelsea.png"))
    got = _together(N, lambda i: _fn(demo, "overview")(cat, "vgg16", "224", "viridis"))
    assert not [g for g in got if isinstance(g, BaseException)], got
    assert ctx.cache.misses - forwards == 1  # one image through VGG, once
    assert render.calls == 1
    assert all(g[0] == got[0][0] for g in got)  # everyone sees the same pictures


def test_the_same_layer_change_from_a_class_renders_once(app, monkeypatch):
    demo, ctx = app
    cat = str(sample("chelsea.png"))
    _fn(demo, "overview")(cat, "vgg16", "224", "viridis")  # the features are there already
    render = Counting(ff.grid)
    monkeypatch.setattr(ff, "grid", render)
    forwards = ctx.cache.misses
    grid = _fn(demo, "feature_grid")
    for layer in ("relu4_3", "relu2_2"):
        got = _together(
            N,
            lambda i, layer=layer: grid(
                cat, "vgg16", "224", layer, 16 if i % 2 else 16.0, "mean", "channel", "viridis"
            ),
        )
        assert not [g for g in got if isinstance(g, BaseException)], got
    assert render.calls == 2 and ctx.cache.misses == forwards
    # another setting is another result
    grid(cat, "vgg16", "224", "relu2_2", 9, "mean", "channel", "viridis")
    assert render.calls == 3


def test_a_view_change_brings_the_new_grids_tile_layout_for_keyboard_users(app):
    """The page's view change returns the grid's layout with it: a layout chained on the state
    never fired after a view change, so keyboard users got the first layer's tiles."""
    import json
    import re

    demo, _ = app
    cat = str(sample("chelsea.png"))
    change = _fn(demo, "ui_view_change")
    for layer, k in (("relu4_3", 9), ("conv1_2", 25)):
        out = change(cat, "vgg16", "224", layer, k, "mean", "channel", "viridis", 0.6, None)
        spec = json.loads(re.search(r"data-grid='([^']*)'", out[-1]).group(1))
        assert spec["layer"] == layer and out[3]["layer"] == layer
        assert len(out[3]["channels"]) == k


def test_a_seed_splits_the_cache_only_for_degradations_that_use_it(app, monkeypatch):
    demo, _ = app
    render = Counting(fc.compare)
    monkeypatch.setattr(fc, "compare", render)
    compare = _fn(demo, "compare")
    cat = str(sample("chelsea.png"))
    args = lambda deg, s, seed: (cat, None, "degrade", deg, s, seed, "vgg16", "224", "relu2_2")  # noqa: E731
    jpeg = [compare(*args("jpeg", 17, seed)) for seed in (0, 3, 11)]
    assert render.calls == 1 and jpeg[0][6] == jpeg[2][6]  # the same scores for any seed
    noise = [compare(*args("noise", 0.07, seed)) for seed in (1, 2)]
    assert render.calls == 3 and noise[0][6]["mse"] != noise[1][6]["mse"]
    compare(*args("noise", 0.07, 2))
    assert render.calls == 3


def test_the_bundled_samples_default_views_are_ready_before_anyone_asks(app, monkeypatch):
    demo, ctx = app
    _fresh(ctx)
    registered = {getattr(fn, "__name__", "") for fn, _ in ctx.defaults}
    assert {"overview", "_grid_and_channel", "compare", "gram", "gram_pair"} <= registered
    assert {args[0] for fn, args in ctx.defaults if fn.__name__ == "overview"} == set(ctx.samples)
    cat = str(sample("chelsea.png"))  # one sample's defaults prove the mechanism (all: ~10 s)
    monkeypatch.setattr(ctx, "defaults", [(fn, args) for fn, args in ctx.defaults if args[0] == cat])
    assert ctx.precompute() == len(ctx.defaults) >= 5
    assert ctx.results.stats()["pinned"] == len(ctx.defaults)
    monkeypatch.setattr(ff, "overview", Counting(ff.overview))
    monkeypatch.setattr(ff, "grid", Counting(ff.grid))
    monkeypatch.setattr(fc, "compare", Counting(fc.compare))
    forwards = ctx.cache.misses
    # what a student's page asks for first: the overview, the default views, a Compare example
    _fn(demo, "ui_image")(cat, "vgg16", "224", "viridis")
    _fn(demo, "ui_views")(cat, "vgg16", "224", "relu3_3", 16, "mean", "channel", "viridis", 0.6, None)
    _fn(demo, "compare")(cat, None, "degrade", "jpeg", 10.0, 5, "vgg16", "224", "relu2_2")
    assert ff.overview.calls == ff.grid.calls == fc.compare.calls == 0
    assert ctx.cache.misses == forwards
    assert ctx.precompute() == 0  # nothing left to compute


def test_a_request_waiting_in_the_interactive_lane_is_told_its_place_and_an_estimate(served, tmp_path):
    """When a class overloads the CPU, a waiting request hears its place in line (rank) and,
    once the lane has served one, an estimate: what the page shows in its status tracker."""
    import numpy as np
    from gradio_client import Client, handle_file
    from PIL import Image

    rng = np.random.default_rng(0)
    images = []
    for i in range(5):  # fresh photos: every request really runs VGG
        path = tmp_path / f"own{i}.png"
        Image.fromarray(rng.integers(0, 255, (160, 240, 3), dtype=np.uint8)).save(path)
        images.append(path)
    clients = [Client(served.url, verbose=False, download_files=str(tmp_path / f"c{i}")) for i in range(5)]
    try:
        first = clients[0].submit(
            handle_file(str(images[0])), "vgg16", "256", "viridis", api_name="/overview"
        )
        first.result(timeout=120)  # the lane has served one: estimates exist from now on
        jobs = [
            c.submit(handle_file(str(p)), "vgg16", "256", "viridis", api_name="/overview")
            for c, p in zip(clients[1:], images[1:], strict=True)
        ]
        seen = []
        deadline = time.monotonic() + 120
        while not all(j.done() for j in jobs) and time.monotonic() < deadline:
            for j in jobs:  # they join in any order: two run, the others wait
                st = j.status()
                if st.code.name == "IN_QUEUE" and st.rank is not None:
                    seen.append((st.rank, st.eta))
            time.sleep(0.02)
        for j in jobs:
            j.result(timeout=120)
    finally:
        for c in clients:
            c.close()
    assert seen, "no request ever waited in line"
    assert any(rank >= 1 for rank, _ in seen)  # behind others, and told so
    assert any(eta is not None and eta > 0 for _, eta in seen)
