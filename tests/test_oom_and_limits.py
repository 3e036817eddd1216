"""The GPU out-of-memory fallback (simulated: there is no GPU here) and the sweep time limit."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
import torch

from perceptual_viz.ui import common, layout, views
from perceptual_viz.ui.lanes import LaneLimits, Lanes
from perceptual_viz.ui.models import ModelPool

SAMPLE = str(Path(__file__).resolve().parents[1] / "assets" / "samples" / "chelsea.png")


@pytest.fixture
def pool(monkeypatch):
    p = ModelPool("vgg16", "untrained", "cpu")
    monkeypatch.setattr(common, "_POOL", p)
    monkeypatch.setattr(common, "_LANES", Lanes(LaneLimits()))
    return p


def test_cuda_oom_is_retried_on_the_cpu_with_a_warning(pool, monkeypatch):
    real = views.layer_grid
    seen = []

    def flaky(model, *args, **kwargs):
        seen.append((layout.ON_CPU.get(), str(model.device)))
        if len(seen) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real(model, *args, **kwargs)

    warnings = []
    monkeypatch.setattr(views, "layer_grid", flaky)
    monkeypatch.setattr(layout.gr, "Warning", lambda msg, *a, **k: warnings.append(msg))
    released = []
    monkeypatch.setattr(pool.cache, "clear", lambda: released.append("cache"))
    fn = layout.user_errors(layout.feature_grid)
    picture, _bar, caption, _first, _state = fn(
        SAMPLE, "vgg16", "224", "relu2_2", 4, "mean", "channel", "viridis"
    )
    assert seen == [(False, "cpu"), (True, "cpu")], "second attempt runs with the CPU fallback set"
    assert caption.startswith("relu2_2") and Path(picture).is_file()
    assert warnings and "ran out of memory" in warnings[0]
    assert not layout.ON_CPU.get(), "the fallback flag does not leak into later requests"
    assert released == ["cache"], "cached activations are dropped before the retry"


def test_oom_on_the_cpu_too_is_a_clear_error(pool, monkeypatch):
    def always(*a, **k):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(views, "layer_grid", always)
    monkeypatch.setattr(layout.gr, "Warning", lambda *a, **k: None)
    fn = layout.user_errors(layout.feature_grid)
    with pytest.raises(gr.Error, match="smaller analysis size"):
        fn(SAMPLE, "vgg16", "224", "relu2_2", 4, "mean", "channel", "viridis")


def test_cpu_fallback_model_is_separate_and_on_cpu(pool):
    main, fallback = pool.get("vgg16"), pool.get("vgg16", cpu=True)
    assert fallback.device.type == "cpu" and fallback.fingerprint == main.fingerprint


def test_sweep_stops_at_its_time_limit_with_a_message(pool, monkeypatch):
    monkeypatch.setattr(layout, "TIME_LIMIT_S", -1.0)  # already past the deadline
    fn = layout.user_errors(layout.sweep)
    with pytest.raises(gr.Error, match="time limit"):
        fn(SAMPLE, ["noise"], 3, 0, "vgg16", "224", progress=None)


def test_streaming_endpoint_oom_restarts_on_the_cpu(pool, monkeypatch):
    from perceptual_viz import reconstruct as rc
    from perceptual_viz.ui import lessons

    real = rc.reconstruct
    seen = []

    def flaky(model, *args, **kwargs):
        seen.append(layout.ON_CPU.get())
        it = real(model, *args, **kwargs)
        if len(seen) == 1:  # the first attempt streams one picture, then runs out of memory

            def broken():
                yield next(it)
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

            return broken()
        return it

    warnings = []
    monkeypatch.setattr(rc, "reconstruct", flaky)
    monkeypatch.setattr(layout.gr, "Warning", lambda msg, *a, **k: warnings.append(msg))
    fn = layout.user_errors(lessons.reconstruct)
    outs = list(fn(SAMPLE, "content", ["relu1_2"], 10, 32, 0, "vgg16", [], progress=lambda *a, **k: None))
    assert seen == [False, True], "the stream restarts once, on the CPU"
    assert warnings and "ran out of memory" in warnings[0]
    *_, (_picture, _curve, info, runs, zipped, _hist) = outs
    assert "step 10/10" in info and Path(zipped).is_file() and len(runs) == 1
    assert not layout.ON_CPU.get()


def test_streaming_endpoint_errors_are_one_sentence(pool):
    from perceptual_viz.ui import lessons

    fn = layout.user_errors(lessons.reconstruct)
    with pytest.raises(gr.Error, match="relu9_9"):
        list(fn(SAMPLE, "content", ["relu9_9"], 10, 32, 0, "vgg16", [], progress=lambda *a, **k: None))


def test_reconstruction_stops_at_its_time_limit_and_says_so(pool, monkeypatch):
    from perceptual_viz.ui import lessons

    monkeypatch.setattr(lessons, "TIME_LIMIT_S", -1.0)  # already past the deadline
    fn = layout.user_errors(lessons.reconstruct)
    outs = list(fn(SAMPLE, "content", ["relu1_2"], 10, 32, 0, "vgg16", [], progress=lambda *a, **k: None))
    *_, (_picture, _curve, info, runs, zipped, _hist) = outs
    assert "step 0/10" in info and "stopped at step 0 (time limit)" in info
    assert runs[0][1].endswith("stopped at step 0")  # the runs row says so too
    assert len(runs) == 1 and Path(zipped).is_file()  # what was reached is still kept and exportable


def test_reconstruction_history_drops_pictures_the_cache_cleanup_removed(pool, tmp_path):
    from perceptual_viz.ui import lessons

    kept = tmp_path / "kept.png"
    kept.write_bytes(b"\x89PNG\r\n\x1a\n")
    history = [(str(tmp_path / "deleted.png"), "old run"), (str(kept), "recent run")]
    fn = layout.user_errors(lessons.reconstruct)
    *updates, final = list(
        fn(
            SAMPLE,
            "content",
            ["relu1_2"],
            10,
            32,
            0,
            "vgg16",
            history,
            progress=lambda *a, **k: None,
        )
    )
    runs = final[3]
    assert [cap for _, cap in runs][:1] == ["recent run"] and len(runs) == 2
    assert updates and all(u[3] == u[4] == u[5] == gr.skip() for u in updates)  # only the end updates them
