"""Robust image loading: any reasonable input becomes a float32 RGB array in [0, 1].

``load_image`` accepts a path (``str`` / ``pathlib.Path``), ``bytes`` / ``bytearray``, a binary
file-like object, a ``PIL.Image.Image``, a numpy array or a torch tensor, and returns a
``LoadedImage`` whose ``notes`` list every visible correction. Problems the user can fix raise
``ImageError`` (a ``ValueError``) with one clear sentence and no server paths.

Conversion rules:

* Size guard: the size declared in the file header is checked against ``max_pixels`` right
  after ``Image.open`` and before any pixel is decoded. Images smaller than ``min_side`` on
  either side are rejected (VGG's five 2× poolings need ≥ 32 px).
* EXIF orientation is applied (``ImageOps.exif_transpose``), with a note if it changed anything.
* Animated images: the first frame is used (note).
* Modes: RGB as is; ``1`` / ``L`` greyscale repeated to 3 channels (note); ``P`` via RGBA if it
  has transparency, else RGB; RGBA / LA / PA, and any image with a ``transparency`` key, are
  alpha-composited on WHITE (note only if some pixel is not fully opaque); 16-bit modes
  (``I;16*``, ``I``) are divided by 65535 keeping full precision (note); ``F`` is clipped to
  [0, 1]; CMYK (note), YCbCr, LAB, HSV use Pillow's ``convert("RGB")``. Pillow decodes 16-bit
  *colour* PNGs as 8-bit RGB, so only 16-bit greyscale keeps 16-bit precision.
* Numpy arrays: HxW, HxWx1, HxWx3 or HxWx4 of dtype uint8 (÷255), uint16 (÷65535), bool or
  float in [0, 1] (NaN/Inf or values outside [0, 1] are errors); 4 channels = RGBA.
  Tensors: the same, or channel-first (C,H,W) / (1,C,H,W).
* If the longer side exceeds ``max_side`` the image is downscaled with LANCZOS keeping the
  aspect ratio (note); the shorter side is never scaled below ``min_side``, so very elongated
  images may keep a longer side above ``max_side``. ``max_side=None`` disables this.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from .errors import InputError
from .messages import Text, msg


class ImageError(InputError):
    """A user-facing problem with an image; ``str(e)`` is one clear sentence."""


MAX_PIXELS: int = 50_000_000
MIN_SIDE: int = 32
DEFAULT_MAX_SIDE: int = 1024

_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)
# Signatures of common formats: a file starting with one of these that Pillow cannot
# identify is reported as corrupt rather than as "not an image".
_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"II*\x00", b"MM\x00*")


@dataclass
class LoadedImage:
    """A decoded image: ``array`` is float32 HxWx3 in [0, 1], C-contiguous."""

    array: np.ndarray
    notes: list[Text] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)  # (width, height) as decoded, after EXIF rotation

    def tensor(self, device: torch.device | str | None = None) -> torch.Tensor:
        """The image as a new (1, 3, H, W) float32 tensor."""
        t = torch.from_numpy(self.array).permute(2, 0, 1).unsqueeze(0).contiguous()
        return t if device is None else t.to(device)


def load_image(
    source: Any,
    *,
    max_side: int | None = DEFAULT_MAX_SIDE,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
) -> LoadedImage:
    """Load ``source`` as a float32 RGB image in [0, 1] following the module's rules."""
    notes: list[Text] = []
    if isinstance(source, torch.Tensor):
        source = _tensor_to_numpy(source)
    if isinstance(source, np.ndarray):
        arr = _array_to_float(source, notes)
        h, w = arr.shape[:2]
        _check_size(w, h, max_pixels, min_side)
        arr = _finish(arr, notes)
        size = _target_size(w, h, max_side, min_side)
        if size is not None:
            arr = _resize_float(arr, size)
            notes.append(_resize_note((w, h), size, max_side, min_side))
        return LoadedImage(np.ascontiguousarray(arr, dtype=np.float32), notes, (w, h))
    im = source if isinstance(source, Image.Image) else _open(_read_bytes(source))
    return _from_pil(im, notes, max_side, max_pixels, min_side)


