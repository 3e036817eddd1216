"""The real app, launched in-process and driven through its public API with ``gradio_client``.

Every public endpoint (``/status``, ``/overview``, ``/feature_grid``, ``/channel``, ``/locate``,
``/gram``, ``/gram_pair``, ``/compare``, ``/sweep``) is called over HTTP exactly as an API user
would, and the returned VALUES are checked against a fresh untrained VGG16 run independently:

- pictures carry their own title and colour bar, so their content is checked, not captions:
  the maps, tiles and Gram matrices inside them are found and compared with the same maps
  rendered from the independent forward pass, and a title band is compared with the title
  that names the right shape and receptive field;
- readable tables (3–4 significant digits) are checked to agree with full-precision values
  (the JSON outputs and the records inside the export zips);
- statistics, Gram entries, style and perceptual distances are recomputed independently;
- metric orderings, error messages, and that view changes are served from the feature cache
  without running VGG again.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from perceptual_viz import chrome  # noqa: E402
from perceptual_viz.degrade import DEGRADATIONS, degrade  # noqa: E402
from perceptual_viz.export import read_bundle  # noqa: E402
from perceptual_viz.features import Resize, prepare, resize_images  # noqa: E402
from perceptual_viz.figures import features as ff  # noqa: E402
from perceptual_viz.figures.sweep import COLUMNS as SWEEP_HEADERS  # noqa: E402
from perceptual_viz.figures.sweep import METRICS as SWEEP_METRICS  # noqa: E402
from perceptual_viz.gram import FORMULAS, gram  # noqa: E402
from perceptual_viz.images import load_image  # noqa: E402
from perceptual_viz.render import channel_grid, grid_geometry, heatmap, overlay, upsample  # noqa: E402

from .support import ASTRONAUT, CHELSEA, COFFEE, ROOT, serve  # noqa: E402

SWEEP_COLUMNS = [str(c) for c in SWEEP_HEADERS]  # the headers in English, as an API caller reads them
CHELSEA_HW = (224, 337)
BLOCKS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
BLOCK_CHANNELS = (64, 128, 256, 512, 512)
STRIDES = (1, 2, 4, 8, 16)
RECEPTIVE_FIELDS = (5, 14, 40, 92, 196)
SCORE_KEYS = {"mse", "psnr", "ssim", "ms_ssim", "perceptual", "style", "lpips", "dists"}
SCORE_KEYS |= {"device", "size", "seconds", "notes"}
GRID_PAD = 2
GRAM_PX = 384  # a Gram matrix is drawn top × (384 // top) px wide
# Two renderings of the same map may differ where a value sits on a colour-map boundary (the app's
# forward and the reference's agree to ~1e-6, not bit for bit): a few levels, on a few pixels.
PIXEL_TOL = 12
MAX_BAD = 0.002


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pool(served):
    """The model pool of the app served as app.py serves it (``client`` talks to it)."""
    return served.pool


def _prepared(path: Path) -> torch.Tensor:
    """(1, 3, H, W): the image as the app analyses it at "224" (shorter side 224 px)."""
    return prepare(load_image(path).tensor(), Resize("shorter", 224))


@pytest.fixture(scope="module")
def reference(vgg16):
    """Activations computed independently of the app: load → prepare(shorter 224) → VGG16
    (with ``hw``, the prepared image resized to that size first, as a second image is)."""
    memo: dict[tuple[Path, str, tuple[int, int] | None], torch.Tensor] = {}

    def acts(path: Path, layer: str, hw: tuple[int, int] | None = None) -> torch.Tensor:
        if (path, layer, hw) not in memo:
            x = _prepared(path)
            if hw is not None:
                x = resize_images(x, hw)
            with torch.inference_mode():
                memo[path, layer, hw] = vgg16(x, [layer])[layer][0].clone()
        return memo[path, layer, hw]

    return acts


# --------------------------------------------------------------------------- helpers


def _img(path: Path | str):
    return handle_file(str(path))


def _size(path: str) -> tuple[int, int]:
    """(width, height) of a picture the app returned."""
    assert path and Path(path).is_file(), path
    with Image.open(path) as im:
        return im.size


def _pixels(picture: str | Image.Image) -> np.ndarray:
    """HxWx3 uint8 of a picture the app returned (a path) or of a PIL image."""
    if isinstance(picture, Image.Image):
        return np.asarray(picture.convert("RGB"))
    assert picture and Path(picture).is_file(), picture
    with Image.open(picture) as im:
        return np.asarray(im.convert("RGB"))


def _grid_size(n: int, h: int, w: int, *, columns: int | None = None) -> tuple[int, int]:
    th, tw, cols, rows = grid_geometry(n, h, w, tile=ff.grid_tile(n), columns=columns)
    return cols * tw + (cols + 1) * GRID_PAD, rows * th + (rows + 1) * GRID_PAD


def _top(stat: torch.Tensor, k: int) -> list[int]:
    """Indices of the ``k`` largest values, descending (ties in index order)."""
    return [int(i) for i in torch.argsort(stat, descending=True, stable=True)[:k]]


def _reference_grid(
    f: torch.Tensor, chans: list[int], *, scope: str = "channel", cmap: str = "viridis", columns=None
) -> Image.Image:
    """Channels ``chans`` of the reference map ``f`` tiled as a channel grid shows them."""
    tile = ff.grid_tile(len(chans))
    return channel_grid(f.numpy(), chans, scope=scope, cmap=cmap, tile=tile, pad=GRID_PAD, columns=columns)


def _bad_fraction(got: np.ndarray, want: np.ndarray) -> float:
    diff = np.abs(got.astype(np.int16) - want.astype(np.int16)).max(axis=-1)
    return float((diff > PIXEL_TOL).mean())


def _assert_close(
    got: np.ndarray, want: np.ndarray | Image.Image, what: str, max_bad: float = MAX_BAD
) -> None:
    """Two renderings of the same values: equal but for colour-map rounding on a few pixels."""
    want = _pixels(want) if isinstance(want, Image.Image) else want
    assert got.shape == want.shape, f"{what}: {got.shape} ≠ {want.shape}"
    bad = _bad_fraction(got, want)
    assert bad <= max_bad, f"{what}: {bad:.2%} of the pixels differ"


def _find(picture: np.ndarray, patch: np.ndarray | Image.Image, what: str) -> tuple[int, int]:
    """(x, y) where ``patch`` sits inside ``picture`` (up to colour-map rounding), or fail."""
    q = _pixels(patch).astype(np.int16) if isinstance(patch, Image.Image) else patch.astype(np.int16)
    p = picture.astype(np.int16)
    (ph, pw), (h, w) = p.shape[:2], q.shape[:2]
    assert ph >= h and pw >= w, f"{what}: a {pw}×{ph} picture cannot hold a {w}×{h} map"
    ok = np.ones((ph - h + 1, pw - w + 1), bool)
    for y, x in ((0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1), (h // 2, w // 2)):
        ok &= (np.abs(p[y : y + ph - h + 1, x : x + pw - w + 1] - q[y, x]) <= PIXEL_TOL).all(axis=-1)
    for y, x in np.argwhere(ok)[:2000]:
        if _bad_fraction(p[y : y + h, x : x + w], q) <= MAX_BAD:
            return int(x), int(y)
    pytest.fail(f"{what}: not found in the picture")


def _assert_grid_on_top(path: str, grid: Image.Image, what: str) -> None:
    """A channel-grid picture: exactly ``grid`` at the top left, its colour bar underneath."""
    got = _pixels(path)
    (h, w), (gw, gh) = got.shape[:2], grid.size
    assert w >= gw and h > gh + 20, f"{what}: {w}×{h} for a {gw}×{gh} grid and its colour bar"
    _assert_close(got[:gh, :gw], grid, what)
    assert (got[:gh, gw:] == 255).all(), f"{what}: only white beside the grid (the bar may be wider)"


def _assert_overview_picture(path: str, f: torch.Tensor, block: int, cmap: str) -> None:
    """One block of the overview: the block's four strongest channels (by mean) in two columns,
    under a title that names the block, its shape, receptive field and stride."""
    c, h, w = f.shape
    name = BLOCKS[block - 1]
    grid = _reference_grid(f, _top(f.mean(dim=(1, 2)), 4), cmap=cmap, columns=2)
    assert grid.size == _grid_size(4, h, w, columns=2)
    rf, stride = RECEPTIVE_FIELDS[block - 1], STRIDES[block - 1]
    sub = f"{c}×{h}×{w} · RF {rf} px · stride {stride} · each tile scaled to its own range"
    want = _pixels(chrome.titled(grid, f"{block}. {name}", sub))
    got = _pixels(path)
    assert got.shape == want.shape, f"{name}: {got.shape[1]}×{got.shape[0]}, want the grid's width"
    band = got.shape[0] - grid.height
    assert band > 0 and np.array_equal(got[:band], want[:band]), f"{name}: title (shape, RF) differs"
    _assert_close(got[band:], want[band:], f"{name}: tiles")


def _rows(frame: dict) -> list[dict]:
    """A Dataframe value from gradio_client as a list of {column: value} rows."""
    cols = frame.get("headers") or frame.get("columns")
    return [dict(zip(cols, r, strict=True)) for r in frame["data"]]


def _caption(markdown: str) -> str:
    """The text of a bold markdown caption (its first paragraph)."""
    head = markdown.split("\n\n")[0]
    assert head.startswith("**") and head.endswith("**"), markdown
    return head[2:-2]


def _shown_tolerance(shown: str, digits: int = 4) -> float:
    """Half a unit in the last of the ``digits`` significant digits printed."""
    v = abs(float(shown))
    return 0.0 if v == 0 else 0.5 * 10 ** (math.floor(math.log10(v)) - digits + 1) * 1.001


def _assert_shown(shown: str, value: float | None, digits: int = 4, rel: float = 1e-6) -> None:
    """A number of a readable table is ``value`` to ``digits`` significant digits ("—": none);
    ``rel``: slack for a value recomputed independently of the app."""
    if value is None:
        assert shown == "—", shown
        return
    assert isinstance(shown, str), shown
    assert abs(float(shown) - value) <= _shown_tolerance(shown, digits) + rel * abs(value), (shown, value)


def _error(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


def _assert_clean_error(msg: str) -> None:
    """A user-facing error: no traceback, no server paths."""
    assert "Traceback" not in msg
    assert str(ROOT) not in msg and "/work/main" not in msg
    assert "site-packages" not in msg and ".py" not in msg


# --------------------------------------------------------------------------- /status


def test_status_shows_untrained_banner_arch_and_device(client):
    md = client.predict("vgg16", api_name="/status")
    assert isinstance(md, str)
    assert "UNTRAINED" in md
    assert "**vgg16**" in md and "device: **cpu**" in md


# --------------------------------------------------------------------------- /overview


def test_overview_five_blocks_with_shapes_that_halve(client, reference):
    gallery, notes, plain = client.predict(_img(CHELSEA), "vgg16", "224", "viridis", api_name="/overview")
    assert len(gallery) == 5
    shapes = []
    for block, (item, name, chans) in enumerate(zip(gallery, BLOCKS, BLOCK_CHANNELS, strict=True), start=1):
        f = reference(CHELSEA, name)
        assert f.shape[0] == chans
        shapes.append(tuple(f.shape[1:]))
        # four strongest channels, two columns of 96-px tiles, titled "1. relu1_2" /
        # "64×224×337 · RF 5 px · stride 1 · …"
        _assert_overview_picture(item["image"], f, block, "viridis")
    assert shapes[0] == CHELSEA_HW
    for (h0, w0), (h1, w1) in itertools.pairwise(shapes):
        assert (h1, w1) == (h0 // 2, w0 // 2)
    assert "analysed at 337×224 px" in notes and "shorter side resized to 224 px" in notes
    # the picture to click a point on: the image exactly as analysed
    x = _prepared(CHELSEA)[0].permute(1, 2, 0).numpy()
    got = _pixels(plain).astype(np.float32) / 255
    assert got.shape == (*CHELSEA_HW, 3) and np.abs(got - x).max() <= 1 / 255 + 1e-6


def test_overview_notes_name_corrections_of_a_small_grey_upload(client, reference, tmp_path):
    p = tmp_path / "grey.png"
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    Image.fromarray(ramp, "L").save(p)
    gallery, notes, plain = client.predict(_img(p), "vgg16", "224", "gray", api_name="/overview")
    assert len(gallery) == 5
    assert "greyscale repeated to 3 channels" in notes
    assert "analysed at 299×224 px" in notes  # 64×48 scaled so the shorter side is 224
    f = reference(p, "relu1_2")
    assert tuple(f.shape) == (64, 224, 299)
    _assert_overview_picture(gallery[0]["image"], f, 1, "gray")  # titled "64×224×299 · RF 5 px …"
    assert _size(plain) == (299, 224)


def test_overview_without_an_image_is_a_clean_user_error(client):
    with pytest.raises(AppError) as ei:
        client.predict(None, "vgg16", "224", "viridis", api_name="/overview")
    msg = _error(ei)
    assert "upload an image first" in msg
    _assert_clean_error(msg)


def test_too_small_image_is_a_clean_user_error(client, tmp_path):
    p = tmp_path / "tiny.png"
    Image.new("RGB", (20, 40), (200, 30, 30)).save(p)
    with pytest.raises(AppError) as ei:
        client.predict(_img(p), "vgg16", "224", "viridis", api_name="/overview")
    msg = _error(ei)
    assert "20×40" in msg and "at least 32×32" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- /feature_grid


def _grid(client, path, layer, k=16, sort="mean", scope="channel", cmap="viridis"):
    """(picture, caption markdown, first channel) of /feature_grid."""
    return client.predict(_img(path), "vgg16", "224", layer, k, sort, scope, cmap, api_name="/feature_grid")


def test_feature_grid_caption_size_and_strongest_channel_first(client, reference):
    pic, caption, first = _grid(client, CHELSEA, "relu3_3", k=16)
    assert _caption(caption) == "relu3_3 · 256×56×84 · receptive field 40 px · stride 4 · top 16 by mean"
    f = reference(CHELSEA, "relu3_3")
    chans = _top(f.mean(dim=(1, 2)), 16)
    assert first == chans[0] == int(f.mean(dim=(1, 2)).argmax())
    # In words, for a reader who cannot see the tiles: the first three and their means.
    means = f.mean(dim=(1, 2))
    said = caption.split("\n\n")[1]
    assert said.startswith("Strongest channels: ")
    found = re.findall(r"(\d+) \(mean ([-\d.e]+)\)", said)
    assert [int(c) for c, _ in found] == chans[:3]
    assert [float(v) for _, v in found] == pytest.approx([float(means[c]) for c in chans[:3]], rel=2e-3)
    grid = _reference_grid(f, chans)
    assert grid.size == _grid_size(16, 56, 84)
    _assert_grid_on_top(pic, grid, "relu3_3, top 16 by mean")


@pytest.mark.parametrize(
    ("layer", "k", "shape"), [("relu1_2", 1, (64, 224, 337)), ("conv4_3", 64, (512, 28, 42))]
)
def test_feature_grid_k_extremes(client, reference, layer, k, shape):
    pic, caption, first = _grid(client, CHELSEA, layer, k=k, sort="max", scope="layer", cmap="magma")
    c, h, w = shape
    assert _caption(caption).startswith(f"{layer} · {c}×{h}×{w} · receptive field ")
    assert _caption(caption).endswith(f" · top {k} by max")
    f = reference(CHELSEA, layer)
    assert tuple(f.shape) == shape
    chans = _top(f.amax(dim=(1, 2)), k)
    assert first == chans[0]
    grid = _reference_grid(f, chans, scope="layer", cmap="magma")  # one scale for every tile
    assert grid.size == _grid_size(k, h, w)
    _assert_grid_on_top(pic, grid, f"{layer}, top {k} by max")


def test_feature_grid_sort_by_index_starts_at_channel_zero(client, reference):
    pic, caption, first = _grid(client, CHELSEA, "pool4", k=9, sort="index")
    assert first == 0
    assert _caption(caption) == "pool4 · 512×14×21 · receptive field 100 px · stride 16 · top 9 by index"
    grid = _reference_grid(reference(CHELSEA, "pool4"), list(range(9)))
    assert grid.size == _grid_size(9, 14, 21)
    _assert_grid_on_top(pic, grid, "pool4, channels 0–8")


def test_feature_grid_unknown_layer_error_names_the_layer(client):
    with pytest.raises(AppError) as ei:
        _grid(client, CHELSEA, "relu9_9")
    msg = _error(ei)
    assert "relu9_9" in msg
    assert "Traceback" not in msg


# --------------------------------------------------------------------------- /channel


@pytest.mark.parametrize(("layer", "ch", "stride"), [("relu3_3", 5, 4), ("conv2_1", 17, 2)])
def test_channel_stats_match_an_independent_forward(client, reference, layer, ch, stride):
    pic, table, stats = client.predict(
        _img(CHELSEA), "vgg16", "224", layer, ch, "inferno", 0.6, api_name="/channel"
    )
    m = reference(CHELSEA, layer)[ch].numpy()
    assert stats["layer"] == layer and stats["channel"] == ch
    assert stats["map size"] == f"{m.shape[1]}×{m.shape[0]}"
    assert stats["min"] == pytest.approx(float(m.min()), rel=1e-4, abs=1e-7)
    assert stats["max"] == pytest.approx(float(m.max()), rel=1e-4)
    assert stats["mean"] == pytest.approx(float(m.mean()), rel=1e-4)
    assert stats["fraction of zeros"] == pytest.approx(float((m == 0).mean()), rel=1e-4, abs=1e-9)
    iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
    assert stats["max at (x, y) in the map"] == f"({ix}, {iy})"
    # unit i of a layer with stride s is centred on input pixel s·i + (s − 1) / 2
    centre = [round(stride * int(i) + (stride - 1) / 2) for i in (ix, iy)]
    assert stats["max at ≈ (x, y) in the image"] == f"({centre[0]}, {centre[1]})"
    if layer.startswith("relu"):
        assert stats["min"] >= 0.0
    # The readable table says the same, to 3 significant digits.
    shown = {r["statistic"]: r["value"] for r in _rows(table)}
    assert shown["layer · channel"] == f"{layer} · {ch}"
    assert shown["map size"] == stats["map size"]
    for s, v in zip(shown["min · mean · max"].split(" · "), (m.min(), m.mean(), m.max()), strict=True):
        _assert_shown(s, float(v), 3, rel=1e-4)
    assert shown["zeros (ReLU off)"] == f"{float((m == 0).mean()):.0%}"
    strongest = [v for k, v in shown.items() if k.startswith("strongest unit")]
    assert len(strongest) == 1 and strongest[0].startswith(f"({ix}, {iy}),"), strongest
    # The picture: this channel over the image at the image's size, its colour bar underneath
    # (the strongest unit's receptive field is outlined on it: a few pixels differ there).
    h, w = CHELSEA_HW
    got = _pixels(pic)
    assert got.shape[1] == w and got.shape[0] > h + 20
    image = _prepared(CHELSEA)[0].permute(1, 2, 0).numpy()
    want = overlay(image, m, cmap="inferno", alpha=0.6, vmin=float(m.min()), vmax=float(m.max()))
    _assert_close(got[:h], want, f"{layer}[{ch}] over the image", max_bad=0.02)


def test_channel_out_of_range_is_a_clean_user_error(client):
    with pytest.raises(AppError) as ei:
        client.predict(_img(CHELSEA), "vgg16", "224", "relu1_2", 64, "viridis", 0.5, api_name="/channel")
    msg = _error(ei)
    assert "relu1_2 has channels 0..63" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- /locate


def test_locate_follows_a_point_through_the_blocks(client, reference):
    x, y = 100, 50
    pic, table, units = client.predict(_img(CHELSEA), "vgg16", "224", x, y, api_name="/locate")
    rows = _rows(table)
    assert [r["block"] for r in rows] == list(BLOCKS)
    h, w = CHELSEA_HW
    for r, name, stride, rf in zip(rows, BLOCKS, STRIDES, RECEPTIVE_FIELDS, strict=True):
        f = reference(CHELSEA, name)
        row, col = min(y // stride, f.shape[1] - 1), min(x // stride, f.shape[2] - 1)
        assert units["cells"][name] == [row, col]
        assert r["unit (x, y)"] == f"({col}, {row})"
        assert r["sees"] == f"{rf} px"
        # the unit's receptive field: rf px centred on the stride × stride block it owns, clipped
        x0, y0 = stride * col + (stride - rf) // 2, stride * row + (stride - rf) // 2
        box = [max(0, x0), max(0, y0), min(w - 1, x0 + rf - 1), min(h - 1, y0 + rf - 1)]
        assert units["boxes"][name] == box
        assert "receptive field" not in r  # drawn on the picture, and in the JSON: not a 6th column
        column = f[:, row, col]
        top, value = r["top channel: value"].split(": ")
        assert int(top) == int(column.argmax())
        _assert_shown(value, float(column.max()), 3, rel=1e-4)
        _assert_shown(r["mean over channels"], float(column.mean()), 3, rel=1e-4)
    pw, ph = _size(pic)
    assert pw == w and ph > h  # the image, under its title, above the key of colours


# --------------------------------------------------------------------------- /gram


def _gram(client, a, b, layer="relu2_2", norm="chw", top=32):
    """G_A, G_B, |G_A − G_B|, the style-distance chart, the formula and the export zip."""
    return client.predict(
        _img(a), None if b is None else _img(b), "vgg16", "224", layer, norm, top, "viridis", api_name="/gram"
    )


def _gram_of(reference, path: Path, layer: str, norm: str, hw=None) -> torch.Tensor:
    """The reference Gram matrix (C, C) of one image; "gatys" draws the raw Gram."""
    return gram(reference(path, layer, hw)[None], "none" if norm == "gatys" else norm)[0]


def _log_colours(maps: list[np.ndarray]) -> tuple[list[np.ndarray], float, float]:
    """The colour numbers of maps on one log scale, as the captions define it: each value v is
    coloured by log(1 + v / s), s half the median size of the non-zero values, from the scale's
    minimum (0, or the smallest value if negative) to its maximum; (numbers per map, lo, hi)."""
    values = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in maps])
    s = float(np.median(np.abs(values[values != 0]))) / 2
    t = [np.sign(m) * np.log1p(np.abs(np.asarray(m, dtype=np.float64)) / s) for m in maps]
    lo, hi = min(0.0, float(values.min())), float(values.max())
    return t, float(np.sign(lo) * np.log1p(abs(lo) / s)), float(np.log1p(hi / s))


def _assert_matrices(pictures: list[str], mats: list[torch.Tensor], top: int) -> None:
    """Each picture holds its matrix, ``GRAM_PX // top`` px per cell, all on one log colour scale
    (the default: a few bright cells do not flatten the rest)."""
    numbers, lo, hi = _log_colours([m.double().numpy() for m in mats])
    for k, (pic, m, t) in enumerate(zip(pictures, mats, numbers, strict=True)):
        assert m.shape == (top, top)
        want = heatmap(t, cmap="viridis", vmin=lo, vmax=hi, scale=GRAM_PX // top)
        assert want.size == (GRAM_PX, GRAM_PX)
        _find(_pixels(pic), want, f"matrix {k}")


def test_gram_export_holds_the_matrices_and_settings(client, reference):
    ga, gb, gd, chart, _formula, zipped = _gram(client, CHELSEA, COFFEE, layer="relu3_3", top=16)
    record, pics = read_bundle(zipped)
    assert record["kind"] == "gram"
    st = record["settings"]
    assert st["layer"] == "relu3_3" and st["top_channels"] == 16 and st["image_b"]
    g = _gram_of(reference, CHELSEA, "relu3_3", "chw")
    assert st["channels_shown"] == _top(torch.diagonal(g), 16)  # A's strongest by energy G_ii
    # Style distance, recomputed: mean |G_A − G_B| with G ÷ C·H·W, B resized to A's size.
    got = {r["layer"]: r["style distance"] for r in record["style_distances"]}
    want = {
        n: float(
            (_gram_of(reference, CHELSEA, n, "chw") - _gram_of(reference, COFFEE, n, "chw", CHELSEA_HW))
            .abs()
            .mean()
        )
        for n in BLOCKS
    }
    assert list(got) == list(BLOCKS) and got == pytest.approx(want, rel=1e-3)
    # Every picture shown is in the zip, unchanged.
    captions = list(record["pictures"].values())
    assert captions == ["image A", "image B", "G_A", "G_B", "|G_A − G_B|", "style distance per layer"]
    by_caption = {c: np.asarray(pics[n]) for n, c in record["pictures"].items()}
    for caption, shown in zip(captions[2:], (ga, gb, gd, chart), strict=True):
        assert np.array_equal(by_caption[caption], _pixels(shown)), caption
    assert by_caption["image A"].shape == by_caption["image B"].shape == (*CHELSEA_HW, 3)


def test_gram_single_image_sets_only_g_a(client, reference):
    ga, gb, gd, chart, formula, zipped = _gram(client, CHELSEA, None, norm="chw", top=32)
    assert gb is None and gd is None
    assert chart is None  # no style-distance chart with one image
    assert "'chw'" in formula and FORMULAS["chw"] in formula
    record, _ = read_bundle(zipped)
    assert record["style_distances"] is None
    g = _gram_of(reference, CHELSEA, "relu2_2", "chw")
    chans = _top(torch.diagonal(g), 32)
    assert record["settings"]["channels_shown"] == chans
    _assert_matrices([ga], [g[chans][:, chans]], 32)  # 32 channels × 12 px


def test_gram_same_image_twice_has_zero_style_distance(client, reference):
    ga, gb, gd, _, formula, zipped = _gram(client, CHELSEA, CHELSEA, layer="relu1_2", norm="gatys", top=128)
    assert "'gatys'" in formula and FORMULAS["gatys"] in formula
    record, _ = read_bundle(zipped)
    chans = record["settings"]["channels_shown"]
    assert len(chans) == 64  # top clamped to relu1_2's 64 channels (× 6 px)
    g = _gram_of(reference, CHELSEA, "relu1_2", "gatys")
    assert chans == _top(torch.diagonal(g), 64)
    m = g[chans][:, chans]
    _assert_matrices([ga, gb, gd], [m, m, torch.zeros_like(m)], 64)
    assert _size(ga) == _size(gb) == _size(gd)
    rows = record["style_distances"]
    assert [r["layer"] for r in rows] == list(BLOCKS)
    assert all(r["style distance"] == pytest.approx(0.0, abs=1e-12) for r in rows)


def test_gram_two_photos_have_positive_style_distances(client, reference):
    ga, gb, gd, chart, formula, zipped = _gram(client, CHELSEA, COFFEE, norm="none", top=16)
    assert all(p is not None for p in (ga, gb, gd, chart))
    assert "'none'" in formula and FORMULAS["none"] in formula
    record, _ = read_bundle(zipped)
    g_a = _gram_of(reference, CHELSEA, "relu2_2", "none")
    g_b = _gram_of(reference, COFFEE, "relu2_2", "none", CHELSEA_HW)
    chans = _top(torch.diagonal(g_a), 16)
    assert record["settings"]["channels_shown"] == chans
    a, b = g_a[chans][:, chans], g_b[chans][:, chans]
    _assert_matrices([ga, gb, gd], [a, b, (a - b).abs()], 16)  # 16 channels × 24 px
    rows = record["style_distances"]
    assert [r["layer"] for r in rows] == list(BLOCKS)
    assert all(r["style distance"] > 0 for r in rows)


# --------------------------------------------------------------------------- /gram_pair


def test_gram_pair_value_is_the_raw_gram_entry(client, reference):
    layer = "relu2_2"
    f = reference(CHELSEA, layer)
    g = gram(f[None], "none")[0]
    i, j = _top(torch.diagonal(g), 2)  # non-zero entries
    gallery, txt = client.predict(
        _img(CHELSEA), "vgg16", "224", layer, i, j, "viridis", api_name="/gram_pair"
    )
    # F_i and F_j on one scale, then their product on its own, each at the image's size
    lo, hi = float(torch.minimum(f[i].min(), f[j].min())), float(torch.maximum(f[i].max(), f[j].max()))
    prod = (f[i] * f[j]).numpy()
    maps = [(f[i].numpy(), lo, hi), (f[j].numpy(), lo, hi), (prod, float(prod.min()), float(prod.max()))]
    assert len(gallery) == 3
    for k, (item, (m, vmin, vmax)) in enumerate(zip(gallery, maps, strict=True)):
        w, h = _size(item["image"])
        assert w == CHELSEA_HW[1] and h > CHELSEA_HW[0]
        want = heatmap(upsample(m, CHELSEA_HW, nearest=True), cmap="viridis", vmin=vmin, vmax=vmax)
        _find(_pixels(item["image"]), want, ["F_i", "F_j", "F_i ⊙ F_j"][k])
    m = re.fullmatch(rf"G\[{i}, {j}\] = Σ F_{i} · F_{j} = (\S+)\s+\(÷ C·H·W = (\S+)\)", txt)
    assert m, txt
    expect = float(g[i, j])
    c, h, w = f.shape
    assert expect > 0
    _assert_shown(m[1], expect, 4, rel=1e-4)
    _assert_shown(m[2], expect / (c * h * w), 4, rel=1e-4)


# --------------------------------------------------------------------------- /compare


def _compare(
    client, clean, degraded=None, source="degrade", deg="blur", strength=2.0, seed=0, layer="relu2_2"
):
    """The eight outputs of /compare: pair, scores table, per-layer chart, maps, side-by-side
    channels, info, scores JSON, export zip."""
    return client.predict(
        _img(clean),
        None if degraded is None else _img(degraded),
        source,
        deg,
        strength,
        seed,
        "vgg16",
        "224",
        layer,
        api_name="/compare",
    )


def _compare_scores(client, clean, **kw) -> dict:
    return _compare(client, clean, **kw)[6]


def _assert_shown_pictures(shown: list, record: dict, pics: dict, captions: list[str]) -> None:
    """The gallery ``shown`` is the zip's pictures of these ``captions``, in this order."""
    by_caption = {c: pics[n] for n, c in record["pictures"].items()}
    assert len(shown) == len(captions)
    for item, caption in zip(shown, captions, strict=True):
        assert np.array_equal(_pixels(item["image"]), np.asarray(by_caption[caption])), caption


