"""The showcase cache: default runs of the bundled samples, stored once per weights, served instantly.

Storage is checked on its own (round trip, only planned runs kept, another weights fingerprint
misses, a damaged entry is recomputed), the warmer is checked to wait while anyone else's
request runs, and the Equal-MSE tab is checked end to end: the first default run of a sample is
computed and stored, the second is served from disk, says so, and has the same numbers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from perceptual_viz.assets import sample
from perceptual_viz.figures import Figure
from perceptual_viz.messages import Text, msg, msg_n
from perceptual_viz.tables import Table
from perceptual_viz.ui.lanes import LaneLimits, Lanes
from perceptual_viz.ui.showcase import FROM_SHOWCASE, Recipe, Showcase

SETTINGS = {"k": 5, "size": "224"}


def _model(fingerprint: str = "f00d") -> SimpleNamespace:
    return SimpleNamespace(arch="vgg16", fingerprint=fingerprint)


@dataclass(frozen=True)
class ToyFigure(Figure):
    """A figure kind of this test: a table and a caption (a message) besides the pictures."""

    table: Table
    caption: Text
    kind = "toy"


def _figure(value: float = 1.5) -> ToyFigure:
    pic = Image.fromarray((np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3))
    table = Table([msg("name"), "value"], [["a", value], ["b", float("nan")]])
    pictures = {"clean": pic, "chart MSE": pic.rotate(90)}
    caption = msg_n("{n} trial at {px} px", "{n} trials at {px} px", 3, px=64)
    return ToyFigure(pictures, {"settings": SETTINGS}, table, caption)


def _showcase(tmp_path, computed: list | None = None, lanes: Lanes | None = None) -> Showcase:
    sc = Showcase(tmp_path / "showcase", lanes or Lanes(LaneLimits()))

    def compute(model, path, should_stop):
        should_stop()
        if computed is not None:
            computed.append(path)
        return _figure()

    sc.add(Recipe("toy", SETTINGS, ["a.png", "b.png"], lambda m, p: f"key-{p}", compute))
    return sc


def test_round_trip_keeps_pictures_record_and_tables(tmp_path):
    sc, model = _showcase(tmp_path), _model()
    fig = _figure()
    assert sc.get("toy", model, "key-a.png", SETTINGS) is None
    assert sc.put("toy", model, "key-a.png", SETTINGS, fig)
    got = sc.get("toy", model, "key-a.png", SETTINGS)
    assert got is not None and got.kind == "toy" and got.record == fig.record
    assert list(got.pictures) == list(fig.pictures)  # display order kept
    for cap, pic in fig.pictures.items():
        assert np.array_equal(np.asarray(got.pictures[cap]), np.asarray(pic))
        assert got.stored[cap].endswith(".png")
    t = got.table
    assert isinstance(got, ToyFigure) and got.caption == fig.caption, "a message comes back as a message"
    assert isinstance(t, Table) and t.columns == [msg("name"), "value"] and t.rows[0] == ["a", 1.5]
    assert np.isnan(t.rows[1][1])


def test_only_planned_runs_are_stored_and_weights_are_part_of_the_key(tmp_path):
    sc, model = _showcase(tmp_path), _model()
    assert not sc.put("toy", model, "key-upload.png", SETTINGS, _figure())  # not a bundled sample
    assert not sc.put("toy", model, "key-a.png", {**SETTINGS, "k": 6}, _figure())  # not the defaults
    assert sc.put("toy", model, "key-a.png", SETTINGS, _figure())
    assert sc.get("toy", _model("beef"), "key-a.png", SETTINGS) is None  # other weights: a miss
    assert sc.get("toy", model, "key-a.png", {**SETTINGS, "k": 6}) is None


def test_a_damaged_entry_is_a_miss_not_an_error(tmp_path):
    sc, model = _showcase(tmp_path), _model()
    sc.put("toy", model, "key-a.png", SETTINGS, _figure())
    (png,) = [p for p in (tmp_path / "showcase").rglob("p000.png")]
    png.write_bytes(b"not a png")
    assert sc.get("toy", model, "key-a.png", SETTINGS) is None


def test_warmer_computes_every_pending_entry_once(tmp_path):
    computed: list[str] = []
    sc, model = _showcase(tmp_path, computed), _model()
    assert [s for _, s in sc.pending(model)] == ["a.png", "b.png"]
    assert sc.warm(model) == 2 and computed == ["a.png", "b.png"]
    assert sc.pending(model) == [] and sc.warm(model) == 0 and computed == ["a.png", "b.png"]


def test_warmer_waits_while_anyone_elses_request_runs(tmp_path):
    lanes = Lanes(LaneLimits(max_pause_s=0.05))
    computed: list[str] = []
    sc, model = _showcase(tmp_path, computed, lanes), _model()
    with lanes.interactive():
        with lanes.long_job("student", "sweep"):  # a person's long job: the warmer must not start
            thread = sc.start(model)
            assert thread is not None
            time.sleep(0.5)
            assert computed == []
        time.sleep(0.3)  # a quick view alone holds it too (no pause limit for the warmer)
        assert computed == []
    thread.join(timeout=10)
    assert computed == ["a.png", "b.png"]


def test_close_ends_a_waiting_warmer(tmp_path):
    lanes = Lanes(LaneLimits())
    sc = _showcase(tmp_path, [], lanes)
    release = threading.Event()

    def busy():
        with lanes.interactive():
            release.wait(10)

    t = threading.Thread(target=busy)
    t.start()
    time.sleep(0.05)
    warmer = sc.start(_model())
    sc.close()
    assert warmer is not None
    warmer.join(timeout=5)
    assert not warmer.is_alive()
    release.set()
    t.join()


@pytest.mark.slow
def test_equal_mse_default_run_of_a_sample_is_served_from_the_cache(tmp_path, monkeypatch):
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool
    from perceptual_viz.ui.serve import close
    from perceptual_viz.ui.tabs import equal_mse as tab

    monkeypatch.setenv("PERCEPTUAL_VIZ_CACHE_DIR", str(tmp_path))
    demo = build_demo(ModelPool("vgg16", "untrained", "cpu"))
    ctx = demo.ctx
    path = str(sample("chelsea.png"))
    d = tab.fe.DEFAULTS
    args = (path, d["target_kind"], d["target"], d["rank_by"], d["seed"], "vgg16", "224")
    t0 = time.perf_counter()
    first = tab.equal_mse(ctx, *args, progress=None)
    computed_s = time.perf_counter() - t0
    assert str(FROM_SHOWCASE) not in str(first[2])
    t0 = time.perf_counter()
    second = tab.equal_mse(ctx, *args, progress=None)
    served_s = time.perf_counter() - t0
    assert str(FROM_SHOWCASE) in str(second[2])
    assert second[3] == first[3]  # the same JSON summary: every score
    assert first[1].equals(second[1])  # the same table as shown
    assert served_s < computed_s / 3, (served_s, computed_s)
    small = tmp_path / "small.png"  # any other image is computed as usual (small: quick)
    Image.open(path).convert("RGB").resize((64, 48)).save(small)
    other = tab.equal_mse(ctx, str(small), *args[1:-1], "original", progress=None)
    assert str(FROM_SHOWCASE) not in str(other[2])
    close(demo)
