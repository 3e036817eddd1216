"""Which side each metric picks, and how often people agree with it (pure Python, no torch).

In a two-alternative forced choice ("which of A and B looks closer to the reference?") a metric
*picks* the side it rates closer to the reference: the smaller distance for ``mse``,
``perceptual``, ``lpips`` and ``dists``, the larger value for ``ssim`` and ``ms_ssim``
(similarities). Equal values or a missing value (``None``, NaN: MS-SSIM of pictures of 160 px or
less, a learned metric without its package) pick neither, and such trials drop out of that
metric's counts (BAPPS would score a tie as ½; here it is simply not counted).

For a round, :func:`tally` reports three agreement scores per metric, each with its numerator
and denominator so a front end can say "12 of 15 trials":

* **votes**: of all individual votes on trials where the metric picks a side, the fraction whose
  choice equals the metric's pick (a trial with many votes weighs more);
* **majority**: of the trials with at least one vote and a strict majority, the fraction where
  the metric picks the majority side;
* **bapps**: the 2AFC score of Zhang et al. (2018): per trial, the fraction of its votes that
  agree with the metric, averaged over the trials with votes (each trial weighs the same).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from ..errors import InputError
from ..options import QUIZ_METRICS, QuizMetric

Choice = Literal["A", "B"]
CHOICES: tuple[Choice, Choice] = ("A", "B")
METRICS = QUIZ_METRICS
# Metrics whose larger value means "closer to the reference"; the others are distances.
SIMILARITIES: frozenset[QuizMetric] = frozenset({"ssim", "ms_ssim"})
Scores = Mapping[str, float | None]  # metric name → value of one side against the reference


class ScoredTrial(Protocol):
    """What the maths needs of a trial: its id, index and both sides' scores."""

    @property
    def id(self) -> int: ...
    @property
    def index(self) -> int: ...
    @property
    def scores_a(self) -> Scores: ...
    @property
    def scores_b(self) -> Scores: ...


def _value(scores: Scores, metric: str) -> float | None:
    v = scores.get(metric)
    if v is None or isinstance(v, bool):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def pick(metric: str, a: Scores, b: Scores) -> Choice | None:
    """The side ``metric`` rates closer to the reference, or ``None`` for a tie or a missing value."""
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; valid names: {', '.join(METRICS)}")
    va, vb = _value(a, metric), _value(b, metric)
    if va is None or vb is None or va == vb:
        return None
    a_closer = va > vb if metric in SIMILARITIES else va < vb
    return "A" if a_closer else "B"


def picks(a: Scores, b: Scores) -> dict[str, Choice | None]:
    """:func:`pick` of every metric in :data:`METRICS`, in that order."""
    return {m: pick(m, a, b) for m in METRICS}


def unscored(a: Scores, b: Scores) -> frozenset[str]:
    """The metrics of :data:`METRICS` with no value for A or for B (they pick neither side, and
    not because of a tie): MS-SSIM of small pictures, say.

    >>> sorted(unscored({"mse": 0.1, "ms_ssim": None}, {"mse": 0.2, "ms_ssim": 0.9}))
    ['dists', 'lpips', 'ms_ssim', 'perceptual', 'ssim']
    """
    return frozenset(m for m in METRICS if _value(a, m) is None or _value(b, m) is None)