def to_pil(array_or_tensor: np.ndarray | torch.Tensor) -> Image.Image:
    """Float [0, 1] image (HxWx3 array, (3,H,W) or (1,3,H,W) tensor) → RGB uint8 PIL image."""
    x = array_or_tensor
    if isinstance(x, torch.Tensor):
        t = x.detach().to("cpu", torch.float32)
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() == 3 and t.shape[0] in (1, 3):
            t = t.permute(1, 2, 0)
        a = t.numpy()
    else:
        a = np.asarray(x, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"to_pil expects HxWx3, (3,H,W) or (1,3,H,W); got shape {a.shape}")
    u8 = np.clip(np.rint(np.nan_to_num(a) * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(u8))


# --- reading and opening ---------------------------------------------------------------------


def _read_bytes(source: Any) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = os.path.basename(path) or path
        if not os.path.exists(path):
            raise ImageError(msg("file not found: {name}", name=name))
        if not os.path.isfile(path):
            raise ImageError(msg("not a file: {name}", name=name))
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            raise ImageError(msg("cannot read file: {name}", name=name)) from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            raise TypeError("the file object was opened in text mode; open it with 'rb'")
        data = bytes(data)
    else:
        raise TypeError(f"cannot load an image from a {type(source).__name__}")
    if not data:
        raise ImageError(msg("the image file is empty (0 bytes)"))
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data.lower()):
        raise ImageError(msg("SVG (vector) images are not supported; export it as PNG"))
    return data


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        # Pillow refuses sizes above 2 × its own limit inside open(); reopen without that
        # check (still lazily, no pixels decoded) so our own limit and message apply.
        im = _open_unchecked(data)
        if im is None:
            raise ImageError(msg("the image declares too many pixels to be decoded safely")) from None
        return im
    except UnidentifiedImageError:
        if data.startswith(_MAGIC):
            raise ImageError(msg("the image file is corrupt or truncated")) from None
        raise ImageError(
            msg("the file is not an image in a supported format (use PNG, JPEG, WebP, BMP, GIF or TIFF)")
        ) from None
    except _DECODE_ERRORS:
        raise ImageError(msg("the image file is corrupt or truncated")) from None


def _open_unchecked(data: bytes) -> Image.Image | None:
    """Open lazily like ``Image.open`` but without Pillow's decompression-bomb check."""
    for fmt in Image.ID:
        factory, accept = Image.OPEN[fmt]
        ok = accept is None or accept(data[:16])
        if ok and not isinstance(ok, str):
            try:
                return factory(io.BytesIO(data), "")
            except Exception:
                continue
    return None


# --- PIL images ------------------------------------------------------------------------------


