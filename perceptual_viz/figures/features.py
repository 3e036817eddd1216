"""Feature-map figures: the shallow → deep overview, one layer's channel grid, one channel, and
the linked view of one point of the image through every block.

Every picture carries its own title and colour bar (:mod:`perceptual_viz.chrome`), so what it
shows and on which scale can be read wherever the picture goes. A chosen point (``point``, in
pixels of the analysed image) is marked on every map at the unit whose own block of pixels holds
it (:meth:`~perceptual_viz.layers.LayerInfo.cell_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import chrome
from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..images import to_pil
from ..layers import LayerInfo, block_outputs
from ..messages import Joined, Text, joined, msg
from ..options import CHANNEL_SORTS, SCOPES
from ..plots import PALETTE
from ..render import (
    channel_grid,
    grid_cell_at,
    grid_geometry,
    nearest_index,
    overlay,
    rank_channels,
    to_numpy,
)
from . import Analysis, Figure, Progress, Table, activations, check_choice

GRID_TILE = 96
GRID_PAD = 2
OVERVIEW_CHANNELS = 4
K_RANGE = (1, 64)  # channels a grid may show
SORTS = CHANNEL_SORTS
MARK = (255, 255, 255)

Point = tuple[int, int] | None  # (x, y) in pixels of the analysed image


def grid_tile(k: int) -> int:
    """Tile side for a grid of ``k`` channels: 96 px up to 16, smaller beyond (64 tiles of 64 px
    make a 530 px picture instead of 786 px: half the pixels to draw and encode on each change)."""
    return GRID_TILE if k <= 16 else 80 if k <= 36 else 64


def check_k(k: int) -> int:
    lo, hi = K_RANGE
    if not lo <= int(k) <= hi:
        raise InputError(
            msg("the number of channels shown must be between {lo} and {hi}; got {k}", lo=lo, hi=hi, k=k)
        )
    return int(k)


def check_point(point: Point, a: Analysis) -> Point:
    if point is None:
        return None
    x, y = int(point[0]), int(point[1])
    h, w = a.size
    if not (0 <= x < w and 0 <= y < h):
        raise InputError(msg("the point ({x}, {y}) is outside the {w}×{h} image", x=x, y=y, w=w, h=h))
    return x, y


def tiles(f: torch.Tensor, chans: list[int], tile: int = GRID_TILE) -> torch.Tensor:
    """Channels ``chans`` of a (C, h, w) map, already sampled to the grid's tile size.

    ``channel_grid`` samples with nearest neighbour and scales by the sampled values, so doing
    the sampling here first (on the device, before any copy) gives the identical picture while
    moving a few kilobytes instead of the whole layer.
    """
    _, h, w = f.shape
    th, tw, _, _ = grid_geometry(len(chans), h, w, tile=tile)
    ih = torch.from_numpy(nearest_index(th, h)).to(f.device)
    iw = torch.from_numpy(nearest_index(tw, w)).to(f.device)
    idx = torch.tensor(chans, dtype=torch.long, device=f.device)
    return f.index_select(0, idx).index_select(1, ih).index_select(2, iw)  # channels first: least copied


def layer_caption(model: VGGFeatures, name: str, shape: tuple[int, ...]) -> Joined:
    info = model.info(name)
    c, h, w = shape[-3:]
    return joined(
        name,
        f"{c}×{h}×{w}",
        msg("receptive field {px} px", px=info.receptive_field),
        msg("stride {stride}", stride=info.stride),
    )


def _settings(a: Analysis, size: str, **more: object) -> dict[str, object]:
    return {"analysis_size": str(size), "size_hw": list(a.size), **more}


def mark_tiles(
    picture: Image.Image,
    n: int,
    map_hw: tuple[int, int],
    cell: tuple[int, int],
    *,
    tile: int,
    columns: int | None,
) -> None:
    """Ring unit ``cell`` (row, column) on every tile of a :func:`channel_grid` picture."""
    h, w = map_hw
    th, tw, cols, _ = grid_geometry(n, h, w, tile=tile, columns=columns)
    draw = ImageDraw.Draw(picture)
    r = max(3, min(th, tw) // 12)
    for j in range(n):
        row, q = divmod(j, cols)
        x0, y0 = GRID_PAD + q * (tw + GRID_PAD), GRID_PAD + row * (th + GRID_PAD)
        cx, cy = x0 + (cell[1] + 0.5) * tw / w, y0 + (cell[0] + 0.5) * th / h
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=MARK, width=2)
        draw.ellipse((cx - r - 1, cy - r - 1, cx + r + 1, cy + r + 1), outline=(0, 0, 0), width=1)


@dataclass(frozen=True)
class OverviewFigure(Figure):
    """Shallow → deep: one picture per block output (named by the layer)."""

    notes: list[Text]
    kind = "overview"


def overview(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    cmap: str = "viridis",
    point: Point = None,
) -> OverviewFigure:
    """Shallow → deep: the strongest channels of each block output, titled with its shape and
    receptive field; with ``point``, the unit that sees it is ringed on every tile."""
    point = check_point(point, a)
    names = list(block_outputs(model.arch))
    acts = activations(model, cache, a, names)
    pictures = {}
    for block, n in enumerate(names, start=1):
        f = acts[n][0]
        info = model.info(n)
        chans = rank_channels(f.mean(dim=(1, 2)).view(-1, 1, 1), "mean", OVERVIEW_CHANNELS)
        pic = channel_grid(tiles(f, chans), labels=chans, cmap=cmap, tile=GRID_TILE, columns=2, pad=GRID_PAD)
        c, h, w = f.shape
        if point is not None:
            mark_tiles(pic, len(chans), (h, w), info.cell_of(*point, (h, w)), tile=GRID_TILE, columns=2)
        sub = joined(
            f"{c}×{h}×{w}",
            msg("RF {px} px", px=info.receptive_field),
            msg("stride {stride}", stride=info.stride),
            msg("each tile scaled to its own range"),
        )
        pictures[n] = chrome.titled(pic, f"{block}. {n}", sub)
    record = {"settings": _settings(a, size, cmap=cmap, layers=names, point=list(point) if point else None)}
    return OverviewFigure(pictures, record, notes=list(a.notes))


def _rank(f: torch.Tensor, sort: str, k: int) -> list[int]:
    if sort == "index":
        return list(range(min(k, f.shape[0])))
    stat = f.mean(dim=(1, 2)) if sort == "mean" else f.amax(dim=(1, 2))
    return rank_channels(stat.view(-1, 1, 1), "mean", k)


@dataclass(frozen=True)
class GridFigure(Figure):
    """One layer's top channels as one picture. Tile j shows channel ``channels[j]`` of a map of
    ``fmap_hw`` (h, w); ``strongest`` says in words what the brightest tiles show."""

    caption: Text
    channels: list[int]
    fmap_hw: tuple[int, int]
    strongest: Text
    kind = "features"


def grid(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    layer: str,
    k: int = 16,
    sort: str = "mean",
    scope: str = "channel",
    cmap: str = "viridis",
    point: Point = None,
) -> GridFigure:
    """The top-``k`` channels of ``layer`` as one picture with its colour bar underneath (the
    tiles keep their positions: a click at (x, y) maps to a tile with :func:`channel_at_click`)."""
    k = check_k(k)
    sort = check_choice(msg("sort"), sort, SORTS)
    scope = check_choice(msg("colour scaling"), scope, SCOPES)
    point = check_point(point, a)
    model.info(layer)
    f = activations(model, cache, a, [layer])[layer][0]
    chans = _rank(f, sort, k)
    tile = grid_tile(len(chans))
    sel = tiles(f, chans, tile)
    shared = scope == "layer"
    pic = channel_grid(
        sel, labels=chans, scope="layer" if shared else "channel", cmap=cmap, tile=tile, pad=GRID_PAD
    )
    hw = (int(f.shape[1]), int(f.shape[2]))
    if point is not None:
        mark_tiles(pic, len(chans), hw, model.info(layer).cell_of(*point, hw), tile=tile, columns=None)
    if shared:
        label: Text = msg("{layer}: one scale for every tile", layer=layer)
        pic = chrome.with_colour_bar(pic, cmap, float(sel.min()), float(sel.max()), label)
    else:
        label = msg("each tile from its own min (0) to its own max (1)")
        pic = chrome.with_colour_bar(pic, cmap, 0.0, 1.0, label)
    caption = Joined((*layer_caption(model, layer, tuple(f.shape)).parts, _TOP[sort](len(chans))))
    settings = _settings(a, size, layer=layer, k=k, sort=sort, scope=scope, cmap=cmap)
    record = {"settings": settings, "channels": chans}
    return GridFigure({str(caption): pic}, record, caption, chans, hw, strongest(f, chans, sort))


_TOP = {
    "mean": lambda n: msg("top {n} by mean", n=n),
    "max": lambda n: msg("top {n} by max", n=n),
    "index": lambda n: msg("top {n} by index", n=n),
}


STRONGEST_SHOWN = 3


def strongest(f: torch.Tensor, chans: list[int], sort: str) -> Text:
    """The first tiles' channels and the number they were ranked by (the mean for "index"), in
    words: what a reader takes from the grid's labels and brightest tiles, for one who cannot see
    it ("Strongest channels: 203 (mean 1.23) · 207 (mean 1.01) · 98 (mean 0.955)")."""
    by_max = sort == "max"
    chosen = chans[:STRONGEST_SHOWN]
    vals = f[chosen].amax(dim=(1, 2)) if by_max else f[chosen].mean(dim=(1, 2))
    pieces = [
        msg("{channel} (max {value})", channel=c, value=chrome.num(float(v)))
        if by_max
        else msg("{channel} (mean {value})", channel=c, value=chrome.num(float(v)))
        for c, v in zip(chosen, vals.tolist(), strict=True)
    ]
    return msg("Strongest channels: {channels}", channels=Joined(tuple(pieces)))


def tile_layout(view_channels: list[int], fmap_hw: tuple[int, int]) -> dict[str, Any]:
    """Where the tiles of a :func:`grid` picture are, for keyboard navigation: ``n`` tiles in
    ``cols`` columns, each ``tw`` × ``th`` px with ``pad`` px around, and their channels."""
    h, w = fmap_hw
    n = len(view_channels)
    th, tw, cols, rows = grid_geometry(n, h, w, tile=grid_tile(n))
    return {
        "n": n,
        "cols": cols,
        "rows": rows,
        "tw": tw,
        "th": th,
        "pad": GRID_PAD,
        "channels": list(view_channels),
    }


def channel_at_click(view_channels: list[int], fmap_hw: tuple[int, int], x: float, y: float) -> int | None:
    """The channel under pixel (x, y) of a :func:`grid` picture, or ``None`` (padding, colour bar)."""
    h, w = fmap_hw
    j = grid_cell_at(x, y, len(view_channels), h, w, tile=grid_tile(len(view_channels)), pad=GRID_PAD)
    return None if j is None else view_channels[j]


def _stats(layer: str, index: int, m: np.ndarray, info: LayerInfo) -> Table:
    iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
    h, w = m.shape
    cx, cy = round(info.centre(int(ix))), round(info.centre(int(iy)))
    rows: list[list[Any]] = [
        [msg("layer · channel"), f"{layer} · {index}"],
        [msg("map size"), f"{w}×{h}"],
        [
            msg("min · mean · max"),
            f"{chrome.num(float(m.min()))} · {chrome.num(float(m.mean()))} · {chrome.num(float(m.max()))}",
        ],
        [msg("zeros (ReLU off)"), f"{float((m == 0).mean()):.0%}"],
        [
            msg("strongest unit"),
            msg("({x}, {y}), at pixel ≈ ({px}, {py})", x=int(ix), y=int(iy), px=cx, py=cy),
        ],
    ]
    return Table([msg("statistic"), msg("value")], rows)


@dataclass(frozen=True)
class ChannelFigure(Figure):
    """One channel enlarged over the image: ``stats`` (name → plain value, for programs) and
    ``table`` (rounded, for reading)."""

    stats: dict[str, object]
    table: Table
    title: Text
    kind = "channel"


def channel(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    layer: str,
    index: int,
    cmap: str = "viridis",
    alpha: float = 0.6,
    point: Point = None,
) -> ChannelFigure:
    """One channel enlarged to the image size over the input, with its colour bar (true values)
    and a small table of statistics; the strongest unit (and ``point``) marked."""
    point = check_point(point, a)
    f = activations(model, cache, a, [layer])[layer][0]
    c, h, w = f.shape
    if not 0 <= int(index) < c:
        raise InputError(_no_channel(layer, c, index))
    info = model.info(layer)
    m = to_numpy(f[int(index)])
    lo, hi = float(m.min()), float(m.max())
    pic = overlay(a.array, m, cmap=cmap, alpha=alpha, vmin=lo, vmax=hi)
    iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
    draw = ImageDraw.Draw(pic)
    box = info.rf_box(int(iy), int(ix), a.size)
    draw.rectangle(box, outline=MARK, width=2)
    if point is not None:
        draw.ellipse((point[0] - 5, point[1] - 5, point[0] + 5, point[1] + 5), outline=MARK, width=2)
    stats: dict[str, object] = {
        "layer": layer,
        "channel": int(index),
        "map size": f"{w}×{h}",
        "min": lo,
        "max": hi,
        "mean": float(m.mean()),
        "fraction of zeros": float((m == 0).mean()),
        "max at (x, y) in the map": f"({ix}, {iy})",
        "max at ≈ (x, y) in the image": f"({round(info.centre(int(ix)))}, {round(info.centre(int(iy)))})",
    }
    title = msg("{layer} · channel {channel} over the image", layer=layer, channel=int(index))
    label = msg(
        "{layer} channel {channel}: activation (white box: its strongest unit's receptive field)",
        layer=layer,
        channel=int(index),
    )
    pic = chrome.with_colour_bar(pic, cmap, lo, hi, label)
    settings = _settings(a, size, layer=layer, channel=int(index), cmap=cmap, alpha=float(alpha))
    record = {"settings": settings, "statistics": stats}
    return ChannelFigure({str(title): pic}, record, stats, _stats(layer, int(index), m, info), title)


def _no_channel(layer: str, c: int, index: int) -> Text:
    return msg("{layer} has channels 0..{last}; got {index}", layer=layer, last=c - 1, index=index)


# --------------------------------------------------------------------------- one point, every block


LOCATE_COLUMNS: tuple[Text, ...] = (
    msg("block"),
    msg("unit (x, y)"),
    msg("sees"),
    msg("top channel: value"),
    msg("mean over channels"),
)


@dataclass(frozen=True)
class LocateFigure(Figure):
    """One point through every block: ``cells`` (block → [row, column] of the unit that sees
    it), ``boxes`` (block → its receptive field), ``table`` (one row per block)."""

    cells: dict[str, list[int]]
    boxes: dict[str, list[int]]
    table: Table
    kind = "locate"


def locate(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, size: str, x: int, y: int, cmap: str = "viridis"
) -> LocateFigure:
    """Where pixel (x, y) goes in each block: the unit that sees it, that unit's receptive field
    (drawn on the image, one colour per block) and the activations there."""
    point = check_point((int(x), int(y)), a)
    assert point is not None
    names = list(block_outputs(model.arch))
    acts = activations(model, cache, a, names)
    pic = to_pil(a.array).convert("RGB")
    draw = ImageDraw.Draw(pic)
    rows: list[list[Any]] = []
    cells: dict[str, list[int]] = {}
    boxes: dict[str, list[int]] = {}
    for k, n in enumerate(names):
        info, f = model.info(n), acts[n][0]
        hw = (int(f.shape[1]), int(f.shape[2]))
        cell = info.cell_of(*point, hw)
        box = info.rf_box(*cell, a.size)
        draw.rectangle(box, outline=PALETTE[k], width=2)
        column = f[:, cell[0], cell[1]]
        top = int(column.argmax())
        cells[n], boxes[n] = list(cell), list(box)
        rows.append(
            [
                n,
                f"({cell[1]}, {cell[0]})",
                msg("{px} px", px=info.receptive_field),
                f"{top}: {chrome.num(float(column[top]))}",
                chrome.num(float(column.mean())),
            ]
        )
    draw.ellipse((point[0] - 4, point[1] - 4, point[0] + 4, point[1] + 4), fill=MARK, outline=(0, 0, 0))
    key = chrome.legend([(n, PALETTE[k]) for k, n in enumerate(names)], pic.width)
    pic = chrome.titled(
        chrome.stack([pic, key]),
        msg("Pixel ({x}, {y}) through the blocks", x=point[0], y=point[1]),
        msg("the receptive field of the unit that sees it, in each block"),
    )
    settings = _settings(a, size, x=point[0], y=point[1])
    record = {"settings": settings, "cells": cells, "receptive_fields": boxes}
    return LocateFigure({"point": pic}, record, cells, boxes, Table(list(LOCATE_COLUMNS), rows))


# --------------------------------------------------------------------------- what a channel looks for


def _peaks(m: torch.Tensor, radius: int, per_image: int) -> list[tuple[float, int, int]]:
    """Up to ``per_image`` local maxima of a (h, w) map at least ``radius`` units apart."""
    pooled = torch.nn.functional.max_pool2d(m[None, None], 2 * radius + 1, stride=1, padding=radius)[0, 0]
    ys, xs = torch.nonzero((m == pooled) & (m > 0), as_tuple=True)
    order = torch.argsort(m[ys, xs], descending=True)[:per_image]
    return [(float(m[ys[i], xs[i]]), int(ys[i]), int(xs[i])) for i in order]


def _patch(a: Analysis, box: tuple[int, int, int, int], px: int) -> Image.Image:
    crop = to_pil(a.array).crop((box[0], box[1], box[2] + 1, box[3] + 1))
    side = max(crop.size)
    square = Image.new("RGB", (side, side), (128, 128, 128))
    square.paste(crop, ((side - crop.width) // 2, (side - crop.height) // 2))
    return square.resize((px, px), Image.Resampling.BILINEAR)


@dataclass(frozen=True)
class PatchesFigure(Figure):
    """The patches where a channel fires most: ``patches`` (image, value, unit (row, col), box)
    per picture, in order."""

    patches: list[dict[str, Any]]
    kind = "top-patches"


def top_patches(
    model: VGGFeatures,
    cache: FeatureCache,
    images: list[tuple[str, Analysis]],
    size: str,
    layer: str,
    index: int,
    k: int = 8,
    progress: Progress | None = None,
) -> PatchesFigure:
    """The ``k`` image patches, among ``images`` (name, analysed image), where channel ``index``
    of ``layer`` fires most: each is the receptive field of a unit at a local maximum (at most
    three per image, a receptive field apart), largest activation first. ``progress(fraction,
    what)`` is told which image is being searched."""
    info = model.info(layer)
    if not images:
        raise InputError(msg("no images to search: upload one or use the bundled samples"))
    candidates = []
    for j, (name, a) in enumerate(images):
        if progress is not None:
            progress(j / len(images), f"{layer}[{int(index)}] · {name}")
        f = activations(model, cache, a, [layer])[layer][0]
        if not 0 <= int(index) < f.shape[0]:
            raise InputError(_no_channel(layer, int(f.shape[0]), index))
        radius = max(1, info.receptive_field // (2 * info.stride))
        for value, row, col in _peaks(f[int(index)], radius, 3):
            candidates.append((value, name, a, row, col))
    candidates.sort(key=lambda c: -c[0])
    pictures: dict[str, Image.Image] = {}
    patches: list[dict[str, Any]] = []
    for rank, (value, name, a, row, col) in enumerate(candidates[:k], start=1):
        box = info.rf_box(row, col, a.size)
        title = f"#{rank} · {chrome.num(value)}"
        pictures[f"#{rank} {name}"] = chrome.titled(_patch(a, box, 112), title, name)
        patches.append({"image": name, "value": value, "unit": [row, col], "box": list(box)})
    settings = {
        "analysis_size": str(size),
        "layer": layer,
        "channel": int(index),
        "k": int(k),
        "images": [n for n, _ in images],
    }
    return PatchesFigure(pictures, {"settings": settings, "patches": patches}, patches)