def test_compare_export_bundle_reproduces_the_figure(client, pool):
    *_, scores, zipped = _compare(client, CHELSEA, deg="jpeg", strength=25, seed=4, layer="relu3_3")
    record, pics = read_bundle(zipped)
    assert record["kind"] == "compare"
    assert record["scores"]["ssim"] == pytest.approx(scores["ssim"], rel=1e-9)
    assert record["scores"]["lpips"] == pytest.approx(scores["lpips"], rel=1e-9)
    st = record["settings"]
    # a seed changes nothing in JPEG: the record says the default, whatever was sent
    assert (st["degradation"], st["strength"], st["seed"], st["side_by_side_layer"]) == (
        "jpeg",
        25,
        0,
        "relu3_3",
    )
    assert st["analysis_size"] == "224" and st["size_hw"] == list(CHELSEA_HW)
    model = pool.get("vgg16")
    assert record["model"]["arch"] == "vgg16" and record["model"]["fingerprint"] == model.fingerprint
    assert record["model"]["weights"]["source"] == model.status.source
    assert record["environment"]["torch"] == torch.__version__
    # Every picture shown is in the zip, as PNG: the pair, the difference maps, the channel grids.
    names = list(record["pictures"])
    assert names[:2] == ["01_clean.png", "02_degraded.png"] and set(names) == set(pics)
    assert any("SSIM" in c for c in record["pictures"].values())
    assert sum("relu3_3" in c for c in record["pictures"].values()) >= 3
    clean = pics["01_clean.png"]
    assert clean.size == (CHELSEA_HW[1], CHELSEA_HW[0])
    # The degraded picture is exactly what the settings reproduce.
    x = prepare(load_image(CHELSEA).tensor(), Resize.parse("224"), torch.device("cpu"))
    again = degrade(x, "jpeg", 25, seed=4)[0].permute(1, 2, 0).numpy()
    got = np.asarray(pics["02_degraded.png"], dtype=np.float32) / 255
    assert np.abs(got - again).max() <= 1 / 255 + 1e-6


