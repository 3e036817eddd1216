"""ZeroGPU: a request refused for the visitor's GPU quota is computed on the CPU, with a note.

A class of logged-out students behind one school address shares one anonymous quota, so the
refusal is what a class meets first. ``spaces`` is not installed here: a stand-in with the same
behaviour (``spaces.GPU`` raising ``gr.Error`` with the quota text) drives the real wrapper.
"""

from __future__ import annotations

import types

import gradio as gr
import pytest

from perceptual_viz.ui import models
from perceptual_viz.ui.errors import ON_CPU


def _refusing_spaces() -> types.SimpleNamespace:
    def GPU(duration: int | None = None):
        def wrap(fn):
            def refused(*a, **kw):
                raise gr.Error(f"{models.QUOTA_MESSAGE} (40s requested vs. 12s left). Try again in 3:12:10")

            return refused

        return wrap

    return types.SimpleNamespace(GPU=GPU)


@pytest.fixture
def notes(monkeypatch) -> list[str]:
    said: list[str] = []
    monkeypatch.setattr(models.gr, "Warning", lambda msg, *a, **kw: said.append(msg))
    return said


def test_a_request_refused_for_quota_runs_on_the_cpu_with_a_note(monkeypatch, notes):
    monkeypatch.setattr(models, "spaces", _refusing_spaces())
    devices: list[bool] = []

    def overview(x: int) -> int:
        devices.append(ON_CPU.get())  # the endpoint then takes the models' CPU copy
        return 2 * x

    assert models.gpu(30)(overview)(21) == 42
    assert devices == [True] and not ON_CPU.get()
    assert notes == [str(models.QUOTA_NOTE)]


def test_a_streaming_request_refused_for_quota_streams_from_the_cpu(monkeypatch, notes):
    monkeypatch.setattr(models, "spaces", _refusing_spaces())

    def steps(n: int):
        for i in range(n):
            yield (i, ON_CPU.get())

    assert list(models.gpu(60)(steps)(3)) == [(0, True), (1, True), (2, True)]
    assert notes == [str(models.QUOTA_NOTE)]


def test_other_errors_are_not_mistaken_for_quota(notes):
    def broken(*a):
        raise gr.Error("No GPU is currently available for you after 60s")

    call = models.on_cpu_when_refused(broken, lambda *a: "cpu")
    with pytest.raises(gr.Error):
        call()
    assert not notes
    assert models.gpu(30)(len) is len  # without ZeroGPU: the function itself
