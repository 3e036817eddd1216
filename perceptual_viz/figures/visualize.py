"""The "what a channel looks for" figure: an image optimised to excite one channel, streamed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import torch
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..images import to_pil
from ..lessons import visualize as vz
from ..plots import line_chart
from . import Figure

REPORTS = 20  # reports (and activation-curve points) per run
DISPLAY_PX = 224


def report_every(steps: int) -> int:
    return max(1, int(steps) // REPORTS)


def what(s: vz.VisualizeSettings) -> str:
    return f"{s.layer} channel {s.channel} · {s.steps} steps at {s.size} px · seed {s.seed}"


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


DEAD = "this channel never fired on the image, so there was no gradient to follow (a dead channel)"


def never_fired(curve: list[dict[str, Any]]) -> bool:
    """True when the channel's mean activation stayed at 0 for the whole run: after a ReLU a
    channel that is off everywhere passes back no gradient, so the image cannot change."""
    return bool(curve) and all(float(p["activation"]) <= 0.0 for p in curve)


def figure(
    settings: vz.VisualizeSettings,
    last: vz.VisualizeStep,
    curve: list[dict[str, Any]],
    stopped: str | None = None,
) -> Figure:
    """The optimised image (titled) and the activation curve, with every setting."""
    reason = (stopped or last.stopped) if last.stopped else ""
    ran = f"stopped at step {last.step}" if reason else f"{last.step} steps"
    dead = never_fired(curve)
    image = chrome.titled(
        display(last.image),
        f"{settings.layer} · channel {settings.channel}",
        DEAD if dead else f"{ran} · mean activation {chrome.num(last.activation)}",
    )
    points = [(float(p["step"]), float(p["activation"])) for p in curve]
    chart = line_chart(
        {"mean activation": points},
        title="The channel's mean activation",
        xlabel="step",
        ylabel="activation",
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
    return Figure(
        "visualize", {"visualisation": image, "activation curve": chart}, record, {"what": what(settings)}
    )
