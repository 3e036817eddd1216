"""What the browser tests rely on for accessibility, checked without a browser: AA contrast of our
own colours (buttons, subdued text, figure annotations), a spoken name for every bundled sample,
and the vendored axe-core being the version docs/accessibility.md names."""

from __future__ import annotations

import re

import pytest

from perceptual_viz import chrome
from perceptual_viz.assets import DESCRIPTIONS, SAMPLES_DIR
from perceptual_viz.ui import a11y

from .support import ROOT

AA = 4.5  # WCAG 2.1 AA, normal text


def _rgb(c: str | tuple[int, int, int]) -> tuple[int, int, int]:
    if isinstance(c, tuple):
        return c
    h = c.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def contrast(a, b) -> float:
    """WCAG contrast ratio of two sRGB colours."""

    def lum(c) -> float:
        def f(v: int) -> float:
            s = v / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

        r, g, b_ = _rgb(c)
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b_)

    hi, lo = sorted([lum(a), lum(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_known_pairs():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic near-miss
    assert contrast("#f97316", "#ffffff") < 3  # Gradio's orange button: why the theme changes it


@pytest.mark.parametrize(
    ("name", "fg", "bg"),
    [
        ("primary button", "#ffffff", a11y.PRIMARY),
        ("primary button, hovered", "#ffffff", a11y.PRIMARY_HOVER),
        ("stop button", "#ffffff", a11y.STOP),
        ("stop button, hovered", "#ffffff", a11y.STOP_HOVER),
        ("subdued text", a11y.SUBDUED, "#ffffff"),
        ("figure text", chrome.INK, chrome.WHITE),
        ("figure notes", chrome.MUTED, chrome.WHITE),
    ],
)
def test_our_colours_meet_aa_contrast(name, fg, bg):
    assert contrast(fg, bg) >= AA, f"{name}: {contrast(fg, bg):.2f} : 1"


def test_every_bundled_sample_has_a_spoken_name():
    files = {p.name for p in SAMPLES_DIR.iterdir() if p.suffix in (".png", ".jpg")}
    assert files == set(DESCRIPTIONS)
    assert all(re.match(r"(photo|test pattern): \w", str(d)) for d in DESCRIPTIONS.values())
    assert '"chelsea.png": "Sample photo: Chelsea the cat"' in a11y.JS


def test_the_vendored_axe_core_is_the_one_the_docs_name():
    head = (ROOT / "tests" / "fixtures" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")[:400]
    assert "axe v4.14.1" in head
    assert "axe-core 4.14.1" in (ROOT / "docs" / "accessibility.md").read_text(encoding="utf-8")
