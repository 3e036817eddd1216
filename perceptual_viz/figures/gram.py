"""Gram-matrix figures: G_A (and G_B, |G_A − G_B|, style distance per layer), and one cell."""

from __future__ import annotations

import torch

from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache
from ..gram import FORMULAS, GRAM_NORMS, gram, style_distances, top_channels_by_energy
from ..images import to_pil
from ..layers import block_outputs
from ..render import colorbar, heatmap, to_numpy, upsample
from . import Analysis, Figure, Table, activations, check_choice

TOP_RANGE = (2, 128)  # channels a Gram picture may show
PICTURE_PX = 384  # a Gram picture's side: each cell is PICTURE_PX // top pixels


def cell_scale(top: int) -> int:
    """Pixels per cell of a Gram picture of ``top`` channels (what a click is divided by)."""
    return max(1, PICTURE_PX // top)


def _distances(model: VGGFeatures, cache: FeatureCache, a: Analysis, b: Analysis, norm: str) -> Table:
    names = list(block_outputs(model.arch))
    fa, fb = activations(model, cache, a, names), activations(model, cache, b, names)
    d = style_distances(fa, fb, names, norm)
    return Table(["layer", "style distance"], [[n, float(d[n][0])] for n in names])


def matrices(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    b: Analysis | None,
    size: str,
    layer: str,
    norm: str = "chw",
    top: float = 32,
    cmap: str = "viridis",
) -> Figure:
    """G_A (and G_B, |G_A − G_B| on one shared scale) over A's top-``top`` channels by energy.

    Pictures: the image(s), the matrices, the colour bar. Extras: ``matrices`` (their
    captions), ``channels`` (row/column j is channel ``channels[j]``), ``scale`` (pixels per cell),
    ``formula``, ``distances`` (a :class:`Table` of style distance per block, with two images).
    """
    check_choice("Gram normalisation", norm, GRAM_NORMS)
    model.info(layer)
    if b is not None and b.size != a.size:
        raise InputError("both images must be analysed at the same size")
    g_norm = "none" if norm == "gatys" else norm
    ga = gram(activations(model, cache, a, [layer])[layer], g_norm)[0]
    n = max(TOP_RANGE[0], min(int(top), TOP_RANGE[1], ga.shape[0]))
    idx = top_channels_by_energy(ga, n)
    mats = [("G_A", ga[idx][:, idx])]
    distances = None
    if b is not None:
        gb = gram(activations(model, cache, b, [layer])[layer], g_norm)[0][idx][:, idx]
        mats += [("G_B", gb), ("|G_A − G_B|", (mats[0][1] - gb).abs())]
        distances = _distances(model, cache, a, b, norm)
    hi = max(float(m.max()) for _, m in mats)
    lo = min(0.0, min(float(m.min()) for _, m in mats))
    pictures = {"image A": to_pil(a.array), **({"image B": to_pil(b.array)} if b is not None else {})}
    pictures |= {t: heatmap(m, cmap=cmap, vmin=lo, vmax=hi, scale=cell_scale(n)) for t, m in mats}
    pictures["colour bar"] = colorbar(cmap, lo, hi, label=f"one shared scale, Gram normalisation '{norm}'")
    channels = [int(i) for i in idx]
    settings = {
        "analysis_size": str(size),
        "size_hw": list(a.size),
        "layer": layer,
        "norm": norm,
        "formula": FORMULAS[norm],
        "top_channels": int(top),
        "channels_shown": channels,
        "image_b": b is not None,
    }
    record = {"settings": settings, "style_distances": None if distances is None else distances.records()}
    extras = {
        "matrices": [t for t, _ in mats],
        "channels": channels,
        "scale": cell_scale(n),
        "formula": FORMULAS[norm],
        "distances": distances,
    }
    return Figure("gram", pictures, record, extras)


def cell_at_click(channels: list[int], scale: int, x: float, y: float) -> tuple[int, int] | None:
    """(i, j) channels of the Gram cell under pixel (x, y), or ``None`` outside the matrix."""
    r, c = int(y) // scale, int(x) // scale
    if not (0 <= r < len(channels) and 0 <= c < len(channels)):
        return None
    return channels[r], channels[c]


def pair(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    size: str,
    layer: str,
    i: float,
    j: float,
    cmap: str = "viridis",
) -> Figure:
    """Channels i and j of ``layer`` and their product: G_ij is the sum of the product.

    Extras: ``text`` (the cell's value, raw and ÷ C·H·W).
    """
    f = activations(model, cache, a, [layer])[layer][0]
    c = f.shape[0]
    i, j = int(i), int(j)
    if not (0 <= i < c and 0 <= j < c):
        raise InputError(f"{layer} has channels 0..{c - 1}")
    prod: torch.Tensor = f[i] * f[j]
    pictures = {
        title: heatmap(upsample(to_numpy(m), a.size, nearest=True), cmap=cmap)
        for m, title in ((f[i], f"F_{i}"), (f[j], f"F_{j}"), (prod, f"F_{i} ⊙ F_{j}"))
    }
    g = float(prod.sum())
    chw = g / (c * f.shape[1] * f.shape[2])
    text = f"G[{i}, {j}] = Σ F_{i} · F_{j} = {g:.4g}   (÷ C·H·W = {chw:.4g})"
    settings = {"analysis_size": str(size), "size_hw": list(a.size), "layer": layer, "i": i, "j": j}
    return Figure("gram-pair", pictures, {"settings": settings, "gram": g, "gram_chw": chw}, {"text": text})