def _from_pil(
    im: Image.Image, notes: list[Text], max_side: int | None, max_pixels: int, min_side: int
) -> LoadedImage:
    w, h = im.size
    if w * h > max_pixels:  # declared size, nothing decoded yet
        raise ImageError(
            msg(
                "image declares {w}×{h} = {pixels:,} pixels, more than the limit of {limit:,} pixels",
                w=w,
                h=h,
                pixels=w * h,
                limit=max_pixels,
            )
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                im.seek(0)
                notes.append(msg("animated image: first of {frames} frames used", frames=frames))
            im.load()
            orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
            im = ImageOps.exif_transpose(im)
            if orientation in range(2, 9):
                notes.append(msg("EXIF orientation applied"))
            im = _normalize_mode(im, notes)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(msg("the image declares too many pixels to be decoded safely")) from None
    except _DECODE_ERRORS:
        raise ImageError(msg("the image file is corrupt or truncated")) from None
    w, h = im.size
    _check_size(w, h, max_pixels, min_side)
    size = _target_size(w, h, max_side, min_side)
    if size is not None:
        im = im.resize(size, Image.Resampling.LANCZOS)
        notes.append(_resize_note((w, h), size, max_side, min_side))
    arr = np.asarray(im, dtype=np.float32)
    arr = np.clip(arr, 0.0, 1.0) if im.mode == "F" else arr / 255.0
    return LoadedImage(np.ascontiguousarray(_finish(arr, notes)), notes, (w, h))


def _normalize_mode(im: Image.Image, notes: list[Text]) -> Image.Image:
    """Convert to one of RGB, RGBA (alpha composited later), L or F (greyscale in [0, 1])."""
    mode = im.mode
    if mode in _SIXTEEN_BIT:
        notes.append(msg("16-bit image scaled to [0,1]"))
        a = np.asarray(im).astype(np.float32) / 65535.0
        return Image.fromarray(np.clip(a, 0.0, 1.0))
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ImageError(msg("image contains NaN or infinite values"))
        return Image.fromarray(np.clip(a, 0.0, 1.0))
    if "A" in mode or "a" in mode or "transparency" in im.info:
        return im.convert("RGBA")
    if mode in ("1", "L"):
        return im.convert("L")
    if mode == "CMYK":
        notes.append(msg("CMYK converted to RGB"))
    try:
        return im if mode == "RGB" else im.convert("RGB")
    except ValueError:
        raise ImageError(msg("unsupported image mode {mode}", mode=mode)) from None


# --- arrays ----------------------------------------------------------------------------------


def _tensor_to_numpy(t: torch.Tensor) -> np.ndarray:
    a = t.detach().cpu()
    if a.dim() == 4 and a.shape[0] == 1:
        a = a[0]
    if a.dim() == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.permute(1, 2, 0)
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()
    return a.numpy()


def _array_to_float(a: np.ndarray, notes: list[Text]) -> np.ndarray:
    """Validate an HxW[xC] array and return it as float32 in [0, 1] (C = 1, 3 or 4)."""
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(f"image array has shape {a.shape}; expected HxW, HxWx1, HxWx3 or HxWx4")
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        notes.append(msg("16-bit image scaled to [0,1]"))
        return a.astype(np.float32) / 65535.0
    if not np.issubdtype(a.dtype, np.floating):
        raise ImageError(f"image array has dtype {a.dtype}; expected uint8, uint16, bool or float in [0, 1]")
    f = a.astype(np.float32)
    if not np.isfinite(f).all():
        raise ImageError(msg("image contains NaN or infinite values"))
    if f.size:
        lo, hi = float(f.min()), float(f.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ImageError(f"image values range from {lo:g} to {hi:g}; float images must be in [0, 1]")
    return np.clip(f, 0.0, 1.0)


def _finish(arr: np.ndarray, notes: list[Text]) -> np.ndarray:
    """HxW or HxWx{1,3,4} float in [0, 1] → HxWx3: composite alpha on white, repeat grey."""
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 4:
        rgb, alpha = arr[..., :3], arr[..., 3:]
        if (alpha < 1).any():
            notes.append(msg("transparency composited on white"))
        arr = rgb * alpha + (1.0 - alpha)
    if arr.shape[2] == 1:
        notes.append(msg("greyscale repeated to 3 channels"))
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr, dtype=np.float32)


# --- sizes -----------------------------------------------------------------------------------


def _check_size(w: int, h: int, max_pixels: int, min_side: int) -> None:
    if w * h > max_pixels:
        raise ImageError(
            msg(
                "image is {w}×{h} = {pixels:,} pixels, more than the limit of {limit:,} pixels",
                w=w,
                h=h,
                pixels=w * h,
                limit=max_pixels,
            )
        )
    if min(w, h) < min_side:
        raise ImageError(
            msg(
                "image is {w}×{h} px; VGG needs at least {min}×{min} px (five 2× poolings)",
                w=w,
                h=h,
                min=min_side,
            )
        )


def _target_size(w: int, h: int, max_side: int | None, min_side: int) -> tuple[int, int] | None:
    """New (width, height) if the image must be downscaled, else None."""
    if max_side is None or max(w, h) <= max_side:
        return None
    scale = max(max_side / max(w, h), min_side / min(w, h))
    if scale >= 1:
        return None
    return max(min_side, round(w * scale)), max(min_side, round(h * scale))


def _resize_note(old: tuple[int, int], new: tuple[int, int], max_side: int | None, min_side: int) -> Text:
    values = {"w": old[0], "h": old[1], "nw": new[0], "nh": new[1], "max": max_side, "min": min_side}
    if max_side is not None and max(new) > max_side:
        return msg(
            "resized from {w}×{h} to {nw}×{nh} (max side {max}; short side kept at {min} px)", **values
        )
    return msg("resized from {w}×{h} to {nw}×{nh} (max side {max})", **values)


def _resize_float(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """LANCZOS-resize an HxWxC float array channel by channel (keeps float precision)."""
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(arr[..., c])).resize(size, Image.Resampling.LANCZOS),
            dtype=np.float32,
        )
        for c in range(arr.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0)
