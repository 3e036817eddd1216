"""Tests for perceptual_viz.images: every odd or hostile input is generated here."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_viz.images import (
    DEFAULT_MAX_SIDE,
    MAX_PIXELS,
    MIN_SIDE,
    ImageError,
    LoadedImage,
    load_image,
    to_pil,
)
from perceptual_viz.messages import english

from . import support
from .hostile import encode, png_declaring


def _png_bytes(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return support.photo("astronaut", np.uint8)[::4, ::4].copy()  # 128×128×3 uint8


def _check_result(r: LoadedImage) -> None:
    assert isinstance(r, LoadedImage)
    assert r.array.dtype == np.float32 and r.array.ndim == 3 and r.array.shape[2] == 3
    assert r.array.flags["C_CONTIGUOUS"]
    assert float(r.array.min()) >= 0 and float(r.array.max()) <= 1
    assert r.original_size[0] >= r.array.shape[1] and r.original_size[1] >= r.array.shape[0]


def test_constants() -> None:
    assert MAX_PIXELS == 50_000_000 and MIN_SIDE == 32 and DEFAULT_MAX_SIDE == 1024
    assert issubclass(ImageError, ValueError)


# --- sources -----------------------------------------------------------------------------------


def test_png_path_str_and_pathlib(tmp_path: Path, photo: np.ndarray) -> None:
    p = tmp_path / "photo.png"
    Image.fromarray(photo).save(p)
    for src in (p, str(p)):
        r = load_image(src)
        _check_result(r)
        assert english(r.notes) == []
        assert r.original_size == (128, 128)
        assert np.array_equal(r.array, photo.astype(np.float32) / 255)


def test_bytes_bytearray_filelike_pil_and_array_agree(photo: np.ndarray) -> None:
    data = _png_bytes(Image.fromarray(photo))
    ref = load_image(data).array
    for src in (
        bytearray(data),
        io.BytesIO(data),
        Image.open(io.BytesIO(data)),
        Image.fromarray(photo),
        photo,
        photo.astype(np.float32) / 255,
    ):
        r = load_image(src)
        _check_result(r)
        assert np.allclose(r.array, ref, atol=1e-6), type(src)


def test_torch_tensor_input(photo: np.ndarray) -> None:
    t = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    assert np.allclose(load_image(t).array, photo / 255, atol=1e-6)
    assert np.allclose(load_image(t[None]).array, photo / 255, atol=1e-6)


def test_tensor_method(photo: np.ndarray) -> None:
    r = load_image(photo)
    t = r.tensor()
    assert t.shape == (1, 3, 128, 128) and t.dtype == torch.float32
    assert torch.equal(t[0].permute(1, 2, 0), torch.from_numpy(r.array))
    t[0, 0, 0, 0] = 5.0  # a copy: the array is untouched
    assert r.array[0, 0, 0] <= 1
    assert r.tensor("cpu").device.type == "cpu"


def test_text_mode_file_and_bad_type(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("hello")
    with open(p) as f, pytest.raises(TypeError, match="text mode"):
        load_image(f)
    with pytest.raises(TypeError, match="cannot load an image from a dict"):
        load_image({})


# --- hostile files -----------------------------------------------------------------------------


def test_missing_file_names_only_basename(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found: nope.png") as e:
        load_image(tmp_path / "nope.png")
    assert str(tmp_path) not in str(e.value)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path)


def test_empty_file_and_bytes(tmp_path: Path) -> None:
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        load_image(p)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_random_bytes_named_png(tmp_path: Path) -> None:
    p = tmp_path / "random.png"
    p.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ImageError, match="not an image in a supported format"):
        load_image(p)


def test_text_file(tmp_path: Path) -> None:
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a picture\n" * 20)
    with pytest.raises(ImageError, match="not an image"):
        load_image(p)


@pytest.mark.parametrize(
    "text",
    [
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"></svg>',
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
    ],
)
def test_svg(tmp_path: Path, text: str) -> None:
    p = tmp_path / "drawing.svg"
    p.write_text(text)
    with pytest.raises(ImageError, match=r"SVG \(vector\) images are not supported; export it as PNG"):
        load_image(p)


def test_plain_xml_is_not_called_svg() -> None:
    with pytest.raises(ImageError, match="not an image") as e:
        load_image(b'<?xml version="1.0"?><data>1</data>')
    assert "SVG" not in str(e.value)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_png(tmp_path: Path, photo: np.ndarray, keep: float) -> None:
    data = _png_bytes(Image.fromarray(photo))
    p = tmp_path / "cut.png"
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(p)


def test_truncated_header_is_corrupt_not_unknown(photo: np.ndarray) -> None:
    data = _png_bytes(Image.fromarray(photo))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(data[:20])


def test_truncated_jpeg(photo: np.ndarray) -> None:
    data = encode(Image.fromarray(photo), "JPEG", quality=90)
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(data[: len(data) // 2])


def test_truncated_images_flag_not_set_globally() -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (100, 20)])
def test_too_small(tmp_path: Path, size: tuple[int, int]) -> None:
    p = tmp_path / "small.png"
    Image.new("RGB", size, (10, 20, 30)).save(p)
    w, h = size
    msg = f"image is {w}×{h} px; VGG needs at least 32×32 px (five 2× poolings)"
    with pytest.raises(ImageError) as e:
        load_image(p)
    assert str(e.value) == msg
    with pytest.raises(ImageError, match="VGG needs at least 32×32"):
        load_image(np.zeros((h, w, 3), np.uint8))


def test_min_side_parameter() -> None:
    assert load_image(np.zeros((8, 8), np.uint8), min_side=8).array.shape == (8, 8, 3)


def test_declared_size_bomb(tmp_path: Path) -> None:
    p = tmp_path / "bomb.png"
    p.write_bytes(png_declaring(20000, 20000))
    assert p.stat().st_size < 200
    with pytest.raises(ImageError, match=r"20000×20000 = 400,000,000 pixels.*50,000,000"):
        load_image(p)


def test_declared_size_over_our_limit_but_under_pillows(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"declares 10000×8000 .* limit of 50,000,000"):
        load_image(png_declaring(10000, 8000))
    # A custom limit is checked before decoding: the IDAT here is far too small to decode.
    with pytest.raises(ImageError, match=r"declares 300×200 = 60,000 pixels.*limit of 1,000"):
        load_image(png_declaring(300, 200), max_pixels=1000)


def test_tiny_bmp_declaring_huge_size() -> None:
    header = struct.pack("<2sIHHI", b"BM", 70, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, 30000, 30000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    with pytest.raises(ImageError, match="30000×30000"):
        load_image(header + info + b"\x00" * 16)


def test_array_over_max_pixels() -> None:
    with pytest.raises(ImageError, match="more than the limit of 1,000 pixels"):
        load_image(np.zeros((40, 40), np.uint8), max_pixels=1000)


# --- modes and conversions ---------------------------------------------------------------------


def test_16bit_png_keeps_precision(tmp_path: Path) -> None:
    a = np.full((40, 48), 1000, np.uint16)
    a[0, 0], a[0, 1] = 1001, 65535
    p = tmp_path / "deep.png"
    Image.fromarray(a).save(p)
    r = load_image(p)
    assert "16-bit image scaled to [0,1]" in english(r.notes)
    assert "greyscale repeated to 3 channels" in english(r.notes)
    assert r.array.shape == (40, 48, 3)
    assert abs(float(r.array[5, 5, 0]) - 1000 / 65535) < 1e-7
    assert r.array[0, 0, 0] > r.array[5, 5, 0]  # 1001 ≠ 1000: not squeezed through uint8
    assert r.array[0, 1, 2] == 1.0


def test_uint16_array() -> None:
    a = np.full((40, 40, 3), 1000, np.uint16)
    r = load_image(a)
    assert "16-bit image scaled to [0,1]" in english(r.notes)
    assert np.allclose(r.array, 1000 / 65535, atol=1e-7)


def test_cmyk_jpeg() -> None:
    data = encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG", quality=95)
    r = load_image(data)
    assert "CMYK converted to RGB" in english(r.notes)
    red = r.array[20, 20]
    assert red[0] > 0.9 and red[1] < 0.1 and red[2] < 0.1


def test_palette_with_transparency_composited_on_white() -> None:
    im = Image.new("P", (40, 40), 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 20, 40))  # left half blue, right half index 0 = transparent
    data = _png_bytes(im, transparency=0)
    r = load_image(data)
    assert "transparency composited on white" in english(r.notes)
    assert np.array_equal(r.array[:, :20], np.broadcast_to([0, 0, 1], (40, 20, 3)))
    assert np.array_equal(r.array[:, 20:], np.ones((40, 20, 3), np.float32))


def test_palette_without_transparency() -> None:
    im = Image.new("P", (40, 40), 1)
    im.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    r = load_image(_png_bytes(im))
    assert english(r.notes) == []
    assert np.allclose(r.array[0, 0], np.array([200, 100, 50]) / 255)


def test_la_composite_exact() -> None:
    im = Image.new("LA", (40, 40), (0, 128))
    r = load_image(_png_bytes(im))
    assert "transparency composited on white" in english(r.notes)
    assert np.allclose(r.array, 1 - 128 / 255, atol=1e-6)


def test_rgba_composite_exact() -> None:
    a = np.zeros((40, 40, 4), np.uint8)
    a[:10] = (255, 0, 0, 0)  # fully transparent red → white
    a[10:20] = (0, 0, 255, 255)  # opaque blue
    a[20:] = (100, 50, 200, 51)  # partially transparent
    r = load_image(_png_bytes(Image.fromarray(a)))
    assert "transparency composited on white" in english(r.notes)
    assert np.array_equal(r.array[:10], np.ones((10, 40, 3), np.float32))
    assert np.array_equal(r.array[10:20], np.broadcast_to([0, 0, 1], (10, 40, 3)))
    alpha = 51 / 255
    want = np.array([100, 50, 200]) / 255 * alpha + (1 - alpha)
    assert np.allclose(r.array[30, 30], want, atol=1e-6)
    assert np.allclose(load_image(a).array, r.array, atol=1e-6)  # same rule for arrays


def test_opaque_rgba_has_no_note() -> None:
    r = load_image(Image.new("RGBA", (40, 40), (1, 2, 3, 255)))
    assert english(r.notes) == []


def test_greyscale_and_bilevel() -> None:
    r = load_image(Image.new("L", (40, 40), 51))
    assert english(r.notes) == ["greyscale repeated to 3 channels"]
    assert np.allclose(r.array, 0.2)
    r1 = load_image(Image.new("1", (40, 40), 1))
    assert np.array_equal(r1.array, np.ones((40, 40, 3), np.float32))


def test_float_mode_is_clipped() -> None:
    a = np.linspace(-0.5, 1.5, 40 * 40, dtype=np.float32).reshape(40, 40)
    r = load_image(Image.fromarray(a))
    assert r.array.min() == 0 and r.array.max() == 1


def test_exif_rotated_jpeg(tmp_path: Path) -> None:
    a = np.zeros((40, 64, 3), np.uint8)
    a[:, :8] = 255  # white stripe on the left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    p = tmp_path / "phone.jpg"
    Image.fromarray(a).save(p, exif=exif, quality=95)
    r = load_image(p)
    assert "EXIF orientation applied" in english(r.notes)
    assert r.array.shape == (64, 40, 3)
    assert r.original_size == (40, 64)
    assert r.array[:4].mean() > 0.9 and r.array[-8:].mean() < 0.1  # left edge is now on top


def test_jpeg_without_orientation_has_no_note(photo: np.ndarray) -> None:
    r = load_image(encode(Image.fromarray(photo), "JPEG"))
    assert english(r.notes) == [] and r.array.shape == (128, 128, 3)


def test_animated_gif_first_frame() -> None:
    frames = [Image.new("RGB", (40, 40), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    r = load_image(buf.getvalue())
    assert "animated image: first of 3 frames used" in english(r.notes)
    assert np.array_equal(r.array[0, 0], np.array([1, 0, 0], np.float32))


# --- numpy arrays ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_array(bad: float) -> None:
    a = np.full((40, 40, 3), 0.5, np.float32)
    a[3, 4, 1] = bad
    with pytest.raises(ImageError, match="contains NaN or infinite values"):
        load_image(a)


def test_float_array_out_of_range() -> None:
    a = np.full((40, 40, 3), 0.5, np.float64)
    a[0, 0, 0] = 255.0
    with pytest.raises(ImageError, match=r"range from 0\.5 to 255.*\[0, 1\]"):
        load_image(a)


@pytest.mark.parametrize("shape", [(40, 40), (40, 40, 1)])
def test_grey_arrays(shape: tuple[int, ...]) -> None:
    r = load_image(np.full(shape, 0.25, np.float32))
    assert r.array.shape == (40, 40, 3) and np.allclose(r.array, 0.25)
    assert "greyscale repeated to 3 channels" in english(r.notes)


def test_bool_array() -> None:
    a = np.zeros((40, 40), bool)
    a[:, 20:] = True
    r = load_image(a)
    assert r.array[0, 0, 0] == 0 and r.array[0, 39, 0] == 1


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.zeros((40, 40, 2), np.uint8), "shape"),
        (np.zeros((2, 40, 40, 3), np.uint8), "shape"),
        (np.zeros((40, 40, 3), np.int64), "dtype int64"),
    ],
)
def test_bad_arrays(arr: np.ndarray, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        load_image(arr)


# --- resizing ----------------------------------------------------------------------------------


def test_oversize_downscaled_with_note() -> None:
    a = np.zeros((1500, 2000, 3), np.uint8)
    a[:, 1000:] = 255
    r = load_image(_png_bytes(Image.fromarray(a)))
    assert r.array.shape == (768, 1024, 3)
    assert r.original_size == (2000, 1500)
    assert "resized from 2000×1500 to 1024×768 (max side 1024)" in english(r.notes)
    assert r.array[:, :500].max() == 0 and r.array[:, 530:].min() == 1


def test_max_side_custom_and_disabled(photo: np.ndarray) -> None:
    r = load_image(photo, max_side=64)
    assert r.array.shape == (64, 64, 3) and r.original_size == (128, 128)
    assert any(n.startswith("resized from 128×128 to 64×64") for n in english(r.notes))
    assert abs(float(r.array.mean()) - float(photo.mean() / 255)) < 0.01
    assert load_image(photo, max_side=None).array.shape == (128, 128, 3)


def test_float_resize_keeps_precision() -> None:
    a = np.full((80, 100), 1000, np.uint16)
    r = load_image(Image.fromarray(a), max_side=50)
    assert r.array.shape == (40, 50, 3)
    assert np.allclose(r.array, 1000 / 65535, atol=1e-6)


def test_elongated_image_keeps_min_side() -> None:
    r = load_image(np.zeros((40, 4000), np.uint8))
    assert min(r.array.shape[:2]) >= 32
    assert any("short side kept at 32 px" in n for n in english(r.notes))


# --- to_pil ------------------------------------------------------------------------------------


def test_to_pil_roundtrip(photo: np.ndarray) -> None:
    r = load_image(photo)
    for x in (r.array, r.tensor(), r.tensor()[0]):
        im = to_pil(x)
        assert im.mode == "RGB" and im.size == (128, 128)
        assert np.array_equal(np.asarray(im), photo)


def test_to_pil_rounds_and_clips() -> None:
    a = np.array([[[0.5 / 255, 1.6 / 255, -0.2], [2.0, 1.0, 0.5]]], np.float32)
    out = np.asarray(to_pil(a))
    assert out.tolist() == [[[0, 2, 0], [255, 255, 128]]]
    with pytest.raises(ValueError):
        to_pil(np.zeros((4, 4, 5)))
