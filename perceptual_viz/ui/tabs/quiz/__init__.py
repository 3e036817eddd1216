"""The "Which looks closer?" tab: the class runs the BAPPS experiment on itself (issue 14).

A teacher opens a round (its trials scored by VGG: a long job) and shows its code; students vote
from their own devices; a dashboard, refreshed every few seconds, shows how often each metric
agreed with the class. The rounds, trials and votes live in one SQLite file (see
:mod:`perceptual_viz.quiz.store`).

One job a module:

- :mod:`.resource` — :class:`~.resource.QuizBackend`, the store opened on first use, once per
  app, and the trials' pictures it keeps (the same for everyone);
- :mod:`.endpoints` — what the events call, the public ``/quiz_new_round``, ``/quiz_next``,
  ``/quiz_vote`` and ``/quiz_results`` among them (their arguments and answers are listed there);
- :mod:`.drawing` — the dashboard's charts and pictures (PIL only);
- :mod:`.export` — the dashboard's downloads (votes as CSV, the summary as JSON);
- :mod:`.layout` — the components; :mod:`.wiring` — the events between them.

Nothing is kept per user in memory: a student's id lives in their browser (``gr.BrowserState``)
and what the teacher watches in the page's state.
"""

from __future__ import annotations

from ...context import AppContext
from ...shared import Shared
from .layout import tab
from .resource import QuizBackend
from .wiring import notice_events, student_events, teacher_events


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events; the quiz store is opened on the first request that needs it."""
    quiz = QuizBackend.at_default()
    student, teacher, notice = tab(quiz)
    shared.link("quiz", round=student["code"])
    student_events(ctx, quiz, student)
    teacher_events(ctx, shared, quiz, teacher)
    if notice is not None:
        notice_events(shared, quiz, notice)
