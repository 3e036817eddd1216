"""The "what a channel looks for" figure: an image optimised to excite one channel, streamed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..images import to_pil
from ..lessons import visualize as vz
from ..messages import Joined, Text, msg, msg_n
from ..plots import line_chart
from . import Figure

REPORTS = 20  # reports (and activation-curve points) per run
DISPLAY_PX = 224


def report_every(steps: int) -> int:
    """Steps between two reports of a run of ``steps`` (the same for every front end)."""
    return max(1, int(steps) // REPORTS)


def what(s: vz.VisualizeSettings) -> Text:
    """One line naming the experiment, e.g. "relu4_3 channel 7 · 160 steps at 112 px · seed 0"."""
    return Joined(
        (
            msg("{layer} channel {channel}", layer=s.layer, channel=s.channel),
            msg("{steps} steps at {size} px", steps=s.steps, size=s.size),
            msg("seed {seed}", seed=s.seed),
        )
    )


def display(image: torch.Tensor) -> Image.Image:
    """The optimised image enlarged with nearest neighbour (its pixels stay honest)."""
    pil = to_pil(image)
    f = max(1, DISPLAY_PX // max(pil.size))
    return pil.resize((pil.width * f, pil.height * f), Image.Resampling.NEAREST) if f > 1 else pil


def run(
    model: VGGFeatures,
    settings: vz.VisualizeSettings,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[tuple[vz.VisualizeStep, list[dict[str, Any]]]]:
    """The optimisation's reports, each with the activation curve so far (``settings`` resolved)."""
    curve: list[dict[str, Any]] = []
    every = report_every(int(settings.steps or 1))
    for st in vz.visualize(model, settings, every=every, should_stop=should_stop, deadline=deadline):
        curve.append({"step": st.step, "activation": st.activation})
        yield st, curve


DEAD = msg("this channel never fired on the image, so there was no gradient to follow (a dead channel)")


def never_fired(curve: list[dict[str, Any]]) -> bool:
    """True when the channel's mean activation stayed at 0 for the whole run: after a ReLU a
    channel that is off everywhere passes back no gradient, so the image cannot change."""
    return bool(curve) and all(float(p["activation"]) <= 0.0 for p in curve)


@dataclass(frozen=True)
class VisualizeFigure(Figure):
    """The optimised image (titled) and the activation curve; ``what``: the experiment in one line."""

    what: Text
    kind = "visualize"


def figure(
    settings: vz.VisualizeSettings,
    last: vz.VisualizeStep,
    curve: list[dict[str, Any]],
    stopped: Text | None = None,
) -> VisualizeFigure:
    """The optimised image (titled) and the activation curve, with every setting.

    ``stopped`` overrides the run's own reason for stopping early (the record keeps it in English).
    """
    reason = str(stopped or last.stopped) if last.stopped else ""
    if reason:
        ran: Text = msg("stopped at step {step}", step=last.step)
    else:
        ran = msg_n("{n} step", "{n} steps", last.step)
    dead = never_fired(curve)
    activation = msg("mean activation {value}", value=chrome.num(last.activation))
    image = chrome.titled(
        display(last.image),
        Joined((settings.layer, msg("channel {channel}", channel=settings.channel))),
        DEAD if dead else Joined((ran, activation)),
    )
    points = [(float(p["step"]), float(p["activation"])) for p in curve]
    chart = line_chart(
        {"mean activation": points},
        title=msg("The channel's mean activation"),
        xlabel=msg("step"),
        ylabel=msg("activation"),
        names={"mean activation": msg("mean activation")},
        size=(380, 280),
    )
    record = {
        "settings": dataclasses.asdict(settings),
        "result": {
            "steps_done": last.step,
            "activation": last.activation,
            "stopped": reason,
            "never_fired": dead,
        },
        "curve": list(curve),
    }
    return VisualizeFigure({"visualisation": image, "activation curve": chart}, record, what(settings))
