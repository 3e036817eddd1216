"""A catalogue of hostile (or merely odd) image files, shared by the app and CLI tests.

Each :class:`Hostile` entry builds its bytes deterministically (numpy / Pillow, no network) and
states what a user must see: either an error whose message contains ``error``, or success with a
visible correction note containing ``note``. The wording mirrors :mod:`perceptual_viz.images`.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Hostile:
    name: str
    filename: str  # with a realistic extension
    make: Callable[[], bytes]
    error: str | None = None  # substring of the user-facing error message
    note: str | None = None  # substring of the visible correction note (success expected)

    @property
    def ok(self) -> bool:
        return self.error is None

    def write(self, folder: Path) -> Path:
        p = Path(folder) / self.filename
        p.write_bytes(self.make())
        return p

    def __post_init__(self) -> None:
        assert (self.error is None) != (self.note is None), self.name


# --------------------------------------------------------------------------- helpers


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _chunk(tag: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(tag + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)


def png_declaring(w: int, h: int) -> bytes:
    """A tiny (< 100 bytes) PNG whose header declares w×h greyscale pixels."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _chunk(b"IEND", b"")
    )


def photo(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth, deterministic HxWx3 uint8 test picture (gradients plus mild noise)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x / 7.0) * np.cos(y / 5.0)
    noise = np.random.default_rng(seed).normal(0, 6, (h, w, 3))
    a = np.stack([r, g, b], axis=2) + noise
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- makers


def _truncated_png() -> bytes:
    data = encode(Image.fromarray(photo()), "PNG")
    return data[: len(data) // 2]


def _random_bytes() -> bytes:
    return np.random.default_rng(0).bytes(4000)


def _text_file() -> bytes:
    return b"this is not a picture, just some notes\n" * 30


def _svg() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        b'<rect width="64" height="64" fill="red"/></svg>\n'
    )


def _png_1x1() -> bytes:
    return encode(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG")


def _png_8x8() -> bytes:
    return encode(Image.new("RGB", (8, 8), (30, 200, 30)), "PNG")


def _bomb() -> bytes:
    return png_declaring(20000, 20000)


def _grey16() -> bytes:
    y, x = np.mgrid[0:64, 0:96]
    a = ((x * 700 + y * 300) % 65536).astype(np.uint16)
    im = Image.fromarray(a)  # mode I;16
    assert im.mode.startswith("I;16")
    return encode(im, "PNG")


def _cmyk_jpeg() -> bytes:
    im = Image.fromarray(photo()).convert("CMYK")
    return encode(im, "JPEG", quality=90)


def _palette_transparent() -> bytes:
    im = Image.fromarray(photo()).quantize(colors=16)
    # transparency = palette index of the most common colour, so some pixels are see-through
    idx = int(np.bincount(np.asarray(im).ravel()).argmax())
    return encode(im, "PNG", transparency=idx)


def _la_png() -> bytes:
    a = photo()
    grey = a.mean(axis=2).astype(np.uint8)
    alpha = np.full_like(grey, 255)
    alpha[:, : a.shape[1] // 2] = 100
    return encode(Image.fromarray(np.stack([grey, alpha], axis=2), mode="LA"), "PNG")


def _rgba_partial() -> bytes:
    a = photo()
    alpha = np.full(a.shape[:2], 255, np.uint8)
    alpha[a.shape[0] // 2 :, :] = 128
    return encode(Image.fromarray(np.dstack([a, alpha]), mode="RGBA"), "PNG")


def _exif_rotated() -> bytes:
    im = Image.fromarray(photo(64, 128))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    return encode(im, "JPEG", quality=90, exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.fromarray(photo(seed=s)).convert("P") for s in range(3)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _oversize() -> bytes:
    a = np.asarray(Image.fromarray(photo(150, 200)).resize((2000, 1500), Image.Resampling.BILINEAR))
    return encode(Image.fromarray(a), "JPEG", quality=85)


def _empty() -> bytes:
    return b""


CATALOGUE: tuple[Hostile, ...] = (
    Hostile("truncated_png", "cut.png", _truncated_png, error="the image file is corrupt or truncated"),
    Hostile(
        "random_bytes", "random.png", _random_bytes, error="the file is not an image in a supported format"
    ),
    Hostile("text_file", "notes.png", _text_file, error="the file is not an image in a supported format"),
    Hostile("svg", "drawing.svg", _svg, error="SVG (vector) images are not supported; export it as PNG"),
    Hostile("png_1x1", "pixel.png", _png_1x1, error="image is 1×1 px; VGG needs at least 32×32 px"),
    Hostile("png_8x8", "icon.png", _png_8x8, error="image is 8×8 px; VGG needs at least 32×32 px"),
    Hostile(
        "declared_bomb",
        "bomb.png",
        _bomb,
        error="image declares 20000×20000 = 400,000,000 pixels, more than the limit of 50,000,000 pixels",
    ),
    Hostile("grey16_png", "depth16.png", _grey16, note="16-bit image scaled to [0,1]"),
    Hostile("cmyk_jpeg", "print.jpg", _cmyk_jpeg, note="CMYK converted to RGB"),
    Hostile(
        "palette_transparent", "palette.png", _palette_transparent, note="transparency composited on white"
    ),
    Hostile("la_png", "grey_alpha.png", _la_png, note="transparency composited on white"),
    Hostile("rgba_partial", "overlay.png", _rgba_partial, note="transparency composited on white"),
    Hostile("exif_rotated", "phone.jpg", _exif_rotated, note="EXIF orientation applied"),
    Hostile("animated_gif", "anim.gif", _animated_gif, note="animated image: first of 3 frames used"),
    Hostile("oversize", "huge.jpg", _oversize, note="resized from 2000×1500 to 1024×768 (max side 1024)"),
    Hostile("empty", "empty.png", _empty, error="the image file is empty (0 bytes)"),
)

BY_NAME: dict[str, Hostile] = {h.name: h for h in CATALOGUE}
