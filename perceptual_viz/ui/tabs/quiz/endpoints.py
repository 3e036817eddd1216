"""The functions the quiz's events call: the public endpoints and the page's own steps.

Each takes the :class:`~perceptual_viz.ui.context.AppContext` and the app's
:class:`~.resource.QuizBackend` first (the wiring binds both), then the event's inputs, and
returns its outputs; none knows the page's layout. Public endpoints, positional arguments in this
order:

- ``/quiz_new_round(n_trials, seed)`` → ``{"code", "n_trials"}``, then the code;
- ``/quiz_next(code, student)`` → ``{"trial_id", "index", "n_trials"}``, then the reference, A and
  B as PNG, the progress line and the trial id; ``{"done": true, "n_trials"}`` once all are answered;
- ``/quiz_vote(code, student, trial_id, choice)`` → ``{"recorded": true, "metrics": {metric: "A" |
  "B" | null}, ...}``, then the feedback line;
- ``/quiz_results(code)`` → ``{"votes", "students", "trials", "agreement", ...}``: ``agreement`` is,
  per metric, the fraction of individual votes that chose the side it picks (``null`` before any).

The texts they answer (progress line, feedback, dashboard, errors) are messages, worded in the
language of the request (its ``pv_lang`` cookie; English without one) by the endpoint wrapper;
the JSON is data and stays English.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, NamedTuple

import gradio as gr

from ....errors import InputError
from ....messages import Joined, Text, msg, word
from ....quiz.agreement import METRICS, Results, most_disagreed, summary_json
from ....quiz.store import MAX_SEED, MAX_TRIALS, check_int, check_student
from ....quiz.trials import DEFAULT_PSNR_RANGE, check_choices, enlarged, make_trials, round_settings
from ....quiz.trials import DEFAULT_SIZE as TRIAL_DEFAULT_SIZE
from ... import quiz_text
from ...context import AppContext, session_of
from ...errors import UserError
from ...lanes import progress_checkpoint
from ...serve import png_file
from .drawing import agreement_charts, disagreed_picture
from .export import round_files
from .resource import QuizBackend

TRIAL_SIZE = TRIAL_DEFAULT_SIZE  # px: a trial's pictures are scored at this size …
DISPLAY_PX = 384  # … and shown to students about this large, by repeating pixels (no smoothing)
DISAGREED_SHOWN = 3  # trials the dashboard shows where people and MSE disagreed most


# --------------------------------------------------------------------------- public endpoints


def quiz_new_round(
    ctx: AppContext,
    quiz: QuizBackend,
    n_trials: int,
    seed: int,
    degradations: list[str] | None = None,
    images: list[str] | None = None,
    psnr_low: float = DEFAULT_PSNR_RANGE[0],
    psnr_high: float = DEFAULT_PSNR_RANGE[1],
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> tuple[dict[str, Any], str]:
    """Draw and score ``n_trials`` equal-MSE trials, store them as a round: its JSON and code.

    ``degradations`` (two or more) and ``images`` (bundled photos) restrict the draw (empty or
    ``None``: all); each trial's damage is matched to a PSNR drawn from ``psnr_low``–``psnr_high``.
    """
    n = check_int(n_trials, msg("the number of trials"), 1, MAX_TRIALS)
    s = check_int(seed, msg("the seed"), 0, MAX_SEED)
    choice: dict[str, Any] = {
        "degradations": list(degradations) if degradations else None,
        "images": list(images) if images else None,
        "psnr_range": (psnr_low, psnr_high),
        "size": TRIAL_SIZE,
    }
    check_choices(**choice)  # a bad choice is said before any work
    store = quiz.store()  # so is a database that cannot open
    deadline = time.monotonic() + ctx.time_limit_s
    with ctx.lanes.long_job(session_of(request), "quiz round") as job:
        model = ctx.model(ctx.pool.arch)
        check = progress_checkpoint(job, progress)

        def report(fraction: float, what: Text = "") -> None:
            if time.monotonic() > deadline:
                raise UserError(
                    msg(
                        "making the round took longer than {seconds:g} s; ask for fewer trials",
                        seconds=ctx.time_limit_s,
                    )
                )
            check(fraction, what)

        trials = make_trials(model, n, s, progress=report, **choice)
        settings = round_settings(model, **choice)
    code = store.create_round(n, s, trials, settings)
    return {"code": code, "n_trials": n}, code


def quiz_next(
    ctx: AppContext, quiz: QuizBackend, code: str, student: str
) -> tuple[dict[str, Any], Any, Any, Any, Text, int | None]:
    """The student's first unanswered trial: its JSON, reference, A, B, progress line and id."""
    store = quiz.store()
    info = store.round_info(code)
    trial = store.next_trial(code, student)
    if trial is None:
        return (
            {"done": True, "n_trials": info.n_trials},
            None,
            None,
            None,
            quiz_text.done(info.n_trials),
            None,
        )
    ref, a, b = (png_file(p) for p in enlarged(trial, quiz.pictures(trial), DISPLAY_PX))
    payload = {"trial_id": trial.id, "index": trial.index, "n_trials": info.n_trials}
    return payload, ref, a, b, quiz_text.progress(trial.index, info.n_trials), trial.id


def quiz_vote(
    ctx: AppContext, quiz: QuizBackend, code: str, student: str, trial_id: int, choice: str
) -> tuple[dict[str, Any], Text]:
    """Record the vote (a second one on the same trial replaces the first): JSON and feedback."""
    r = quiz.store().vote(code, student, trial_id, choice)
    payload = {
        "recorded": True,
        "metrics": dict(r.picks),
        "choice": r.choice,
        "replaced": r.replaced,
        "trial_id": r.trial_id,
        "index": r.trial_index,
    }
    return payload, quiz_text.feedback(r.choice, r.picks, r.unscored)


