"""Tests for perceptual_viz.render: colour maps, grids, ranking, overlays."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_viz import render as R


def _tile(img: Image.Image, j: int, cols: int, tw: int, th: int, pad: int) -> np.ndarray:
    """Pixels of tile j in a channel_grid picture (grid layout documented in channel_grid)."""
    a = np.asarray(img)
    r, q = divmod(j, cols)
    y, x = pad + r * (th + pad), pad + q * (tw + pad)
    return a[y : y + th, x : x + tw]


def _luma(rgb: np.ndarray) -> float:
    return float((rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).mean())


# --- colour maps -------------------------------------------------------------------------


def test_colormap_names_and_tables():
    assert R.COLORMAPS == ("viridis", "magma", "inferno", "gray", "coolwarm")
    for name in R.COLORMAPS:
        lut = R._LUTS[name]
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
    for name, table in R._TABLES.items():
        assert len(table) == 17
        assert tuple(R._LUTS[name][0]) == table[0]
        assert tuple(R._LUTS[name][-1]) == table[-1]
        # The middle anchor (t = 0.5) sits halfway between LUT entries 127 and 128.
        mid = (R._LUTS[name][127].astype(int) + R._LUTS[name][128].astype(int)) / 2
        assert np.abs(mid - np.array(table[8])).max() <= 1.5
    assert np.array_equal(R._LUTS["gray"][:, 0], np.arange(256))


def test_known_colours():
    # Well-known matplotlib endpoints (viridis #440154 → #fde725; magma ends at near-white).
    assert R._TABLES["viridis"][0] == (68, 1, 84)
    assert R._TABLES["viridis"][-1] == (253, 231, 37)
    assert R._TABLES["coolwarm"][8] == (221, 220, 220)  # diverging map: neutral centre
    assert sum(R._TABLES["magma"][0]) < 10 and sum(R._TABLES["magma"][-1]) > 650


def test_lut_monotone_luminance_for_sequential_maps():
    for name in ("viridis", "magma", "inferno", "gray"):
        lum = R._LUTS[name].astype(float) @ np.array([0.299, 0.587, 0.114])
        assert np.all(np.diff(lum) >= -1.0), name


@pytest.mark.parametrize("cmap", R.COLORMAPS)
def test_colorize_endpoints(cmap):
    v = np.array([[2.0, 5.0], [3.5, 8.0]], dtype=np.float32)
    out = R.colorize(v, cmap, vmin=2.0, vmax=8.0)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    lut = R._LUTS[cmap]
    assert np.array_equal(out[0, 0], lut[0])
    assert np.array_equal(out[1, 1], lut[255])
    assert np.array_equal(out[1, 0], lut[round(1.5 / 6 * 255)])
    # Default limits are the data min/max.
    assert np.array_equal(R.colorize(v, cmap), out)


def test_colorize_clips_outside_limits():
    out = R.colorize(np.array([-10.0, 0.0, 1.0, 10.0]), "magma", vmin=0.0, vmax=1.0)
    lut = R._LUTS["magma"]
    assert np.array_equal(out[0], lut[0]) and np.array_equal(out[1], lut[0])
    assert np.array_equal(out[2], lut[255]) and np.array_equal(out[3], lut[255])


def test_colorize_constant_and_nan():
    mid = R._LUTS["viridis"][128]
    out = R.colorize(np.full((4, 5), 3.0))
    assert out.shape == (4, 5, 3)
    assert np.all(out == mid)
    out = R.colorize(np.zeros((3, 3)), vmin=1.0, vmax=1.0)
    assert np.all(out == mid)
    v = np.array([[0.0, np.nan], [1.0, np.inf]])
    out = R.colorize(v, "gray")
    assert out[0, 0, 0] == 0 and out[1, 0, 0] == 255  # NaN/inf do not spoil the limits
    assert out[0, 1, 0] == 0 and out[1, 1, 0] == 255
    all_nan = R.colorize(np.full((2, 2), np.nan))
    assert all_nan.shape == (2, 2, 3)


def test_colorize_unknown_cmap():
    with pytest.raises(ValueError, match="unknown colormap"):
        R.colorize(np.zeros((2, 2)), "jet")


def test_colorize_is_fast():
    v = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    R.colorize(v)
    t0 = time.perf_counter()
    for _ in range(5):
        R.colorize(v)
    assert (time.perf_counter() - t0) / 5 < 0.05


# --- to_numpy -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.int64])
def test_to_numpy_torch(dtype):
    t = torch.arange(6, dtype=dtype).reshape(2, 3)
    if dtype.is_floating_point:
        t.requires_grad_(True)
    a = R.to_numpy(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    assert np.array_equal(a, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_to_numpy_arrays():
    a = R.to_numpy(np.arange(4, dtype=np.uint8))
    assert a.dtype == np.float32 and a.tolist() == [0, 1, 2, 3]
    assert R.to_numpy([[1, 2]]).shape == (1, 2)


# --- channel_grid ---------------------------------------------------------------------------


def _two_ranges() -> np.ndarray:
    """Channel 0 spans 0..10 (strong), channel 1 spans 0..1 (weak), same spatial pattern."""
    ramp = np.tile(np.linspace(0.0, 1.0, 8, dtype=np.float32), (8, 1))
    return np.stack([10.0 * ramp, ramp])


def test_grid_scope_channel_vs_layer():
    f = _two_ranges()
    kw = {"tile": 16, "pad": 2, "labels": False, "cmap": "gray"}
    per = R.channel_grid(f, scope="channel", **kw)
    lay = R.channel_grid(f, scope="layer", **kw)
    cols = 2
    strong_p, weak_p = (_tile(per, j, cols, 16, 16, 2) for j in range(2))
    strong_l, weak_l = (_tile(lay, j, cols, 16, 16, 2) for j in range(2))
    # Per channel: each tile uses its full range, so the two tiles look identical.
    assert np.array_equal(strong_p, weak_p)
    assert weak_p.max() == 255 and weak_p.min() == 0
    # Layer: the weak channel shares the strong one's range and is much darker.
    assert np.array_equal(strong_l, strong_p)
    assert weak_l.max() <= 26
    assert _luma(weak_l) < 0.2 * _luma(strong_l)
    assert not np.array_equal(np.asarray(per), np.asarray(lay))


@pytest.mark.parametrize(
    ("c", "columns", "tile", "pad", "rows_cols"),
    [(64, None, 20, 2, (8, 8)), (10, None, 12, 1, (3, 4)), (10, 3, 16, 0, (4, 3)),
     (1, None, 32, 5, (1, 1)), (7, 7, 8, 3, (1, 7))],
)  # fmt: skip
def test_grid_shape_arithmetic(c, columns, tile, pad, rows_cols):
    f = np.random.default_rng(1).random((c, 7, 7), dtype=np.float32)
    img = R.channel_grid(f, columns=columns, tile=tile, pad=pad)
    rows, cols = rows_cols
    assert img.mode == "RGB"
    assert img.size == (cols * tile + (cols + 1) * pad, rows * tile + (rows + 1) * pad)


def test_grid_selected_channels_and_nonsquare():
    f = np.random.default_rng(2).random((16, 4, 8), dtype=np.float32)
    img = R.channel_grid(f, channels=[3, 5, 7], tile=32, pad=1, labels=False)
    # Longer side → 32 px, so tiles are 32 wide × 16 high; 3 tiles → 2 columns, 2 rows.
    assert img.size == (2 * 32 + 3 * 1, 2 * 16 + 3 * 1)
    alone = R.channel_grid(f[5:6], tile=32, pad=1, labels=False)
    assert np.array_equal(_tile(img, 1, 2, 32, 16, 1), _tile(alone, 0, 1, 32, 16, 1))
    # The empty cell and the padding stay background.
    assert np.all(_tile(img, 3, 2, 32, 16, 1) == 255)
    assert np.all(np.asarray(img)[0] == 255)


def test_grid_nearest_is_blocky():
    f = np.arange(4, dtype=np.float32).reshape(1, 2, 2)
    img = np.asarray(R.channel_grid(f, tile=8, pad=0, labels=False, cmap="gray"))
    expected = np.kron(np.array([[0, 85], [170, 255]]), np.ones((4, 4)))
    assert np.array_equal(img[:, :, 0], expected)


def test_grid_labels_drawn():
    f = np.zeros((2, 8, 8), dtype=np.float32)
    plain = np.asarray(R.channel_grid(f, tile=40, labels=False))
    lab = np.asarray(R.channel_grid(f, tile=40, labels=True))
    assert plain.shape == lab.shape
    diff = np.any(plain != lab, axis=-1)
    assert diff.any()
    ys, _ = np.nonzero(diff)
    assert ys.max() < 2 + 14  # label confined to the top of the tile row
    assert np.all(plain[2:42, 2:42] == R._LUTS["viridis"][128])  # constant map → mid colour
    # White text on a black box.
    assert (lab[diff] == 255).all(axis=-1).any() and (lab[diff] == 0).all(axis=-1).any()


def test_grid_accepts_torch_bf16_and_batch_dim():
    t = torch.randn(1, 6, 5, 5).to(torch.bfloat16)
    img = R.channel_grid(t, tile=10, pad=1)
    assert img.size == (3 * 10 + 4, 2 * 10 + 3)
    ref = R.channel_grid(t[0].float().numpy(), tile=10, pad=1)
    assert np.array_equal(np.asarray(img), np.asarray(ref))


def test_grid_constant_and_nan_channels():
    f = np.zeros((3, 6, 6), dtype=np.float32)
    f[1] = np.nan
    f[2, 0, 0] = np.nan
    f[2, 1:] = 1.0
    for scope in ("channel", "layer"):
        img = R.channel_grid(f, scope=scope, tile=6, pad=1, labels=False)
        assert img.size == (2 * 6 + 3, 2 * 6 + 3)
    img = R.channel_grid(f[:1], tile=6, pad=0, labels=False)
    assert np.all(np.asarray(img) == R._LUTS["viridis"][128])


def test_grid_errors():
    f = np.zeros((3, 4, 4), dtype=np.float32)
    with pytest.raises(IndexError):
        R.channel_grid(f, channels=[0, 3])
    with pytest.raises(ValueError):
        R.channel_grid(f, channels=[])
    with pytest.raises(ValueError):
        R.channel_grid(f, scope="global")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        R.channel_grid(np.zeros((2, 2, 2, 2)))


def test_grid_is_fast():
    f = torch.rand(64, 56, 56)
    R.channel_grid(f)
    t0 = time.perf_counter()
    for _ in range(3):
        R.channel_grid(f)
    assert (time.perf_counter() - t0) / 3 < 0.05


# --- rank_channels -------------------------------------------------------------------------


def _rank_fmap() -> np.ndarray:
    f = np.zeros((4, 3, 3), dtype=np.float32)
    f[0] = 1.0  # mean 1, max 1
    f[1, 0, 0] = 5.0  # mean 5/9, max 5
    f[2] = 2.0  # mean 2, max 2
    f[3] = -1.0
    f[3, 1, 1] = 3.0  # mean (3 - 8)/9 < 0, max 3
    return f


def test_rank_channels():
    f = _rank_fmap()
    assert R.rank_channels(f, "mean") == [2, 0, 1, 3]
    assert R.rank_channels(f, "max") == [1, 3, 2, 0]
    assert R.rank_channels(f, "max", k=2) == [1, 3]
    assert R.rank_channels(f, "index", k=3) == [0, 1, 2]
    assert R.rank_channels(f, k=10) == [2, 0, 1, 3]
    assert R.rank_channels(f, k=0) == []
    assert R.rank_channels(torch.from_numpy(f).to(torch.bfloat16), "mean") == [2, 0, 1, 3]
    with pytest.raises(ValueError):
        R.rank_channels(f, "median")  # type: ignore[arg-type]


def test_rank_channels_ties_and_nan():
    f = np.ones((3, 2, 2), dtype=np.float32)
    f[1] = np.nan
    assert R.rank_channels(f) == [0, 2, 1]


# --- overlay / upsample / heatmap / colorbar -----------------------------------------------


def _image() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


def test_overlay_alpha_extremes():
    img = _image()
    vals = np.random.default_rng(4).random((6, 8)).astype(np.float32)
    out0 = R.overlay(img, vals, alpha=0.0)
    assert out0.size == (32, 24) and out0.mode == "RGB"
    assert np.array_equal(np.asarray(out0), img)
    out0f = R.overlay(img / 255.0, vals, alpha=0.0)
    assert np.array_equal(np.asarray(out0f), img)
    out1 = R.overlay(img, vals, alpha=1.0, cmap="magma")
    expected = R.colorize(R.upsample(vals, (24, 32)), "magma", vals.min(), vals.max())
    assert np.array_equal(np.asarray(out1), expected)
    half = np.asarray(R.overlay(img, vals, alpha=0.5, cmap="magma")).astype(int)
    assert np.abs(half - (img.astype(int) + expected.astype(int)) / 2).max() <= 1


def test_overlay_torch_bf16_values_and_explicit_limits():
    img = _image()
    vals = torch.linspace(0, 1, 48).reshape(6, 8).to(torch.bfloat16)
    out = np.asarray(R.overlay(img, vals, alpha=1.0, cmap="gray", vmin=0.0, vmax=100.0))
    assert out.max() <= 3  # everything near the bottom of a 0..100 range


def test_upsample():
    v = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    near = R.upsample(v, (4, 6), nearest=True)
    assert near.shape == (4, 6) and near.dtype == np.float32
    assert np.array_equal(near, np.kron(v, np.ones((2, 3))))
    bil = R.upsample(v, (20, 30))
    assert bil.shape == (20, 30)
    assert bil.min() >= 0.0 and bil.max() <= 3.0
    assert len(np.unique(bil)) > 4  # actually interpolates
    assert np.array_equal(R.upsample(v, (2, 2)), v)


def test_heatmap():
    g = np.array([[1.0, -1.0], [0.0, 2.0]])
    img = R.heatmap(g, cmap="coolwarm", scale=5)
    assert img.size == (10, 10)
    a = np.asarray(img)
    assert np.array_equal(a[0, 0], R._LUTS["coolwarm"][round(2 / 3 * 255)])
    assert np.array_equal(a[9, 9], R._LUTS["coolwarm"][255])
    assert np.array_equal(a[0, 9], R._LUTS["coolwarm"][0])
    assert np.all(a[:5, :5] == a[0, 0])
    assert R.heatmap(g).size == (2, 2)
    with pytest.raises(ValueError):
        R.heatmap(g, scale=0)


def test_grid_default_columns_near_square():
    for c in (1, 2, 3, 5, 16, 17, 512):
        f = np.zeros((c, 2, 2), dtype=np.float32)
        img = R.channel_grid(f, tile=2, pad=0, labels=False)
        cols = math.ceil(math.sqrt(c))
        assert img.size == (cols * 2, math.ceil(c / cols) * 2)


@pytest.mark.parametrize("log", [False, True])
def test_line_chart_draws_an_empty_axis_before_the_first_point(log):
    """A streamed run's first report has no loss yet: the chart is an empty frame, not an error."""
    from perceptual_viz.plots import line_chart

    empty = line_chart({"mse": [], "perceptual": []}, title="t", xlabel="step", ylabel="loss", log=log)
    assert empty.size[0] == 360 and np.asarray(empty).std() > 0  # axes and legend drawn
    one = line_chart({"mse": [(0.0, 0.5)]}, title="t", xlabel="step", ylabel="loss", log=log)
    assert np.abs(np.asarray(one, dtype=int) - np.asarray(empty.crop((0, 0, *one.size)), dtype=int)).sum() > 0


