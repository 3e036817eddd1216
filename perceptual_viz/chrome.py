"""Figure chrome drawn into the pictures themselves: titles, colour bars, tick labels.

What a student must read travels with the picture — in the app, in a download, in an export
zip — so no web page can clip it or draw a label over it. Words are messages
(:mod:`perceptual_viz.messages`), drawn in the language being spoken (the reader's, in the app):
Japanese and Chinese with the system's Noto Sans CJK (Debian's ``fonts-noto-cjk``), everything
else with DejaVu Sans; with no CJK font on the system, the words are drawn in English
(:func:`can_draw` says which). Numbers are printed to 3–4 significant digits.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .messages import SOURCE, Text, language, word
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


# Noto Sans CJK: one collection, a face per writing system (its index in the .ttc file).
CJK_FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/Supplemental/NotoSansCJK-Regular.ttc",
)
CJK_FACES = {"ja": 0, "zh": 2}  # Noto Sans CJK JP, Noto Sans CJK SC
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")  # kana, CJK, full-width


@lru_cache(maxsize=16)
def font(size: int = 13, script: str = SOURCE) -> FontT:
    """A scalable font at ``size`` px for ``script`` ("ja", "zh": Noto Sans CJK; anything else:
    DejaVu Sans if the system has it, else Pillow's own)."""
    if script in CJK_FACES:
        path = cjk_font_file()
        if path is not None:
            return ImageFont.truetype(path, size, index=CJK_FACES[script])
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ValueError):
        return ImageFont.load_default()


@lru_cache(maxsize=1)
def cjk_font_file() -> str | None:
    """The system's Noto Sans CJK collection, or None."""
    return next((p for p in CJK_FONT_FILES if Path(p).is_file()), None)


def can_draw(lang: str) -> bool:
    """Whether pictures can be labelled in ``lang`` here (else they are labelled in English)."""
    return lang not in CJK_FACES or cjk_font_file() is not None


def drawn(text: Text) -> tuple[str, str]:
    """``text`` as it is drawn now: worded in the language being spoken, and the script whose
    font draws it; in English when no font here can draw that language."""
    lang = language()
    said, script = word(text, lang), SOURCE
    if lang in CJK_FACES and _CJK.search(said):
        said, script = (said, lang) if can_draw(lang) else (word(text, SOURCE), SOURCE)
    seen = _RECORDING.get()
    if seen is not None and said:
        seen.append(said)
    return said, script


