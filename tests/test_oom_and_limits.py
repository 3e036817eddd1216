"""The GPU out-of-memory fallback (simulated: there is no GPU here) and the sweep time limit."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest
import torch

from perceptual_viz.figures import features as ff
from perceptual_viz.ui import errors
from perceptual_viz.ui.context import AppContext
from perceptual_viz.ui.errors import ON_CPU
from perceptual_viz.ui.lanes import LaneLimits
from perceptual_viz.ui.models import ModelPool
from perceptual_viz.ui.tabs import features, reconstruct, sweep

from .support import CHELSEA

SAMPLE = str(CHELSEA)


@pytest.fixture
def ctx():
    return AppContext.create(ModelPool("vgg16", "untrained", "cpu"), LaneLimits())


@pytest.fixture
def pool(ctx):
    return ctx.pool


def _reconstruct(ctx, *args, **kwargs):
    fn = ctx.endpoint(reconstruct.reconstruct)
    return list(fn(SAMPLE, "content", *args, **kwargs, progress=lambda *a, **k: None))


def test_cuda_oom_is_retried_on_the_cpu_with_a_warning(ctx, pool, monkeypatch):
    real = ff.grid
    seen = []

    def flaky(model, *args, **kwargs):
        seen.append((ON_CPU.get(), str(model.device)))
        if len(seen) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real(model, *args, **kwargs)

    warnings = []
    monkeypatch.setattr(ff, "grid", flaky)
    monkeypatch.setattr(errors.gr, "Warning", lambda msg, *a, **k: warnings.append(msg))
    released = []
    monkeypatch.setattr(pool.cache, "clear", lambda: released.append("cache"))
    fn = ctx.endpoint(features.feature_grid, interactive=True)
    picture, caption, _first, _state = fn(SAMPLE, "vgg16", "224", "relu2_2", 4, "mean", "channel", "viridis")
    assert seen == [(False, "cpu"), (True, "cpu")], "second attempt runs with the CPU fallback set"
    assert caption.strip("*").startswith("relu2_2") and Path(picture).is_file()
    assert warnings and "ran out of memory" in warnings[0]
    assert not ON_CPU.get(), "the fallback flag does not leak into later requests"
    assert released == ["cache"], "cached activations are dropped before the retry"


def test_oom_on_the_cpu_too_is_a_clear_error(ctx, monkeypatch):
    def always(*a, **k):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(ff, "grid", always)
    monkeypatch.setattr(errors.gr, "Warning", lambda *a, **k: None)
    fn = ctx.endpoint(features.feature_grid, interactive=True)
    with pytest.raises(gr.Error, match="smaller analysis size"):
        fn(SAMPLE, "vgg16", "224", "relu2_2", 4, "mean", "channel", "viridis")


def test_cpu_fallback_model_is_separate_and_on_cpu(pool):
    main, fallback = pool.get("vgg16"), pool.get("vgg16", cpu=True)
    assert fallback.device.type == "cpu" and fallback.fingerprint == main.fingerprint


def test_sweep_stops_at_its_time_limit_with_a_message(ctx):
    ctx.time_limit_s = -1.0  # already past the deadline
    fn = ctx.endpoint(sweep.sweep)
    with pytest.raises(gr.Error, match="time limit"):
        fn(SAMPLE, ["noise"], 3, 0, "vgg16", "224", progress=None)


def test_streaming_endpoint_oom_restarts_on_the_cpu(ctx, monkeypatch):
    from perceptual_viz.lessons import reconstruct as rc

    real = rc.reconstruct
    seen = []

    def flaky(model, *args, **kwargs):
        seen.append(ON_CPU.get())
        it = real(model, *args, **kwargs)
        if len(seen) == 1:  # the first attempt streams one picture, then runs out of memory

            def broken():
                yield next(it)
                raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

            return broken()
        return it

    warnings = []
    monkeypatch.setattr(rc, "reconstruct", flaky)
    monkeypatch.setattr(errors.gr, "Warning", lambda msg, *a, **k: warnings.append(msg))
    outs = _reconstruct(ctx, ["relu1_2"], 10, 32, 0, "vgg16", [])
    assert seen == [False, True], "the stream restarts once, on the CPU"
    assert warnings and "ran out of memory" in warnings[0]
    *_, (_picture, _curve, info, runs, zipped, _hist) = outs
    assert "step 10/10" in info and Path(zipped).is_file() and len(runs) == 1
    assert not ON_CPU.get()


def test_streaming_endpoint_errors_are_one_sentence(ctx):
    with pytest.raises(gr.Error, match="relu9_9"):
        _reconstruct(ctx, ["relu9_9"], 10, 32, 0, "vgg16", [])


def test_reconstruction_stops_at_its_time_limit_and_says_so(ctx):
    ctx.time_limit_s = -1.0  # already past the deadline
    outs = _reconstruct(ctx, ["relu1_2"], 10, 32, 0, "vgg16", [])
    *_, (_picture, _curve, info, runs, zipped, _hist) = outs
    assert "step 0/10" in info and "stopped at step 0 (time limit)" in info.replace("**", "")
    assert runs[0][1].startswith("content · relu1_2 · stopped at step 0 of 10")  # the runs row too
    assert len(runs) == 1 and Path(zipped).is_file()  # what was reached is still kept and exportable


def test_reconstruction_history_drops_pictures_the_cache_cleanup_removed(ctx, tmp_path):
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"\x89PNG\r\n\x1a\n")
    history = [(str(tmp_path / "deleted.png"), "old run"), (str(kept), "recent run")]
    *updates, final = _reconstruct(ctx, ["relu1_2"], 10, 32, 0, "vgg16", history)
    runs = final[3]
    assert [cap for _, cap in runs][:1] == ["recent run"] and len(runs) == 2
    assert updates and all(u[3] == u[4] == u[5] == gr.skip() for u in updates)  # only the end updates them


def test_a_bug_deep_in_the_engine_is_an_internal_error_with_an_id_in_the_log(ctx, monkeypatch, caplog):
    from perceptual_viz.features import FeatureCache

    def broken(*args, **kwargs):
        raise ValueError("shapes do not broadcast (a bug, not the user's input)")

    monkeypatch.setattr(FeatureCache, "features", broken)
    fn = ctx.endpoint(features.feature_grid, interactive=True)
    with caplog.at_level("ERROR", logger="perceptual_viz.app"), pytest.raises(gr.Error) as info:
        fn(SAMPLE, "vgg16", "224", "relu2_2", 4, "mean", "channel", "viridis")
    message = str(info.value)
    match = re.search(r"Internal error ([0-9a-f]{8})", message)
    assert match, message
    assert "broadcast" not in message, "the bug's own text stays in the log"
    (record,) = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert record.exc_info and "shapes do not broadcast" in str(record.exc_info[1])


def test_user_mistakes_still_get_their_sentence(ctx):
    fn = ctx.endpoint(features.feature_grid, interactive=True)
    with pytest.raises(gr.Error, match="between 1 and 64"):
        fn(SAMPLE, "vgg16", "224", "relu2_2", 65, "mean", "channel", "viridis")
    with pytest.raises(gr.Error, match="sort must be one of mean, max, index; got 'maximum'"):
        fn(SAMPLE, "vgg16", "224", "relu2_2", 4, "maximum", "channel", "viridis")
    with pytest.raises(gr.Error, match="upload an image first"):
        fn(None, "vgg16", "224", "relu2_2", 4, "mean", "channel", "viridis")
