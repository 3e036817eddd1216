"""Regenerate the synthetic test patterns in ``assets/samples/`` (deterministic, 256×256 PNG).

Run ``python tools/make_patterns.py``. Patterns: sine gratings (horizontal stripes ``h`` and
45° diagonal ``d`` at 4, 16 and 64 cycles per image), a checkerboard, a text page in PIL's
default font and a grid of colour patches. The patterns are released under CC0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = 256
OUT = Path(__file__).resolve().parents[1] / "assets" / "samples"  # the checkout's (see perceptual_viz.assets)
FREQUENCIES = (4, 16, 64)  # cycles along an image edge (period 64, 16, 4 px along x or y)


def grating(cycles: int, orientation: str) -> np.ndarray:
    """Sine grating in [0, 255] uint8: ``h`` = horizontal stripes, ``d`` = 45° diagonal."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    if orientation == "h":
        phase = y / SIZE
    elif orientation == "d":
        phase = (x + y) / SIZE  # stripes at 45°; `cycles` counted along each image edge
    else:
        raise ValueError(orientation)
    v = 0.5 + 0.5 * np.sin(2 * np.pi * cycles * phase)
    return np.rint(v * 255).astype(np.uint8)


def checkerboard(square: int = 32) -> np.ndarray:
    """Black/white checkerboard with ``square``-pixel squares."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return (((y // square + x // square) % 2) * 255).astype(np.uint8)


def text_page() -> Image.Image:
    """Black "Perceptual Loss Lab" lines at several sizes on white (PIL's default font)."""
    img = Image.new("L", (SIZE, SIZE), 255)
    draw = ImageDraw.Draw(img)
    y = 6
    for size in (10, 12, 14, 16, 18, 20, 22, 24):
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: bitmap font only
            font = ImageFont.load_default()
        bbox = draw.textbbox((6, y), "Perceptual Loss Lab", font=font)
        if bbox[2] > SIZE - 4 or bbox[3] > SIZE - 4:
            break
        draw.text((6, y), "Perceptual Loss Lab", fill=0, font=font)
        y = bbox[3] + 8
    return img


# 4×4 patches: primaries, secondaries, greys and a few skin / sky / foliage tones.
PATCHES: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255),
    (0, 255, 255), (255, 0, 255), (255, 255, 0), (0, 0, 0),
    (128, 128, 128), (64, 64, 64), (192, 192, 192), (255, 128, 0),
    (194, 150, 130), (98, 122, 157), (87, 108, 67), (133, 128, 177),
)  # fmt: skip


def colour_patches() -> np.ndarray:
    """A 4×4 grid of flat 64-pixel colour patches, RGB uint8."""
    cells = np.asarray(PATCHES, dtype=np.uint8).reshape(4, 4, 3)
    return np.repeat(np.repeat(cells, SIZE // 4, axis=0), SIZE // 4, axis=1)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for orientation in ("h", "d"):
        for cycles in FREQUENCIES:
            Image.fromarray(grating(cycles, orientation)).save(
                OUT / f"grating_{orientation}_{cycles}.png", optimize=True
            )
    Image.fromarray(checkerboard()).save(OUT / "checkerboard.png", optimize=True)
    text_page().save(OUT / "text.png", optimize=True)
    Image.fromarray(colour_patches()).save(OUT / "patches.png", optimize=True)


if __name__ == "__main__":
    main()
