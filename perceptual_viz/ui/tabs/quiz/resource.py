"""The quiz's one shared resource: the SQLite store (opened on first use) and the trials' pictures.

One :class:`QuizBackend` per app. It keeps nothing per user: rounds, trials and votes live in the
store, and the pictures it keeps are the same for every student (recomputed from a trial's
recipe, so they are keyed by that recipe).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PIL import Image

from ....errors import InputError
from ....messages import Text, msg, said
from ....quiz.store import QuizStore, StoredTrial, default_db_path, is_persistent
from ....quiz.trials import trial_images
from ...errors import UserError

PICTURES_KEPT = 128  # trials whose (small) pictures stay in memory: every student sees the same ones


def _unavailable(reason: Text | None) -> Text:
    """The error of a request the quiz cannot serve: why its store does not open."""
    return msg("the quiz is unavailable on this server: {reason}", reason=reason or msg("no database"))


class QuizBackend:
    """The app's one quiz store, opened on first use, and the trials' pictures (by recipe)."""

    def __init__(self, path: Path | None, error: Text | None = None) -> None:
        self.path = path
        self.error = error
        self.persistent = path is not None and is_persistent(path)
        self._store: QuizStore | None = None
        self._lock = threading.Lock()
        self._pictures: OrderedDict[tuple[Any, ...], tuple[Image.Image, ...]] = OrderedDict()

    @classmethod
    def at_default(cls) -> QuizBackend:
        """At ``$PERCEPTUAL_VIZ_DB``, else :func:`~perceptual_viz.quiz.store.default_db_path`."""
        try:
            return cls(default_db_path())
        except InputError as exc:
            return cls(None, said(exc))

    def store(self) -> QuizStore:
        """The store (the schema is created on first use); :class:`UserError` if it cannot open."""
        with self._lock:
            if self._store is None:
                if self.path is None:
                    raise UserError(_unavailable(self.error))
                try:
                    self._store = QuizStore(self.path)
                except InputError as exc:
                    self.error = said(exc)
                    raise UserError(_unavailable(self.error)) from None
            return self._store

    def pictures(self, trial: StoredTrial) -> tuple[Image.Image, ...]:
        """(reference, A, B) at the trial's own size, recomputed from its recipe once."""
        a, b = trial.a, trial.b
        key = (trial.sample, trial.size, trial.seed, a.degradation, a.strength, b.degradation, b.strength)
        with self._lock:
            hit = self._pictures.get(key)
            if hit is not None:
                self._pictures.move_to_end(key)
                return hit
        pics = tuple(trial_images(trial))
        with self._lock:
            self._pictures[key] = pics
            while len(self._pictures) > PICTURES_KEPT:
                self._pictures.popitem(last=False)
        return pics
