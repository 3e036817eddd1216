"""Where the app's bundled files are, and what they are: the one place that knows.

The files live in the repository's top-level ``assets/`` folder (sample photos and test
patterns, public domain / CC0, see ``assets/ATTRIBUTION.md``). A source checkout or an
editable install reads them there; ``pip install .`` copies the same folder into the installed
package as ``perceptual_viz/_assets`` (see ``[tool.setuptools.package-dir]`` in
``pyproject.toml``), so the library and the CLI find their samples either way.
"""

from __future__ import annotations

from pathlib import Path

from .messages import Message, msg

_HERE = Path(__file__).resolve().parent
# Installed (wheel) first, then the checkout this module sits in.
_CANDIDATES = (_HERE / "_assets", _HERE.parent / "assets")


def _assets_dir() -> Path:
    """The first candidate that holds ``samples/`` (else the checkout's: :func:`samples` then
    lists what is there, which may be nothing)."""
    return next((f for f in _CANDIDATES if (f / "samples").is_dir()), _CANDIDATES[-1])


ASSETS_DIR = _assets_dir()
SAMPLES_DIR = ASSETS_DIR / "samples"
# Photographs first (the lessons' samples), then the test patterns.
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png", "brick.png")
PATTERNS = ("grating_h_16.png", "grating_d_16.png", "checkerboard.png", "text.png", "patches.png")
# What each sample shows, in words: its accessible name wherever it is a button or a picture.
DESCRIPTIONS: dict[str, Message] = {
    "astronaut.png": msg("photo: astronaut Eileen Collins"),
    "chelsea.png": msg("photo: Chelsea the cat"),
    "coffee.png": msg("photo: a cup of coffee"),
    "rocket.jpg": msg("photo: a rocket on its launch pad at dusk"),
    "camera.png": msg("photo: a photographer with a camera on a tripod (greyscale)"),
    "brick.png": msg("photo: a brick wall (greyscale)"),
    "grating_h_4.png": msg("test pattern: horizontal stripes, 64 px apart"),
    "grating_h_16.png": msg("test pattern: horizontal stripes, 16 px apart"),
    "grating_h_64.png": msg("test pattern: horizontal stripes, 4 px apart"),
    "grating_d_4.png": msg("test pattern: diagonal stripes, wide"),
    "grating_d_16.png": msg("test pattern: diagonal stripes"),
    "grating_d_64.png": msg("test pattern: diagonal stripes, fine"),
    "checkerboard.png": msg("test pattern: a black and white checkerboard"),
    "text.png": msg("test pattern: lines of text in growing sizes"),
    "patches.png": msg("test pattern: patches of flat colour"),
}


def samples(photos_only: bool = False) -> list[Path]:
    """The bundled samples that are present, photographs first."""
    names = PHOTOS if photos_only else (*PHOTOS, *PATTERNS)
    return [SAMPLES_DIR / n for n in names if (SAMPLES_DIR / n).is_file()]


def sample(name: str) -> Path:
    """One bundled sample by file name, e.g. ``sample("chelsea.png")``."""
    return SAMPLES_DIR / name
