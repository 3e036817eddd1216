"""Lanes and the model pool: quick work never waits for long work or for a backbone's loading."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from perceptual_viz.backbone import load_vgg
from perceptual_viz.ui import models
from perceptual_viz.ui.lanes import REPLACED, STOPPED, JobStopped, LaneLimits, Lanes, progress_checkpoint
from perceptual_viz.ui.models import BackboneLoading, ModelPool


def _in_thread(fn, *args):
    out: dict[str, object] = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


# --------------------------------------------------------------------------- limits


def test_limits_follow_device_env_and_flags(monkeypatch):
    for env in ("PERCEPTUAL_VIZ_CONCURRENCY", "PERCEPTUAL_VIZ_LONG_JOBS", "PERCEPTUAL_VIZ_LONG_THREADS"):
        monkeypatch.delenv(env, raising=False)
    cpu, gpu = LaneLimits.resolve("cpu"), LaneLimits.resolve("cuda")
    assert (cpu.interactive, cpu.long) == (2, 1) and (gpu.interactive, gpu.long) == (8, 2)
    assert cpu.long_threads == max(1, torch.get_num_threads() // 2)
    monkeypatch.setenv("PERCEPTUAL_VIZ_LONG_JOBS", "3")
    monkeypatch.setenv("PERCEPTUAL_VIZ_CONCURRENCY", "5")
    assert (LaneLimits.resolve("cpu").interactive, LaneLimits.resolve("cpu").long) == (5, 3)
    assert LaneLimits.resolve("cpu", long="1").long == 1  # a flag wins over the environment
    with pytest.raises(ValueError, match="long-job concurrency must be at least 1"):
        LaneLimits.resolve("cpu", long="0")
    with pytest.raises(ValueError, match="whole number"):
        LaneLimits.resolve("cpu", interactive="lots")


def test_events_name_their_group_and_limit():
    lanes = Lanes(LaneLimits(interactive=3, long=1))
    assert lanes.events("interactive") == {"concurrency_id": "interactive", "concurrency_limit": 3}
    assert lanes.events("long") == {"concurrency_id": "long", "concurrency_limit": 1}
    assert lanes.events("loader") == {"concurrency_id": "loader", "concurrency_limit": None}
    assert lanes.events("view") == {"queue": False}  # bounded by the lanes' own slots instead
    with pytest.raises(ValueError, match="unknown lane"):
        lanes.events("fast")


def test_interactive_requests_off_the_queue_still_respect_the_limit():
    lanes = Lanes(LaneLimits(interactive=2))
    running, most = [0], [0]
    lock = threading.Lock()

    def request():
        with lanes.interactive():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.1)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert most[0] == 2 and lanes.interactive_running == 0


# --------------------------------------------------------------------------- CPU share


def test_a_long_job_gives_way_while_interactive_work_runs():
    lanes = Lanes(LaneLimits(max_pause_s=5.0))
    entered, release = threading.Event(), threading.Event()

    def interactive_request():
        with lanes.interactive():
            entered.set()
            release.wait(5)

    t, _ = _in_thread(interactive_request)
    entered.wait(5)
    with lanes.long_job("s1", "test") as job:
        waited, _ = _in_thread(job.should_stop)
        time.sleep(0.3)
        assert waited.is_alive(), "the long job must wait while an interactive request runs"
        release.set()
        waited.join(5)
        assert not waited.is_alive()
    t.join(5)


def test_a_long_job_is_slowed_never_starved():
    lanes = Lanes(LaneLimits(max_pause_s=0.2))
    with lanes.interactive(), lanes.long_job("s1", "test") as job:
        t0 = time.monotonic()
        assert job.should_stop() is False
        assert 0.15 <= time.monotonic() - t0 < 2.0


def test_thread_counts_are_per_request_and_follow_interactive_load():
    lanes = Lanes(LaneLimits(long_threads=1, interactive_threads=2, max_pause_s=0.0), "cpu")
    before = torch.get_num_threads()
    seen: dict[str, int] = {}
    hold, busy, checked = threading.Event(), threading.Event(), threading.Event()

    def long_job():
        with lanes.long_job("s1", "test") as job:
            seen["alone"] = torch.get_num_threads()  # nobody browsing: every core
            hold.set()
            busy.wait(5)
            job.should_stop()
            seen["beside interactive"] = torch.get_num_threads()
            checked.set()

    t, _ = _in_thread(long_job)
    hold.wait(5)
    with lanes.interactive():
        seen["interactive"] = torch.get_num_threads()
        busy.set()
        checked.wait(5)
        seen["interactive after"] = torch.get_num_threads()  # the long job's thread never changes ours
    t.join(5)
    assert seen == {"alone": 2, "interactive": 2, "beside interactive": 1, "interactive after": 2}
    assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- one long job per person


def test_a_second_long_job_replaces_the_first_of_the_same_session():
    lanes = Lanes(LaneLimits(max_pause_s=0.0))
    started, finish = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def first():
        with lanes.long_job("student", "reconstruction") as job:
            started.set()
            while not job.should_stop():
                time.sleep(0.01)
            seen["reason"] = job.reason
            finish.wait(5)

    t, _ = _in_thread(first)
    started.wait(5)
    with lanes.long_job("other student", "sweep") as other, lanes.long_job("student", "sweep") as second:
        time.sleep(0.1)
        assert seen["reason"] == REPLACED
        assert not other.stopped and not second.stopped  # nobody else is affected
        assert lanes.running() == {"student": "sweep", "other student": "sweep"}
        finish.set()
        t.join(5)
        assert lanes.running()["student"] == "sweep"  # the old job's exit did not unregister the new
    assert lanes.running() == {}


def test_stop_ends_only_the_named_kind_and_checkpoint_raises():
    lanes = Lanes(LaneLimits(max_pause_s=0.0))
    reports: list[float] = []
    with lanes.long_job("s", "sweep") as job:
        report = progress_checkpoint(job, lambda f, desc=None: reports.append(f))
        report(0.5, "half")
        assert lanes.stop("s", "reconstruction") is False and not job.stopped
        assert lanes.stop("nobody") is False
        assert lanes.stop("s", "sweep") is True
        with pytest.raises(JobStopped, match=f"The sweep ended early: {STOPPED}"):
            report(0.75, "later")
    assert reports == [0.5]


# --------------------------------------------------------------------------- the model pool


@pytest.fixture
def slow_vgg19(monkeypatch):
    """vgg19 takes 3 s to load (say, resolving weights on a slow network); vgg16 is instant."""
    gate = threading.Event()
    real = load_vgg

    def load(arch, weights="auto", device="auto", **kw):
        if arch == "vgg19":
            gate.wait(3.0)
        return real(arch, "untrained", device, **kw)

    monkeypatch.setattr(models, "load_vgg", load)
    return gate


def test_loading_one_backbone_does_not_block_the_other(slow_vgg19):
    pool = ModelPool("vgg16", "untrained", "cpu")
    pool.get("vgg16")
    t, out = _in_thread(pool.get, "vgg19")
    time.sleep(0.1)
    t0 = time.monotonic()
    for _ in range(20):
        assert pool.get("vgg16").arch == "vgg16"
    assert time.monotonic() - t0 < 0.5, "vgg16 requests waited for vgg19's load"
    assert t.is_alive() and not pool.is_ready("vgg19")
    with pytest.raises(BackboneLoading, match="vgg19 backbone is still loading"):
        pool.get("vgg19", wait=0.1)
    slow_vgg19.set()
    t.join(10)
    assert out["value"].arch == "vgg19" and pool.is_ready("vgg19")
    assert pool.get("vgg19") is out["value"]  # loaded once, shared


def test_a_failed_load_reaches_every_waiter_and_is_retried(monkeypatch):
    calls: list[str] = []

    def broken(arch, weights="auto", device="auto", **kw):
        calls.append(arch)
        time.sleep(0.2)
        raise OSError("disk gone")

    monkeypatch.setattr(models, "load_vgg", broken)
    pool = ModelPool("vgg16", "untrained", "cpu")
    waiters = [_in_thread(pool.get, "vgg16") for _ in range(3)]
    for t, _ in waiters:
        t.join(5)
    assert all(isinstance(out.get("error"), OSError) for _, out in waiters)
    assert calls == ["vgg16"], "concurrent requests share one load"
    with pytest.raises(OSError):
        pool.get("vgg16")
    assert calls == ["vgg16", "vgg16"], "a failed load is not remembered: the next request retries"
