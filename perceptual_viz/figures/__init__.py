"""Figures: what each view of the app (and each CLI command) shows, computed once for both.

A figure function takes a model, the feature cache and prepared images (:class:`Analysis`) and
returns a :class:`Figure`: the pictures a student looks at (caption → picture), the record an
export stores (every setting and score: see :mod:`perceptual_viz.export`), and extras a front
end shows besides (tables, info text, plot data). The app and the command line call the same
function with the same settings, so an exported figure is the same wherever it came from.
Nothing here imports Gradio or pandas: tables are :class:`Table` values.

Modules: :mod:`.features` (shallow → deep overview, channel grid, one channel), :mod:`.gram`,
:mod:`.compare`, :mod:`.sweep`, :mod:`.equal_mse`, :mod:`.reconstruct`, :mod:`.train`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache, Resize, image_key, layer_activations, prepare, resize_images
from ..images import ImageError, LoadedImage, load_image
from ..options import is_one_of
from ..render import to_numpy
from ..tables import Table as Table  # re-exported: figures' tables

# Analysis sizes offered by the app: shorter side N px, or the image as loaded ("original").
SIZES = ("224", "256", "384", "512", "original")
DEFAULT_SIZE = "224"
# Images per VGG pass of a sweep or an equal-MSE gallery on a CPU: batching gains nothing there
# (VGG is compute-bound), and between short passes a long job gives way to quick requests.
CPU_CHUNK_IMAGES = 2
AUTO = "auto"


def chunk_for(device: torch.device, chunk_images: int | str | None = AUTO) -> int | None:
    """Images per pass: ``"auto"`` → :data:`CPU_CHUNK_IMAGES` on a CPU, one pass on a GPU."""
    if chunk_images == AUTO:
        return CPU_CHUNK_IMAGES if device.type == "cpu" else None
    return None if chunk_images is None else int(chunk_images)


@dataclass
class Figure:
    """One figure: ``pictures`` (caption → picture, in display order), the export ``record``
    (``settings`` and results; provenance is added by the bundle writer) and front-end
    ``extras`` (tables, text, plot data) that are not part of the record."""

    kind: str
    pictures: dict[str, Image.Image]
    record: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class Analysis:
    """One image at the analysis size, on the model's device, with its cache key."""

    tensor: torch.Tensor  # (1, 3, H, W) in [0, 1]
    key: str
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.tensor.shape[-2]), int(self.tensor.shape[-1])

    @property
    def array(self) -> np.ndarray:
        """HxWx3 float32 in [0, 1] on the CPU (for overlays and display)."""
        return to_numpy(self.tensor[0].permute(1, 2, 0))


def resize_policy(size: str | int) -> Resize:
    """The analysis size: "224" … "512" (shorter side N px), "original", or any spec
    :meth:`~perceptual_viz.features.Resize.parse` reads ("224x224", "none")."""
    s = str(size).strip().lower()
    return Resize("none", 0) if s == "original" else Resize.parse(s)


def analyse(model: VGGFeatures, image: LoadedImage, size: str | int) -> Analysis:
    """Prepare a loaded image for ``model`` at the analysis size."""
    policy = resize_policy(size)
    x = prepare(image.tensor(), policy, model.device)
    notes = list(image.notes)
    h, w = x.shape[-2:]
    if policy.mode != "none":
        notes.append(f"analysed at {w}×{h} px ({policy.describe()})")
    return Analysis(x, image_key(x), notes)


def load(path: str, which: str | None = None) -> LoadedImage:
    """:func:`~perceptual_viz.images.load_image`; with ``which`` ("clean image") the message
    names the image, for requests that read two."""
    try:
        return load_image(path)
    except ImageError as exc:
        raise (ImageError(f"{which}: {exc}") if which else exc) from None


def match_size(
    first: Analysis, other: Analysis, names: tuple[str, str] = ("degraded image", "clean image")
) -> tuple[Analysis, str | None]:
    """``other`` resized to ``first``'s analysis size, with a visible notice when it was needed
    (``names``: what the two images are called in it)."""
    if other.size == first.size:
        return other, None
    (h, w), (oh, ow) = first.size, other.size
    t = resize_images(other.tensor, (h, w))
    note = f"the {names[0]} ({ow}×{oh}) was resized to the {names[1]}'s {w}×{h} to compare them"
    return Analysis(t, image_key(t), [*other.notes, note]), note


def activations(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, names: list[str]
) -> dict[str, torch.Tensor]:
    """Activations of one analysed image, through the cache (a view change runs no forward)."""
    return layer_activations(model, cache, a.tensor, a.key, names)


Choice = TypeVar("Choice", bound=str)


def check_choice(what: str, value: str, choices: tuple[Choice, ...]) -> Choice:
    """``value`` if it is one of ``choices``, else an :class:`InputError` listing them."""
    if not is_one_of(value, choices):
        raise InputError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return value
