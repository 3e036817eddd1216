"""Arrays → pictures with numpy and PIL only (no matplotlib at runtime).

Colour maps are 256-entry uint8 look-up tables built at import by linear interpolation of
compact anchor tables. The viridis, magma, inferno and coolwarm anchors are matplotlib's maps
sampled at 17 evenly spaced points (0, 1/16, …, 1) and rounded to uint8 RGB; ``gray`` is the
exact linear ramp. All colouring is vectorised LUT indexing.

Conventions: ``vmin`` maps to the first LUT colour and ``vmax`` to the last; values outside are
clipped; ``+inf``/``-inf`` clip like any large value and NaN gets the first colour; when
``vmin == vmax`` (e.g. a constant map) everything gets the middle colour (LUT entry 128).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import InputError
from .options import SCOPES, ChannelSort, Scope, is_one_of

COLORMAPS: tuple[str, ...] = ("viridis", "magma", "inferno", "gray", "coolwarm")

_N_ANCHORS = 17
_Table = tuple[tuple[int, int, int], ...]

# matplotlib 3.11 colormaps sampled at np.linspace(0, 1, 17), rounded to uint8 RGB.
_TABLES: dict[str, _Table] = {
    "viridis": (
        (68, 1, 84), (72, 24, 106), (71, 45, 123), (66, 64, 134), (59, 82, 139),
        (51, 99, 141), (44, 114, 142), (38, 130, 142), (33, 145, 140), (31, 160, 136),
        (40, 174, 128), (63, 188, 115), (94, 201, 98), (132, 212, 75), (173, 220, 48),
        (216, 226, 25), (253, 231, 37),
    ),
    "magma": (
        (0, 0, 4), (10, 8, 34), (29, 17, 71), (54, 16, 107), (81, 18, 124),
        (106, 28, 129), (131, 38, 129), (156, 46, 127), (183, 55, 121), (208, 65, 111),
        (231, 82, 99), (245, 107, 92), (252, 137, 97), (254, 167, 114), (254, 196, 136),
        (253, 226, 163), (252, 253, 191),
    ),
    "inferno": (
        (0, 0, 4), (11, 7, 36), (33, 12, 74), (61, 9, 101), (87, 16, 110),
        (113, 25, 110), (138, 34, 106), (163, 44, 97), (188, 55, 84), (210, 70, 68),
        (228, 90, 49), (241, 115, 29), (249, 142, 9), (252, 172, 17), (249, 203, 53),
        (242, 234, 105), (252, 255, 164),
    ),
    "coolwarm": (
        (59, 76, 192), (78, 104, 216), (98, 130, 234), (119, 154, 247), (141, 176, 254),
        (163, 194, 254), (185, 208, 249), (204, 217, 237), (221, 220, 220), (236, 211, 197),
        (245, 196, 172), (247, 176, 147), (244, 152, 122), (235, 125, 98), (221, 95, 75),
        (202, 59, 55), (180, 4, 38),
    ),
}  # fmt: skip


def _build_lut(table: _Table) -> np.ndarray:
    """Linearly interpolate anchor colours to a read-only (256, 3) uint8 LUT."""
    anchors = np.asarray(table, dtype=np.float64)
    xp = np.linspace(0.0, 1.0, len(anchors))
    x = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(x, xp, anchors[:, c]) for c in range(3)], axis=1)
    lut = np.clip(np.rint(lut), 0, 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


_LUTS: dict[str, np.ndarray] = {name: _build_lut(t) for name, t in _TABLES.items()}
_gray = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
_gray.setflags(write=False)
_LUTS["gray"] = _gray
del _gray

_MID = 128  # LUT entry used when vmin == vmax
_BACKGROUND = (255, 255, 255)  # grid padding / colorbar background


def _lut(cmap: str) -> np.ndarray:
    try:
        return _LUTS[cmap]
    except KeyError:
        raise InputError(f"unknown colormap {cmap!r}; choose one of {COLORMAPS}") from None


def to_numpy(t: Any) -> np.ndarray:
    """Torch tensor (any device/dtype, incl. bf16/fp16) or array-like → float32 numpy on CPU."""
    if hasattr(t, "detach") and hasattr(t, "cpu"):  # torch.Tensor, without importing torch
        return t.detach().float().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


def _range(v: np.ndarray, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    """Fill missing limits from the finite values of ``v`` (0 when none are finite)."""
    if vmin is None or vmax is None:
        finite = v[np.isfinite(v)] if not np.isfinite(v).all() else v
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 0.0
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    return float(vmin), float(vmax)


def _indices(v: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """Map values to LUT indices 0..255 (uint8): vmin→0, vmax→255, NaN→0, vmin==vmax→mid."""
    if vmax == vmin:
        idx = np.full(v.shape, _MID, dtype=np.uint8)
        idx[np.isnan(v)] = 0
        return idx
    scaled = (v - np.float32(vmin)) * np.float32(255.0 / (vmax - vmin)) + np.float32(0.5)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    return scaled.astype(np.uint8)


def colorize(
    values: np.ndarray,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
) -> np.ndarray:
    """Map an (H, W) array (or tensor) to an (H, W, 3) uint8 RGB array through ``cmap``.

    Limits default to the finite min/max of ``values``. NaN-safe (NaN → first colour);
    a constant input or ``vmin == vmax`` gives the middle colour.
    """
    lut = _lut(cmap)
    v = to_numpy(values)
    lo, hi = _range(v, vmin, vmax)
    return lut[_indices(v, lo, hi)]


def _as_chw(fmap: Any) -> np.ndarray:
    """(C, h, w), (1, C, h, w) or (h, w) → float32 (C, h, w)."""
    a = to_numpy(fmap)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    elif a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise InputError(f"expected a (C, h, w) feature map, got shape {tuple(a.shape)}")
    return a


def rank_channels(fmap: Any, by: ChannelSort = "mean", k: int | None = None) -> list[int]:
    """Indices of the top-``k`` channels (all when None) by spatial mean or max, descending.

    ``by="index"`` returns channels in natural order. Ties keep index order; NaN ranks last.
    """
    a = _as_chw(fmap)
    c = a.shape[0]
    n = c if k is None else max(0, min(int(k), c))
    if by == "index":
        return list(range(n))
    flat = a.reshape(c, -1)
    if by == "mean":
        scores = flat.mean(axis=1, dtype=np.float64)
    elif by == "max":
        scores = flat.max(axis=1).astype(np.float64) if flat.shape[1] else np.zeros(c)
    else:
        raise InputError(f"by must be 'mean', 'max' or 'index', got {by!r}")
    scores = np.where(np.isnan(scores), -np.inf, scores)
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order[:n]]


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    """PIL's built-in bitmap font (about 6×11 px per glyph)."""
    if hasattr(ImageFont, "load_default_imagefont"):
        return ImageFont.load_default_imagefont()
    return ImageFont.load_default()  # type: ignore[return-value]


