"""The figures without Gradio: exact derived layers, click mapping, one forward per request."""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_viz.errors import InputError
from perceptual_viz.features import FeatureCache, image_key, layer_activations
from perceptual_viz.figures import analyse, match_size, resize_policy
from perceptual_viz.figures import compare as fc
from perceptual_viz.figures import features as ff
from perceptual_viz.figures import gram as fg
from perceptual_viz.figures import sweep as fs
from perceptual_viz.figures.features import GRID_PAD
from perceptual_viz.images import load_image
from perceptual_viz.messages import english
from perceptual_viz.render import grid_geometry

from .support import to_tensor


@pytest.fixture
def cache():
    return FeatureCache()


@pytest.fixture(scope="module")
def chelsea(vgg16, photos):
    return analyse(vgg16, load_image(photos["chelsea"]), "224")


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
    ff.overview(vgg16, cache, chelsea, "224")
    n0 = vgg16.forward_count
    for layer in ("conv1_1", "relu3_3", "pool4", "relu5_3"):
        for sort in ("mean", "max", "index"):
            g = ff.grid(vgg16, cache, chelsea, "224", layer, 9, sort, "layer", "magma")
        ff.channel(vgg16, cache, chelsea, "224", layer, g.channels[0], "gray", 0.3)
    fg.matrices(vgg16, cache, chelsea, None, "224", "relu2_2", "gatys", 16)
    assert vgg16.forward_count == n0


