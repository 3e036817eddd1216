"""Teaching text of the "Which looks closer?" tab (the class runs the BAPPS experiment on itself).

The long texts given to components as the page is built are plain English: the page's texts,
translated by exact lookup (``locales/<lang>/page.po``). Everything filled with values or
answered by an endpoint is a :class:`~perceptual_viz.messages.Message` (``quiz.po``), worded in
the reader's language at the edge; the HTML and Markdown around a message are the same in
every language.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ..messages import N_, Joined, Message, Text, joined, msg, msg_n
from .text import pdn

# A metric's name as the quiz shows it: the acronyms are the same in every language.
METRIC_NAMES: dict[str, Text] = {
    "mse": "MSE",
    "ssim": "SSIM",
    "ms_ssim": "MS-SSIM",
    "perceptual": msg("Perceptual"),
    "lpips": "LPIPS",
    "dists": "DISTS",
}

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
shuffled. Each metric *picks* the side it rates closer: the smaller MSE, perceptual distance,
LPIPS or DISTS, the larger SSIM or MS-SSIM. MS-SSIM needs pictures larger than 160 px, so on the
quiz's small pictures it picks no side.

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


# Shown only on some servers, so marked for the catalogs where it is written.
NOT_PERSISTENT = N_(
    "⚠️ **Votes are lost when this server restarts:** the quiz database is in a temporary folder. "
    "To keep the votes, set `PERCEPTUAL_VIZ_DB` to a file on persistent storage (on a Hugging Face "
    "Space, turn on persistent storage: it appears as `/data`)."
)


def unavailable(reason: Text | None) -> Message:
    """Why the quiz cannot be used here (the store did not open)."""
    return msg("⚠️ **The quiz is unavailable on this server:** {reason}", reason=reason or msg("no database"))


CODE_STYLE = (
    "font-size:clamp(36px,11vw,64px);font-weight:700;letter-spacing:0.12em;font-family:monospace;"
    "text-align:center;padding:6px 0"
)


def code_banner(code: str, n_trials: int) -> Joined:
    """The round's code in large letters, for the projector, with what students do with it."""
    line = joined(
        msg("Round <b>{code}</b>", code=code),
        trials(n_trials),
        msg("students: open this page, go to the <b>Which looks closer?</b> tab and enter the code."),
    )
    return Joined(
        (f"<div style='{CODE_STYLE}'>{code}</div>\n\n<div style='text-align:center'>", line, "</div>"),
        sep="",
    )


def votes(n: int) -> Message:
    """``3 votes``, ``1 vote``."""
    return msg_n("{n} vote", "{n} votes", n)


def students(n: int) -> Message:
    """``3 students``, ``1 student``."""
    return msg_n("{n} student", "{n} students", n)


def trials(n: int) -> Message:
    """``3 trials``, ``1 trial``."""
    return msg_n("{n} trial", "{n} trials", n)


def progress(index: int, n_trials: int) -> Message:
    """Above a trial: which one of how many, and the question."""
    return msg(
        "**Trial {i} of {n}.** Which of **A** and **B** looks closer to the reference? Trust your "
        "eyes, there is no right answer.",
        i=index + 1,
        n=n_trials,
    )


def done(n_trials: int) -> Message:
    """Once the student has answered every trial of the round."""
    return msg_n(
        "**Done: you answered the round's only trial. Thank you!** Look at the teacher's screen: "
        "which metric agreed with the class most often?",
        "**Done: you answered all {n} trials. Thank you!** Look at the teacher's screen: which "
        "metric agreed with the class most often?",
        n_trials,
    )


def feedback(
    choice: str, picks: Mapping[str, str | None], unscored: Collection[str] = frozenset()
) -> Message:
    """After a vote: the student's choice and the side each metric picked (✓ when it agrees);
    ``unscored``: the metrics not computed for this trial (MS-SSIM of small pictures, say)."""
    parts: list[Text] = []
    for metric, side in picks.items():
        name = METRIC_NAMES.get(metric, metric)
        if metric in unscored:
            parts.append(msg("{metric}: not computed for these pictures", metric=name))
        elif side is None:
            parts.append(msg("{metric}: no pick (a tie)", metric=name))
        else:
            mark = "✓" if side == choice else "✗"
            parts.append(msg("{metric} picked **{side}** {mark}", metric=name, side=side, mark=mark))
    return msg("You chose **{choice}**. {picks}.", choice=choice, picks=Joined(tuple(parts)))


def pct(agree: int, counted: int) -> Text:
    """``75% (3 of 4)``; a dash when nothing is counted yet."""
    if not counted:
        return "—"
    return msg(
        "{percent}% ({agree} of {counted})",
        percent=round(100 * agree / counted),
        agree=agree,
        counted=counted,
    )


def dashboard(code: str, n_votes: int, n_students: int, n_trials: int, lines: list[Text]) -> Joined:
    """The dashboard's headline and one line per kind of agreement."""
    head = msg(
        "Round {code}: {votes} from {students} on {trials}",
        code=code,
        votes=votes(n_votes),
        students=students(n_students),
        trials=trials(n_trials),
    )
    return Joined((Joined(("## ", head), sep=""), *lines), sep="\n\n")


DISAGREED_NONE = Joined(
    ("*", msg("The trials where people and MSE disagreed most appear here once votes come in."), "*"), sep=""
)
DISAGREED_HEAD = msg(
    "**Where people and MSE disagreed most** (the reference, then A and B as students saw them):"
)