def nearest_index(n_out: int, n_in: int) -> np.ndarray:
    """Source indices for nearest-neighbour resampling (pixel-centre convention, as PIL)."""
    return np.minimum(((np.arange(n_out) + 0.5) * n_in / n_out).astype(np.intp), n_in - 1)


def _check_grid(scope: str, tile: int, pad: int, columns: int | None) -> None:
    if not is_one_of(scope, SCOPES):
        raise InputError(f"scope must be 'channel' or 'layer', got {scope!r}")
    if tile < 1 or pad < 0 or (columns is not None and columns < 1):
        raise InputError("tile must be >= 1, pad >= 0 and columns >= 1")


def channel_grid(
    fmap: Any,
    channels: Sequence[int] | None = None,
    *,
    scope: Scope = "channel",
    cmap: str = "viridis",
    tile: int = 96,
    pad: int = 2,
    columns: int | None = None,
    labels: bool | Sequence[int] = True,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Image.Image:
    """Tile the chosen channels of a (C, h, w) feature map into one RGB picture.

    Each map is resized with nearest neighbour so its longer side is ``tile`` px (tw × th),
    normalised per channel (``scope="channel"``: each tile its own min..max) or across the
    layer (``scope="layer"``: one min..max over all shown channels). With n tiles and
    ``cols = columns or ceil(sqrt(n))``, ``rows = ceil(n / cols)`` the image is exactly
    ``cols*tw + (cols+1)*pad`` × ``rows*th + (rows+1)*pad`` px on a white background.
    With ``labels`` each tile shows its channel index in the top-left corner (or, when
    ``labels`` is a sequence, those numbers — for a map that holds only the chosen channels).
    With ``scope="layer"``, ``vmin``/``vmax`` pin the shared scale (e.g. one scale for two grids).
    """
    lut = _lut(cmap)
    a = _as_chw(fmap)
    c, h, w = a.shape
    idx = _checked_channels(c, channels, scope, tile, pad, columns)
    n = len(idx)
    th, tw, cols, rows = grid_geometry(n, h, w, tile=tile, columns=columns)
    sel = a[idx]  # (n, h, w) copy
    sel = sel[:, nearest_index(th, h)][:, :, nearest_index(tw, w)]  # (n, th, tw)

    if scope == "layer":
        lo, hi = _range(sel, vmin, vmax)
        tiles = lut[_indices(sel, lo, hi)]
    else:
        tiles = lut[_per_channel_indices(sel)]  # (n, th, tw, 3)
    canvas = np.empty((rows * th + (rows + 1) * pad, cols * tw + (cols + 1) * pad, 3), np.uint8)
    canvas[...] = _BACKGROUND
    origins = []
    for j in range(n):
        r, q = divmod(j, cols)
        y, x = pad + r * (th + pad), pad + q * (tw + pad)
        canvas[y : y + th, x : x + tw] = tiles[j]
        origins.append((x, y))
    img = Image.fromarray(canvas)
    if labels is not False and th >= 12 and tw >= 8:
        _label_tiles(img, origins, idx if labels is True else [int(v) for v in labels], tw, th)
    return img


def _checked_channels(
    c: int, channels: Sequence[int] | None, scope: str, tile: int, pad: int, columns: int | None
) -> list[int]:
    """The channels a grid shows (negative indices counted from the end), its settings checked."""
    idx = list(range(c)) if channels is None else [int(i) for i in channels]
    if not idx:
        raise InputError("no channels to show")
    bad = [i for i in idx if not -c <= i < c]
    if bad:
        raise IndexError(f"channel(s) {bad} out of range for {c} channels")
    _check_grid(scope, tile, pad, columns)
    return [i % c for i in idx]


def _per_channel_indices(sel: np.ndarray) -> np.ndarray:
    """Colour-map indices of (n, h, w) maps, each scaled from its own min (0) to max (255)."""
    finite = np.isfinite(sel)
    lo_c = np.where(finite, sel, np.inf).min(axis=(1, 2))
    hi_c = np.where(finite, sel, -np.inf).max(axis=(1, 2))
    empty = ~np.isfinite(lo_c)
    lo_c[empty], hi_c[empty] = 0.0, 0.0
    span = hi_c - lo_c
    flat = span <= 0
    scale = np.where(flat, 0.0, 255.0 / np.where(flat, 1.0, span)).astype(np.float32)
    offset = np.where(flat, _MID, 0.5).astype(np.float32)
    scaled = (sel - lo_c[:, None, None]) * scale[:, None, None] + offset[:, None, None]
    np.clip(scaled, 0.0, 255.0, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    return scaled.astype(np.uint8)


def _label_tiles(
    img: Image.Image, origins: list[tuple[int, int]], names: list[int], tw: int, th: int
) -> None:
    """Each tile's channel number, white on black, in its top-left corner."""
    draw = ImageDraw.Draw(img)
    font = _font()
    for (x, y), ch in zip(origins, names, strict=True):
        text = str(ch)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        bw, bh = min(right - left + 2, tw), min(bottom - top + 1, th)
        draw.rectangle((x, y, x + bw - 1, y + bh - 1), fill=(0, 0, 0))
        draw.text((x + 1 - left, y - top), text, fill=(255, 255, 255), font=font)


def grid_geometry(
    n: int, h: int, w: int, *, tile: int = 96, columns: int | None = None
) -> tuple[int, int, int, int]:
    """(tile height, tile width, columns, rows) of a :func:`channel_grid` of ``n`` (h × w) maps."""
    longer = max(h, w)
    th, tw = max(1, round(tile * h / longer)), max(1, round(tile * w / longer))
    cols = columns if columns is not None else max(1, math.ceil(math.sqrt(n)))
    return th, tw, cols, math.ceil(n / cols)


def grid_cell_at(
    x: float, y: float, n: int, h: int, w: int, *, tile: int = 96, pad: int = 2, columns: int | None = None
) -> int | None:
    """Which tile (0..n-1) of a :func:`channel_grid` holds pixel (x, y); ``None`` on padding."""
    th, tw, cols, _ = grid_geometry(n, h, w, tile=tile, columns=columns)
    q, rx = divmod(int(x) - pad, tw + pad)
    r, ry = divmod(int(y) - pad, th + pad)
    if x < pad or y < pad or rx >= tw or ry >= th or q >= cols:
        return None
    j = r * cols + q
    return j if j < n else None


def upsample(values: Any, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Resize an (h, w) array to ``size = (H, W)`` with PIL (bilinear, or nearest) → float32."""
    v = np.ascontiguousarray(to_numpy(values))
    if v.ndim != 2:
        raise InputError(f"expected a 2-D array, got shape {tuple(v.shape)}")
    hh, ww = int(size[0]), int(size[1])
    if v.shape == (hh, ww):
        return v.copy()
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(v).resize((ww, hh), resample), dtype=np.float32)


def _as_rgb_float(image: Any) -> np.ndarray:
    """HxWx3 (or HxW, HxWx1, 3xHxW) uint8 or float[0, 1] → float32 HxWx3 in [0, 255]."""
    is_uint8 = str(getattr(image, "dtype", "")) in ("uint8", "torch.uint8")
    a = to_numpy(image)
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[-1] not in (1, 3):
        raise InputError(f"expected an HxWx3 image, got shape {tuple(a.shape)}")
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return a if is_uint8 else np.clip(a, 0.0, 1.0) * np.float32(255.0)


def overlay(
    image: Any,
    values: Any,
    *,
    cmap: str = "viridis",
    alpha: float = 0.5,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Image.Image:
    """Blend a colour-mapped (h, w) map, upsampled bilinearly to the image size, over an image.

    ``image`` is HxWx3 float in [0, 1] or uint8. Limits default to the finite min/max of the
    un-resampled ``values``. ``alpha=0`` gives the image, ``alpha=1`` the colour map.
    """
    lut = _lut(cmap)
    img = _as_rgb_float(image)
    v = to_numpy(values)
    lo, hi = _range(v, vmin, vmax)
    up = upsample(v, img.shape[:2])
    col = lut[_indices(up, lo, hi)].astype(np.float32)
    a = np.float32(min(max(float(alpha), 0.0), 1.0))
    out = img * (np.float32(1.0) - a) + col * a
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def heatmap(
    values: Any,
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    scale: int = 1,
) -> Image.Image:
    """A 2-D array (e.g. a Gram matrix) as an RGB picture, each cell ``scale`` × ``scale`` px."""
    if int(scale) < 1:
        raise InputError(f"scale must be >= 1, got {scale}")
    v = to_numpy(values)
    if v.ndim != 2:
        raise InputError(f"expected a 2-D array, got shape {tuple(v.shape)}")
    rgb = colorize(v, cmap, vmin, vmax)
    s = int(scale)
    if s > 1:
        rgb = np.repeat(np.repeat(rgb, s, axis=0), s, axis=1)
    return Image.fromarray(rgb)
