"""The PNG encoder: lossless for every mode it writes, Pillow's for the rest, comparable size."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from perceptual_viz import png


def _decoded(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (37, 5), (64, 48)])
def test_round_trip_is_pixel_exact(mode: str, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    arr = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    img = Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)
    back = _decoded(png.encode(img))
    assert back.format == "PNG" and back.mode == mode and back.size == size
    assert np.array_equal(np.asarray(back), np.asarray(img))


def test_scanlines_use_the_sub_filter() -> None:
    """The filter is what makes it fast and small: each row is "Sub" (1), the bytes wrap mod 256."""
    img = Image.fromarray(np.array([[[250, 0, 9], [4, 255, 9]]], np.uint8), "RGB")
    data = png.encode(img)
    start = data.index(b"IDAT") + 4
    (length,) = np.frombuffer(data[start - 8 : start - 4], ">u4")
    raw = zlib.decompress(data[start : start + int(length)])
    assert list(raw) == [1, 250, 0, 9, (4 - 250) % 256, 255, 0]


def test_other_modes_go_to_pillow() -> None:
    img = Image.new("P", (8, 8), 3)
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64)
    back = _decoded(png.encode(img))
    assert back.mode == "P" and np.array_equal(np.asarray(back), np.asarray(img))


def test_size_is_close_to_pillows_adaptive_filters() -> None:
    """On what the app sends (a photo; a blocky upsampled heatmap, titled, with its colour bar) the
    files are within 25 % of Pillow's adaptive row filters at the same zlib level."""
    from perceptual_viz import chrome
    from perceptual_viz.assets import SAMPLES_DIR
    from perceptual_viz.render import heatmap

    field = np.random.default_rng(0).random((28, 42)).repeat(8, 0).repeat(8, 1)
    fig = chrome.titled(chrome.with_colour_bar(heatmap(field, cmap="magma"), "magma", 0, 1, "d"), "T", "s")
    with Image.open(SAMPLES_DIR / "chelsea.png") as photo:
        pictures = [photo.convert("RGB"), fig.convert("RGB")]
    for img in pictures:
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        assert len(png.encode(img)) <= 1.25 * len(buf.getvalue())