def test_compare_identical_upload_scores_perfectly(client):
    pair, table, chart, maps, side, info, scores, zipped = _compare(client, CHELSEA, CHELSEA, source="upload")
    assert set(scores) == SCORE_KEYS
    assert scores["mse"] == 0
    assert scores["psnr"] is None
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert scores["perceptual"]["total"] == 0 and scores["style"]["total"] == 0
    assert list(scores["perceptual"]["layers"].values()) == [0, 0, 0, 0]
    assert scores["device"] == "cpu" and scores["size"] == list(CHELSEA_HW) and scores["notes"] == []
    values = {r["metric"]: r["value"] for r in _rows(table)}
    assert list(values) == [
        "MSE",
        "PSNR (dB)",
        "SSIM",
        "MS-SSIM",
        "perceptual",
        "style",
        "LPIPS-VGG",
        "DISTS",
    ]
    assert values["MSE"] == "0" and values["PSNR (dB)"] == "∞" and values["SSIM"] == "1"
    assert scores["ms_ssim"] == pytest.approx(1.0, abs=1e-6) and scores["dists"] == pytest.approx(0, abs=1e-6)
    assert values["perceptual"] == "0" and values["style"] == "0"
    assert info.startswith("uploaded image · scored at 337×224 px on cpu in ")
    assert re.search(r" in \d+ ms", info)
    assert [_size(p) for p in pair] == [(337, 224)] * 2
    assert len(maps) == 6 and len(side) == 3
    record, pics = read_bundle(zipped)
    assert np.array_equal(_pixels(chart), np.asarray(pics[list(record["pictures"])[-1]]))


