"""Gram-matrix figures: G_A (and G_B, |G_A − G_B|, the style distance per layer), and one cell.

"Style distance" means one thing across the app: Σ_l mean |G_A − G_B| with each Gram divided
by C·H·W (:data:`STYLE_NORM`), summed over the same layers as the perceptual distance; the
Gram tab's normalisation control changes the matrices drawn, not that definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..gram import FORMULAS, GRAM_NORMS, gram, style_distances, top_channels_by_energy
from ..images import to_pil
from ..layers import block_outputs
from ..messages import Joined, Text, msg
from ..options import GramNorm
from ..plots import bar_chart
from ..render import heatmap, to_numpy, upsample
from ..scales import Scale, ScaleKind
from . import Analysis, Figure, Table, activations, check_choice

TOP_RANGE = (2, 128)  # channels a Gram picture may show
GramScale = Literal["log", "log-own", "linear"]
GRAM_SCALES: tuple[GramScale, ...] = ("log", "log-own", "linear")
PICTURE_PX = 384  # a Gram picture's side: each cell is PICTURE_PX // top pixels
STYLE_NORM: GramNorm = "chw"  # the normalisation of "style distance" everywhere in the app
STYLE_DEFINITION = msg("style distance = mean |G_A − G_B| with G = F Fᵀ ÷ (C·H·W), per layer")


def cell_scale(top: int) -> int:
    """Pixels per cell of a Gram picture of ``top`` channels (what a click is divided by)."""
    return max(1, PICTURE_PX // top)


def _distances(model: VGGFeatures, cache: FeatureCache, a: Analysis, b: Analysis) -> Table:
    names = list(block_outputs(model.arch))
    fa, fb = activations(model, cache, a, names), activations(model, cache, b, names)
    d = style_distances(fa, fb, names, STYLE_NORM)
    return Table([msg("layer"), msg("style distance")], [[n, float(d[n][0])] for n in names])


def _matrix(
    m: torch.Tensor, title: str, sub: Text, sc: Scale, cmap: str, channels: list[int], label: Text
) -> tuple[Image.Image, tuple[int, int]]:
    """One titled Gram picture with channel indices and its colour bar; (picture, matrix origin)."""
    cell = cell_scale(len(channels))
    colours = heatmap(sc.forward(to_numpy(m)), cmap=cmap, vmin=sc.t_lo, vmax=sc.t_hi, scale=cell)
    ticked, ox, oy = chrome.matrix_ticks(colours, channels, cell)
    body = chrome.with_colour_bar(ticked, cmap, sc.lo, sc.hi, label, ticks=sc.ticks())
    pic = chrome.titled(body, title, sub)
    return pic, (ox, oy + pic.height - body.height)


def _scales(mats: list[tuple[str, torch.Tensor, Text]], scale: GramScale) -> list[Scale]:
    """Each matrix's colour scale: one for the three (log or linear), or each its own (log)."""
    kind: ScaleKind = "linear" if scale == "linear" else "log"
    if scale == "log-own":
        return [Scale.fit([to_numpy(m)], kind) for _, m, _ in mats]
    shared = Scale.fit([to_numpy(m) for _, m, _ in mats], kind)
    return [shared] * len(mats)


def _draw(
    mats: list[tuple[str, torch.Tensor, Text]],
    layer: str,
    n: int,
    cmap: str,
    channels: list[int],
    norm: str,
    scale: GramScale,
) -> tuple[dict[str, Image.Image], tuple[int, int]]:
    """The matrices on their colour scales; (caption → picture, where G_A's matrix starts)."""
    pictures: dict[str, Image.Image] = {}
    origin = (0, 0)
    for (t, m, who), sc in zip(mats, _scales(mats, scale), strict=True):
        sub = msg("{who} · {n} strongest channels of A (by G_ii)", who=who, n=n)
        whose = msg("its own scale") if scale == "log-own" else msg("one scale for the three matrices")
        label = Joined((sc.said(), whose, msg("Gram '{norm}'", norm=norm)))
        pic, at = _matrix(m, f"{t} · {layer}", sub, sc, cmap, channels, label)
        pictures[t] = pic
        origin = at if t == "G_A" else origin
    return pictures, origin


