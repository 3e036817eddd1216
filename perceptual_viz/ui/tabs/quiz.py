"""The "Which looks closer?" tab: the class runs the BAPPS experiment on itself (issue 14).

A teacher opens a round (its trials scored by VGG: a long job) and shows its code; students vote
from their own devices; a dashboard, refreshed every few seconds, shows how often each metric
agreed with the class. The rounds, trials and votes live in one SQLite file (see
:mod:`perceptual_viz.quiz.store`).

Public endpoints, positional arguments in this order:

- ``/quiz_new_round(n_trials, seed)`` → ``{"code", "n_trials"}``, then the code;
- ``/quiz_next(code, student)`` → ``{"trial_id", "index", "n_trials"}``, then the reference, A and
  B as PNG, the progress line and the trial id; ``{"done": true, "n_trials"}`` once all are answered;
- ``/quiz_vote(code, student, trial_id, choice)`` → ``{"recorded": true, "metrics": {metric: "A" |
  "B" | null}, ...}``, then the feedback line;
- ``/quiz_results(code)`` → ``{"votes", "students", "trials", "agreement", ...}``: ``agreement`` is,
  per metric, the fraction of individual votes that chose the side it picks (``null`` before any).

The store is opened on first use, once per app (:class:`QuizBackend`); it keeps nothing per user
in memory: a student's id lives in their browser (``gr.BrowserState``) and what the teacher
watches in the page's state.
"""

from __future__ import annotations

import functools
import inspect
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
from PIL import Image

from ... import chrome
from ...degrade import DEGRADATIONS
from ...errors import InputError
from ...lessons.equal_mse import gallery_degradations
from ...plots import PALETTE, bar_chart
from ...quiz.agreement import METRICS, Results, most_disagreed, summary_json, votes_csv
from ...quiz.store import (
    MAX_SEED,
    MAX_TRIALS,
    QuizStore,
    StoredTrial,
    check_int,
    check_student,
    default_db_path,
    is_persistent,
)
from ...quiz.trials import (
    DEFAULT_PSNR_RANGE,
    MAX_PSNR,
    MIN_PSNR,
    check_choices,
    make_trials,
    photo_names,
    round_settings,
    trial_images,
)
from ...quiz.trials import DEFAULT_SIZE as TRIAL_DEFAULT_SIZE
from .. import quiz_text
from ..context import AppContext, session_of
from ..errors import UserError
from ..lanes import progress_checkpoint
from ..serve import cached_file, png_file
from ..shared import PRIVATE, Shared
from ..widgets import md, shown

TRIAL_SIZE = TRIAL_DEFAULT_SIZE  # px: a trial's pictures are scored at this size …
DISPLAY_PX = 384  # … and shown to students about this large, by repeating pixels (no smoothing)
DISAGREED_PX = 256  # the dashboard's pictures of the trials people and MSE disagreed on
DISAGREED_SHOWN = 3
REFRESH_S = 3.0  # the dashboard's refresh period while a code is shown
DEFAULT_TRIALS = 10
TAB_LABEL = "Which looks closer?"
PICTURES_KEPT = 128  # trials whose (small) pictures stay in memory: every student sees the same ones
# Votes and results only touch SQLite (which serialises writers itself): a queue group of their
# own, so a class voting at once never waits behind someone's view or long job.
QUIZ_LANE: dict[str, Any] = {"concurrency_id": "quiz", "concurrency_limit": 8}
# The student's anonymous id, kept in the browser's localStorage. Fixed key and secret, so that
# a server restart does not hand everyone a new id mid-round. The id is random and names nobody;
# the encryption Gradio applies is not needed to keep it secret.
STUDENT_KEY = "perceptual-viz-quiz-student"
STUDENT_SECRET = "perceptual-viz-quiz-student-id"


# --------------------------------------------------------------------------- the backend


class QuizBackend:
    """The app's one quiz store, opened on first use, and the trials' pictures (by recipe)."""

    def __init__(self, path: Path | None, error: str | None = None) -> None:
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
            return cls(None, str(exc))

    def store(self) -> QuizStore:
        """The store (the schema is created on first use); :class:`UserError` if it cannot open."""
        with self._lock:
            if self._store is None:
                if self.path is None:
                    raise UserError(f"the quiz is unavailable on this server: {self.error}")
                try:
                    self._store = QuizStore(self.path)
                except InputError as exc:
                    self.error = str(exc)
                    raise UserError(f"the quiz is unavailable on this server: {exc}") from None
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


