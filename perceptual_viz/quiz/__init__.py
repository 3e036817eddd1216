"""The classroom experiment "Which looks closer?": a two-alternative forced choice, as in BAPPS.

A teacher opens a *round* of trials; students vote from their devices; the class then sees which
image metric agrees with people (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep
Features as a Perceptual Metric"). This package is the backend only, without Gradio or pandas:

- :mod:`.trials`: :func:`make_trials` draws a round's trials — a bundled photo and two different
  degradations of it matched to the same MSE (the Equal-MSE lesson), scored by MSE, SSIM, the
  perceptual distance and LPIPS in one VGG pass — and :func:`trial_images` recomputes a trial's
  exact pictures from its stored recipe.
- :mod:`.store`: :class:`QuizStore`, the SQLite store of rounds, trials and votes (WAL, synced
  commits, safe across threads), and :func:`default_db_path` / :func:`is_persistent` for where it
  lives.
- :mod:`.agreement`: which side each metric picks, how often people agree with it (per vote, per
  trial majority, and BAPPS's 2AFC score), and CSV / JSON exports.

A typical flow::

    store = QuizStore(default_db_path())
    trials = make_trials(model, 10, seed=7)
    code = store.create_round(10, 7, trials, round_settings(model))
    t = store.next_trial(code, "ada")               # show trial_images(t) to the student
    store.vote(code, "ada", t.id, "A").picks        # which side each metric picked
    summary_json(store.results(code))

The names below are imported on first use: the store and the maths load without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "METRICS": "agreement",
    "MetricAgreement": "agreement",
    "Results": "agreement",
    "TrialTally": "agreement",
    "VoteRow": "agreement",
    "most_disagreed": "agreement",
    "pick": "agreement",
    "picks": "agreement",
    "summary_json": "agreement",
    "tally": "agreement",
    "votes_csv": "agreement",
    "MAX_STUDENTS": "store",
    "MAX_TRIALS": "store",
    "Distortion": "store",
    "QuizStore": "store",
    "RoundInfo": "store",
    "StoredTrial": "store",
    "Trial": "store",
    "VoteResult": "store",
    "default_db_path": "store",
    "is_persistent": "store",
    "TrialTensors": "trials",
    "enlarged": "trials",
    "make_trials": "trials",
    "photo_names": "trials",
    "round_settings": "trials",
    "trial_images": "trials",
    "trial_tensors": "trials",
}

__all__ = [
    "MAX_STUDENTS",
    "MAX_TRIALS",
    "METRICS",
    "Distortion",
    "MetricAgreement",
    "QuizStore",
    "Results",
    "RoundInfo",
    "StoredTrial",
    "Trial",
    "TrialTally",
    "TrialTensors",
    "VoteResult",
    "VoteRow",
    "default_db_path",
    "enlarged",
    "is_persistent",
    "make_trials",
    "most_disagreed",
    "photo_names",
    "pick",
    "picks",
    "round_settings",
    "summary_json",
    "tally",
    "trial_images",
    "trial_tensors",
    "votes_csv",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from .agreement import (
        METRICS,
        MetricAgreement,
        Results,
        TrialTally,
        VoteRow,
        most_disagreed,
        pick,
        picks,
        summary_json,
        tally,
        votes_csv,
    )
    from .store import (
        MAX_STUDENTS,
        MAX_TRIALS,
        Distortion,
        QuizStore,
        RoundInfo,
        StoredTrial,
        Trial,
        VoteResult,
        default_db_path,
        is_persistent,
    )
    from .trials import (
        TrialTensors,
        enlarged,
        make_trials,
        photo_names,
        round_settings,
        trial_images,
        trial_tensors,
    )
