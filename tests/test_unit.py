"""How one number is made: a unit's arithmetic adds up to the value its layer computes.

The products and sums are read from the model's own weights and the image's activations, so for
conv1_1 (the image's R, G and B) and for deeper layers (every input channel) the terms, the bias
and the ReLU must give back the layer's output at that unit — on ImageNet weights when they are
here, on the seeded untrained ones otherwise (the arithmetic is the same)."""

from __future__ import annotations

import numpy as np
import pytest

from perceptual_viz.backbone import load_vgg
from perceptual_viz.errors import InputError
from perceptual_viz.features import FeatureCache
from perceptual_viz.figures import analyse
from perceptual_viz.figures import unit as fu
from perceptual_viz.images import load_image
from perceptual_viz.messages import speaking, word
from perceptual_viz.unit import IMAGE, unit_sum

from .support import CHELSEA, REAL_WEIGHTS


@pytest.fixture(scope="module")
def model():
    """ImageNet VGG16 when its weights are here, else the seeded untrained one."""
    return load_vgg("vgg16", str(REAL_WEIGHTS) if REAL_WEIGHTS.is_file() else "untrained", "cpu")


@pytest.fixture(scope="module")
def chelsea(model):
    return analyse(model, load_image(CHELSEA), "96")


# (layer, channel, row, col): conv1_1 and relu1_1 (the image's channels), deeper convs and
# ReLUs (every channel of the layer below), and a pool (the largest of the ReLUs under it).
UNITS = [
    ("conv1_1", 5, 10, 20),
    ("relu1_1", 17, 40, 3),
    ("relu2_2", 60, 0, 0),  # a corner: the 3×3 patch reaches past the map (zero padding)
    ("conv3_3", 100, 12, 20),
    ("relu4_3", 300, 5, 7),
    ("pool3", 10, 6, 9),
]


@pytest.mark.parametrize(("layer", "channel", "row", "col"), UNITS)
def test_the_terms_add_up_to_the_layers_own_output(model, chelsea, layer, channel, row, col):
    u = unit_sum(model, FeatureCache(), chelsea.tensor, chelsea.key, layer, channel, row, col)
    own = float(model(chelsea.tensor, [layer])[layer][0, channel, row, col])
    total = u.bias + sum(float(t.products.sum()) for t in u.terms)  # the products as drawn
    assert total == pytest.approx(u.pre_activation, rel=1e-9, abs=1e-9)
    r, c = u.kept or (row, col)
    conv = float(model(chelsea.tensor, [u.conv])[u.conv][0, channel, r, c])
    assert u.pre_activation == pytest.approx(conv, rel=1e-4, abs=1e-3)
    assert u.value == pytest.approx(own, rel=1e-4, abs=1e-3)
    if layer.startswith(("relu", "pool")):
        assert u.value >= 0 and u.value == pytest.approx(max(u.pre_activation, 0.0), abs=1e-9)
    if layer == "pool3":
        assert len(u.window) == 4 and u.value == pytest.approx(max(u.window), rel=1e-6)
    assert [abs(t.value) for t in u.terms] == sorted((abs(t.value) for t in u.terms), reverse=True)


def test_conv1_1_multiplies_the_normalised_rgb_patch(model, chelsea):
    u = unit_sum(model, FeatureCache(), chelsea.tensor, chelsea.key, "conv1_1", 3, 10, 20)
    assert u.source == IMAGE and sorted(t.channel for t in u.terms) == [0, 1, 2]
    x = model.normalize(chelsea.tensor)[0]
    weights = model.features[0].weight[3]
    for t in u.terms:
        assert np.allclose(t.patch, x[t.channel, 9:12, 19:22].numpy(), atol=1e-6)
        assert np.allclose(t.kernel, weights[t.channel].numpy(), atol=0)
    corner = unit_sum(model, FeatureCache(), chelsea.tensor, chelsea.key, "conv1_1", 3, 0, 0)
    assert all((t.patch[0] == 0).all() and (t.patch[:, 0] == 0).all() for t in corner.terms)


def test_a_unit_outside_the_map_or_a_channel_too_high_is_refused(model, chelsea):
    with pytest.raises(InputError, match="outside"):
        unit_sum(model, FeatureCache(), chelsea.tensor, chelsea.key, "relu3_3", 0, 1000, 0)
    with pytest.raises(InputError, match="channels 0..63"):
        unit_sum(model, FeatureCache(), chelsea.tensor, chelsea.key, "relu1_2", 64, 0, 0)


def test_the_figure_draws_it_and_says_it_in_the_readers_language(model, chelsea):
    fig = fu.unit_figure(model, FeatureCache(), chelsea, "96", "relu3_3", 7, 50, 40)
    u = fig.unit
    assert (u.row, u.col) == (40 // 4, 50 // 4)  # the unit whose block of pixels holds (50, 40)
    assert fig.record["unit"]["value"] == pytest.approx(u.value)
    assert fig.pictures["unit"].width > 400 and fig.pictures["unit"].height > 300
    english = word(fig.said, "en")
    assert "conv3_3 = bias" in english and "ReLU" in english
    with speaking("ja"):
        assert word(fig.said, "ja") != english and "conv3_3" in word(fig.said, "ja")


def test_the_unit_endpoint(client):
    from gradio_client import handle_file

    picture, text, data = client.predict(
        handle_file(str(CHELSEA)), "vgg16", "224", "relu2_2", 5, 100, 80, api_name="/unit"
    )
    assert picture and "conv2_2 = bias" in text
    assert data["layer"] == "relu2_2" and data["channel"] == 5 and (data["row"], data["col"]) == (40, 50)
    total = data["bias"] + sum(t["value"] for t in data["terms"])
    assert total == pytest.approx(data["pre_activation"], rel=1e-6, abs=1e-6)
    assert data["value"] == pytest.approx(max(data["pre_activation"], 0.0))