_RECORDING: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "chrome_recording", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Within the block, every text drawn into a picture is appended to the list it gives (the
    figure's own words, for tests)."""
    texts: list[str] = []
    token = _RECORDING.set(texts)
    try:
        yield texts
    finally:
        _RECORDING.reset(token)


def printable(text: str, f: FontT) -> str:
    """``text`` as ``f`` can draw it: symbols spelt in ASCII when the font is neither DejaVu nor Noto."""
    name = str(getattr(f, "getname", lambda: ("", ""))()[0])
    return text if "DejaVu" in name or "Noto" in name else text.translate(_ASCII)


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
    """``text`` broken into lines no wider than ``width`` px: between words, and between any two
    characters of Chinese or Japanese (which has no spaces); a Latin word longer than that stays whole."""
    lines: list[str] = []
    for paragraph in printable(text, f).split("\n"):
        line = ""
        for piece in _pieces(paragraph):
            trial = line + piece if line else piece.lstrip()
            if line and text_size(trial.rstrip(), f)[0] > width and piece.lstrip()[:1] not in _NO_LINE_START:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line = trial
        lines.append(line.rstrip())
    return lines


# Characters a Japanese or Chinese line never starts with (kinsoku): small kana, the long-vowel
# mark, closing brackets and punctuation stay with the character before them.
_NO_LINE_START = frozenset("ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶー・、。，．：；？！）」』】〉》")


def _pieces(paragraph: str) -> list[str]:
    """Where a line may break: before each word (with its space) and around each CJK character."""
    return _PIECES.findall(paragraph)


_CJK_CLASS = "\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_PIECES = re.compile(rf"\s*[{_CJK_CLASS}]|\s*[^\s{_CJK_CLASS}]+|\s+$")


def titled(picture: Image.Image, title: Text, subtitle: Text = "", min_width: int = 0) -> Image.Image:
    """``picture`` under its title (bold-ish, wrapped) and an optional smaller subtitle."""
    width = max(picture.width, min_width)
    head = _title_strip(drawn(title), drawn(subtitle), width)
    out = Image.new("RGB", (width, head.height + picture.height), WHITE)
    out.paste(head, (0, 0))
    out.paste(picture.convert("RGB"), ((width - picture.width) // 2, head.height))
    return out


@lru_cache(maxsize=512)
def _title_strip(title: tuple[str, str], subtitle: tuple[str, str], width: int) -> Image.Image:
    """The drawn title lines of :func:`titled` (the same titles recur on every request: drawing
    text is most of a small figure's cost). Shared: callers paste it, never change it."""
    big, small = font(14, title[1]), font(12, subtitle[1])
    lines = [(t, big, INK) for t in wrap(title[0], big, width - 8)]
    if subtitle[0]:
        lines += [(t, small, MUTED) for t in wrap(subtitle[0], small, width - 8)]
    heights = [_line_height(f) + 3 for _, f, _ in lines]
    out = Image.new("RGB", (width, sum(heights) + 6), WHITE)
    draw = ImageDraw.Draw(out)
    y = 3
    for (t, f, colour), h in zip(lines, heights, strict=True):
        draw.text((4, y), t, fill=colour, font=f)
        y += h
    return out


@lru_cache(maxsize=32)
def _line_height(f: FontT) -> int:
    """A line's full height in ``f``: ascenders, descenders, and CJK characters where it has them."""
    sample = "Hgjpy|()0123456789" + (
        "漢字かな" if "CJK" in str(getattr(f, "getname", lambda: ("",))()[0]) else ""
    )
    return math.ceil(_MEASURE.textbbox((0, 0), printable(sample, f), font=f)[3]) + 1


def colour_bar(
    cmap: str, lo: float, hi: float, width: int, label: Text = "", height: int = 12
) -> Image.Image:
    """A horizontal colour bar ``width`` px wide: the ramp, min / mid / max, and ``label``."""
    return _colour_bar(cmap, float(lo), float(hi), int(width), drawn(label), int(height)).copy()


@lru_cache(maxsize=256)
def _colour_bar(
    cmap: str,
    lo: float,
    hi: float,
    width: int,
    label: tuple[str, str],
    height: int,
    tick_values: tuple[float, float, float] | None = None,
) -> Image.Image:
    """:func:`colour_bar`, drawn once per scale (most maps say 0 … 1): shared, never changed."""
    width = max(width, 120)
    ramp = colorize(np.linspace(0.0, 1.0, width, dtype=np.float32)[None], cmap, 0.0, 1.0)[0]
    f, lf = font(11), font(11, label[1])
    # A line's full height from where it is drawn: ascenders, digits and descenders (g, p, |, ()),
    # so a caption under the bar is never cut at the bottom.
    th, lh = _line_height(f), _line_height(lf)
    label_lines = wrap(label[0], lf, width - 4) if label[0] else []
    out = Image.new("RGB", (width, height + 4 + th + 4 + len(label_lines) * (lh + 2) + 2), WHITE)
    out.paste(Image.fromarray(np.ascontiguousarray(np.broadcast_to(ramp[None], (height, width, 3)))), (0, 0))
    draw = ImageDraw.Draw(out)
    left, middle, right = tick_values or (lo, (lo + hi) / 2, hi)
    ticks = [(0, left), (width // 2, middle), (width - 1, right)]
    for x, v in ticks:
        draw.line((x, height, x, height + 3), fill=INK)
        s = printable(num(v), f)
        w = text_size(s, f)[0]
        draw.text((min(max(0, x - w // 2), width - w), height + 4), s, fill=INK, font=f)
    y = height + 4 + th + 4
    for line in label_lines:
        draw.text((max(0, (width - text_size(line, lf)[0]) // 2), y), line, fill=MUTED, font=lf)
        y += lh + 2
    return out


def with_colour_bar(
    picture: Image.Image,
    cmap: str,
    lo: float,
    hi: float,
    label: Text = "",
    ticks: tuple[float, float, float] | None = None,
) -> Image.Image:
    """``picture`` with its colour bar (same width) underneath: the scale travels with the map.
    ``ticks``: the values printed under the bar's ends and middle, when the colours are not
    spread linearly from ``lo`` to ``hi`` (a log scale: see :mod:`perceptual_viz.scales`)."""
    bar = _colour_bar(cmap, float(lo), float(hi), picture.width, drawn(label), 12, ticks)
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


def legend(items: Sequence[tuple[Text, tuple[int, int, int]]], width: int) -> Image.Image:
    """Colour swatches with their names, wrapped to ``width`` px."""
    x, y, rows = 4, 3, []
    for label, colour in items:
        name, script = drawn(label)
        f = font(11, script)
        w = 16 + text_size(printable(name, f), f)[0] + 12
        if x + w > width and x > 4:
            x, y = 4, y + 17
        rows.append((x, y, name, colour, f))
        x += w
    out = Image.new("RGB", (width, y + 20), WHITE)
    draw = ImageDraw.Draw(out)
    for x, y, name, colour, f in rows:
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