def test_compare_degradation_outputs_are_consistent(client, vgg16):
    pair, table, chart, maps, side, info, scores, zipped = _compare(
        client, CHELSEA, deg="jpeg", strength=20, layer="relu3_3"
    )
    assert set(scores) == SCORE_KEYS
    assert scores["mse"] > 0 and scores["psnr"] == pytest.approx(10 * math.log10(1 / scores["mse"]), rel=1e-4)
    assert 0 < scores["ssim"] < 1
    layers = scores["perceptual"]["layers"]
    assert list(layers) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert scores["perceptual"]["total"] == pytest.approx(sum(layers.values()), rel=1e-6)
    # Recomputed independently: MSE and mean |φ(clean) − φ(degraded)| per layer.
    x = _prepared(CHELSEA)
    y = degrade(x, "jpeg", 20, seed=0)
    assert scores["mse"] == pytest.approx(float(((x - y) ** 2).mean()), rel=1e-4)
    with torch.inference_mode():
        fx, fy = vgg16(x, list(layers)), vgg16(y, list(layers))
    want = {n: float((fx[n] - fy[n]).abs().mean()) for n in layers}
    assert layers == pytest.approx(want, rel=1e-3)
    # The readable table: every score to 4 significant digits.
    values = {r["metric"]: r["value"] for r in _rows(table)}
    for metric, v in (
        ("MSE", scores["mse"]),
        ("PSNR (dB)", scores["psnr"]),
        ("SSIM", scores["ssim"]),
        ("perceptual", scores["perceptual"]["total"]),
        ("style", scores["style"]["total"]),
        ("LPIPS-VGG", scores["lpips"]),
        ("MS-SSIM", scores["ms_ssim"]),
        ("DISTS", scores["dists"]),
    ):
        _assert_shown(values[metric], v)
    assert 0 < scores["ms_ssim"] < 1 and scores["dists"] > 0
    assert info.startswith("JPEG compression, quality = 20 (seed 0) · scored at 337×224 px on cpu in ")
    assert " ms" in info
    # The maps and channel grids shown are the zip's, named there; the maps at the image's size
    # (with title and colour bar), the first the squared error of the two.
    record, pics = read_bundle(zipped)
    map_captions = ["squared error", "1 − SSIM", *(f"feature distance {n}" for n in layers)]
    _assert_shown_pictures(maps, record, pics, map_captions)
    assert all(_size(m["image"])[0] == 337 and _size(m["image"])[1] > 224 + 20 for m in maps)
    err = ((x - y) ** 2).mean(dim=1)[0].numpy()
    # drawn on a log scale when a few pixels dwarf the rest (the largest over 20 × the median), as
    # JPEG's block edges do here
    assert float(err.max()) > 20 * float(np.median(err[err > 0]))
    (t,), lo, hi = _log_colours([err])
    _find(_pixels(maps[0]["image"]), heatmap(t, cmap="magma", vmin=lo, vmax=hi), "(a − b)²")
    _assert_shown_pictures(side, record, pics, [f"{s} relu3_3" for s in ("clean", "degraded", "difference")])
    gw, gh = _grid_size(8, 56, 84, columns=4)  # the clean image's 8 strongest channels, 4 columns
    assert all(_size(s["image"])[0] == gw and _size(s["image"])[1] > gh for s in side)
    assert list(record["pictures"].values())[-1] == "perceptual distance per layer"
    assert np.array_equal(_pixels(chart), np.asarray(pics[list(record["pictures"])[-1]]))
    assert [_size(p) for p in pair] == [(337, 224)] * 2


