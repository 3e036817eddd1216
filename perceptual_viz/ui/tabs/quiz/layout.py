"""The quiz tab's components: the student's part (join, trial, vote) and the teacher's (open a
round, the dashboard), each returned as a dict by name for the wiring. Nothing here runs on a
request; the hidden components are the public endpoints' inputs and outputs.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ....degrade import DEGRADATIONS
from ....lessons.equal_mse import gallery_degradations
from ....messages import SOURCE, word
from ....quiz.store import MAX_TRIALS
from ....quiz.trials import DEFAULT_PSNR_RANGE, MAX_PSNR, MIN_PSNR, photo_names
from ... import quiz_text
from ...widgets import figure_row, md, shown
from .resource import QuizBackend

TAB_LABEL = "Which looks closer?"
DEFAULT_TRIALS = 10
REFRESH_S = 3.0  # the dashboard's refresh period while a code is shown
# The student's anonymous id, kept in the browser's localStorage. Fixed key and secret, so that
# a server restart does not hand everyone a new id mid-round. The id is random and names nobody;
# the encryption Gradio applies is not needed to keep it secret.
STUDENT_KEY = "perceptual-viz-quiz-student"
STUDENT_SECRET = "perceptual-viz-quiz-student-id"


def tab(quiz: QuizBackend) -> tuple[dict[str, Any], dict[str, Any], gr.Markdown | None]:
    """The tab (inside the app's ``gr.Tabs``): the student's and the teacher's components, and the
    notice that the quiz is unavailable here (``None`` when it is available)."""
    notice = None
    with gr.Tab(TAB_LABEL, id="quiz"):
        gr.Markdown(quiz_text.PDN_QUIZ, elem_classes=["pdn"])
        if quiz.path is None:  # its reason comes from the server: worded again for each reader
            text = word(quiz_text.unavailable(quiz.error), SOURCE)
            notice = gr.Markdown(text, elem_id="q_unavailable")
        elif not quiz.persistent:
            gr.Markdown(quiz_text.NOT_PERSISTENT, elem_id="q_not_persistent")
        student = _student_part()
        with gr.Accordion("Teacher: open a round and watch the results", open=False, elem_id="q_teacher"):
            teacher = _teacher_part()
        with gr.Accordion("How the experiment works", open=False):
            md(quiz_text.QUIZ)
    return student, teacher, notice


def _student_part() -> dict[str, Any]:
    """Join by code, the trial's three pictures, the A/B buttons and the feedback."""
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
    return figure_row(label, 2, elem_id, show_label=show_label, preview=False, allow_preview=True)


def _teacher_part() -> dict[str, Any]:
    """Open a round (number of trials, seed, what they are made of), then its dashboard."""
    ui: dict[str, Any] = {}
    gr.Markdown(quiz_text.TEACHER_HELP)
    with gr.Row():
        ui["n"] = gr.Number(
            value=DEFAULT_TRIALS, precision=0, label=f"Trials (1–{MAX_TRIALS})", elem_id="q_n"
        )
        ui["seed"] = gr.Number(value=0, precision=0, label="Seed", elem_id="q_seed")
        ui["open"] = gr.Button("Open a round", variant="primary", elem_id="q_open")
    with gr.Accordion("What the trials are made of", open=False, elem_id="q_options"):
        ui |= _trial_options()
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


def _trial_options() -> dict[str, Any]:
    """What a round's trials are made of: kinds of damage, photos, the range of PSNR."""
    ui: dict[str, Any] = {}
    ui["degradations"] = gr.CheckboxGroup(
        [(str(DEGRADATIONS[d].label), d) for d in gallery_degradations()],
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
    ends = (  # (name, value, label, elem_id) of the range's two ends
        ("psnr_low", DEFAULT_PSNR_RANGE[0], "Most damage: PSNR from (dB)", "q_psnr_low"),
        ("psnr_high", DEFAULT_PSNR_RANGE[1], "Least damage: PSNR up to (dB)", "q_psnr_high"),
    )
    with gr.Row():
        for name, value, label, elem_id in ends:
            ui[name] = gr.Slider(MIN_PSNR, MAX_PSNR, value=value, step=1, label=label, elem_id=elem_id)
    gr.Markdown(quiz_text.OPTIONS_HELP)
    return ui
