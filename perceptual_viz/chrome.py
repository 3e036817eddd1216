"""Figure chrome drawn into the pictures themselves: titles, colour bars, tick labels.

What a student must read travels with the picture — in the app, in a download, in an export
zip — so no web page can clip it or draw a label over it. Text uses Pillow's built-in scalable
font; numbers are printed to 3–4 significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .render import colorize

INK = (33, 37, 41)
MUTED = (90, 96, 104)
WHITE = (255, 255, 255)
FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont


# DejaVu Sans has every symbol the figures print (σ, Σ, ×, ÷, −, ², …) and ships with most Linux
# systems; Pillow's own font is the fallback, with those symbols spelt in ASCII.
FONT_FILES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_ASCII = str.maketrans(
    {
        "−": "-",
        "–": "-",
        "÷": "/",
        "×": "x",
        "σ": "s",
        "Σ": "sum ",
        "φ": "phi",
        "²": "^2",
        "‖": "||",
        "≤": "<=",
        "≥": ">=",
        "→": "->",
        "…": "...",
        "◀": "<",
        "▶": ">",
    }
)


@lru_cache(maxsize=8)
def font(size: int = 13) -> FontT:
    """A scalable font at ``size`` px: DejaVu Sans if the system has it, else Pillow's own."""
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ValueError):
        return ImageFont.load_default()


def printable(text: str, f: FontT) -> str:
    """``text`` as ``f`` can draw it: symbols spelt in ASCII when the font is not DejaVu."""
    name = getattr(f, "getname", lambda: ("", ""))()[0]
    return text if "DejaVu" in str(name) else text.translate(_ASCII)


_MEASURE = ImageDraw.Draw(Image.new("RGB", (1, 1)))


@lru_cache(maxsize=4096)
def text_size(text: str, f: FontT) -> tuple[int, int]:
    """(width, height) of ``text`` in ``f``, in px (memoised: figures measure the same labels on
    every view change, and measuring is most of what drawing a colour bar costs)."""
    left, top, right, bottom = _MEASURE.textbbox((0, 0), text, font=f)
    return math.ceil(right - left), math.ceil(bottom - top)


