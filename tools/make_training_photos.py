"""Make ``assets/train``: the training photos of the reference networks (tools/train_reference.py).

    python tools/make_training_photos.py

Each is an openly licensed image that scikit-image ships in ``skimage/data`` (no download; the
licences, quoted from the loaders' docstrings, are in ``assets/ATTRIBUTION.md``), none of them a
bundled sample (those are the photos the networks are judged on), cropped where noted and
shrunk so that its longest side is at most 256 px (300 for the text), about the scale at which
the lesson shows the bundled photos, with the lesson's own resize (antialiased bilinear: the
targets are exactly as sharp as the held-out photos they are judged against; a sharper filter,
Lanczos, taught the networks to over-sharpen them), and saved as PNG (lossless, so no
compression artefact is taught as texture). Greyscale stays greyscale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "assets" / "train"
# file in skimage/data → (crop box (left, top, right, bottom) or None, longest side in px)
PHOTOS: dict[str, tuple[tuple[int, int, int, int] | None, int]] = {
    "grass.png": (None, 256),
    "gravel.png": (None, 256),
    "hubble_deep_field.jpg": ((244, 180, 756, 692), 256),
    "ihc.png": (None, 256),
    "coins.png": (None, 256),
    "retina.jpg": ((256, 306, 1056, 1106), 256),
    "text.png": (None, 300),
    "cell.png": ((0, 110, 550, 660), 256),
}

DEAD_LEAVES = 4  # generated images (see dead_leaves), seeds 0, 1, …


def _shrunk(im: Image.Image, size_hw: tuple[int, int]) -> Image.Image:
    """``im`` shrunk as the lesson shrinks a held-out photo (antialiased bilinear,
    :func:`perceptual_viz.features.resize_images`), so the networks learn from targets exactly
    as sharp as those they are judged against, rounded to 8 bits."""
    import numpy as np
    import torch

    from perceptual_viz.features import resize_images

    a = np.asarray(im, dtype=np.float32) / 255.0
    t = torch.from_numpy(a[None, None] if a.ndim == 2 else a.transpose(2, 0, 1)[None])
    out = resize_images(t, size_hw)[0].permute(1, 2, 0).numpy()
    out = (out * 255.0).round().clip(0, 255).astype(np.uint8)
    return Image.fromarray(out[..., 0] if out.shape[-1] == 1 else out)


def dead_leaves(seed: int, size: int = 256, over: int = 2, n: int = 6000) -> Image.Image:
    """A "dead leaves" image (Matheron; Lee, Mumford & Huang 2001): discs of uniformly random
    colours with radii drawn from p(r) ∝ r⁻³ between 1 and 120 px (the scale invariance of
    natural images), each one behind those before it (only what is still uncovered is painted;
    what no disc reached stays black), drawn at ``over``× the size and shrunk with the lesson's
    resize (antialiased edges, as in a photo). Made here from ``seed``: CC0."""
    import numpy as np

    rng = np.random.default_rng(seed)
    side, rmin, rmax = size * over, 1.0, 120.0
    img = np.zeros((side, side, 3), np.float32)
    filled = np.zeros((side, side), bool)
    yy, xx = np.mgrid[0:side, 0:side]
    for _ in range(n):
        r = over / np.sqrt(1 / rmin**2 - rng.random() * (1 / rmin**2 - 1 / rmax**2))
        cy, cx = rng.random(2) * side
        y0, y1 = int(max(0, cy - r)), int(min(side, cy + r + 1))
        x0, x1 = int(max(0, cx - r)), int(min(side, cx + r + 1))
        if y0 >= y1 or x0 >= x1:
            continue
        disc = (yy[y0:y1, x0:x1] - cy) ** 2 + (xx[y0:y1, x0:x1] - cx) ** 2 <= r * r
        new = disc & ~filled[y0:y1, x0:x1]
        if not new.any():
            continue
        img[y0:y1, x0:x1][new] = rng.random(3)
        filled[y0:y1, x0:x1] |= new
        if filled.all():
            break
    return _shrunk(Image.fromarray((img * 255).round().astype(np.uint8)), (size, size))


def main() -> int:
    import skimage

    source = Path(skimage.__file__).parent / "data"
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (box, longest) in PHOTOS.items():
        im = Image.open(source / name)
        if box is not None:
            im = im.crop(box)
        scale = longest / max(im.size)
        if scale < 1:
            im = _shrunk(im, (round(im.height * scale), round(im.width * scale)))
        out = OUT / (Path(name).stem + ".png")
        im.save(out, optimize=True)
        print(f"{out.relative_to(ROOT)}: {im.width}×{im.height} {im.mode}, {out.stat().st_size} bytes")
    for seed in range(DEAD_LEAVES):
        out = OUT / f"dead_leaves_{seed}.png"
        dead_leaves(seed).save(out, optimize=True)
        print(f"{out.relative_to(ROOT)}: generated, {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