def results_payload(res: Results) -> dict[str, Any]:
    """``/quiz_results``' JSON: counts, per-trial tallies and each metric's agreement with people.

    ``agreement``: fraction of individual votes choosing the metric's side; ``agreement_majority``:
    fraction of trials whose strict majority it picks; ``bapps``: the 2AFC score; ``counts``: the
    numerators and denominators of all three. ``null`` where nothing is counted yet.
    """
    s = summary_json(res)
    return {
        "code": res.round,
        "n_trials": res.n_trials,
        "votes": res.n_votes,
        "students": res.n_students,
        "trials": s["trials"],
        "agreement": {m: s["metrics"][m]["votes"]["fraction"] for m in METRICS},
        "agreement_majority": {m: s["metrics"][m]["majority"]["fraction"] for m in METRICS},
        "bapps": {m: s["metrics"][m]["bapps"]["score"] for m in METRICS},
        "counts": s["metrics"],
        "most_disagreed_with_mse": s["most_disagreed_with_mse"],
    }


def quiz_results(ctx: AppContext, quiz: QuizBackend, code: str) -> dict[str, Any]:
    """The round's results so far (see :func:`results_payload`)."""
    return results_payload(quiz.store().results(code))


# --------------------------------------------------------------------------- the dashboard


class Board(NamedTuple):
    """The dashboard's outputs, in order. The event's outputs list is made from these field names
    (the teacher's components by the same keys), so "nothing changed" skips exactly as many."""

    results: Any
    stats: Any
    chart: Any
    disagreed_head: Any
    disagreed: Any
    csv: Any
    json: Any
    seen: Any

    @classmethod
    def unchanged(cls) -> Board:
        """Every output left as it is."""
        return cls(*(gr.skip() for _ in cls._fields))


def _agreement_lines(res: Results) -> list[Text]:
    """The headline's two lines: each metric's agreement with the votes and with the majorities."""
    votes = Joined(
        tuple(
            Joined((quiz_text.METRIC_NAMES[m], quiz_text.pct(a.votes_agree, a.votes_counted)), sep=" ")
            for m, a in res.agreement.items()
        )
    )
    majority = Joined(
        tuple(
            Joined((quiz_text.METRIC_NAMES[m], quiz_text.pct(a.trials_agree, a.trials_counted)), sep=" ")
            for m, a in res.agreement.items()
        )
    )
    return [
        msg("**Agrees with individual votes:** {metrics}", metrics=votes),
        msg("**Picks the class majority:** {metrics}", metrics=majority),
    ]


def dashboard(ctx: AppContext, quiz: QuizBackend, code: str | None, seen: Any) -> Board:
    """The teacher's view of round ``code``, redrawn only when its votes changed since ``seen``:
    results JSON, headline, chart, most-disagreed trials, CSV and JSON files, the new ``seen``."""
    if not code:
        return Board.unchanged()
    store = quiz.store()
    rows = store.votes(code)
    signature = [code, len(rows), max((r.time for r in rows), default=0.0)]
    if signature == seen:
        return Board.unchanged()
    res = store.results(code)
    info = store.round_info(code)
    by_id = {t.id: t for t in store.trials(code)}
    worst = [by_id[t.trial_id] for t in most_disagreed(res, "mse", DISAGREED_SHOWN)]
    pictures = [disagreed_picture(t, quiz.pictures(t), res) for t in worst]
    headline = quiz_text.dashboard(
        res.round, res.n_votes, res.n_students, res.n_trials, _agreement_lines(res)
    )
    votes_file, summary_file = round_files(res, info, rows)
    return Board(
        results_payload(res),
        headline,
        [png_file(c) for c in agreement_charts(res)],
        quiz_text.DISAGREED_HEAD if pictures else quiz_text.DISAGREED_NONE,
        [png_file(p) for p in pictures],
        votes_file,
        summary_file,
        signature,
    )


def watch(ctx: AppContext, quiz: QuizBackend, code: str) -> tuple[Any, ...]:
    """Start watching round ``code``: the code shown large, the refresh timer on, a redraw due."""
    info = quiz.store().round_info(code)
    return info.code, quiz_text.code_banner(info.code, info.n_trials), gr.Timer(active=True), None


# --------------------------------------------------------------------------- students


def student_id(stored: Any) -> tuple[str, str]:
    """The browser's anonymous id (kept if valid, else a new random one), twice: to keep, to send."""
    if isinstance(stored, str):
        try:
            sid = check_student(stored)
            return sid, sid
        except InputError:
            pass
    sid = "s-" + secrets.token_hex(6)
    return sid, sid


def after_next(trial: Any) -> tuple[Any, ...]:
    """After a trial is shown: the pictures and A/B buttons, or nothing once all are answered."""
    more = isinstance(trial, dict) and not trial.get("done")
    return gr.update(visible=more), gr.update(visible=more), gr.update(visible=False), ""


def notice(quiz: QuizBackend, lang: str) -> str:
    """Why the quiz is unavailable here, in ``lang`` (the language just chosen on the page)."""
    return word(quiz_text.unavailable(quiz.error), lang)


def after_vote() -> tuple[Any, ...]:
    """After a vote: the A/B buttons give way to "Next trial"."""
    return gr.update(visible=False), gr.update(visible=True)
