"""The figure of one unit's arithmetic (:mod:`perceptual_viz.unit`): the numbers a student can add up.

Each term is drawn as CNN Explainer draws it: the 3×3 patch of the input, the kernel's 3×3 slice,
and their nine products, each cell coloured blue (negative) to red (positive) and printed; the
row ends with the products' sum. conv1_1 shows all three colour channels; a deeper layer the
input channels that add the most, then the sum of all the others, the bias, the total and the
ReLU. The same arithmetic is said in words (``said``) for a reader who cannot see the picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import chrome
from ..backbone import VGGFeatures
from ..features import FeatureCache
from ..messages import Joined, Text, msg
from ..render import colorize
from ..unit import IMAGE, Term, UnitSum, unit_sum
from . import Analysis, Figure

CELL = 46  # px per cell of a 3×3 grid: room for a weight like -0.0025
TOP = 4  # the terms drawn for a deep layer; the others are summed in one line
RGB = ("R", "G", "B")


@dataclass(frozen=True)
class UnitFigure(Figure):
    """One unit's arithmetic: ``unit`` (every term), ``said`` (the sum in words)."""

    unit: UnitSum
    said: Text
    kind = "unit"


def unit_figure(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, size: str, layer: str, channel: int, x: int, y: int
) -> UnitFigure:
    """The arithmetic of the unit of ``layer``'s ``channel`` that sees pixel (x, y) of the image."""
    info = model.info(layer)
    hw = tuple(cache.features(model, a.tensor, [a.key], [layer])[layer].shape[-2:])
    row, col = info.cell_of(x, y, (int(hw[0]), int(hw[1])))
    u = unit_sum(model, cache, a.tensor, a.key, layer, channel, row, col)
    picture = chrome.titled(_drawn(u), _title(u), _subtitle(u))
    record = {
        "settings": {"analysis_size": str(size), "layer": layer, "channel": channel, "x": x, "y": y},
        "unit": _record(u),
    }
    return UnitFigure({"unit": picture}, record, u, said(u))


def _title(u: UnitSum) -> Text:
    return msg(
        "How unit ({x}, {y}) of {layer}, channel {channel}, is made: {value}",
        x=u.col,
        y=u.row,
        layer=u.layer,
        channel=u.channel,
        value=chrome.num(u.value, 4),
    )


def _subtitle(u: UnitSum) -> Text:
    source = msg("the image (ImageNet-normalised RGB)") if u.source == IMAGE else u.source
    return msg(
        "{conv} multiplies a 3×3 patch of each of the {n} channels of {source} by its kernel "
        "and adds them up",
        conv=u.conv,
        n=len(u.terms),
        source=source,
    )


def said(u: UnitSum) -> Text:
    """The arithmetic in one sentence (and the pool's step, when there is one)."""
    shown, rest = u.top(TOP if u.source != IMAGE else 3)
    parts = [msg("{name}: {value}", name=_channel_name(u, t), value=chrome.num(t.value, 4)) for t in shown]
    sentence = msg(
        "{conv} = bias {bias} + the products of {n} channels ({largest}; the others {rest}) = {total}",
        conv=u.conv,
        bias=chrome.num(u.bias, 4),
        n=len(u.terms),
        largest=Joined(tuple(parts), ", "),
        rest=chrome.num(rest, 4),
        total=chrome.num(u.pre_activation, 4),
    )
    steps: list[Text] = [sentence]
    if u.layer.startswith("relu") or u.window:
        steps.append(
            msg("ReLU keeps it if positive: {value}", value=chrome.num(max(u.pre_activation, 0.0), 4))
        )
    if u.window:
        values = ", ".join(chrome.num(v, 4) for v in u.window)
        steps.append(
            msg(
                "{pool} keeps the largest of its 2×2 window ({values}): {value}",
                pool=u.layer,
                values=values,
                value=chrome.num(u.value, 4),
            )
        )
    return Joined(tuple(steps), " → ")


def _channel_name(u: UnitSum, t: Term) -> Text:
    return RGB[t.channel] if u.source == IMAGE else msg("channel {c}", c=t.channel)


def _record(u: UnitSum) -> dict[str, Any]:
    return {
        "layer": u.layer,
        "channel": u.channel,
        "row": u.row,
        "col": u.col,
        "conv": u.conv,
        "source": u.source,
        "bias": u.bias,
        "pre_activation": u.pre_activation,
        "value": u.value,
        "window": list(u.window),
        "terms": [{"channel": t.channel, "value": t.value} for t in u.terms],
    }


# --------------------------------------------------------------------------- drawing


def _drawn(u: UnitSum) -> Image.Image:
    """One row per term shown, then the rest, the bias and the result."""
    shown, rest = u.top(3 if u.source == IMAGE else TOP)
    patch_lim = max(float(np.abs(t.patch).max()) for t in shown) or 1.0
    kernel_lim = max(float(np.abs(t.kernel).max()) for t in shown) or 1.0
    product_lim = max(float(np.abs(t.products).max()) for t in shown) or 1.0
    parts = [_term_parts(u, t, (patch_lim, kernel_lim, product_lim)) for t in shown]
    rows = [_header([p.width for p in parts[0]]), *(_row(p) for p in parts)]
    rows.append(_total_row(u, rest, rows[1].width))
    return chrome.stack(rows, gap=8)