def num(v: float | None, digits: int = 3) -> str:
    """A number for reading: ``digits`` significant digits, plain between 0.001 and 99 999
    ("0.0414", "2920", "2.5"), scientific beyond ("3.1e-05")."""
    if v is None or math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    a = abs(v)
    if a == 0:
        return "0"
    if not 1e-3 <= a < 1e5:
        mantissa, exponent = f"{v:.{max(0, digits - 1)}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent)}"
    decimals = max(0, digits - 1 - math.floor(math.log10(a)))
    text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def wrap(text: str, f: FontT, width: int) -> list[str]:
    """``text`` broken into lines no wider than ``width`` px (a word longer than that stays whole)."""
    lines: list[str] = []
    for paragraph in printable(text, f).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}".strip()
            if line and text_size(trial, f)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def titled(picture: Image.Image, title: str, subtitle: str = "", min_width: int = 0) -> Image.Image:
    """``picture`` under its title (bold-ish, wrapped) and an optional smaller subtitle."""
    width = max(picture.width, min_width)
    head = _title_strip(title, subtitle, width)
    out = Image.new("RGB", (width, head.height + picture.height), WHITE)
    out.paste(head, (0, 0))
    out.paste(picture.convert("RGB"), ((width - picture.width) // 2, head.height))
    return out


@lru_cache(maxsize=512)
def _title_strip(title: str, subtitle: str, width: int) -> Image.Image:
    """The drawn title lines of :func:`titled` (the same titles recur on every request: drawing
    text is most of a small figure's cost). Shared: callers paste it, never change it."""
    big, small = font(14), font(12)
    lines = [(t, big, INK) for t in wrap(title, big, width - 8)]
    if subtitle:
        lines += [(t, small, MUTED) for t in wrap(subtitle, small, width - 8)]
    heights = [text_size("Hg" + t, f)[1] + 3 for t, f, _ in lines]
    out = Image.new("RGB", (width, sum(heights) + 6), WHITE)
    draw = ImageDraw.Draw(out)
    y = 3
    for (t, f, colour), h in zip(lines, heights, strict=True):
        draw.text((4, y), t, fill=colour, font=f)
        y += h
    return out


def colour_bar(cmap: str, lo: float, hi: float, width: int, label: str = "", height: int = 12) -> Image.Image:
    """A horizontal colour bar ``width`` px wide: the ramp, min / mid / max, and ``label``."""
    return _colour_bar(cmap, float(lo), float(hi), int(width), label, int(height)).copy()


@lru_cache(maxsize=256)
def _colour_bar(cmap: str, lo: float, hi: float, width: int, label: str, height: int) -> Image.Image:
    """:func:`colour_bar`, drawn once per scale (most maps say 0 … 1): shared, never changed."""
    width = max(width, 120)
    ramp = colorize(np.linspace(0.0, 1.0, width, dtype=np.float32)[None], cmap, 0.0, 1.0)[0]
    f = font(11)
    # A line's full height from where it is drawn: ascenders, digits and descenders (g, p, |, ()),
    # so a caption under the bar is never cut at the bottom.
    th = math.ceil(_MEASURE.textbbox((0, 0), printable("Hgjpy|()0123456789", f), font=f)[3]) + 1
    label_lines = wrap(label, f, width - 4) if label else []
    out = Image.new("RGB", (width, height + 4 + th + 4 + len(label_lines) * (th + 2) + 2), WHITE)
    out.paste(Image.fromarray(np.ascontiguousarray(np.broadcast_to(ramp[None], (height, width, 3)))), (0, 0))
    draw = ImageDraw.Draw(out)
    ticks = [(0, lo), (width // 2, (lo + hi) / 2), (width - 1, hi)]
    for x, v in ticks:
        draw.line((x, height, x, height + 3), fill=INK)
        s = printable(num(v), f)
        w = text_size(s, f)[0]
        draw.text((min(max(0, x - w // 2), width - w), height + 4), s, fill=INK, font=f)
    y = height + 4 + th + 4
    for line in label_lines:
        draw.text((max(0, (width - text_size(line, f)[0]) // 2), y), line, fill=MUTED, font=f)
        y += th + 2
    return out


def with_colour_bar(picture: Image.Image, cmap: str, lo: float, hi: float, label: str = "") -> Image.Image:
    """``picture`` with its colour bar (same width) underneath: the scale travels with the map."""
    bar = _colour_bar(cmap, float(lo), float(hi), picture.width, label, 12)
    out = Image.new("RGB", (max(picture.width, bar.width), picture.height + 6 + bar.height), WHITE)
    out.paste(picture.convert("RGB"), (0, 0))
    out.paste(bar, (0, picture.height + 6))
    return out


def matrix_ticks(picture: Image.Image, labels: Sequence[int], cell: int) -> tuple[Image.Image, int, int]:
    """A matrix picture (``cell`` px per cell) with row and column labels (channel indices) on
    the left and top; returns it with the (x, y) offset of the matrix inside it, for clicks."""
    f = font(10)
    n = len(labels)
    every = max(1, math.ceil(14 / max(cell, 1)))  # a label every k cells, so the labels never touch
    lw = max(text_size(str(v), f)[0] for v in labels) + 6
    lh = lw  # column labels are written vertically: as tall as the widest label
    out = Image.new("RGB", (lw + picture.width + 2, lh + picture.height + 2), WHITE)
    out.paste(picture.convert("RGB"), (lw, lh))
    draw = ImageDraw.Draw(out)
    for j in range(0, n, every):
        s = str(labels[j])
        w, h = text_size(s, f)
        centre = j * cell + cell // 2
        draw.text((lw - w - 3, lh + centre - h // 2 - 1), s, fill=INK, font=f)
        col = Image.new("RGB", (w + 2, h + 4), WHITE)
        ImageDraw.Draw(col).text((1, 0), s, fill=INK, font=f)
        rotated = col.rotate(90, expand=True)
        out.paste(rotated, (lw + centre - rotated.width // 2, lh - rotated.height - 2))
    return out, lw, lh


def side_by_side(pictures: Sequence[Image.Image], gap: int = 10) -> Image.Image:
    """Pictures in a row, tops aligned, on white."""
    width = sum(p.width for p in pictures) + gap * (len(pictures) - 1)
    out = Image.new("RGB", (width, max(p.height for p in pictures)), WHITE)
    x = 0
    for p in pictures:
        out.paste(p.convert("RGB"), (x, 0))
        x += p.width + gap
    return out


def legend(items: Sequence[tuple[str, tuple[int, int, int]]], width: int) -> Image.Image:
    """Colour swatches with their names, wrapped to ``width`` px."""
    f = font(11)
    x, y, rows = 4, 3, []
    for name, colour in items:
        w = 16 + text_size(printable(name, f), f)[0] + 12
        if x + w > width and x > 4:
            x, y = 4, y + 17
        rows.append((x, y, name, colour))
        x += w
    out = Image.new("RGB", (width, y + 20), WHITE)
    draw = ImageDraw.Draw(out)
    for x, y, name, colour in rows:
        draw.rectangle((x, y + 2, x + 11, y + 13), outline=colour, width=3)
        draw.text((x + 16, y), printable(name, f), fill=INK, font=f)
    return out


def stack(pictures: Sequence[Image.Image], gap: int = 4) -> Image.Image:
    """Pictures one under the other, left-aligned, on white."""
    out = Image.new(
        "RGB",
        (max(p.width for p in pictures), sum(p.height for p in pictures) + gap * (len(pictures) - 1)),
        WHITE,
    )
    y = 0
    for p in pictures:
        out.paste(p.convert("RGB"), (0, y))
        y += p.height + gap
    return out