def test_compare_blur_strengths_order_the_scores(client):
    runs = [_compare_scores(client, CHELSEA, deg="blur", strength=s) for s in (1.0, 2.0, 4.0)]
    mse = [r["mse"] for r in runs]
    ssim = [r["ssim"] for r in runs]
    perc = [r["perceptual"]["total"] for r in runs]
    assert 0 < mse[0] < mse[1] < mse[2]
    assert 1 > ssim[0] > ssim[1] > ssim[2]
    assert perc[0] < perc[1] < perc[2]


def test_compare_noise_strengths_order_the_scores(client):
    # Strengths below jpeg's 1..95 must reach degrade(): the slider's bounds cover every degradation.
    runs = [_compare_scores(client, CHELSEA, deg="noise", strength=s, seed=3) for s in (0.02, 0.1, 0.3)]
    mse = [r["mse"] for r in runs]
    ssim = [r["ssim"] for r in runs]
    assert 0 < mse[0] < mse[1] < mse[2]
    assert 1 > ssim[0] > ssim[1] > ssim[2]


def test_compare_out_of_range_strength_is_a_clear_error(client):
    with pytest.raises(AppError, match="out of range"):
        _compare(client, CHELSEA, deg="noise", strength=5.0)


def test_compare_upload_of_another_size_is_resized_with_a_notice(client, tmp_path):
    p = tmp_path / "square.png"
    Image.open(CHELSEA).convert("RGB").crop((0, 0, 300, 300)).save(p)
    pair, *_, info, scores, _zipped = _compare(client, CHELSEA, p, source="upload")
    assert scores["size"] == list(CHELSEA_HW)
    assert len(scores["notes"]) == 1
    note = scores["notes"][0]
    assert "resized" in note and "(224×224)" in note and "337×224" in note
    assert "⚠️" in info and note in info
    assert scores["mse"] > 0 and scores["ssim"] < 1
    assert [_size(x) for x in pair] == [(337, 224)] * 2


