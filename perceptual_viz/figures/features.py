"""Feature-map figures: the shallow → deep overview, one layer's channel grid, one channel."""

from __future__ import annotations

import numpy as np
import torch

from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..layers import block_outputs
from ..render import (
    channel_grid,
    colorbar,
    grid_cell_at,
    grid_geometry,
    nearest_index,
    overlay,
    rank_channels,
    to_numpy,
)
from . import Analysis, Figure, Table, activations, check_choice

GRID_TILE = 96
GRID_PAD = 2
OVERVIEW_CHANNELS = 4
K_RANGE = (1, 64)  # channels a grid may show
SORTS = ("mean", "max", "index")
SCOPES = ("channel", "layer")


def grid_tile(k: int) -> int:
    """Tile side for a grid of ``k`` channels: 96 px up to 16, smaller beyond (64 tiles of 64 px
    make a 530 px picture instead of 786 px: half the pixels to draw and encode on each change)."""
    return GRID_TILE if k <= 16 else 80 if k <= 36 else 64


def check_k(k: float) -> int:
    lo, hi = K_RANGE
    if not lo <= int(k) <= hi:
        raise InputError(f"the number of channels shown must be between {lo} and {hi}; got {k}")
    return int(k)


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
    return f.index_select(1, ih).index_select(2, iw).index_select(0, idx)


def layer_caption(model: VGGFeatures, name: str, shape: tuple[int, ...]) -> str:
    info = model.info(name)
    c, h, w = shape[-3:]
    return f"{name} · {c}×{h}×{w} · receptive field {info.receptive_field} px · stride {info.stride}"


def _settings(a: Analysis, size: str, **more: object) -> dict[str, object]:
    return {"analysis_size": str(size), "size_hw": list(a.size), **more}


def overview(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, size: str, cmap: str = "viridis"
) -> Figure:
    """Shallow → deep: the strongest channels of each block output, with shape and receptive field."""
    names = list(block_outputs(model.arch))
    acts = activations(model, cache, a, names)
    pictures = {}
    for block, n in enumerate(names, start=1):
        f = acts[n][0]
        chans = rank_channels(f.mean(dim=(1, 2)).view(-1, 1, 1), "mean", OVERVIEW_CHANNELS)
        pic = channel_grid(tiles(f, chans), labels=chans, cmap=cmap, tile=GRID_TILE, columns=2)
        c, h, w = f.shape
        pictures[f"{block}: {n} · {c}×{h}×{w} · RF {model.info(n).receptive_field} px"] = pic
    record = {"settings": _settings(a, size, cmap=cmap, layers=names)}
    return Figure("overview", pictures, record, {"notes": list(a.notes)})


def _rank(f: torch.Tensor, sort: str, k: int) -> list[int]:
    if sort == "index":
        return list(range(min(k, f.shape[0])))
    stat = f.mean(dim=(1, 2)) if sort == "mean" else f.amax(dim=(1, 2))
    return rank_channels(stat.view(-1, 1, 1), "mean", k)


def grid(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    layer: str,
    k: float = 16,
    sort: str = "mean",
    scope: str = "channel",
    cmap: str = "viridis",
) -> Figure:
    """The top-``k`` channels of ``layer`` as one picture, with a colour bar saying the scope.

    Extras: ``caption``, ``channels`` (tile j shows channel ``channels[j]``), ``fmap_hw``.
    """
    k = check_k(k)
    check_choice("sort", sort, SORTS)
    check_choice("colour scaling", scope, SCOPES)
    model.info(layer)
    f = activations(model, cache, a, [layer])[layer][0]
    chans = _rank(f, sort, k)
    tile = grid_tile(len(chans))
    sel = tiles(f, chans, tile)
    shared_scale = scope == "layer"
    pic = channel_grid(
        sel, labels=chans, scope="layer" if shared_scale else "channel", cmap=cmap, tile=tile, pad=GRID_PAD
    )
    if shared_scale:
        bar = colorbar(
            cmap, float(sel.min()), float(sel.max()), label="shared scale: one min..max for every tile shown"
        )
    else:
        bar = colorbar(cmap, 0.0, 1.0, label="per channel: each tile from its own min (0) to max (1)")
    caption = layer_caption(model, layer, tuple(f.shape)) + f" · top {len(chans)} by {sort}"
    settings = _settings(a, size, layer=layer, k=k, sort=sort, scope=scope, cmap=cmap)
    extras = {"caption": caption, "channels": chans, "fmap_hw": (int(f.shape[1]), int(f.shape[2]))}
    return Figure(
        "features", {caption: pic, "colour bar": bar}, {"settings": settings, "channels": chans}, extras
    )


def channel_at_click(view_channels: list[int], fmap_hw: tuple[int, int], x: float, y: float) -> int | None:
    """The channel under pixel (x, y) of a :func:`grid` picture, or ``None`` (padding)."""
    h, w = fmap_hw
    j = grid_cell_at(x, y, len(view_channels), h, w, tile=grid_tile(len(view_channels)), pad=GRID_PAD)
    return None if j is None else view_channels[j]


def channel(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    layer: str,
    index: float,
    cmap: str = "viridis",
    alpha: float = 0.6,
) -> Figure:
    """One channel enlarged to the image size over the input, with colour bar and statistics.

    Extras: ``stats`` (name → value) and ``table`` (the same as a :class:`Table`).
    """
    f = activations(model, cache, a, [layer])[layer][0]
    c, h, w = f.shape
    if not 0 <= int(index) < c:
        raise InputError(f"{layer} has channels 0..{c - 1}; got {index}")
    m = to_numpy(f[int(index)])
    lo, hi = float(m.min()), float(m.max())
    pic = overlay(a.array, m, cmap=cmap, alpha=alpha, vmin=lo, vmax=hi)
    iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
    stride = model.info(layer).stride
    stats: dict[str, object] = {
        "layer": layer,
        "channel": int(index),
        "map size": f"{w}×{h}",
        "min": lo,
        "max": hi,
        "mean": float(m.mean()),
        "fraction of zeros": float((m == 0).mean()),
        "max at (x, y) in the map": f"({ix}, {iy})",
        "max at ≈ (x, y) in the image": f"({int((ix + 0.5) * stride)}, {int((iy + 0.5) * stride)})",
    }
    bar = colorbar(cmap, lo, hi, label=f"{layer} channel {index}")
    settings = _settings(a, size, layer=layer, channel=int(index), cmap=cmap, alpha=float(alpha))
    title = f"{layer} channel {int(index)} over the image"
    extras = {"stats": stats, "table": Table(["statistic", "value"], [[k, v] for k, v in stats.items()])}
    return Figure(
        "channel", {title: pic, "colour bar": bar}, {"settings": settings, "statistics": stats}, extras
    )