def _style_chart(distances: Table) -> Image.Image:
    return bar_chart(
        distances.column(0),
        distances.column(1),
        title=msg("Style distance per layer (log scale)"),
        ylabel="mean |G_A − G_B|, G ÷ C·H·W",
        log=True,
    )


@dataclass(frozen=True)
class GramFigure(Figure):
    """G_A (and G_B, |G_A − G_B|). ``matrices``: their picture names; ``channels``: row/column j
    is channel ``channels[j]``; ``scale``: pixels per cell; ``origin``: where the matrix starts
    inside the G_A picture; ``formula``; ``distances`` (with two images) and the name of its
    ``chart``."""

    matrices: list[str]
    channels: list[int]
    scale: int
    origin: tuple[int, int]
    formula: str
    distances: Table | None
    chart: str | None
    values: dict[str, np.ndarray]  # each matrix as drawn (name → its N × N values)
    scales: dict[str, Scale]  # and the colour scale it was drawn on
    kind = "gram"


def _grams(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    b: Analysis | None,
    layer: str,
    norm: GramNorm,
    top: int,
) -> tuple[list[tuple[str, torch.Tensor, Text]], list[int], Table | None]:
    """The matrices to draw (name, A's top-``top`` channels by energy, caption), those channels,
    and with two images the style distance per layer."""
    g_norm = "none" if norm == "gatys" else norm
    ga = gram(activations(model, cache, a, [layer])[layer], g_norm)[0]
    n = max(TOP_RANGE[0], min(int(top), TOP_RANGE[1], ga.shape[0]))
    idx = top_channels_by_energy(ga, n)
    mats: list[tuple[str, torch.Tensor, Text]] = [("G_A", ga[idx][:, idx], msg("image A"))]
    distances = None
    if b is not None:
        gb = gram(activations(model, cache, b, [layer])[layer], g_norm)[0][idx][:, idx]
        mats += [
            ("G_B", gb, msg("image B, same channels")),
            ("|G_A − G_B|", (mats[0][1] - gb).abs(), msg("where the styles differ")),
        ]
        distances = _distances(model, cache, a, b)
    return mats, [int(i) for i in idx], distances


def _settings(
    a: Analysis, size: str, layer: str, norm: GramNorm, top: int, how: str, channels: list[int], two: bool
) -> dict[str, object]:
    """What a Gram figure was drawn with, for its export."""
    return {
        "analysis_size": str(size),
        "size_hw": list(a.size),
        "layer": layer,
        "norm": norm,
        "formula": FORMULAS[norm],
        "top_channels": int(top),
        "colour_scale": how,
        "channels_shown": channels,
        "image_b": two,
        "style_distance": str(STYLE_DEFINITION),
    }