def test_compare_upload_without_a_degraded_image_is_a_user_error(client):
    with pytest.raises(AppError) as ei:
        _compare(client, CHELSEA, None, source="upload")
    msg = _error(ei)
    assert "upload the degraded image" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- /sweep


def test_sweep_table_charts_thumbnails_and_info(client):
    names, k = ["noise", "blur"], 3
    charts, table, thumbs, info, zipped = client.predict(
        _img(CHELSEA), names, k, 0, "vgg16", "224", api_name="/sweep"
    )
    record, pics = read_bundle(zipped)
    assert record["kind"] == "sweep"
    assert record["settings"]["degradations"] == names and record["settings"]["levels"] == k
    # The zip holds the clean image, a chart per metric and the thumbnails: those shown.
    thumb_captions = [
        f"{n} L{lvl} ({s:g})" for n in names for lvl, s in enumerate(DEGRADATIONS[n].levels(k), start=1)
    ]
    assert thumb_captions[0] == "noise L1 (0.02)" and thumb_captions[-1] == "blur L3 (6)"
    chart_captions = [f"chart {m}" for m in SWEEP_METRICS]
    assert list(record["pictures"].values()) == ["clean", *chart_captions, *thumb_captions]
    _assert_shown_pictures(charts, record, pics, chart_captions)
    _assert_shown_pictures(thumbs, record, pics, thumb_captions)
    assert len({_size(c["image"]) for c in charts}) == 1
    for t in thumbs:  # a 128-px thumbnail under its title
        w, h = _size(t["image"])
        assert w == 128 and 85 < h < CHELSEA_HW[0]
    # The table shown is the export's, every value to 4 significant digits.
    full = record["table"]
    rows = _rows(table)
    assert len(rows) == len(full) == len(names) * k
    for shown, exact in zip(rows, full, strict=True):
        assert list(shown) == list(exact) == SWEEP_COLUMNS
        assert (shown["degradation"], shown["level"]) == (exact["degradation"], exact["level"])
        for col in SWEEP_COLUMNS[2:]:
            _assert_shown(shown[col], exact[col])
    for n in names:
        mine = [r for r in full if r["degradation"] == n]
        assert [r["level"] for r in mine] == [1, 2, 3]
        assert [r["strength"] for r in mine] == pytest.approx(DEGRADATIONS[n].levels(k))
        mse = [r["MSE"] for r in mine]
        assert mse == sorted(mse) and mse[0] > 0
        assert all(r["1 − SSIM"] == pytest.approx(1 - r["SSIM"], abs=2e-6) for r in mine)
    # On a CPU a sweep is a long job that scores in short passes (it gives way to quick views).
    assert info.startswith("6 degraded images + the clean one scored in 3 passes of ≤ 2 on cpu")


