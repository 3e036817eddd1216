"""The style-transfer figure: the content photo, the style photo, the result and the loss curves."""

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
from ..lessons import style_transfer as st
from ..messages import Joined, Text, msg, msg_n
from ..plots import line_chart
from . import Figure
from .reconstruct import ran, report_every

TERMS: dict[str, Text] = {"content": msg("α · content"), "style": msg("β · style"), "tv": msg("γ · TV")}


def what(settings: st.StyleSettings) -> Text:
    """One line naming the run, e.g. "Content at relu3_3, style at relu1_1 … relu5_1 · α 1, β 10,
    γ 10 · 100 steps at 128 px · from the content photo"."""
    layers = settings.style_layers
    span = f"{layers[0]} … {layers[-1]}" if len(layers) > 2 else ", ".join(layers)
    return Joined(
        (
            msg("Content at {content}, style at {style}", content=settings.content_layer, style=span),
            weights(settings),
            msg("{steps} steps at {size} px", steps=settings.steps, size=settings.px),
            msg("from the content photo")
            if settings.init == "content"
            else msg("from noise, seed {seed}", seed=settings.seed),
        )
    )


def weights(settings: st.StyleSettings) -> str:
    """α, β and γ as numbers, "α 1, β 10, γ 10" (language-neutral)."""
    a, b, g = settings.content_weight, settings.style_weight, settings.tv_weight
    return f"α {a:g}, β {b:g}, γ {g:g}"


def loss_chart(curve: list[dict[str, Any]]) -> Image.Image:
    """The three weighted terms against the step, on a log axis (a term at 0 is left out)."""
    series = {k: [(float(p["step"]), float(p[k])) for p in curve] for k in TERMS}
    return line_chart(
        series,
        title=msg("Loss terms (log scale)"),
        xlabel=msg("step"),
        ylabel=msg("loss"),
        names=TERMS,
        log=True,
        size=(380, 280),
    )


def run(
    model: VGGFeatures,
    content: torch.Tensor,
    style: torch.Tensor,
    settings: st.StyleSettings,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[tuple[st.StyleStep, list[dict[str, Any]]]]:
    """The optimisation's reports, each with the curves so far (``settings`` resolved): per
    report its step, loss, weighted terms and unweighted distances."""
    curve: list[dict[str, Any]] = []
    every = report_every(int(settings.steps or 1))
    for s in st.style_transfer(
        model, content, style, settings, every=every, should_stop=should_stop, deadline=deadline
    ):
        distances = {f"{k} distance": v for k, v in s.distances.items()}
        curve.append({"step": s.step, "loss": s.loss, **s.parts, **distances})
        yield s, curve


@dataclass(frozen=True)
class StyleTransferFigure(Figure):
    """The content and style photos (at the analysis size), the result and the loss curves.
    ``what``: the run in one line; ``info``: what it did (Markdown); ``seconds``; ``run_title``
    and ``run_note``: the run in a few words, for a row of runs."""

    what: Text
    info: Text
    seconds: float
    run_title: Text
    run_note: Text
    kind = "style-transfer"


def measured(distances: dict[str, float], start: dict[str, float] | None = None) -> Text:
    """A result's distances, e.g. "content distance 0.692 · style distance 1.2e+07 (-98% from
    the start)" (``start``: the starting image's, when there is one)."""
    content = msg("content distance {value:.3g}", value=distances["content"])
    if start and start.get("style", 0.0) > 0:
        change = distances["style"] / start["style"] - 1
        style = msg(
            "style distance {value:.3g} ({change:+.0%} from the start)",
            value=distances["style"],
            change=change,
        )
    else:
        style = msg("style distance {value:.3g}", value=distances["style"])
    return Joined((content, style))


def start_distances(curve: list[dict[str, Any]]) -> dict[str, float]:
    """The starting image's distances ("content", "style") from a run's curve ({} if empty)."""
    return {k: float(curve[0][f"{k} distance"]) for k in ("content", "style")} if curve else {}


def figure(
    content: torch.Tensor,
    style: torch.Tensor,
    settings: st.StyleSettings,
    last: st.StyleStep,
    curve: list[dict[str, Any]],
    stopped: Text | None = None,
    info: Text | None = None,
) -> StyleTransferFigure:
    """The photos (resized as the optimisation saw them), the result and the curves.

    ``stopped`` overrides the run's own reason for stopping early (e.g. "stopped by you"; the
    record keeps it in English); ``info`` what the run did, as a front end told it (default: the
    run, its steps, its loss and its distances).
    """
    reason = str(stopped or last.stopped) if last.stopped else ""
    start = start_distances(curve)
    record = {
        "settings": dataclasses.asdict(settings),
        "result": {
            "steps_done": last.step,
            "loss": last.loss,
            "parts": last.parts,
            "distances": last.distances,
            "start_distances": start,
            "stopped": reason,
        },
        "loss_curve": list(curve),
    }
    pictures = {
        "content": to_pil(rc.resize_target(content, settings.px, "cpu")),
        "style": to_pil(rc.resize_target(style, settings.px, "cpu")),
        "result": to_pil(last.image),
        "loss curves": loss_chart(curve),
    }
    steps = msg_n("{n} step", "{n} steps", last.step)
    said = measured(last.distances, start)
    return StyleTransferFigure(
        pictures,
        record,
        what=what(settings),
        info=info or Joined((what(settings), steps, msg("loss {loss:.4g}", loss=last.loss), said)),
        seconds=last.seconds,
        run_title=Joined((str(settings.content_layer), weights(settings))),
        run_note=Joined(
            (ran(last.step, settings.steps, last.stopped), msg("loss {loss:.3g}", loss=last.loss))
        ),
    )


def run_to_end(
    model: VGGFeatures,
    content: torch.Tensor,
    style: torch.Tensor,
    settings: st.StyleSettings,
    should_stop: Callable[[], bool] | None = None,
) -> StyleTransferFigure:
    """:func:`run` to its end, then :func:`figure` (for front ends that do not stream)."""
    last, curve = None, []
    for s, so_far in run(model, content, style, settings, should_stop=should_stop):
        last, curve = s, so_far
    assert last is not None
    return figure(content, style, settings, last, curve)
