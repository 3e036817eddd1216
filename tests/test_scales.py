"""Colour scales: a map whose few largest values dwarf the rest is drawn on a log scale, so its
bulk is not flattened to the first colour; the colour bar still prints values, and says which
scale it is."""

from __future__ import annotations

import numpy as np
import pytest

from perceptual_viz import chrome
from perceptual_viz.features import FeatureCache
from perceptual_viz.figures import analyse
from perceptual_viz.figures import compare as fc
from perceptual_viz.images import load_image
from perceptual_viz.messages import word
from perceptual_viz.scales import Scale

from .support import CHELSEA


def test_a_heavy_tailed_map_gets_a_log_scale_and_its_bulk_spreads():
    rng = np.random.default_rng(0)
    bulk = rng.uniform(1.0, 2.0, 10_000)
    values = np.concatenate([bulk, [5_000.0]])  # one pixel 3000 times the rest
    linear, log = Scale.fit([values], "linear"), Scale.auto(values)
    assert log.kind == "log" and Scale.auto(bulk).kind == "linear"

    def share_above_first_tenth(sc: Scale) -> float:
        index = (sc.forward(bulk) - sc.t_lo) / (sc.t_hi - sc.t_lo)
        return float((index >= 0.1).mean())

    assert share_above_first_tenth(linear) == 0.0
    assert share_above_first_tenth(log) > 0.9
    lo, mid, hi = log.ticks()
    assert (lo, hi) == (0.0, 5_000.0) and lo < mid < hi
    assert log.inverse(log.t_hi) == pytest.approx(5_000.0)
    assert "log" in word(log.said(), "en") and word(log.said(), "ja") != word(log.said(), "en")


def test_compares_difference_maps_say_their_scale(vgg16):
    a = analyse(vgg16, load_image(CHELSEA), "96")
    with chrome.recording() as drawn:
        fig = fc.compare(vgg16, FeatureCache(), a, "96", degradation="jpeg", strength=10.0)
    assert len(fig.maps) >= 3
    said = [t for t in drawn if "scale" in t]
    assert any("log scale" in t for t in said), drawn