def test_sweep_without_degradations_is_a_user_error(client):
    with pytest.raises(AppError) as ei:
        client.predict(_img(CHELSEA), [], 3, 0, "vgg16", "224", api_name="/sweep")
    msg = _error(ei)
    assert "pick at least one degradation" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- cache reuse


def _unseen(path: Path, tmp_path: Path) -> Path:
    """A copy of the photo with one pixel changed: content no test has asked for, so neither
    the shared result cache nor the feature cache already holds it, whatever ran before."""
    a = np.array(Image.open(path).convert("RGB"))
    a[0, 0, 0] ^= 1
    out = tmp_path / f"unseen_{path.stem}.png"
    Image.fromarray(a).save(out)
    return out


def _quiet(model, still_s: float = 1.0, limit_s: float = 60.0) -> int:
    """The model's forward count once the shared server has finished what earlier tests left
    queued (a closed page's last requests still run): unchanged for ``still_s``."""
    deadline = time.monotonic() + limit_s
    n = model.forward_count
    while time.monotonic() < deadline:
        time.sleep(still_s)
        if model.forward_count == n:
            return n
        n = model.forward_count
    raise AssertionError("the shared server never went quiet")


def test_view_changes_do_not_run_vgg_again(client, pool, tmp_path):
    img = _img(_unseen(ASTRONAUT, tmp_path))  # its overview computes, and caches, its features
    gallery, _, _ = client.predict(img, "vgg16", "224", "viridis", api_name="/overview")
    gw, gh = _grid_size(4, 224, 224, columns=2)  # relu1_2 of a 224×224 image: square tiles
    assert _size(gallery[0]["image"])[0] == gw and _size(gallery[0]["image"])[1] > gh
    model = pool.get("vgg16")
    before = _quiet(model)
    assert before >= 1
    for layer in ("conv1_1", "relu3_3", "pool4", "relu5_3"):
        _, caption, _ = client.predict(
            img, "vgg16", "224", layer, 8, "mean", "channel", "viridis", api_name="/feature_grid"
        )
        assert _caption(caption).startswith(f"{layer} · ")
    for k, sort, scope, cmap in ((1, "max", "layer", "magma"), (64, "index", "channel", "gray")):
        client.predict(img, "vgg16", "224", "relu4_3", k, sort, scope, cmap, api_name="/feature_grid")
    for layer, ch in (("relu2_2", 3), ("pool5", 511)):
        _, _, stats = client.predict(img, "vgg16", "224", layer, ch, "viridis", 0.3, api_name="/channel")
        assert stats["channel"] == ch
    client.predict(img, "vgg16", "224", 30, 200, api_name="/locate")
    client.predict(img, None, "vgg16", "224", "relu3_3", "chw", 16, "viridis", api_name="/gram")
    client.predict(img, "vgg16", "224", "relu4_3", 0, 1, "viridis", api_name="/gram_pair")
    assert model.forward_count == before, "a view change ran VGG again"