@dataclass(frozen=True)
class VoteRow:
    """One stored vote, with each metric's pick on its trial (for tables and CSV)."""

    round: str
    trial_id: int
    trial_index: int
    student: str
    choice: Choice
    time: float  # Unix seconds (UTC) of the latest vote
    picks: Mapping[str, Choice | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialTally:
    """The votes on one trial and the metrics' picks."""

    trial_id: int
    index: int
    votes_a: int
    votes_b: int
    picks: Mapping[str, Choice | None]

    @property
    def votes(self) -> int:
        return self.votes_a + self.votes_b

    @property
    def majority(self) -> Choice | None:
        """The side most votes chose; ``None`` with no votes or a tie."""
        if self.votes_a == self.votes_b:
            return None
        return "A" if self.votes_a > self.votes_b else "B"

    def agreeing(self, metric: str) -> int | None:
        """Votes that chose the side ``metric`` picks; ``None`` when it picks neither."""
        p = self.picks.get(metric)
        if p is None:
            return None
        return self.votes_a if p == "A" else self.votes_b

    def against(self, metric: str) -> float | None:
        """Fraction of this trial's votes against ``metric``'s pick; ``None`` without votes or pick."""
        agree = self.agreeing(metric)
        if agree is None or self.votes == 0:
            return None
        return (self.votes - agree) / self.votes


def _ratio(num: float, den: int) -> float | None:
    return num / den if den > 0 else None


@dataclass(frozen=True)
class MetricAgreement:
    """How often one metric agrees with the class, as counts and fractions in [0, 1]."""

    metric: QuizMetric
    votes_agree: int  # individual votes equal to the metric's pick …
    votes_counted: int  # … of the votes on trials where it picks a side
    trials_agree: int  # trials whose strict majority the metric picks …
    trials_counted: int  # … of the trials with votes, a strict majority and a pick
    bapps_sum: float  # Σ over trials of the fraction of that trial's votes agreeing …
    bapps_trials: int  # … over the trials with votes and a pick

    @property
    def votes_fraction(self) -> float | None:
        return _ratio(self.votes_agree, self.votes_counted)

    @property
    def majority_fraction(self) -> float | None:
        return _ratio(self.trials_agree, self.trials_counted)

    @property
    def bapps_score(self) -> float | None:
        return _ratio(self.bapps_sum, self.bapps_trials)


@dataclass(frozen=True)
class Results:
    """A round's votes summed up: per-trial tallies and each metric's agreement with people."""

    round: str
    n_trials: int
    n_votes: int
    n_students: int
    tallies: list[TrialTally]  # by trial index
    agreement: dict[QuizMetric, MetricAgreement]  # keyed by metric, in METRICS order


def _agreement(metric: QuizMetric, tallies: Sequence[TrialTally]) -> MetricAgreement:
    v_agree = v_counted = t_agree = t_counted = b_trials = 0
    b_sum = 0.0
    for t in tallies:
        agree = t.agreeing(metric)
        if agree is None or t.votes == 0:
            continue
        v_agree += agree
        v_counted += t.votes
        b_sum += agree / t.votes
        b_trials += 1
        if t.majority is not None:
            t_counted += 1
            t_agree += int(t.majority == t.picks[metric])
    return MetricAgreement(metric, v_agree, v_counted, t_agree, t_counted, b_sum, b_trials)


def tally(code: str, trials: Iterable[ScoredTrial], votes: Iterable[VoteRow]) -> Results:
    """Count ``votes`` per trial and each metric's agreement with them (see the module docstring)."""
    ordered = sorted(trials, key=lambda t: t.index)
    counts = {t.id: [0, 0] for t in ordered}
    students: set[str] = set()
    n_votes = 0
    for v in votes:
        if v.trial_id not in counts:
            raise InputError(f"a vote is on trial {v.trial_id}, which is not one of the round's trials")
        if v.choice not in CHOICES:
            raise InputError(f"a vote's choice must be 'A' or 'B', got {v.choice!r}")
        counts[v.trial_id][CHOICES.index(v.choice)] += 1
        students.add(v.student)
        n_votes += 1
    tallies = [
        TrialTally(t.id, t.index, counts[t.id][0], counts[t.id][1], picks(t.scores_a, t.scores_b))
        for t in ordered
    ]
    agreement = {m: _agreement(m, tallies) for m in METRICS}
    return Results(code, len(tallies), n_votes, len(students), tallies, agreement)


def most_disagreed(results: Results, metric: str = "mse", limit: int | None = 5) -> list[TrialTally]:
    """Trials where people disagreed most with ``metric``: by fraction of votes against its pick,
    then by vote count (both descending), then by index. Trials without votes or a pick are left out.
    """
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}; valid names: {', '.join(METRICS)}")
    scored = [(t.against(metric), t) for t in results.tallies]
    ranked = [(a, t) for a, t in scored if a is not None]
    ranked.sort(key=lambda at: (-at[0], -at[1].votes, at[1].index))
    out = [t for _, t in ranked]
    return out if limit is None else out[: max(0, int(limit))]


CSV_COLUMNS: tuple[str, ...] = (
    "round",
    "trial_id",
    "trial_index",
    "student",
    "choice",
    "time",
    *(f"pick_{m}" for m in METRICS),
)
# A spreadsheet runs a cell that starts with one of these as a formula; such text is quoted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def iso_time(seconds: float) -> str:
    """Unix seconds → ISO 8601 UTC with milliseconds, e.g. ``2026-01-31T09:15:02.125Z``."""
    t = datetime.fromtimestamp(float(seconds), tz=timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def votes_csv(rows: Iterable[VoteRow]) -> str:
    """CSV text of ``rows``: one line per vote under :data:`CSV_COLUMNS`; an empty pick is "".

    Student ids starting with ``= + - @`` get a leading ``'`` so a spreadsheet shows them as text.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow(
            [
                r.round,
                r.trial_id,
                r.trial_index,
                _cell(r.student),
                r.choice,
                iso_time(r.time),
                *(r.picks.get(m) or "" for m in METRICS),
            ]
        )
    return buf.getvalue()


def _num(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _metric_json(a: MetricAgreement) -> dict[str, Any]:
    return {
        "votes": {"agree": a.votes_agree, "counted": a.votes_counted, "fraction": _num(a.votes_fraction)},
        "majority": {
            "agree": a.trials_agree,
            "counted": a.trials_counted,
            "fraction": _num(a.majority_fraction),
        },
        "bapps": {"sum": _num(a.bapps_sum), "trials": a.bapps_trials, "score": _num(a.bapps_score)},
    }


def summary_json(results: Results) -> dict[str, Any]:
    """JSON-ready summary: counts, fractions in [0, 1] (``None`` when undefined, never NaN)."""
    return {
        "round": results.round,
        "n_trials": results.n_trials,
        "n_votes": results.n_votes,
        "n_students": results.n_students,
        "metrics": {m: _metric_json(a) for m, a in results.agreement.items()},
        "trials": [
            {
                "trial_id": t.trial_id,
                "index": t.index,
                "votes_a": t.votes_a,
                "votes_b": t.votes_b,
                "majority": t.majority,
                "picks": dict(t.picks),
                "against_mse": _num(t.against("mse")),
            }
            for t in results.tallies
        ],
        "most_disagreed_with_mse": [t.trial_id for t in most_disagreed(results, "mse", limit=None)],
    }