def _header(widths: list[int]) -> Image.Image:
    """What each column of grids is, above the first row."""
    names: list[Text] = [msg("input patch"), msg("kernel"), msg("products")]
    out = Image.new("RGB", (sum(widths), 18), chrome.WHITE)
    draw = ImageDraw.Draw(out)
    x = widths[0]
    for k, name in enumerate(names):
        text, script = chrome.drawn(name)
        f = chrome.font(12, script)
        grid = widths[1 + 2 * k]
        draw.text((x + (grid - chrome.text_size(text, f)[0]) / 2, 2), text, fill=chrome.MUTED, font=f)
        x += grid + (widths[2 + 2 * k] if 2 + 2 * k < len(widths) else 0)
    return out


def _term_parts(u: UnitSum, t: Term, lims: tuple[float, float, float]) -> list[Image.Image]:
    """label · patch × kernel = products → Σ."""
    f = chrome.font(13)
    name, script = chrome.drawn(_channel_name(u, t))
    pieces: list[Image.Image | str] = [
        _grid(t.patch, lims[0]),
        "×",
        _grid(t.kernel, lims[1]),
        "=",
        _grid(t.products, lims[2]),
        f"→ Σ {chrome.num(t.value, 4)}",
    ]
    label = _text_box(name, chrome.font(13, script), 88)
    return [label] + [p if isinstance(p, Image.Image) else _text_box(p, f, None) for p in pieces]


def _total_row(u: UnitSum, rest: float, width: int) -> Image.Image:
    """The others' sum, the bias, the conv's output and what the layer shows."""
    lines: list[Text] = []
    shown = 3 if u.source == IMAGE else TOP
    if len(u.terms) > shown:
        lines.append(
            msg("+ the other {n} channels: {value}", n=len(u.terms) - shown, value=chrome.num(rest, 4))
        )
    lines.append(msg("+ bias: {value}", value=chrome.num(u.bias, 4)))
    lines.append(msg("= {conv}: {value}", conv=u.conv, value=chrome.num(u.pre_activation, 4)))
    relu = "relu" + u.conv[4:]
    if u.layer != u.conv:
        after = max(u.pre_activation, 0.0)
        lines.append(msg("→ ReLU: {layer} = {value}", layer=relu, value=chrome.num(after, 4)))
    if u.window:
        values = ", ".join(chrome.num(v, 3) for v in u.window)
        lines.append(
            msg(
                "→ {pool} = the largest of its 2×2 window of {layer} ({values}): {value}",
                pool=u.layer,
                layer=relu,
                values=values,
                value=chrome.num(u.value, 4),
            )
        )
    out = Image.new("RGB", (width, 20 * len(lines) + 6), chrome.WHITE)
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        text, script = chrome.drawn(line)
        draw.text((8, 3 + 20 * i), text, fill=chrome.INK, font=chrome.font(13, script))
    return out


def _grid(m: np.ndarray, lim: float) -> Image.Image:
    """A 3×3 grid of numbers on a blue–white–red scale symmetric around 0."""
    colours = colorize(torch.as_tensor(m, dtype=torch.float32).numpy()[None], "coolwarm", -lim, lim)[0]
    side = CELL * m.shape[0]
    big = Image.fromarray(colours).resize((side, side), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(big)
    f = chrome.font(10)
    for (r, c), v in np.ndenumerate(m):
        s = chrome.num(float(v), 2)
        w = chrome.text_size(s, f)[0]
        dark = float(colours[r, c].astype(np.float32) @ np.array([0.299, 0.587, 0.114])) < 110
        ink = chrome.WHITE if dark else chrome.INK
        draw.text((c * CELL + (CELL - w) / 2, r * CELL + CELL / 2 - 6), s, fill=ink, font=f)
    for k in range(m.shape[0] + 1):
        draw.line((0, k * CELL, side, k * CELL), fill=(255, 255, 255))
        draw.line((k * CELL, 0, k * CELL, side), fill=(255, 255, 255))
    return big


def _text_box(text: str, f: chrome.FontT, width: int | None) -> Image.Image:
    w, h = chrome.text_size(text, f)
    out = Image.new("RGB", (width or w + 12, CELL * 3), chrome.WHITE)
    ImageDraw.Draw(out).text((6, (CELL * 3 - h) // 2 - 2), text, fill=chrome.INK, font=f)
    return out


def _row(parts: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (sum(p.width for p in parts), max(p.height for p in parts)), chrome.WHITE)
    x = 0
    for p in parts:
        out.paste(p, (x, (out.height - p.height) // 2))
        x += p.width
    return out
