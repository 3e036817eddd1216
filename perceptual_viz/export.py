"""Export a figure: the pictures shown (PNG) and every score and setting (JSON) in one zip.

The JSON holds enough to reproduce the figure: the backbone and where its weights came from (with
a fingerprint of the filters), the analysis size, the degradation and its strength, the seed, and
the versions of the libraries that computed the numbers. The UI, the API and the CLI all write
their bundles through :func:`write_bundle`, so a bundle looks the same wherever it came from.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import platform
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import png
from .backbone import VGGFeatures
from .errors import InputError

SCORES_JSON = "scores.json"
README_TXT = "README.txt"


def model_record(model: VGGFeatures) -> dict[str, Any]:
    """The backbone as a reproducible setting: arch, weights source, fingerprint, device."""
    return {
        "arch": model.arch,
        "weights": {**model.status.as_dict(), "message": str(model.status.message)},
        "fingerprint": model.fingerprint,
        "device": str(model.device),
    }


def environment() -> dict[str, str]:
    """Versions that the numbers depend on."""
    from . import __version__

    return {
        "perceptual_viz": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def jsonable(x: Any) -> Any:
    """Plain JSON values: NaN/inf → None, tensors/arrays → lists, tuples → lists, keys → str."""
    if isinstance(x, Mapping):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return jsonable(x.detach().cpu().tolist())
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return jsonable(x.item())
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if x is None or isinstance(x, (str, int, bool)):
        return x
    return str(x)


def safe_name(name: str) -> str:
    """A file name from a caption: letters, digits, ``._-``; at most 80 characters."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip()).strip("._")
    return (s or "picture")[:80]


def write_bundle(
    path: str | Path,
    pictures: Mapping[str, Image.Image | str | Path],
    record: Mapping[str, Any],
    *,
    kind: str,
    model: VGGFeatures,
) -> Path:
    """Write ``pictures`` as PNGs and ``record`` (plus provenance) as ``scores.json`` to a zip.

    Provenance is added here, so no bundle lacks it: the backbone that computed the figure
    (:func:`model_record`) and the library versions.

    ``pictures`` maps a caption to a picture (a PIL image, or the path of a PNG file already
    encoded for display, whose bytes are stored as they are); each becomes ``NN_<caption>.png``
    in the order given. ``kind`` names the figure (``"compare"``, ``"equal-mse"``, ``"reconstruct"``…).
    Returns the path written.
    """
    path = Path(path)
    names: list[str] = []
    full = {
        "kind": kind,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "model": model_record(model),
        **jsonable(dict(record)),
        "environment": environment(),
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for i, (caption, img) in enumerate(pictures.items(), start=1):
            fname = f"{i:02d}_{safe_name(caption)}.png"
            z.writestr(fname, _png_bytes(img))
            names.append(fname)
        full["pictures"] = dict(zip(names, pictures, strict=True))
        z.writestr(SCORES_JSON, json.dumps(full, indent=2, ensure_ascii=False, allow_nan=False))
        z.writestr(README_TXT, _readme(kind, names))
    return path


FRONTENDS = ("app", "cli")


def write_figure(
    path: str | Path,
    fig: Any,
    model: VGGFeatures,
    frontend: str,
    pictures: Mapping[str, Image.Image | str | Path] | None = None,
) -> Path:
    """:func:`write_bundle` for a :class:`~perceptual_viz.figures.Figure`.

    The record is the figure's own plus ``frontend`` ("app" or "cli"): the one field in which a
    figure exported from the app and the same figure exported from the command line differ.
    ``pictures`` replaces the figure's pictures with already encoded files of the same captions.
    """
    if frontend not in FRONTENDS:
        raise InputError(f"frontend must be one of {', '.join(FRONTENDS)}; got {frontend!r}")
    record = {**fig.record, "frontend": frontend}
    return write_bundle(path, dict(pictures or fig.pictures), record, kind=fig.kind, model=model)


def _png_bytes(img: Image.Image | str | Path) -> bytes:
    if isinstance(img, Image.Image):
        return png.encode(img.convert("RGB"))
    data = Path(img).read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise InputError(f"not a PNG file: {Path(img).name}")
    return data


def _readme(kind: str, names: list[str]) -> str:
    lines = [
        f"Perceptual Loss Lab — {kind} figure",
        "",
        f"{SCORES_JSON}: every score and setting (backbone, weights source and fingerprint, size,",
        "degradation, seed, library versions) needed to reproduce the figure.",
        "",
        "Pictures (lossless PNG):",
        *(f"  {n}" for n in names),
        "",
    ]
    return "\n".join(lines)


def read_bundle(path: str | Path) -> tuple[dict[str, Any], dict[str, Image.Image]]:
    """The record and the pictures of a bundle written by :func:`write_bundle` (for tests/tools)."""
    with zipfile.ZipFile(path) as z:
        record = json.loads(z.read(SCORES_JSON))
        pics = {}
        for n in z.namelist():
            if n.endswith(".png"):
                with Image.open(io.BytesIO(z.read(n))) as im:
                    pics[n] = im.convert("RGB")
    return record, pics