@pytest.mark.parametrize("k", [10, 30, 50])
def test_click_maps_to_the_tile_under_the_pointer(vgg16, cache, chelsea, k):
    g = ff.grid(vgg16, cache, chelsea, "224", "relu2_2", k)
    chans, hw = g.channels, g.fmap_hw
    picture = next(iter(g.pictures.values()))
    th, tw, cols, rows = grid_geometry(k, *hw, tile=ff.grid_tile(k))
    grid_h = rows * th + (rows + 1) * GRID_PAD
    assert picture.size[0] == cols * tw + (cols + 1) * GRID_PAD
    assert picture.size[1] > grid_h + 20  # the colour bar sits under the tiles, not over them
    assert ff.channel_at_click(chans, hw, picture.size[0] // 2, picture.size[1] - 5) is None  # colour bar
    for j in range(k):
        r, q = divmod(j, cols)
        x = GRID_PAD + q * (tw + GRID_PAD) + tw // 2
        y = GRID_PAD + r * (th + GRID_PAD) + th // 2
        assert ff.channel_at_click(chans, hw, x, y) == chans[j]
    assert ff.channel_at_click(chans, hw, 0, 0) is None  # padding
    if rows * cols > k:  # the last cell of the last row is empty
        last_row_empty_x = GRID_PAD + (cols - 1) * (tw + GRID_PAD) + 1
        assert ff.channel_at_click(chans, hw, last_row_empty_x, grid_h - 3) is None


def test_channel_stats_are_those_of_the_map(vgg16, cache, chelsea):
    v = ff.channel(vgg16, cache, chelsea, "224", "relu1_2", 7)
    m = vgg16(chelsea.tensor, ["relu1_2"])["relu1_2"][0, 7]
    stats = v.stats
    assert stats["max"] == pytest.approx(float(m.max()))
    assert stats["fraction of zeros"] == pytest.approx(float((m == 0).float().mean()))
    pic = next(iter(v.pictures.values()))
    assert pic.width == chelsea.size[1] and pic.height > chelsea.size[0]  # title and colour bar added
    assert english(v.table.columns) == ["statistic", "value"]
    with pytest.raises(InputError, match="channels 0..63"):
        ff.channel(vgg16, cache, chelsea, "224", "relu1_2", 64)


def test_compare_forwards_only_the_degraded_image(vgg16, cache, chelsea):
    fc.compare(vgg16, cache, chelsea, "224", degradation="noise", strength=0.05)
    n0 = vgg16.forward_count
    r = fc.compare(vgg16, cache, chelsea, "224", degradation="noise", strength=0.2, layer="relu3_3")
    assert vgg16.forward_count == n0 + 1, "scores, maps and side-by-side channels share one pass"
    assert r.record["scores"]["mse"] > 0 and 0 < r.record["scores"]["ssim"] < 1
    assert len(r.maps) == 2 + 4 and len(r.side) == 3
    # clean, degraded, the maps, the side-by-side grids and the per-layer chart
    assert len(r.pictures) == 2 + 6 + 3 + 1


def test_compare_identical_upload_and_resize_notice(vgg16, cache, chelsea, photos):
    same = analyse(vgg16, load_image(photos["chelsea"]), "224")
    sc = fc.compare(vgg16, cache, chelsea, "224", degraded=same).record["scores"]
    assert sc["mse"] == 0 and sc["psnr"] is None and sc["ssim"] == pytest.approx(1, abs=1e-6)
    small = analyse(vgg16, load_image(photos["coffee"]), "256")
    r = fc.compare(vgg16, cache, chelsea, "224", degraded=small)
    assert any("resized" in n for n in r.record["scores"]["notes"]) and r.notes


def test_gram_view_shared_scale_and_distances(vgg16, cache, chelsea, photos):
    same = fg.matrices(vgg16, cache, chelsea, chelsea, "224", "relu2_2", "chw", 16)
    assert all(d == 0 for d in same.distances.column("style distance"))
    other = analyse(vgg16, load_image(photos["coffee"][:300, :451]), "224")
    g = fg.matrices(vgg16, cache, chelsea, other, "224", "relu2_2", "chw", 16)
    assert g.matrices == ["G_A", "G_B", "|G_A − G_B|"]
    assert all(d > 0 for d in g.distances.column("style distance"))
    assert len(g.channels) == 16
    ox, oy = g.origin  # the matrix inside its titled, ticked picture
    cell = g.scale
    assert g.pictures["G_A"].width >= ox + 16 * cell and g.pictures["G_A"].height > oy + 16 * cell
    pair = fg.pair(vgg16, cache, chelsea, "224", "relu2_2", 3, 5)
    assert list(pair.pictures) == ["F_3", "F_5", "F_3 ⊙ F_5"]
    txt = pair.text
    f = vgg16(chelsea.tensor, ["relu2_2"])["relu2_2"][0]
    assert txt.startswith("G[3, 5] = Σ F_3 · F_5 = ")
    assert float(txt.split("= ")[2].split()[0]) == pytest.approx(float((f[3] * f[5]).sum()), rel=1e-3)


@pytest.mark.slow
def test_sweep_is_one_pass_and_split_only_when_large(vgg16, cache, photos, monkeypatch):
    # At 112 px: passes are counted in images, so a quarter of the pixels proves the same.
    chelsea = analyse(vgg16, load_image(photos["chelsea"]), "112")
    n0 = vgg16.forward_count
    whole = fs.sweep(vgg16, chelsea, "112", ["noise", "blur"], k=4, chunk_images=None)
    assert vgg16.forward_count == n0 + 1 and "one batched pass" in str(whole.info)
    table = whole.table
    # the clean image, a chart per metric and 8 thumbnails
    assert len(table.rows) == 8 and len(whole.pictures) == 1 + len(fs.METRICS) + 8
    assert whole.charts == [f"chart {m}" for m in fs.METRICS]
    assert len(whole.thumbnails) == 8
    for name in ("noise", "blur"):
        mse = [r["MSE"] for r in table.records() if r["degradation"] == name]
        assert mse == sorted(mse)
    monkeypatch.setattr(fs, "SWEEP_PIXELS", 3 * chelsea.size[0] * chelsea.size[1])
    split = fs.sweep(vgg16, chelsea, "112", ["noise", "blur"], k=4, chunk_images=None)
    assert "3 passes of ≤ 3" in str(split.info)
    n0 = vgg16.forward_count
    auto = fs.sweep(vgg16, chelsea, "112", ["noise", "blur"], k=4)  # on a CPU: short passes
    assert "4 passes of ≤ 2" in str(auto.info)
    assert vgg16.forward_count == n0 + 4, "the clean image is forwarded once, not once per pass"
    assert auto.table.column("LPIPS") == pytest.approx(table.column("LPIPS"), rel=1e-5)
    assert split.table.column("perceptual") == pytest.approx(table.column("perceptual"), rel=1e-5)
    rel = [r["relative value"] for r in whole.plot.records() if r["metric"] == "MSE"]
    assert max(rel) == pytest.approx(1.0) and not any(math.isnan(v) for v in rel)


def test_errors_are_user_messages(vgg16, cache, chelsea):
    with pytest.raises(InputError, match="between 1 and 64"):
        ff.grid(vgg16, cache, chelsea, "224", "relu1_1", 65)
    with pytest.raises(InputError, match="size 'big' not understood"):
        resize_policy("big")
    with pytest.raises(InputError, match="no layer"):
        ff.grid(vgg16, cache, chelsea, "224", "relu9_9", 4)
    with pytest.raises(InputError, match="sort must be one of mean, max, index"):
        ff.grid(vgg16, cache, chelsea, "224", "relu1_1", 4, sort="maximum")
    with pytest.raises(InputError, match="at least one"):
        fs.sweep(vgg16, chelsea, "224", [], 3)
    with pytest.raises(InputError, match="unknown degradation 'foo'"):
        fs.sweep(vgg16, chelsea, "224", ["foo"], 3)
    with pytest.raises(InputError, match="unknown degradation 'foo'"):
        fc.compare(vgg16, cache, chelsea, "224", degradation="foo", strength=1)


def test_analysis_sizes(vgg16, photos):
    img = load_image(photos["astronaut"])
    assert analyse(vgg16, img, "384").size == (384, 384)
    orig = analyse(vgg16, img, "original")
    assert orig.size == (512, 512) and not any("analysed at" in n for n in orig.notes)
    assert to_tensor(photos["astronaut"]).shape[-2:] == orig.tensor.shape[-2:]


def test_colour_bar_caption_is_never_cut_at_the_bottom():
    import numpy as np

    from perceptual_viz.chrome import colour_bar

    im = colour_bar("viridis", 0.0, 1.0, 200, "gjpy (|) F_i and F_j, gjpy (|) on one scale")
    a = np.asarray(im)
    assert (a[-2:] == 255).all(), "the last rows are blank: every descender fits inside"
    assert (a[-20:-2] < 200).any(), "and the caption's last line is drawn just above them"


@pytest.mark.parametrize(("layer", "norm"), [("relu4_3", "gatys"), ("relu2_2", "none")])
def test_a_gram_matrix_shows_its_structure_beside_a_brighter_one(vgg16, cache, photos, layer, norm):
    """Brick wall (A) against the colour patches (B): on the default log scale, shared by the
    three matrices, at least half of G_A's cells are coloured clearly above the scale's minimum
    (a linear scale leaves most of them at its first colour), and the colour bar says so. With
    ImageNet weights when they are here (the case seen in class), else the untrained ones."""
    from perceptual_viz import chrome
    from perceptual_viz.assets import sample
    from perceptual_viz.backbone import load_vgg

    from .support import REAL_WEIGHTS

    if REAL_WEIGHTS.is_file():
        vgg16, cache = load_vgg("vgg16", str(REAL_WEIGHTS), "cpu"), FeatureCache()

    a = analyse(vgg16, load_image(sample("brick.png")), "224")
    b = analyse(vgg16, load_image(sample("patches.png")), "224")
    b = match_size(a, b)[0]
    with chrome.recording() as drawn:
        g = fg.matrices(vgg16, cache, a, b, "224", layer, norm, 32)
    sc = g.scales["G_A"]
    assert sc is g.scales["G_B"] is g.scales["|G_A − G_B|"], "one scale for the three"
    index = (sc.forward(g.values["G_A"]) - sc.t_lo) / (sc.t_hi - sc.t_lo)
    assert (index >= 0.1).mean() >= 0.5, (index >= 0.1).mean()
    assert any("log scale" in t for t in drawn)
    linear = fg.matrices(vgg16, cache, a, b, "224", layer, norm, 32, scale="linear").scales["G_A"]
    assert linear.kind == "linear" and g.values["G_A"].shape == (32, 32)
    own = fg.matrices(vgg16, cache, a, b, "224", layer, norm, 32, scale="log-own").scales
    assert own["G_A"] != own["G_B"]