def test_bar_chart_on_a_fixed_axis_puts_bars_and_the_guide_at_their_values():
    """Percent bars on a 0–100 axis: a 50 % bar is half as tall as a 100 % one, the dashed 50 %
    guide is level with its top, and a missing value (nothing counted yet) draws no bar."""
    from perceptual_viz.plots import PALETTE, bar_chart

    colour = PALETTE[2]
    kw = {"title": "t", "ylabel": "%", "ylim": (0.0, 100.0), "colour": colour, "size": (420, 300)}
    values = [50.0, 100.0, float("nan")]
    img = np.asarray(bar_chart(["half", "all", "none yet"], values, guide=(50.0, "chance"), **kw))
    bar = np.all(img == colour, axis=2)
    xs = np.flatnonzero(bar.any(axis=0))
    split = xs[np.argmax(np.diff(xs))] + 1  # the gap between the two bars
    first, second = bar[:, :split], bar[:, split:]
    bottom = np.flatnonzero(first.any(axis=1)).max()
    half_top, all_top = np.flatnonzero(first.any(axis=1)).min(), np.flatnonzero(second.any(axis=1)).min()
    assert abs(2 * (bottom - half_top) - (bottom - all_top)) <= 2
    assert bar[:, xs.max() + 20 :].sum() == 0, "no bar for a value not counted yet"
    # The guide: a dashed line at 50 % through the empty third slot, with gaps, and nothing else
    # there; drawn under the bars (a bar's colour is unbroken across it).
    x0 = xs.max() + 20
    drawn = (img[half_top - 1 : half_top + 2, x0 : x0 + 40] != 255).any(axis=2).any(axis=0)
    assert 0.3 < drawn.mean() < 0.95
    assert not (img[half_top - 12 : half_top - 2, x0 : x0 + 40] != 255).any()
    assert first[half_top + 1 : bottom].all(axis=0).sum() > 20
