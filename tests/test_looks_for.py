"""Linked views and "what a channel looks for", checked with values.

- A clicked pixel maps to one unit per block: that unit's own stride × stride block of input
  pixels holds the pixel, its receptive field contains it, and the activations reported there
  are the layer's values at that unit.
- The top patches of a channel are the argmax locations of that channel: the first is the
  global maximum over the searched images, values are the channel's values at the reported
  units, in descending order, and each box is that unit's receptive field.
- A feature visualisation raises the channel's activation, is reproducible by seed, and never
  changes (or asks gradients of) the shared VGG.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perceptual_viz.features import FeatureCache
from perceptual_viz.figures import analyse
from perceptual_viz.figures import features as ff
from perceptual_viz.images import load_image
from perceptual_viz.layers import block_outputs
from perceptual_viz.lessons import visualize as vz

POINTS = [(0, 0), (120, 77), (336, 223), (17, 200)]  # corners of a 337×224 analysis too


@pytest.fixture(scope="module")
def cache():
    return FeatureCache()


@pytest.fixture(scope="module")
def images(vgg16, photos):
    return [(n, analyse(vgg16, load_image(photos[n]), "224")) for n in ("chelsea", "coffee")]


@pytest.mark.parametrize(("x", "y"), POINTS)
def test_a_clicked_pixel_maps_back_through_every_stride(vgg16, cache, images, x, y):
    _, a = images[0]
    fig = ff.locate(vgg16, cache, a, "224", x, y)
    cells = fig.cells
    assert list(cells) == list(block_outputs("vgg16"))
    h, w = a.size
    for name, (row, col) in cells.items():
        info = vgg16.info(name)
        s = info.stride
        fh, fw = vgg16(a.tensor, [name])[name].shape[-2:]
        # the unit's own s × s block of pixels holds the clicked pixel (clipped at the far edge,
        # where a pool drops an odd trailing pixel)
        assert row == min(y // s, fh - 1) and col == min(x // s, fw - 1)
        if y // s < fh and x // s < fw:
            assert s * row <= y < s * row + s and s * col <= x < s * col + s
        x0, y0, x1, y1 = info.rf_box(row, col, (h, w))
        assert x0 <= x <= x1 and y0 <= y <= y1, (name, (x0, y0, x1, y1))


def test_locate_reports_the_activations_at_that_unit(vgg16, cache, images):
    _, a = images[0]
    x, y = 120, 77
    fig = ff.locate(vgg16, cache, a, "224", x, y)
    rows = fig.table.records()
    for r, (name, (row, col)) in zip(rows, fig.cells.items(), strict=True):
        v = vgg16(a.tensor, [name])[name][0, :, row, col]
        best = int(v.argmax())
        assert r["block"].startswith(name) or name in r["block"]
        assert r["top channel: value"].startswith(f"{best}:")
        assert float(r["mean over channels"]) == pytest.approx(float(v.mean()), rel=1e-2)


def test_top_patches_are_the_channel_argmax_locations(vgg16, cache, images):
    layer, index = "relu3_3", 7
    fig = ff.top_patches(vgg16, cache, images, "224", layer, index, k=6)
    patches = fig.patches
    assert 1 <= len(patches) <= 6 and len(fig.pictures) == len(patches)
    maps = {n: vgg16(a.tensor, [layer])[layer][0, index] for n, a in images}
    best_name = max(maps, key=lambda n: float(maps[n].max()))
    first = patches[0]
    m = maps[best_name]
    assert first["image"] == best_name
    assert first["value"] == pytest.approx(float(m.max()), rel=1e-5)
    assert tuple(first["unit"]) == tuple(int(i) for i in np.unravel_index(int(m.argmax()), m.shape))
    info = vgg16.info(layer)
    values = [p["value"] for p in patches]
    assert values == sorted(values, reverse=True)
    sizes = dict(images)
    for p in patches:
        row, col = p["unit"]
        assert p["value"] == pytest.approx(float(maps[p["image"]][row, col]), rel=1e-5)
        assert tuple(p["box"]) == info.rf_box(row, col, sizes[p["image"]].size)


def test_visualisation_raises_the_channel_and_leaves_vgg_alone(vgg16):
    before = [p.detach().clone() for p in vgg16.parameters()]
    settings = vz.VisualizeSettings(layer="relu2_2", channel=5, steps=24, size=48, seed=3)
    steps = list(vz.visualize(vgg16, settings, every=8))
    assert steps[-1].done and steps[-1].step == 24
    assert steps[-1].activation > steps[0].activation
    img = steps[-1].image
    assert img.shape == (1, 3, 48, 48) and float(img.min()) >= 0 and float(img.max()) <= 1
    again = list(vz.visualize(vgg16, settings, every=8))
    assert torch.equal(again[-1].image, img)  # reproducible by seed
    for p, q in zip(vgg16.parameters(), before, strict=True):
        assert torch.equal(p, q) and p.grad is None
    with pytest.raises(Exception, match="channels 0..127"):
        vz.VisualizeSettings(layer="relu2_2", channel=128).resolved(vgg16)


def test_a_dead_channel_is_named_not_shown_as_a_grey_square(vgg16):
    """A channel that is off everywhere passes back no gradient: the figure says so."""
    from perceptual_viz.backbone import load_vgg
    from perceptual_viz.figures import visualize as fv

    model = load_vgg("vgg16", "untrained", "cpu")  # its own copy: the shared model stays untouched
    conv = model.features[2]  # relu1_2's convolution
    with torch.no_grad():
        conv.bias[7] = -1e6  # channel 7 of relu1_2 can never fire
    settings = vz.VisualizeSettings(layer="relu1_2", channel=7, steps=6, size=32, seed=0).resolved(model)
    steps, curve = [], []
    for st, so_far in fv.run(model, settings):
        steps.append(st)
        curve = so_far
    assert all(st.activation == 0.0 for st in steps)
    assert torch.equal(steps[0].image, steps[-1].image)  # nothing to follow: the image never moved
    fig = fv.figure(settings, steps[-1], curve)
    assert fig.record["result"]["never_fired"] is True
    live = vz.VisualizeSettings(layer="relu1_2", channel=5, steps=6, size=32, seed=0).resolved(vgg16)
    runs = list(fv.run(vgg16, live))
    assert fv.figure(live, runs[-1][0], runs[-1][1]).record["result"]["never_fired"] is False
