"""The "What does a layer keep?" figure: an image optimised from noise, streamed as it forms."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import torch
from PIL import Image

from ..backbone import VGGFeatures
from ..images import to_pil
from ..lessons import reconstruct as rc
from ..plots import line_chart
from . import Figure

CURVE_POINTS = 25  # reports (and loss-curve points) per run


def report_every(steps: int) -> int:
    """Steps between two reports of a run of ``steps`` (the same for every front end)."""
    return max(1, int(steps) // CURVE_POINTS)


def what(settings: rc.ReconstructSettings) -> str:
    """One line naming the experiment, e.g. "Feature inversion from relu3_3 · 200 steps at 128 px"."""
    kind = "Feature inversion" if settings.mode == "content" else "Texture synthesis"
    return (
        f"{kind} from {', '.join(settings.layers or ())} · {settings.steps} steps at {settings.size} px · "
        f"seed {settings.seed}"
    )


def loss_chart(curve: list[dict[str, Any]], title: str = "Loss (log scale)") -> Image.Image:
    """The loss against the step, on a log axis (it falls by orders of magnitude)."""
    points = [(float(p["step"]), float(p["loss"])) for p in curve]
    return line_chart({"loss": points}, title=title, xlabel="step", ylabel="loss", log=True, size=(380, 280))


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


def figure(
    target: torch.Tensor,
    settings: rc.ReconstructSettings,
    last: rc.ReconstructStep,
    curve: list[dict[str, Any]],
    stopped: str | None = None,
) -> Figure:
    """The target (at the optimised size) and the result, with the settings and the loss curve.

    ``stopped`` overrides the run's own reason for stopping early (e.g. "stopped by you").
    """
    reason = (stopped or last.stopped) if last.stopped else ""
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
    ran = f"stopped at step {last.step} of {settings.steps}" if last.stopped else f"{last.step} steps"
    extras = {
        "what": what(settings),
        "seconds": last.seconds,
        "run title": f"{settings.mode} · {'+'.join(settings.layers or ())}",
        "run note": f"{ran} · loss {last.loss:.3g}",
    }
    return Figure("reconstruct", pictures, record, extras)


def run_to_end(
    model: VGGFeatures,
    target: torch.Tensor,
    settings: rc.ReconstructSettings,
    should_stop: Callable[[], bool] | None = None,
) -> Figure:
    """:func:`run` to its end, then :func:`figure` (for front ends that do not stream)."""
    last, curve = None, []
    for st, so_far in run(model, target, settings, should_stop=should_stop):
        last, curve = st, so_far
    assert last is not None
    fig = figure(target, settings, last, curve)
    fig.extras["info"] = f"{what(settings)} · {last.step} steps · loss {last.loss:.4g}"
    return fig
