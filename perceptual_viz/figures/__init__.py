"""Figures: what each view of the app (and each CLI command) shows, computed once for both.

A figure function takes a model, the feature cache and prepared images (:class:`Analysis`) and
returns a :class:`Figure`: the pictures a student looks at (caption → picture), the record an
export stores (every setting and score: see :mod:`perceptual_viz.export`), and extras a front
end shows besides (tables, info text, plot data). The app and the command line call the same
function with the same settings, so an exported figure is the same wherever it came from.
Nothing here imports Gradio or pandas: tables are :class:`Table` values.

Modules: :mod:`.features` (shallow → deep overview, channel grid, one channel), :mod:`.gram`,
:mod:`.compare`, :mod:`.sweep`, :mod:`.equal_mse`, :mod:`.reconstruct`, :mod:`.style_transfer`,
:mod:`.train`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from PIL import Image

from ..backbone import VGGFeatures
from ..errors import InputError
from ..features import FeatureCache, Resize, image_key, layer_activations, prepare, resize_images
from ..images import ImageError, LoadedImage, load_image
from ..messages import Text, msg, said
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
# Told between the steps of a long computation: the fraction done and what is being done. The app
# passes one that also gives way to other requests and obeys Stop (see ui.lanes).
Progress = Callable[[float, Text], None]


def chunk_for(device: torch.device, chunk_images: int | str | None = AUTO) -> int | None:
    """Images per pass: ``"auto"`` → :data:`CPU_CHUNK_IMAGES` on a CPU, one pass on a GPU."""
    if chunk_images == AUTO:
        return CPU_CHUNK_IMAGES if device.type == "cpu" else None
    return None if chunk_images is None else int(chunk_images)


@dataclass(frozen=True)
class Figure:
    """One figure: ``pictures`` (name → picture, in display order; the names are the export's
    file names) and the export ``record`` (settings and results; provenance is added by the
    bundle writer). Each kind of figure is a subclass that adds, as typed fields, what a front
    end shows besides: tables, captions and notes as messages, plot data.

    ``stored``: name → a PNG file that already holds that picture (a figure read back from the
    showcase cache is not encoded again).
    """

    pictures: dict[str, Image.Image]
    record: dict[str, Any]
    stored: dict[str, str] = field(default_factory=dict, kw_only=True)
    kind: ClassVar[str] = "figure"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        KINDS[cls.kind] = cls

    def shown(self) -> dict[str, Any]:
        """The fields a front end shows besides the pictures and the record, by name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _BASE_FIELDS}


_BASE_FIELDS = ("pictures", "record", "stored")
KINDS: dict[str, type[Figure]] = {}  # kind → its figure class (the showcase rebuilds figures by kind)


@dataclass
class Analysis:
    """One image at the analysis size, on the model's device, with its cache key."""

    tensor: torch.Tensor  # (1, 3, H, W) in [0, 1]
    key: str
    notes: list[Text] = field(default_factory=list)

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
        notes.append(msg("analysed at {w}×{h} px ({how})", w=w, h=h, how=policy.describe()))
    return Analysis(x, image_key(x), notes)


def load(path: str, which: Text | None = None) -> LoadedImage:
    """:func:`~perceptual_viz.images.load_image`; with ``which`` ("clean image") the message
    names the image, for requests that read two."""
    try:
        return load_image(path)
    except ImageError as exc:
        raise (
            ImageError(msg("{image}: {problem}", image=which, problem=said(exc))) if which else exc
        ) from None


def match_size(
    first: Analysis, other: Analysis, names: tuple[Text, Text] | None = None
) -> tuple[Analysis, Text | None]:
    """``other`` resized to ``first``'s analysis size, with a visible notice when it was needed
    (``names``: what the two images are called in it)."""
    if other.size == first.size:
        return other, None
    (h, w), (oh, ow) = first.size, other.size
    t = resize_images(other.tensor, (h, w))
    moved, kept = names or (msg("degraded image"), msg("clean image"))
    note = msg(
        "the {image} ({ow}×{oh}) was resized to the {other}'s {w}×{h} to compare them",
        image=moved,
        ow=ow,
        oh=oh,
        other=kept,
        w=w,
        h=h,
    )
    return Analysis(t, image_key(t), [*other.notes, note]), note


def activations(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, names: list[str]
) -> dict[str, torch.Tensor]:
    """Activations of one analysed image, through the cache (a view change runs no forward)."""
    return layer_activations(model, cache, a.tensor, a.key, names)


Choice = TypeVar("Choice", bound=str)


def check_choice(what: Text, value: str, choices: tuple[Choice, ...]) -> Choice:
    """``value`` if it is one of ``choices``, else an :class:`InputError` listing them."""
    if not is_one_of(value, choices):
        raise InputError(
            msg(
                "{what} must be one of {choices}; got {value!r}",
                what=what,
                choices=", ".join(choices),
                value=value,
            )
        )
    return value
