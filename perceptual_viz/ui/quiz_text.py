"""Teaching text of the "Which looks closer?" tab (the class runs the BAPPS experiment on itself)."""

from __future__ import annotations

from collections.abc import Mapping

from .text import pdn

METRIC_NAMES = {"mse": "MSE", "ssim": "SSIM", "perceptual": "Perceptual", "lpips": "LPIPS"}

PDN_QUIZ = pdn(
    "a photo and two damaged copies with the same MSE: will your class agree more often with MSE, "
    "with SSIM, or with the distances measured on deep features?",
    "the teacher opens a round and shows its code; everyone enters it below (a phone is fine) and "
    "picks, trial after trial, the copy that looks closer to the reference.",
    "after each answer you see which side each metric picked; the teacher's dashboard counts how "
    "often each metric agreed with the class. LPIPS was fitted to exactly this kind of vote.",
)

QUIZ = r"""
**The experiment.** Each trial shows a reference photo and two damaged copies, A and B, and
asks one question: *which looks closer to the reference?* (a two-alternative forced choice).
Zhang et al. (2018) asked people this about thousands of pairs (the BAPPS data set) and found
that distances between deep features agreed with people far more often than MSE or SSIM did.
That finding is why LPIPS exists.

**The trials.** Both copies get a *different* kind of damage tuned to the **same MSE** (as in
the Equal MSE tab), so MSE can only tell them apart by a few percent. Left and right are
shuffled. Each metric *picks* the side it rates closer: the smaller MSE, perceptual distance or
LPIPS, the larger SSIM.

**The dashboard** counts, for each metric, the individual votes that chose its side, and the
trials whose class majority (more votes for one side than the other) it picked. A trial whose
votes are tied has no majority and is left out of the second count.

**Limits.** At most 50 trials per round and 500 students per round. Students are anonymous: the
page keeps a random id in the browser and asks for no name. Voting again on a trial replaces the
earlier vote.
"""

STUDENT_HELP = (
    "**Student:** enter the code on the teacher's screen and press **Join**. No name needed: "
    "this browser keeps an anonymous random id."
)
TEACHER_HELP = (
    "Choose the number of trials (at most 50) and a seed, then **Open a round**: the network "
    "scores every trial first, which takes a few seconds per trial. Show the code to the class. "
    "The dashboard below refreshes every few seconds while a code is shown. To see an earlier "
    "round again, type its code and press **Show results**."
)
OPTIONS_HELP = (
    "Both copies in a trial get the **same MSE**: a target drawn between the two PSNRs above "
    "(a lower PSNR means more damage; 20–30 dB is clearly visible but not ruined). Untick kinds of "
    "damage or photos to leave them out; at least two kinds and one photo are needed."
)


def photo_label(name: str) -> str:
    """A bundled photo's file name as a checkbox label: ``chelsea.png`` → ``Chelsea``."""
    return name.rsplit(".", 1)[0].replace("_", " ").capitalize()


NOT_PERSISTENT = (
    "⚠️ **Votes are lost when this server restarts:** the quiz database is in a temporary folder. "
    "To keep the votes, set `PERCEPTUAL_VIZ_DB` to a file on persistent storage (on a Hugging Face "
    "Space, turn on persistent storage: it appears as `/data`)."
)


def unavailable(reason: str) -> str:
    return f"⚠️ **The quiz is unavailable on this server:** {reason}"


def code_banner(code: str, n_trials: int) -> str:
    """The round's code in large letters, for the projector, with what students do with it."""
    return (
        "<div style='font-size:clamp(36px,11vw,64px);font-weight:700;letter-spacing:0.12em;"
        "font-family:monospace;"
        f"text-align:center;padding:6px 0'>{code}</div>\n\n"
        f"<div style='text-align:center'>Round <b>{code}</b> · {n_trials} trials · students: open this "
        "page, go to the <b>Which looks closer?</b> tab and enter the code.</div>"
    )


def progress(index: int, n_trials: int) -> str:
    return (
        f"**Trial {index + 1} of {n_trials}.** Which of **A** and **B** looks closer to the "
        "reference? Trust your eyes, there is no right answer."
    )


def done(n_trials: int) -> str:
    return (
        f"**Done: you answered all {n_trials} trials. Thank you!** Look at the teacher's screen: "
        "which metric agreed with the class most often?"
    )


def feedback(choice: str, picks: Mapping[str, str | None]) -> str:
    """After a vote: the student's choice and the side each metric picked (✓ when it agrees)."""
    parts = []
    for metric, side in picks.items():
        name = METRIC_NAMES.get(metric, metric)
        if side is None:
            parts.append(f"{name}: no pick (a tie)")
        else:
            parts.append(f"{name} picked **{side}** {'✓' if side == choice else '✗'}")
    return f"You chose **{choice}**. " + " · ".join(parts) + "."


def plural(n: int, noun: str) -> str:
    """``3 votes``, ``1 vote``."""
    return f"{n} {noun}{'s' * (n != 1)}"


def pct(agree: int, counted: int) -> str:
    return f"{round(100 * agree / counted)}% ({agree} of {counted})" if counted else "—"


def dashboard(code: str, n_votes: int, n_students: int, n_trials: int, lines: list[str]) -> str:
    """The dashboard's headline and one line per kind of agreement."""
    head = (
        f"## Round {code}: {plural(n_votes, 'vote')} from {plural(n_students, 'student')} "
        f"on {plural(n_trials, 'trial')}"
    )
    return "\n\n".join([head, *lines])


DISAGREED_NONE = "*The trials where people and MSE disagreed most appear here once votes come in.*"
DISAGREED_HEAD = "**Where people and MSE disagreed most** (the reference, then A and B as students saw them):"
