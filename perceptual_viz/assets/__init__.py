"""The bundled sample images (public domain / CC0, see ``ATTRIBUTION.md``), shipped as package data."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = ASSETS_DIR / "samples"
# Photographs first (the lessons' samples), then the test patterns.
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png", "brick.png")
PATTERNS = ("grating_h_16.png", "grating_d_16.png", "checkerboard.png", "text.png", "patches.png")


def samples(photos_only: bool = False) -> list[Path]:
    """The bundled samples that are present, photographs first."""
    names = PHOTOS if photos_only else (*PHOTOS, *PATTERNS)
    return [SAMPLES_DIR / n for n in names if (SAMPLES_DIR / n).is_file()]


def sample(name: str) -> Path:
    """One bundled sample by file name, e.g. ``sample("chelsea.png")``."""
    return SAMPLES_DIR / name
