"""The teacher's dashboard as pictures: the agreement charts and the trials people and MSE
disagreed on most. Pure drawing (PIL in, PIL out): no Gradio, no store, no files; the words come
from :mod:`perceptual_viz.ui.quiz_text` and the figures' titles as the tab has always drawn them.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from .... import chrome
from ....degrade import DEGRADATIONS
from ....plots import PALETTE, bar_chart
from ....quiz.agreement import METRICS, Results
from ....quiz.store import StoredTrial
from ....quiz.trials import enlarged
from ... import quiz_text

DISAGREED_PX = 256  # the dashboard's pictures of the trials people and MSE disagreed on


def _percent_bars(names: list[str], agree: list[int], counted: list[int], **kw: Any) -> Image.Image:
    """Per metric, the percentage that agree, its count under the name, a dashed chance line."""
    return bar_chart(
        [f"{n}\n{a} of {c}" for n, a, c in zip(names, agree, counted, strict=True)],
        [100.0 * a / c if c else float("nan") for a, c in zip(agree, counted, strict=True)],
        ylabel="% that agree",
        size=(540, 330),
        ylim=(0.0, 100.0),
        bar_text=[f"{round(100 * a / c)}%" if c else "—" for a, c in zip(agree, counted, strict=True)],
        guide=(50.0, "chance"),
        **kw,
    )


def agreement_charts(res: Results) -> list[Image.Image]:
    """Two bar charts: per metric, the votes and the trial majorities it agrees with."""
    names = [quiz_text.METRIC_NAMES[m] for m in METRICS]
    ag = [res.agreement[m] for m in METRICS]
    with_majority = sum(t.majority is not None for t in res.tallies)
    charts = (  # (agreeing, counted, title, colour) of each chart
        (
            [a.votes_agree for a in ag],
            [a.votes_counted for a in ag],
            f"Votes that agree with each metric ({quiz_text.plural(res.n_votes, 'vote')})",
            PALETTE[0],
        ),
        (
            [a.trials_agree for a in ag],
            [a.trials_counted for a in ag],
            f"Class majorities each metric picks ({quiz_text.plural(with_majority, 'trial')})",
            PALETTE[1],
        ),
    )
    return [
        _percent_bars(names, agree, counted, title=title, colour=colour)
        for agree, counted, title, colour in charts
    ]


def disagreed_picture(trial: StoredTrial, pics: tuple[Image.Image, ...], res: Results) -> Image.Image:
    """Reference, A and B of a trial with its votes and the metrics' picks in the title."""
    tally = next(t for t in res.tallies if t.trial_id == trial.id)
    ref, a, b = enlarged(trial, pics, DISAGREED_PX)
    row = chrome.side_by_side(
        [chrome.titled(ref, "Reference"), chrome.titled(a, "A"), chrome.titled(b, "B")], gap=8
    )
    picks = " · ".join(f"{quiz_text.METRIC_NAMES[m]} {tally.picks.get(m) or 'tie'}" for m in METRICS)
    against = tally.against("mse") or 0.0
    title = (
        f"Trial {trial.index + 1}: {round(100 * against)}% of {quiz_text.plural(tally.votes, 'vote')} "
        "went against MSE "
        f"(A {tally.votes_a}, B {tally.votes_b})"
    )
    kind = {
        d: DEGRADATIONS[d].label if d in DEGRADATIONS else d
        for d in (trial.a.degradation, trial.b.degradation)
    }
    sides = f"A: {kind[trial.a.degradation]}, B: {kind[trial.b.degradation]}; picked by {picks}"
    return chrome.titled(row, title, sides)
