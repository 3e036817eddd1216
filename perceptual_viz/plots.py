"""Bar and line charts drawn with PIL: titled, with readable ticks, colour-blind-safe colours.

A chart is a picture like every other figure of the app, so it is exported with the figure and
looks the same in the browser, a download and the command line. Log scales get decade ticks
(1e-3, 1e-2, …) so layers whose values differ by orders of magnitude are all visible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw

from .chrome import INK, MUTED, WHITE, drawn, font, num, printable, text_size, wrap
from .messages import Text

# Okabe & Ito's palette: distinguishable with every common colour-vision deficiency.
PALETTE = (
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
    (240, 228, 66),
    (0, 0, 0),
)
GRID = (228, 230, 233)


def _ticks(lo: float, hi: float, log: bool, n: int = 5) -> list[float]:
    """Tick values between ``lo`` and ``hi``: decades on a log axis, round steps on a linear one."""
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        step = max(1, math.ceil((b - a) / 6))
        return [10.0**e for e in range(a, b + 1, step)]
    span = hi - lo or 1.0
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


class _Axes:
    """Data → pixel mapping of one chart's plotting area."""

    def __init__(self, box: tuple[int, int, int, int], lo: float, hi: float, log: bool) -> None:
        self.x0, self.y0, self.x1, self.y1 = box
        self.log = log
        self.lo, self.hi = (math.log10(lo), math.log10(hi)) if log else (lo, hi)

    def y(self, v: float) -> float:
        t = math.log10(v) if self.log else v
        return self.y1 - (t - self.lo) / ((self.hi - self.lo) or 1.0) * (self.y1 - self.y0)


def _frame(
    img: Image.Image,
    size: tuple[int, int],
    title: Text,
    ylabel: Text,
    lo: float,
    hi: float,
    log: bool,
    right: int = 10,
) -> _Axes:
    """Title, y axis with ticks and grid lines; returns the plotting area's mapping."""
    draw = ImageDraw.Draw(img)
    w, h = size
    (title_s, title_script), (ylabel_s, ylabel_script) = drawn(title), drawn(ylabel)
    tf, f, yf = font(14, title_script), font(11), font(11, ylabel_script)
    lines = wrap(title_s, tf, w - 10)
    y = 4
    for line in lines:
        draw.text((6, y), line, fill=INK, font=tf)
        y += text_size("Hg", tf)[1] + 4
    ticks = _ticks(lo, hi, log)
    left = max(text_size(printable(num(t), f), f)[0] for t in ticks) + 26
    ax = _Axes((left, y + 8, w - right, h - 34), lo, hi, log)
    for t in ticks:
        if not lo <= t <= hi * 1.0001:
            continue
        ty = ax.y(t)
        draw.line((ax.x0, ty, ax.x1, ty), fill=GRID)
        s = printable(num(t, 1 if log else 3), f)
        draw.text((ax.x0 - 6 - text_size(s, f)[0], ty - 7), s, fill=INK, font=f)
    yl = printable(ylabel_s, yf)
    label = Image.new("RGB", (text_size(yl, yf)[0] + 4, text_size("Hg" + yl, yf)[1] + 4), WHITE)
    ImageDraw.Draw(label).text((2, 1), yl, fill=MUTED, font=yf)
    rotated = label.rotate(90, expand=True)
    img.paste(rotated, (2, int((ax.y0 + ax.y1 - rotated.height) / 2)))
    draw.line((ax.x0, ax.y0, ax.x0, ax.y1), fill=INK)
    draw.line((ax.x0, ax.y1, ax.x1, ax.y1), fill=INK)
    return ax


