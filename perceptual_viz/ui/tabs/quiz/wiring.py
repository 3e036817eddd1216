"""The quiz tab's events: which component triggers which endpoint, with what inputs and outputs,
in which queue. The endpoints (:mod:`.endpoints`) get the app's :class:`~.resource.QuizBackend`
bound here; the components come by name from :mod:`.layout`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr

from ...context import AppContext
from ...shared import PRIVATE, Shared
from .endpoints import (
    Board,
    after_next,
    after_vote,
    dashboard,
    notice,
    quiz_new_round,
    quiz_next,
    quiz_results,
    quiz_vote,
    student_id,
    watch,
)
from .resource import QuizBackend

# Votes and results only touch SQLite (which serialises writers itself): a queue group of their
# own, so a class voting at once never waits behind someone's view or long job.
QUIZ_LANE: dict[str, Any] = {"concurrency_id": "quiz", "concurrency_limit": 8}


def _with_quiz(quiz: QuizBackend, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(ctx, quiz, *inputs)`` as ``fn(ctx, *inputs)``, for :meth:`AppContext.endpoint`."""

    @functools.wraps(fn)
    def call(ctx: AppContext, *args: Any, **kwargs: Any) -> Any:
        return fn(ctx, quiz, *args, **kwargs)

    params = list(inspect.signature(fn).parameters.values())
    call.__signature__ = inspect.Signature([params[0], *params[2:]])  # type: ignore[attr-defined]
    return call


def _api(name: str) -> dict[str, Any]:
    """An event's API name: public for the endpoint's documented trigger, private for the page's
    other triggers of the same endpoint (named ``ui_…``)."""
    return {"api_name": name, "api_visibility": "private"} if name.startswith("ui_") else {"api_name": name}


def student_events(ctx: AppContext, quiz: QuizBackend, s: dict[str, Any]) -> None:
    """Join / Enter / Next show the student's next trial; A / B record a vote."""

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
        asked = trigger(student_id, [s["browser"]], ids, **PRIVATE)
        shown_ = asked.then(ep(quiz_next, interactive=True), next_in, next_out, **_api(api), **QUIZ_LANE)
        shown_.success(after_next, [s["trial_json"]], shown_out, **PRIVATE)
    for button, choice, api in (
        (s["vote_a"], s["choice_a"], "quiz_vote"),
        (s["vote_b"], s["choice_b"], "ui_quiz_vote"),
    ):
        vote_in = [s["code"], s["student"], s["trial_id"], choice]
        vote_out = [s["vote_json"], s["feedback"]]
        voted = button.click(ep(quiz_vote), vote_in, vote_out, **_api(api), **QUIZ_LANE)
        voted.success(after_vote, None, [s["buttons"], s["next"]], **PRIVATE)


def teacher_events(ctx: AppContext, shared: Shared, quiz: QuizBackend, t: dict[str, Any]) -> None:
    """Open a round (a long job), Show results / Enter, and the dashboard's refresh timer."""

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
        shown_ = trigger(ep(quiz_results), [t["watch_code"]], [t["results"]], **_api(api), **QUIZ_LANE)
        shown_ = shown_.success(ep(watch), [t["watch_code"]], watch_out, **PRIVATE)
        shown_.then(ep(dashboard, interactive=True), board_in, board_out, **PRIVATE)
    t["timer"].tick(ep(dashboard, interactive=True), board_in, board_out, **PRIVATE)


def notice_events(shared: Shared, quiz: QuizBackend, shown: gr.Markdown) -> None:
    """The notice that the quiz is unavailable, worded again whenever the reader picks a language
    (the page's own texts are looked up in its catalog; this one holds the server's reason)."""

    def quiz_notice(lang: str) -> str:
        return notice(quiz, lang)

    shared.language.change(quiz_notice, [shared.language], [shown], **PRIVATE)
