"""A classroom at once, through the real app: quick views never wait behind anyone's long job or
behind a backbone that is loading, and one person holds at most one long job.

Ordering is asserted, never speed: "every quick request finished before the long job running
when it was sent", which fails as soon as a quick request has to queue behind a long one.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch

from perceptual_viz.backbone import load_vgg
from perceptual_viz.ui import models
from perceptual_viz.ui.lanes import REPLACED, LaneLimits

from .support import CHELSEA, import_benchmark, serve

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.utils import Status  # noqa: E402

load = import_benchmark("load")
pytestmark = pytest.mark.slow
# The lanes' torch threads: this process's share of the cores (one under the suite's xdist).
THREADS = torch.get_num_threads()


def _reconstruction(client, seed: int, steps: int = 300, px: int = 96):
    return client.submit(
        handle_file(str(CHELSEA)), "content", ["relu3_3"], steps, px, seed, "vgg16", api_name="/reconstruct"
    )


def _wait_until(pred, timeout: float = 60.0, what: str = "condition") -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def classroom():
    """The app with a CPU's lanes: 2 interactive requests at once, 1 long job at once."""
    with serve(LaneLimits(interactive=2, long=1, long_threads=1, interactive_threads=THREADS)) as app:
        yield app.pool, app.url


def test_quick_views_never_wait_for_long_jobs(classroom, tmp_path):
    _, url = classroom
    images = load.make_images(tmp_path / "images", 4, size=160)  # each new: VGG really runs
    students = [load.make_client(url, tmp_path / f"student{i}") for i in range(3)]
    viewer = load.make_client(url, tmp_path / "viewer")
    jobs = []
    try:
        # Three students press Reconstruct: one job runs, two wait in the long lane.
        jobs = [_reconstruction(c, seed=i, steps=120) for i, c in enumerate(students)]
        _wait_until(lambda: any(j.outputs() for j in jobs), what="a reconstruction to stream")
        running = next(j for j in jobs if j.outputs())
        waiting = [j for j in jobs if j is not running]
        ranks: dict[int, set[int]] = {0: set(), 1: set()}
        done: dict[str, float] = {}

        def watch() -> None:  # the queue tells the waiting students where they stand
            while not running.done():
                for i, job in enumerate(waiting):
                    st = job.status()
                    if st.code == Status.IN_QUEUE and st.rank is not None:
                        ranks[i].add(st.rank)
                time.sleep(0.05)
            done["long job"] = time.monotonic()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        # Meanwhile another student browses: new images, a grid, a comparison.
        finished: list[tuple[str, float]] = []
        for img in images:
            load.call(viewer, load.Request(9, "/overview", (img, "vgg16", "224", "viridis")))
            finished.append(("/overview", time.monotonic()))
        grid = (images[0], "vgg16", "224", "relu4_3", 16, "max", "layer", "magma")
        load.call(viewer, load.Request(9, "/feature_grid", grid))
        finished.append(("/feature_grid", time.monotonic()))
        pair = (images[1], None, "degrade", "blur", 2.0, 0, "vgg16", "224", "relu2_2")
        load.call(viewer, load.Request(9, "/compare", pair))
        finished.append(("/compare", time.monotonic()))
        assert not running.done(), "the long job must still run for this test to mean anything"
        watcher.join(180)
        late = [name for name, t in finished if t >= done["long job"]]
        assert not late, f"quick requests waited for a long job: {late}"
        assert ranks[0] and ranks[1], f"each waiting long job is told its place in the queue: {ranks}"
        assert ranks[0] | ranks[1] == {0, 1}, f"two jobs wait, one behind the other: {ranks}"
        assert "step 120/120" in running.outputs()[-1][2]
    finally:
        for job in jobs:
            job.cancel()
        load.close_clients([*students, viewer])


def test_a_backbone_switch_does_not_delay_anyone_else(classroom, monkeypatch, tmp_path):
    """VGG19's weights take 4 s to resolve (a slow network, say): the student who switched sees
    that it is loading; another student browsing VGG16 meanwhile is not delayed at all."""
    pool, url = classroom
    assert not pool.is_ready("vgg19")
    real = load_vgg

    def slow_load(arch, weights="auto", device="auto", **kw):
        if arch == "vgg19":
            time.sleep(4.0)
        return real(arch, "untrained", device, **kw)

    monkeypatch.setattr(models, "load_vgg", slow_load)
    switcher = load.make_client(url, tmp_path / "switcher")
    browser = load.make_client(url, tmp_path / "browser")
    try:
        # Warm the browsing student's image first: their views are then cache hits.
        args = (CHELSEA, "vgg16", "224", "relu1_2", 16, "mean", "channel", "viridis")
        load.call(browser, load.Request(1, "/feature_grid", args))
        switch = switcher.submit("vgg19", api_name="/status")
        _wait_until(lambda: len(switch.outputs()) >= 1, what="the loading message")
        assert "Loading vgg19" in switch.outputs()[0]
        finished = []
        for layer in ("relu2_2", "relu3_3", "pool4", "relu5_3", "conv1_1"):
            req = load.Request(
                1, "/feature_grid", (CHELSEA, "vgg16", "224", layer, 9, "max", "layer", "gray")
            )
            load.call(browser, req)
            finished.append(time.monotonic())
        status = switch.result()
        t_loaded = time.monotonic()
        assert "vgg19" in status and "Loading" not in status
        assert all(t < t_loaded for t in finished), "VGG16 requests waited for VGG19's weights"
    finally:
        load.close_clients([switcher, browser])


def test_one_long_job_per_person(tmp_path):
    """With room for two long jobs at once (a GPU), a student's second job replaces their first;
    another student's job is untouched."""
    with serve(LaneLimits(interactive=2, long=2, long_threads=1, interactive_threads=THREADS)) as app:
        a = load.make_client(app.url, tmp_path / "a")
        b = load.make_client(app.url, tmp_path / "b")
        try:
            first = _reconstruction(a, seed=0, steps=400)
            other = _reconstruction(b, seed=1, steps=40, px=64)
            _wait_until(lambda: len(first.outputs()) >= 2, what="the first job to stream")
            second = _reconstruction(a, seed=2, steps=40, px=64)
            info_first = first.result()[2]
            assert f"({REPLACED})" in info_first and "stopped at step" in info_first
            assert "step 40/40" in second.result()[2]
            assert "step 40/40" in other.result()[2]
        finally:
            load.close_clients([a, b])