def enlarged(trial: StoredTrial, pics: tuple[Image.Image, ...], px: int) -> list[Image.Image]:
    """``pics`` about ``px`` wide, each pixel repeated a whole number of times."""
    factor = max(1, px // trial.size)
    if factor == 1:
        return list(pics)
    n = trial.size * factor
    return [p.resize((n, n), Image.Resampling.NEAREST) for p in pics]


def _with_quiz(quiz: QuizBackend, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(ctx, quiz, *inputs)`` as ``fn(ctx, *inputs)``, for :meth:`AppContext.endpoint`."""

    @functools.wraps(fn)
    def call(ctx: AppContext, *args: Any, **kwargs: Any) -> Any:
        return fn(ctx, quiz, *args, **kwargs)

    params = list(inspect.signature(fn).parameters.values())
    call.__signature__ = inspect.Signature([params[0], *params[2:]])  # type: ignore[attr-defined]
    return call


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
    n = check_int(n_trials, "the number of trials", 1, MAX_TRIALS)
    s = check_int(seed, "the seed", 0, MAX_SEED)
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

        def report(fraction: float, desc: str | None = None, **kw: Any) -> None:
            if time.monotonic() > deadline:
                raise UserError(
                    f"making the round took longer than {ctx.time_limit_s:g} s; ask for fewer trials"
                )
            check(fraction, desc=desc, **kw)

        trials = make_trials(model, n, s, progress=report, **choice)
        settings = round_settings(model, **choice)
    code = store.create_round(n, s, trials, settings)
    return {"code": code, "n_trials": n}, code


def quiz_next(
    ctx: AppContext, quiz: QuizBackend, code: str, student: str
) -> tuple[dict[str, Any], Any, Any, Any, str, int | None]:
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
) -> tuple[dict[str, Any], str]:
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
    return payload, quiz_text.feedback(r.choice, r.picks)


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
    votes = _percent_bars(
        names,
        [a.votes_agree for a in ag],
        [a.votes_counted for a in ag],
        title=f"Votes that agree with each metric ({quiz_text.plural(res.n_votes, 'vote')})",
        colour=PALETTE[0],
    )
    trials = _percent_bars(
        names,
        [a.trials_agree for a in ag],
        [a.trials_counted for a in ag],
        title=f"Class majorities each metric picks ({quiz_text.plural(with_majority, 'trial')})",
        colour=PALETTE[1],
    )
    return [votes, trials]


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


def _agreement_lines(res: Results) -> list[str]:
    votes = " · ".join(
        f"{quiz_text.METRIC_NAMES[m]} {quiz_text.pct(a.votes_agree, a.votes_counted)}"
        for m, a in res.agreement.items()
    )
    majority = " · ".join(
        f"{quiz_text.METRIC_NAMES[m]} {quiz_text.pct(a.trials_agree, a.trials_counted)}"
        for m, a in res.agreement.items()
    )
    return [f"**Agrees with individual votes:** {votes}", f"**Picks the class majority:** {majority}"]


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
    summary = {**summary_json(res), "created": info.created, "seed": info.seed, "settings": info.settings}
    headline = quiz_text.dashboard(
        res.round, res.n_votes, res.n_students, res.n_trials, _agreement_lines(res)
    )
    return Board(
        results_payload(res),
        headline,
        [png_file(c) for c in agreement_charts(res)],
        quiz_text.DISAGREED_HEAD if pictures else quiz_text.DISAGREED_NONE,
        [png_file(p) for p in pictures],
        cached_file(votes_csv(rows).encode(), f"quiz-{res.round}-votes.csv"),
        cached_file(json.dumps(summary, indent=2).encode(), f"quiz-{res.round}-summary.json"),
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


def after_vote() -> tuple[Any, ...]:
    """After a vote: the A/B buttons give way to "Next trial"."""
    return gr.update(visible=False), gr.update(visible=True)


# --------------------------------------------------------------------------- the page


def _student_part() -> dict[str, Any]:
    ui: dict[str, Any] = {}
    gr.Markdown(quiz_text.STUDENT_HELP)
    with gr.Row():
        ui["code"] = gr.Textbox(
            label="Round code", placeholder="e.g. K7M2QX", max_lines=1, scale=3, elem_id="q_join_code"
        )
        ui["join"] = gr.Button("Join", variant="primary", scale=1, elem_id="q_join")
    ui["progress"] = gr.Markdown(elem_id="q_progress")
    with gr.Column(visible=False) as ui["trial"]:
        with gr.Row(elem_id="q_pics"):
            ui["ref"] = shown("Reference", elem_id="q_ref")
            ui["a"] = shown("A", elem_id="q_a")
            ui["b"] = shown("B", elem_id="q_b")
        with gr.Row(visible=True) as ui["buttons"]:
            ui["vote_a"] = gr.Button("A looks closer", variant="primary", elem_id="q_vote_a")
            ui["vote_b"] = gr.Button("B looks closer", variant="primary", elem_id="q_vote_b")
        ui["feedback"] = gr.Markdown(elem_id="q_feedback")
        ui["next"] = gr.Button("Next trial →", visible=False, elem_id="q_next")
    # Hidden inputs and outputs of the public endpoints (a page's values, an API caller's arguments).
    ui["student"] = gr.Textbox(label="Student id", visible=False)
    ui["trial_id"] = gr.Number(label="Trial id", precision=0, visible=False)
    ui["choice_a"] = gr.Textbox("A", label="Choice", visible=False)
    ui["choice_b"] = gr.Textbox("B", label="Choice", visible=False)
    ui["trial_json"] = gr.JSON(label="Trial", visible=False)
    ui["vote_json"] = gr.JSON(label="Vote", visible=False)
    ui["browser"] = gr.BrowserState(None, storage_key=STUDENT_KEY, secret=STUDENT_SECRET)
    return ui


def _figures(label: str, elem_id: str, show_label: bool = True) -> gr.Gallery:
    """Pictures side by side on a projector, one under the other on a phone (see style.py)."""
    return gr.Gallery(
        label=label,
        show_label=show_label,
        columns=2,
        height="auto",
        format="png",
        object_fit="contain",
        preview=False,
        allow_preview=True,
        elem_id=elem_id,
        elem_classes=["figure-row"],
    )


def _teacher_part() -> dict[str, Any]:
    ui: dict[str, Any] = {}
    gr.Markdown(quiz_text.TEACHER_HELP)
    with gr.Row():
        ui["n"] = gr.Number(
            value=DEFAULT_TRIALS, precision=0, label=f"Trials (1–{MAX_TRIALS})", elem_id="q_n"
        )
        ui["seed"] = gr.Number(value=0, precision=0, label="Seed", elem_id="q_seed")
        ui["open"] = gr.Button("Open a round", variant="primary", elem_id="q_open")
    with gr.Accordion("What the trials are made of", open=False, elem_id="q_options"):
        ui["degradations"] = gr.CheckboxGroup(
            [(DEGRADATIONS[d].label, d) for d in gallery_degradations()],
            value=list(gallery_degradations()),
            label="Kinds of damage (each trial pairs two different ones)",
            elem_id="q_degradations",
        )
        ui["images"] = gr.CheckboxGroup(
            [(quiz_text.photo_label(name), name) for name in photo_names()],
            value=list(photo_names()),
            label="Photos",
            elem_id="q_images",
        )
        with gr.Row():
            ui["psnr_low"] = gr.Slider(
                MIN_PSNR,
                MAX_PSNR,
                value=DEFAULT_PSNR_RANGE[0],
                step=1,
                label="Most damage: PSNR from (dB)",
                elem_id="q_psnr_low",
            )
            ui["psnr_high"] = gr.Slider(
                MIN_PSNR,
                MAX_PSNR,
                value=DEFAULT_PSNR_RANGE[1],
                step=1,
                label="Least damage: PSNR up to (dB)",
                elem_id="q_psnr_high",
            )
        gr.Markdown(quiz_text.OPTIONS_HELP)
    ui["banner"] = gr.Markdown(elem_id="q_code")
    with gr.Row():
        ui["watch_code"] = gr.Textbox(label="Round code", max_lines=1, scale=3, elem_id="q_watch_code")
        ui["show"] = gr.Button("Show results", scale=1, elem_id="q_show")
    ui["stats"] = md(elem_id="q_stats")
    ui["chart"] = _figures("Agreement with the class", "q_chart")
    ui["disagreed_head"] = gr.Markdown(elem_id="q_disagreed_head")
    ui["disagreed"] = _figures("Where people and MSE disagreed most", "q_disagreed", show_label=False)
    with gr.Row():
        ui["csv"] = gr.DownloadButton("⬇ All votes (.csv)", value=None, size="sm", elem_id="q_csv")
        ui["json"] = gr.DownloadButton("⬇ Summary (.json)", value=None, size="sm", elem_id="q_json")
    with gr.Accordion("Results (JSON, as /quiz_results returns them)", open=False):
        ui["results"] = gr.JSON(label="Results", elem_id="q_results")
    ui["round_json"] = gr.JSON(label="Round", visible=False)
    ui["watching"] = gr.State(None)
    ui["seen"] = gr.State(None)
    ui["timer"] = gr.Timer(REFRESH_S, active=False)
    return ui


def _student_events(ctx: AppContext, quiz: QuizBackend, s: dict[str, Any]) -> None:
    def ep(fn: Callable[..., Any], **kw: Any) -> Callable[..., Any]:
        return ctx.endpoint(_with_quiz(quiz, fn), **kw)

    # The id is read from the browser (or made) as each request starts, not on page load: Gradio
    # mounts a tab's components, the BrowserState among them, only once the tab is opened, and
    # an id written before that would replace the one the browser kept.
    ids = [s["browser"], s["student"]]
    next_in = [s["code"], s["student"]]
    next_out = [s["trial_json"], s["ref"], s["a"], s["b"], s["progress"], s["trial_id"]]
    shown_out = [s["trial"], s["buttons"], s["next"], s["feedback"]]
    triggers = (
        (s["join"].click, "quiz_next"),
        (s["code"].submit, "ui_quiz_join"),
        (s["next"].click, "ui_quiz_next"),
    )
    for trigger, api in triggers:
        named = {"api_name": api} if api == "quiz_next" else {"api_name": api, "api_visibility": "private"}
        asked = trigger(student_id, [s["browser"]], ids, **PRIVATE)
        shown_ = asked.then(ep(quiz_next, interactive=True), next_in, next_out, **named, **QUIZ_LANE)
        shown_.success(after_next, [s["trial_json"]], shown_out, **PRIVATE)
    for button, choice, api in (
        (s["vote_a"], s["choice_a"], "quiz_vote"),
        (s["vote_b"], s["choice_b"], "ui_quiz_vote"),
    ):
        named = {"api_name": api} if api == "quiz_vote" else {"api_name": api, "api_visibility": "private"}
        vote_in = [s["code"], s["student"], s["trial_id"], choice]
        voted = button.click(ep(quiz_vote), vote_in, [s["vote_json"], s["feedback"]], **named, **QUIZ_LANE)
        voted.success(after_vote, None, [s["buttons"], s["next"]], **PRIVATE)


def _teacher_events(ctx: AppContext, shared: Shared, quiz: QuizBackend, t: dict[str, Any]) -> None:
    def ep(fn: Callable[..., Any], **kw: Any) -> Callable[..., Any]:
        return ctx.endpoint(_with_quiz(quiz, fn), **kw)

    board_in = [t["watching"], t["seen"]]
    board_out = [t[name] for name in Board._fields]
    watch_out = [t["watching"], t["banner"], t["timer"], t["seen"]]
    run = t["open"].click(
        ep(quiz_new_round, gpu_s=60),
        [t["n"], t["seed"], t["degradations"], t["images"], t["psnr_low"], t["psnr_high"]],
        [t["round_json"], t["watch_code"]],
        api_name="quiz_new_round",
        **ctx.lanes.events("long"),
    )
    shared.long_jobs[t["open"]] = run
    started = run.success(ep(watch), [t["watch_code"]], watch_out, **PRIVATE)
    started.then(ep(dashboard, interactive=True), board_in, board_out, **PRIVATE)
    for trigger, api in ((t["show"].click, "quiz_results"), (t["watch_code"].submit, "ui_quiz_results")):
        named = {"api_name": api} if api == "quiz_results" else {"api_name": api, "api_visibility": "private"}
        shown_ = trigger(ep(quiz_results), [t["watch_code"]], [t["results"]], **named, **QUIZ_LANE)
        shown_ = shown_.success(ep(watch), [t["watch_code"]], watch_out, **PRIVATE)
        shown_.then(ep(dashboard, interactive=True), board_in, board_out, **PRIVATE)
    t["timer"].tick(ep(dashboard, interactive=True), board_in, board_out, **PRIVATE)


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events; the quiz store is opened on the first request that needs it."""
    quiz = QuizBackend.at_default()
    with gr.Tab(TAB_LABEL, id="quiz"):
        gr.Markdown(quiz_text.PDN_QUIZ, elem_classes=["pdn"])
        if quiz.path is None:
            gr.Markdown(quiz_text.unavailable(quiz.error or "no database"), elem_id="q_unavailable")
        elif not quiz.persistent:
            gr.Markdown(quiz_text.NOT_PERSISTENT, elem_id="q_not_persistent")
        student = _student_part()
        with gr.Accordion("Teacher: open a round and watch the results", open=False, elem_id="q_teacher"):
            teacher = _teacher_part()
        with gr.Accordion("How the experiment works", open=False):
            md(quiz_text.QUIZ)
    _student_events(ctx, quiz, student)
    _teacher_events(ctx, shared, quiz, teacher)
