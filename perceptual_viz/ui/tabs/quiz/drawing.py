"""The teacher's dashboard as pictures: the agreement charts and the trials people and MSE
disagreed on most. Pure drawing (PIL in, PIL out): no Gradio, no store, no files. The words are
messages (:mod:`perceptual_viz.ui.quiz_text` and here), drawn in the language of the request
being served (:func:`perceptual_viz.messages.language`).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from .... import chrome
from ....degrade import DEGRADATIONS
from ....messages import Joined, Text, msg
from ....plots import PALETTE, bar_chart
from ....quiz.agreement import METRICS, Results
from ....quiz.store import StoredTrial
from ....quiz.trials import enlarged
from ... import quiz_text

DISAGREED_PX = 256  # the dashboard's pictures of the trials people and MSE disagreed on


def _percent_bars(names: list[Text], agree: list[int], counted: list[int], **kw: Any) -> Image.Image:
    """Per metric, the percentage that agree, its count under the name, a dashed chance line."""
    return bar_chart(
        [
            Joined((n, msg("{agree} of {counted}", agree=a, counted=c)), sep="\n")
            for n, a, c in zip(names, agree, counted, strict=True)
        ],
        [100.0 * a / c if c else float("nan") for a, c in zip(agree, counted, strict=True)],
        ylabel=msg("% that agree"),
        size=(540, 330),
        ylim=(0.0, 100.0),
        bar_text=[f"{round(100 * a / c)}%" if c else "—" for a, c in zip(agree, counted, strict=True)],
        guide=(50.0, msg("chance")),
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
            msg("Votes that agree with each metric ({votes})", votes=quiz_text.votes(res.n_votes)),
            PALETTE[0],
        ),
        (
            [a.trials_agree for a in ag],
            [a.trials_counted for a in ag],
            msg("Class majorities each metric picks ({trials})", trials=quiz_text.trials(with_majority)),
            PALETTE[1],
        ),
    )
    return [
        _percent_bars(names, agree, counted, title=title, colour=colour)
        for agree, counted, title, colour in charts
    ]


def damage(name: str) -> Text:
    """A kind of damage by its name, as the options' checkboxes call it; an unknown name stays as is."""
    return DEGRADATIONS[name].label if name in DEGRADATIONS else name


def disagreed_picture(trial: StoredTrial, pics: tuple[Image.Image, ...], res: Results) -> Image.Image:
    """Reference, A and B of a trial with its votes and the metrics' picks in the title."""
    tally = next(t for t in res.tallies if t.trial_id == trial.id)
    ref, a, b = enlarged(trial, pics, DISAGREED_PX)
    row = chrome.side_by_side(
        [chrome.titled(ref, msg("Reference")), chrome.titled(a, "A"), chrome.titled(b, "B")], gap=8
    )
    picks = Joined(
        tuple(Joined((quiz_text.METRIC_NAMES[m], tally.picks.get(m) or msg("tie")), sep=" ") for m in METRICS)
    )
    against = tally.against("mse") or 0.0
    title = msg(
        "Trial {i}: {percent}% of {votes} went against MSE (A {a}, B {b})",
        i=trial.index + 1,
        percent=round(100 * against),
        votes=quiz_text.votes(tally.votes),
        a=tally.votes_a,
        b=tally.votes_b,
    )
    sides = msg(
        "A: {a}, B: {b}; picked by {picks}",
        a=damage(trial.a.degradation),
        b=damage(trial.b.degradation),
        picks=picks,
    )
    return chrome.titled(row, title, sides)
