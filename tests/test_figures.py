"""The app's views without Gradio: exact derived layers, click mapping, one forward per request."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_viz.features import FeatureCache, image_key, layer_activations
from perceptual_viz.images import load_image
from perceptual_viz.render import grid_geometry
from perceptual_viz.ui import views
from perceptual_viz.ui.views import GRID_PAD

from .conftest import to_tensor


@pytest.fixture
def cache():
    return FeatureCache()


@pytest.fixture(scope="module")
def chelsea(vgg16, photos):
    return views.analyse(vgg16, load_image(photos["chelsea"]), "224")


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_derived_layers_equal_a_real_forward(arch, cache):
    from perceptual_viz.backbone import load_vgg

    model = load_vgg(arch, "untrained", "cpu")
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    names = [i.name for i in model.layers]
    got = layer_activations(model, cache, x, image_key(x), names)
    ref = model(x, names)
    for n in names:
        assert torch.equal(got[n], ref[n]), n
    n0 = model.forward_count
    layer_activations(model, cache, x, image_key(x), ["pool5", "relu1_1", "conv3_2"])
    assert model.forward_count == n0, "every layer of a seen image is served without VGG"


def test_view_changes_never_forward(vgg16, cache, chelsea):
    views.overview(vgg16, cache, chelsea)
    n0 = vgg16.forward_count
    for layer in ("conv1_1", "relu3_3", "pool4", "relu5_3"):
        for sort in ("mean", "max", "index"):
            g = views.layer_grid(vgg16, cache, chelsea, layer, 9, sort, "layer", "magma")
        views.channel_detail(vgg16, cache, chelsea, layer, g.channels[0], "gray", 0.3)
    views.gram_view(vgg16, cache, chelsea, None, "relu2_2", "gatys", 16)
    assert vgg16.forward_count == n0


@pytest.mark.parametrize("k", [10, 30, 50])
def test_click_maps_to_the_tile_under_the_pointer(vgg16, cache, chelsea, k):
    g = views.layer_grid(vgg16, cache, chelsea, "relu2_2", k)
    th, tw, cols, rows = grid_geometry(k, *g.fmap_hw, tile=views.grid_tile(k))
    assert g.picture.size == (cols * tw + (cols + 1) * GRID_PAD, rows * th + (rows + 1) * GRID_PAD)
    for j in range(k):
        r, q = divmod(j, cols)
        x = GRID_PAD + q * (tw + GRID_PAD) + tw // 2
        y = GRID_PAD + r * (th + GRID_PAD) + th // 2
        assert views.channel_at_click(g.channels, g.fmap_hw, x, y) == g.channels[j]
    assert views.channel_at_click(g.channels, g.fmap_hw, 0, 0) is None  # padding
    if rows * cols > k:  # the last cell of the last row is empty
        last_row_empty_x = GRID_PAD + (cols - 1) * (tw + GRID_PAD) + 1
        assert views.channel_at_click(g.channels, g.fmap_hw, last_row_empty_x, g.picture.size[1] - 3) is None


def test_channel_stats_are_those_of_the_map(vgg16, cache, chelsea):
    v = views.channel_detail(vgg16, cache, chelsea, "relu1_2", 7)
    m = vgg16(chelsea.tensor, ["relu1_2"])["relu1_2"][0, 7]
    assert v.stats["max"] == pytest.approx(float(m.max()))
    assert v.stats["fraction of zeros"] == pytest.approx(float((m == 0).float().mean()))
    assert v.picture.size == (chelsea.size[1], chelsea.size[0])
    with pytest.raises(ValueError, match="channels 0..63"):
        views.channel_detail(vgg16, cache, chelsea, "relu1_2", 64)


def test_compare_forwards_only_the_degraded_image(vgg16, cache, chelsea):
    views.compare(vgg16, cache, chelsea, degradation="noise", strength=0.05)
    n0 = vgg16.forward_count
    r = views.compare(vgg16, cache, chelsea, degradation="noise", strength=0.2, layer="relu3_3")
    assert vgg16.forward_count == n0 + 1, "scores, maps and side-by-side channels share one pass"
    assert r.scores["mse"] > 0 and 0 < r.scores["ssim"] < 1
    assert len(r.maps) == 2 + 4 and len(r.side_by_side) == 3


def test_compare_identical_upload_and_resize_notice(vgg16, cache, chelsea, photos):
    same = views.analyse(vgg16, load_image(photos["chelsea"]), "224")
    r = views.compare(vgg16, cache, chelsea, degraded=same)
    assert (
        r.scores["mse"] == 0 and r.scores["psnr"] is None and r.scores["ssim"] == pytest.approx(1, abs=1e-6)
    )
    small = views.analyse(vgg16, load_image(photos["coffee"]), "256")
    r = views.compare(vgg16, cache, chelsea, degraded=small)
    assert any("resized" in n for n in r.scores["notes"]) and "resized" in r.info


def test_gram_view_shared_scale_and_distances(vgg16, cache, chelsea, photos):
    same = views.gram_view(vgg16, cache, chelsea, chelsea, "relu2_2", "chw", 16)
    assert (same.distances["style distance"] == 0).all()
    other = views.analyse(vgg16, load_image(photos["coffee"][:300, :451]), "224")
    g = views.gram_view(vgg16, cache, chelsea, other, "relu2_2", "chw", 16)
    assert len(g.pictures) == 3 and (g.distances["style distance"] > 0).all()
    assert len(g.channels) == 16 and g.pictures[0][0].size == (16 * (384 // 16),) * 2
    pics, txt = views.gram_pair(vgg16, cache, chelsea, "relu2_2", 3, 5)
    assert [t for _, t in pics] == ["F_3", "F_5", "F_3 ⊙ F_5"]
    f = vgg16(chelsea.tensor, ["relu2_2"])["relu2_2"][0]
    assert txt.startswith("G[3, 5] = Σ F_3 · F_5 = ")
    assert float(txt.split("= ")[2].split()[0]) == pytest.approx(float((f[3] * f[5]).sum()), rel=1e-3)


def test_sweep_is_one_pass_and_split_only_when_large(vgg16, cache, chelsea, monkeypatch):
    n0 = vgg16.forward_count
    whole = views.sweep(vgg16, chelsea, ["noise", "blur"], k=4)
    assert vgg16.forward_count == n0 + 1 and "one batched pass" in whole.info
    assert len(whole.table) == 8 and len(whole.thumbnails) == 8
    for name in ("noise", "blur"):
        mse = whole.table[whole.table.degradation == name]["MSE"].tolist()
        assert mse == sorted(mse)
    monkeypatch.setattr(views, "SWEEP_PIXELS", 3 * chelsea.size[0] * chelsea.size[1])
    split = views.sweep(vgg16, chelsea, ["noise", "blur"], k=4)
    assert "3 passes of ≤ 3" in split.info
    assert split.table["perceptual"].tolist() == pytest.approx(whole.table["perceptual"].tolist(), rel=1e-5)
    rel = whole.plot[whole.plot.metric == "MSE"]["relative value"]
    assert rel.max() == pytest.approx(1.0) and not any(math.isnan(v) for v in rel)


def test_errors_are_user_messages(vgg16, cache, chelsea):
    with pytest.raises(ValueError, match="between 1 and 64"):
        views.layer_grid(vgg16, cache, chelsea, "relu1_1", 65)
    with pytest.raises(ValueError, match="analysis size"):
        views.resize_policy("999")
    with pytest.raises(ValueError, match="no layer"):
        views.layer_grid(vgg16, cache, chelsea, "relu9_9", 4)
    with pytest.raises(ValueError, match="at least one"):
        views.sweep(vgg16, chelsea, [], 3)
    from perceptual_viz.images import ImageError

    with pytest.raises(ImageError, match="upload"):
        views.require(None)


def test_analysis_sizes(vgg16, photos):
    img = load_image(photos["astronaut"])
    assert views.analyse(vgg16, img, "384").size == (384, 384)
    orig = views.analyse(vgg16, img, "original")
    assert orig.size == (512, 512) and not any("analysed at" in n for n in orig.notes)
    assert to_tensor(photos["astronaut"]).shape[-2:] == orig.tensor.shape[-2:]