def matrices(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    b: Analysis | None,
    size: str,
    layer: str,
    norm: str = "chw",
    top: int = 32,
    cmap: str = "viridis",
    scale: str = "log",
) -> GramFigure:
    """G_A (and G_B, |G_A − G_B|) over A's top-``top`` channels by energy.

    Pictures: the image(s), the matrices (titled, channel indices on the axes, colour bar), and
    with two images the style distance per layer on a log scale. ``scale`` (:data:`GRAM_SCALES`):
    "log" (one log scale for the three: a few large cells do not hide the rest), "log-own" (each
    matrix its own log scale) or "linear" (one linear scale, the raw comparison).
    """
    norm = check_choice(msg("Gram normalisation"), norm, GRAM_NORMS)
    how = check_choice(msg("colour scale"), scale, GRAM_SCALES)
    model.info(layer)
    if b is not None and b.size != a.size:
        raise InputError(msg("both images must be analysed at the same size"))
    mats, channels, distances = _grams(model, cache, a, b, layer, norm, top)
    n = len(channels)
    pictures = {"image A": to_pil(a.array), **({"image B": to_pil(b.array)} if b is not None else {})}
    drawn, origin = _draw(mats, layer, n, cmap, channels, norm, how)
    values = {t: to_numpy(m) for t, m, _ in mats}
    scales = dict(zip(values, _scales(mats, how), strict=True))
    pictures.update(drawn)
    chart = None
    if distances is not None:
        chart = "style distance per layer"
        pictures[chart] = _style_chart(distances)
    settings = _settings(a, size, layer, norm, top, how, channels, b is not None)
    record = {"settings": settings, "style_distances": None if distances is None else distances.records()}
    names = [t for t, _, _ in mats]
    return GramFigure(
        pictures,
        record,
        names,
        channels,
        cell_scale(n),
        origin,
        FORMULAS[norm],
        distances,
        chart,
        values,
        scales,
    )


def cell_at_click(
    channels: list[int], scale: int, x: float, y: float, origin: tuple[int, int] = (0, 0)
) -> tuple[int, int] | None:
    """(i, j) channels of the Gram cell under pixel (x, y) of the G_A picture, or ``None``."""
    r, c = (int(y) - origin[1]) // scale, (int(x) - origin[0]) // scale
    if int(y) < origin[1] or int(x) < origin[0] or not (0 <= r < len(channels) and 0 <= c < len(channels)):
        return None
    return channels[r], channels[c]


def pair(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    layer: str,
    i: int,
    j: int,
    cmap: str = "viridis",
) -> PairFigure:
    """Channels i and j of ``layer`` (one shared scale) and their product (its own scale):
    G_ij is the sum of the product."""
    f = activations(model, cache, a, [layer])[layer][0]
    c = f.shape[0]
    i, j = int(i), int(j)
    if not (0 <= i < c and 0 <= j < c):
        raise InputError(msg("{layer} has channels 0..{last}", layer=layer, last=c - 1))
    prod: torch.Tensor = f[i] * f[j]
    lo, hi = float(torch.minimum(f[i].min(), f[j].min())), float(torch.maximum(f[i].max(), f[j].max()))

    def show(m: torch.Tensor, title: str, sub: Text, vmin: float, vmax: float, label: Text) -> Image.Image:
        pic = heatmap(upsample(to_numpy(m), a.size, nearest=True), cmap=cmap, vmin=vmin, vmax=vmax)
        return chrome.titled(chrome.with_colour_bar(pic, cmap, vmin, vmax, label), title, sub)

    pp = (float(prod.min()), float(prod.max()))
    one_scale = msg("F_i and F_j on one scale")
    pictures = {
        f"F_{i}": show(f[i], f"F_{i} · {layer}", msg("channel i"), lo, hi, one_scale),
        f"F_{j}": show(f[j], f"F_{j} · {layer}", msg("channel j"), lo, hi, one_scale),
        f"F_{i} ⊙ F_{j}": show(
            prod,
            f"F_{i} ⊙ F_{j}",
            msg("their product, position by position"),
            *pp,
            msg("the product's own scale"),
        ),
    }
    g = float(prod.sum())
    chw = g / (c * f.shape[1] * f.shape[2])
    text = f"G[{i}, {j}] = Σ F_{i} · F_{j} = {chrome.num(g, 4)}   (÷ C·H·W = {chrome.num(chw, 4)})"
    settings = {"analysis_size": str(size), "size_hw": list(a.size), "layer": layer, "i": i, "j": j}
    return PairFigure(pictures, {"settings": settings, "gram": g, "gram_chw": chw}, text)


@dataclass(frozen=True)
class PairFigure(Figure):
    """Channels i and j and their product; ``text``: the cell's value, raw and ÷ C·H·W."""

    text: str
    kind = "gram-pair"
