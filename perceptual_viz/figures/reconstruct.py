"""The "What does a layer keep?" figure: an image optimised from noise, streamed as it forms."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from ..backbone import VGGFeatures
from ..images import to_pil
from ..lessons import reconstruct as rc
from ..messages import Joined, Text, msg, msg_n
from ..plots import line_chart
from . import Figure

CURVE_POINTS = 25  # reports (and loss-curve points) per run
MODE_NAMES: dict[str, Text] = {"content": msg("content"), "texture": msg("texture")}


def report_every(steps: int) -> int:
    """Steps between two reports of a run of ``steps`` (the same for every front end)."""
    return max(1, int(steps) // CURVE_POINTS)


def what(settings: rc.ReconstructSettings) -> Text:
    """One line naming the experiment, e.g. "Feature inversion from relu3_3 · 200 steps at 128 px"."""
    layers = ", ".join(settings.layers or ())
    if settings.mode == "content":
        kind = msg("Feature inversion from {layers}", layers=layers)
    else:
        kind = msg("Texture synthesis from {layers}", layers=layers)
    return Joined(
        (
            kind,
            msg("{steps} steps at {size} px", steps=settings.steps, size=settings.size),
            msg("seed {seed}", seed=settings.seed),
        )
    )


def loss_chart(curve: list[dict[str, Any]], title: Text | None = None) -> Image.Image:
    """The loss against the step, on a log axis (it falls by orders of magnitude)."""
    points = [(float(p["step"]), float(p["loss"])) for p in curve]
    return line_chart(
        {"loss": points},
        title=title or msg("Loss (log scale)"),
        xlabel=msg("step"),
        ylabel=msg("loss"),
        names={"loss": msg("loss")},
        log=True,
        size=(380, 280),
    )


def run(
    model: VGGFeatures,
    target: torch.Tensor,
    settings: rc.ReconstructSettings,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[tuple[rc.ReconstructStep, list[dict[str, Any]]]]:
    """The optimisation's reports, each with the loss curve so far (``settings`` resolved)."""
    curve: list[dict[str, Any]] = []
    every = report_every(int(settings.steps or 1))
    for st in rc.reconstruct(
        model, target, settings, every=every, should_stop=should_stop, deadline=deadline
    ):
        curve.append({"step": st.step, "loss": st.loss})
        yield st, curve


@dataclass(frozen=True)
class ReconstructFigure(Figure):
    """The target and the reconstruction, with the loss curve. ``what``: the experiment in one
    line; ``info``: what the run did (Markdown); ``seconds``; ``run_title`` and ``run_note``: the
    run in a few words, for a row of runs."""

    what: Text
    info: Text
    seconds: float
    run_title: Text
    run_note: Text
    kind = "reconstruct"


def ran(step: int, steps: int | None, stopped: str) -> Text:
    """How far a run of ``steps`` went: "200 steps", or "stopped at step 57 of 200"."""
    if stopped:
        return msg("stopped at step {step} of {steps}", step=step, steps=steps)
    return msg_n("{n} step", "{n} steps", step)


def figure(
    target: torch.Tensor,
    settings: rc.ReconstructSettings,
    last: rc.ReconstructStep,
    curve: list[dict[str, Any]],
    stopped: Text | None = None,
    info: Text | None = None,
) -> ReconstructFigure:
    """The target (at the optimised size) and the result, with the settings and the loss curve.

    ``stopped`` overrides the run's own reason for stopping early (e.g. "stopped by you"; the
    record keeps it in English); ``info`` what the run did, as a front end told it (default: the
    experiment, its steps and its final loss).
    """
    reason = str(stopped or last.stopped) if last.stopped else ""
    record = {
        "settings": {k: v for k, v in dataclasses.asdict(settings).items()},
        "result": {"steps_done": last.step, "loss": last.loss, "parts": last.parts, "stopped": reason},
        "loss_curve": list(curve),
    }
    pictures = {
        "target": to_pil(rc.resize_target(target, settings.size, "cpu")),
        "reconstruction": to_pil(last.image),
        "loss curve": loss_chart(curve),
    }
    steps = msg_n("{n} step", "{n} steps", last.step)
    return ReconstructFigure(
        pictures,
        record,
        what=what(settings),
        info=info or Joined((what(settings), steps, msg("loss {loss:.4g}", loss=last.loss))),
        seconds=last.seconds,
        run_title=Joined((MODE_NAMES.get(settings.mode, settings.mode), "+".join(settings.layers or ()))),
        run_note=Joined(
            (ran(last.step, settings.steps, last.stopped), msg("loss {loss:.3g}", loss=last.loss))
        ),
    )


def run_to_end(
    model: VGGFeatures,
    target: torch.Tensor,
    settings: rc.ReconstructSettings,
    should_stop: Callable[[], bool] | None = None,
) -> ReconstructFigure:
    """:func:`run` to its end, then :func:`figure` (for front ends that do not stream)."""
    last, curve = None, []
    for st, so_far in run(model, target, settings, should_stop=should_stop):
        last, curve = st, so_far
    assert last is not None
    return figure(target, settings, last, curve)