def test_compare_new_strength_runs_vgg_once(client, pool, tmp_path):
    clean = _unseen(COFFEE, tmp_path)
    img = _img(clean)
    client.predict(img, "vgg16", "224", "viridis", api_name="/overview")  # the clean image is cached
    model = pool.get("vgg16")
    n0 = _quiet(model)
    first = _compare_scores(client, clean, deg="jpeg", strength=30)
    n = model.forward_count
    assert n == n0 + 1, f"{n - n0} forward passes for the first degraded image"
    second = _compare_scores(client, clean, deg="jpeg", strength=70)
    assert second["mse"] < first["mse"]
    assert model.forward_count == n + 1, f"{model.forward_count - n} forward passes for one new image"


def test_vgg19_layers_are_accepted_through_the_api(client):
    out = client.predict(
        handle_file(str(CHELSEA)),
        "vgg19",
        "224",
        "conv5_4",
        4,
        "mean",
        "channel",
        "viridis",
        api_name="/feature_grid",
    )
    assert _caption(out[1]).startswith("conv5_4 · 512×14×21")
    assert _size(out[0])[0] == _grid_size(4, 14, 21)[0]


def test_events_run_in_their_lanes(pool):
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.lanes import LaneLimits

    demo = build_demo(pool, LaneLimits(interactive=3, long=1))  # the launched app is unaffected
    lane = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values()}
    for api in ("overview", "feature_grid", "channel", "locate", "gram", "gram_pair", "compare"):
        assert lane[api] == ("interactive", 3), api
    # the page's own redraws: a new image, a view change, a click on a tile, a point or a cell
    for api in (
        "ui_image",
        "ui_overview",
        "ui_views",
        "ui_views_after_switch",
        "ui_channel",
        "ui_channel_change",
        "ui_point",
        "ui_gram",
        "ui_pair",
    ):
        assert lane[api] == ("interactive", 3), api
    for api in ("sweep", "equal_mse", "reconstruct", "style_transfer", "top_patches", "visualize"):
        assert lane[api] == ("long", 1), api
    assert lane["status"] == ("loader", None)  # waiting for a backbone holds no compute slot
    # a view change (cached features, no VGG pass) skips the queue's round trip; the lanes'
    # own slots still bound it (tests/test_lanes.py)
    (view,) = [fn for fn in demo.fns.values() if fn.api_name == "ui_view_change"]
    assert view.queue is False


def test_the_sweeps_k_is_capped_without_undoing_what_was_typed():
    """Choosing degradations caps K at what they can give; an answer that arrives after the user
    typed a new K (still within the cap) must not put the old one back, so it sends no value."""
    from perceptual_viz.ui.tabs.sweep import levels_slider

    within = levels_slider(["noise", "blur"], 5)
    assert within["maximum"] == 8 and "value" not in within
    capped = levels_slider(["quantize"], 8)
    assert capped["maximum"] == 7 and capped["value"] == 7
    assert "at most 7" in str(capped["label"])


def test_an_app_with_open_heartbeat_streams_closes_cleanly():
    """A client's heartbeat stream waits on the server's stop event; ``serve.close`` sets it on
    the server's own loop (asyncio events are not thread-safe), then stops the server."""
    with serve() as app:
        client = gradio_client.Client(app.url, verbose=False)
        client.predict("vgg16", api_name="/status")  # a session with its heartbeat running
    event = app.demo.app.stop_event
    assert event.is_set() and not app.demo.is_running
    client.close()
