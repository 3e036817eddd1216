"""Instant showcase demos: the bundled samples' default lesson runs, computed once per weights.

A teacher clicks the same samples with the same defaults in every class; on a CPU those runs
take 10–60 s each. Each tab registers a :class:`Recipe` (its default settings, the samples its
examples offer, how to compute the figure). After start a background thread computes every
recipe × sample whose result is not yet on disk — only while no one else's request runs (it
waits for interactive requests *and* for people's long jobs, so it never takes a lane from a
student) — and stores it under the weights' fingerprint in the cache folder
(``PERCEPTUAL_VIZ_CACHE_DIR``, default ``~/.cache/perceptual-viz/showcase``). A request with
exactly those settings for exactly that image is then served from disk; anything else is
computed as usual. A person's own default run of a sample is stored too, so the cache fills
even with the warmer off.

Stored per entry: the figure's pictures as PNG, its record and extras as JSON (``Table`` values
tagged). Entries are written to a temporary folder and renamed, so a reader never sees half of
one; the key covers the format version, backbone, weights fingerprint, image content and
settings, so new weights or a new format never serve an old figure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from PIL import Image

from .. import png
from ..backbone import VGGFeatures
from ..features import image_key
from ..figures import KINDS, Figure, analyse, load
from ..images import load_image
from ..messages import LANGS, Joined, Message, from_json, language, msg, to_json
from ..tables import Table
from .lanes import Lanes

log = logging.getLogger(__name__)

FORMAT = 3  # 2: typed figures, messages stored as data; 3: MS-SSIM and DISTS in the scores
ENV_DIR = "PERCEPTUAL_VIZ_CACHE_DIR"
FROM_SHOWCASE = msg(
    "⚡ *Served instantly from the showcase cache: this sample's default run, computed once for "
    "these weights. Change any setting to compute a new one.*"
)

ShouldStop = Callable[[], bool]
F = TypeVar("F", bound=Figure)


@dataclass(frozen=True)
class Recipe:
    """One tab's default run: its ``settings`` (as the tab keys them), the samples its examples
    offer, the image key of a sample (as the tab computes it) and the figure itself."""

    kind: str
    settings: dict[str, Any]
    samples: Sequence[str]
    image_key: Callable[[VGGFeatures, str], str]
    compute: Callable[[VGGFeatures, str, ShouldStop], Figure]


class WarmStopped(Exception):
    """The warmer was asked to end (the app is closing)."""


def sample_key(size: str | None) -> Callable[[VGGFeatures, str], str]:
    """How a tab keys a sample: its analysis at ``size``, or (``None``) the image as loaded."""

    def key(model: VGGFeatures, path: str) -> str:
        if size is None:
            return image_key(load_image(path).tensor())
        return analyse(model, load(path), size).key

    return key


def default_folder() -> Path:
    env = os.environ.get(ENV_DIR, "").strip()
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "perceptual-viz"
    return base / "showcase"


def entry_key(
    kind: str, model: VGGFeatures, image_key: str, settings: dict[str, Any], lang: str | None = None
) -> str:
    """The key of one stored run: its pictures carry words, so the language is part of it
    (default: the language being spoken, see :mod:`perceptual_viz.messages`)."""
    said = lang or language()
    blob = json.dumps(
        [FORMAT, kind, model.arch, model.fingerprint, image_key, settings, said], sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _encode(value: Any) -> Any:
    if isinstance(value, Table):
        return {"__table__": {"columns": to_json(value.columns), "rows": to_json(value.rows)}}
    if isinstance(value, (Message, Joined)):
        return to_json(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in the showcase cache")


def _decode(obj: dict[str, Any]) -> Any:
    t = obj.get("__table__") if len(obj) == 1 else None
    return Table(list(t["columns"]), [list(r) for r in t["rows"]]) if t is not None else from_json(obj)


class Showcase:
    """The cache of default runs (see the module docstring) and its background warmer."""

    def __init__(self, folder: Path | None, lanes: Lanes) -> None:
        self.folder = folder  # None: nothing is stored or served
        self.lanes = lanes
        self.recipes: list[Recipe] = []
        self._planned: dict[str, set[str]] = {}  # weights fingerprint → keys of planned entries
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.warmed = 0  # entries computed by the warmer (for the log and tests)

    @property
    def stopping(self) -> threading.Event:
        """Set when the app closes: background work ends at its next step."""
        return self._stop

    def add(self, recipe: Recipe) -> None:
        self.recipes.append(recipe)

    # ------------------------------------------------------------------ lookup

    def _dir(self, model: VGGFeatures, key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{model.arch}-{model.fingerprint}" / key

    def get(self, kind: str, model: VGGFeatures, image_key: str, settings: dict[str, Any]) -> Figure | None:
        """The stored figure for exactly this run, or None."""
        where = self._dir(model, entry_key(kind, model, image_key, settings))
        if where is None or not (where / "figure.json").is_file():
            return None
        try:
            meta = json.loads((where / "figure.json").read_text(), object_hook=_decode)
            pictures: dict[str, Image.Image] = {}
            stored: dict[str, str] = {}
            for caption, name in meta["pictures"]:
                with Image.open(where / name) as im:
                    pictures[caption] = im.convert("RGB")
                stored[caption] = str(where / name)
        except (OSError, ValueError, KeyError) as exc:  # damaged entry: compute afresh
            log.warning("showcase entry %s unreadable (%s); recomputing", where.name, exc)
            return None
        return KINDS[meta["kind"]](pictures, meta["record"], **meta["shown"], stored=stored)

    def served(
        self,
        kind: str,
        model: VGGFeatures,
        image_key: str,
        settings: dict[str, Any],
        compute: Callable[[], F],
    ) -> tuple[F, bool]:
        """The stored figure for exactly this run and True, else ``compute()``'s (stored if it
        is a planned default run) and False."""
        stored = self.get(kind, model, image_key, settings)
        if stored is not None:
            return cast(F, stored), True
        fig = compute()
        self.put(kind, model, image_key, settings, fig)
        return fig, False

    def planned(self, model: VGGFeatures) -> set[str]:
        """Keys of every recipe × sample × language for ``model``'s weights (computed once per
        weights). The warmer computes them in English; a reader's own default run in another
        language is kept too."""
        with self._lock:
            keys = self._planned.get(model.fingerprint)
        if keys is None:
            keys = {
                entry_key(r.kind, model, r.image_key(model, s), r.settings, lang)
                for r in self.recipes
                for s in r.samples
                for lang in LANGS
            }
            with self._lock:
                self._planned[model.fingerprint] = keys
        return keys

    def put(
        self, kind: str, model: VGGFeatures, image_key: str, settings: dict[str, Any], fig: Figure
    ) -> bool:
        """Store ``fig`` if it is a planned default run (anything else is not kept); True if stored."""
        key = entry_key(kind, model, image_key, settings)
        where = self._dir(model, key)
        if where is None or where.exists() or key not in self.planned(model):
            return False
        tmp = where.parent / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            names = []
            for i, (caption, pic) in enumerate(fig.pictures.items()):
                name = f"p{i:03d}.png"
                (tmp / name).write_bytes(png.encode(pic))
                names.append([caption, name])
            meta = {"kind": fig.kind, "pictures": names, "record": fig.record, "shown": fig.shown()}
            (tmp / "figure.json").write_text(json.dumps(meta, default=_encode))
            os.replace(tmp, where)
        except OSError as exc:  # another writer won the race, or the disk is full: not an error
            log.debug("showcase entry %s not stored: %s", key, exc)
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return True

    # ------------------------------------------------------------------ warming

    def _should_stop(self) -> bool:
        """Between two steps of warming: wait until nobody else's request runs."""
        self.lanes.wait_idle(self._stop)
        self.lanes.set_long_threads()
        if self._stop.is_set():
            raise WarmStopped
        return False

    def pending(self, model: VGGFeatures) -> list[tuple[Recipe, str]]:
        """Recipe × sample pairs not yet stored, first sample of every tab first."""
        if self.folder is None:
            return []
        order = []
        for i in range(max((len(r.samples) for r in self.recipes), default=0)):
            order += [(r, r.samples[i]) for r in self.recipes if i < len(r.samples)]
        return [
            (r, s) for r, s in order if self.get(r.kind, model, r.image_key(model, s), r.settings) is None
        ]

    def warm(self, model: VGGFeatures) -> int:
        """Compute every pending entry now (in the calling thread); the number stored."""
        done = 0
        for r, s in self.pending(model):
            self._should_stop()
            try:
                fig = r.compute(model, s, self._should_stop)
            except WarmStopped:
                raise
            except Exception:  # a failing recipe must not end the warmer (nor the app)
                log.exception("showcase: %s of %s failed", r.kind, Path(s).name)
                continue
            if self.put(r.kind, model, r.image_key(model, s), r.settings, fig):
                done += 1
                self.warmed += 1
                log.info("showcase: %s of %s ready", r.kind, Path(s).name)
        return done

    def start(self, model: VGGFeatures) -> threading.Thread | None:
        """Warm in a background thread (daemon: it never keeps the process alive)."""
        if self.folder is None or not self.recipes:
            return None

        def run() -> None:
            try:
                n = len(self.pending(model))
                log.info("showcase: %d default runs to compute in the background (%s)", n, self.folder)
                self.warm(model)
                log.info("showcase: all default runs ready")
            except WarmStopped:
                pass

        self.thread = threading.Thread(target=run, name="showcase-warmer", daemon=True)
        self.thread.start()
        return self.thread

    def close(self) -> None:
        self._stop.set()