def bar_chart(
    labels: Sequence[Text],
    values: Sequence[float],
    *,
    title: Text,
    ylabel: Text,
    log: bool = False,
    size: tuple[int, int] = (520, 280),
    colour: tuple[int, int, int] = PALETTE[0],
    ylim: tuple[float, float] | None = None,
    bar_text: Sequence[str] | None = None,
    guide: tuple[float, Text] | None = None,
) -> Image.Image:
    """One bar per label; on a ``log`` axis zero or missing values are shown as "0" and left out.

    ``ylim`` fixes the axis (e.g. 0–100 for percentages); ``bar_text`` replaces the number written
    above each bar; ``guide`` = (value, label) draws a dashed reference line (e.g. chance level).
    """
    shown = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if ylim is not None:
        lo, hi = ylim
    elif log:
        lo, hi = (min(shown) / 2, max(shown) * 2) if shown else (0.1, 1.0)
    else:
        lo, hi = min(0.0, *shown) if shown else 0.0, (max(shown) * 1.12 if shown and max(shown) > 0 else 1.0)
    img = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(img)
    f = font(11)
    right = (
        10
        if guide is None
        else text_size(printable(drawn(guide[1])[0], f), font(11, drawn(guide[1])[1]))[0] + 14
    )
    ax = _frame(img, size, title, ylabel, lo, hi, log, right)
    if guide is not None:
        _dashed(draw, ax, guide[0], guide[1], f)
    slot = (ax.x1 - ax.x0) / max(1, len(labels))
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        cx = ax.x0 + slot * (i + 0.5)
        ok = v is not None and math.isfinite(v) and (v > 0 or not log)
        if ok:
            top = ax.y(v)
            base = ax.y1 if log else ax.y(0.0)
            draw.rectangle((cx - slot * 0.32, min(top, base), cx + slot * 0.32, max(top, base)), fill=colour)
        s = printable(bar_text[i] if bar_text is not None else (num(v) if ok else "0"), f)
        vy = (ax.y(v) if ok else ax.y1) - 15
        draw.text((cx - text_size(s, f)[0] / 2, max(ax.y0 - 2, vy)), s, fill=INK, font=f)
        said, script = drawn(lab)
        lf = font(11, script)
        for k, line in enumerate(said.split("\n")):
            ls = printable(line, lf)
            draw.text((cx - text_size(ls, lf)[0] / 2, ax.y1 + 6 + 14 * k), ls, fill=INK, font=lf)
    return img


def _dashed(draw: ImageDraw.ImageDraw, ax: _Axes, value: float, label: Text, f: Any) -> None:
    """A dashed horizontal line at ``value`` across the plot, labelled right of it (off the bars)."""
    y = ax.y(value)
    x = float(ax.x0)
    while x < ax.x1:
        draw.line((x, y, min(x + 6, ax.x1), y), fill=MUTED, width=1)
        x += 10
    said, script = drawn(label)
    lf = font(11, script)
    draw.text((ax.x1 + 6, y - 7), printable(said, lf), fill=MUTED, font=lf)


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: Text,
    xlabel: Text,
    ylabel: Text,
    names: Mapping[str, Text] | None = None,
    ylim: tuple[float, float] | None = None,
    integer_x: bool = True,
    log: bool = False,
    size: tuple[int, int] = (360, 260),
) -> Image.Image:
    """Lines with markers, one colour per series, a legend under the axis (``names``: what the
    legend calls a series, where not its key); integer x ticks."""
    ys = [
        y
        for pts in series.values()
        for _, y in pts
        if y is not None and math.isfinite(y) and (y > 0 or not log)
    ]
    xs = [x for pts in series.values() for x, _ in pts]
    if ylim is not None:
        lo, hi = ylim
    elif log:  # no positive value yet (a run's first report): an empty axis of two decades
        lo, hi = (min(ys) / 1.5, max(ys) * 1.5) if ys else (0.1, 10.0)
    else:
        lo, hi = (min(0.0, *ys), max(ys) * 1.1 or 1.0) if ys else (0.0, 1.0)
    legend_rows = math.ceil(len(series) / 3)
    img = Image.new("RGB", (size[0], size[1] + 18 * legend_rows), WHITE)
    draw = ImageDraw.Draw(img)
    ax = _frame(img, size, title, ylabel, lo, hi, log)
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)

    def px(x: float) -> float:
        return ax.x0 + 8 + (x - x_lo) / ((x_hi - x_lo) or 1.0) * (ax.x1 - ax.x0 - 16)

    f = font(11)
    xticks = sorted({int(x) for x in xs}) if integer_x else _ticks(x_lo, x_hi, False)
    every = max(1, math.ceil(len(xticks) / 10))
    for t in xticks[::every]:
        s = str(int(t)) if integer_x else printable(num(t), f)
        draw.text((px(t) - text_size(s, f)[0] / 2, ax.y1 + 4), s, fill=INK, font=f)
    xs_said, xs_script = drawn(xlabel)
    xf = font(11, xs_script)
    xl = printable(xs_said, xf)
    draw.text(((ax.x0 + ax.x1 - text_size(xl, xf)[0]) / 2, ax.y1 + 18), xl, fill=MUTED, font=xf)
    for k, (name, pts) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        good = [(px(x), ax.y(y)) for x, y in pts if y is not None and math.isfinite(y) and (y > 0 or not log)]
        if len(good) > 1:
            draw.line(good, fill=colour, width=2)
        for cx, cy in good:
            draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=colour)
        lx, ly = 8 + (k % 3) * (size[0] // 3), size[1] + 18 * (k // 3) - 2
        draw.rectangle((lx, ly + 4, lx + 12, ly + 12), fill=colour)
        said, script = drawn((names or {}).get(name, name))
        nf = font(11, script)
        draw.text((lx + 16, ly), printable(said, nf), fill=INK, font=nf)
    return img
