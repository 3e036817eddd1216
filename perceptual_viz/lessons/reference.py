"""The reference networks of the Train lesson: the live lesson's networks, trained ahead of time.

The live run of :mod:`.train` has seconds on a CPU: a few hundred steps on a few photos, too few
for its lesson to hold on every photo. The reference networks are the same
:class:`~.train.ResidualCNN` (same width and depth, one per loss), trained by
``tools/train_reference.py`` for thousands of steps on openly licensed photos that are *not*
among the bundled samples (``assets/train``, see ``assets/ATTRIBUTION.md``), so every bundled
photo is a fair held-out test for them. They ship in ``assets/reference`` as
``<task>-<loss>.safetensors`` (fp16) with ``reference.json``: the data, seed, steps, settings,
the VGG weights' fingerprint, the date, the training log's final losses and the scores on each
bundled photo.

:func:`tasks` lists the tasks shipped, :func:`networks` loads a task's networks (kept after the
first load) and :func:`run` applies them to a held-out image and scores them in one VGG pass.
The networks are evaluated exactly like the live ones (:func:`.train.eval_pair`: same size, same
degradation, the noise of "denoise" from ``seed``), so the two can be shown side by side.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch

from ..assets import ASSETS_DIR
from ..backbone import VGGFeatures
from ..errors import InputError
from ..messages import msg
from ..options import TASKS, LossName, Task, is_one_of
from . import train as tl

REFERENCE_DIR = ASSETS_DIR / "reference"
PROVENANCE_FILE = "reference.json"
_LOCK = threading.Lock()


def file_name(task: str, loss: str) -> str:
    """The file of one reference network, e.g. ``sr4-mse.safetensors``."""
    return f"{task}-{loss}.safetensors"


@functools.cache
def provenance(folder: Path = REFERENCE_DIR) -> dict[str, Any]:
    """``reference.json`` of ``folder`` (empty when there is none): how the networks were made."""
    path = folder / PROVENANCE_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def tasks(folder: Path = REFERENCE_DIR) -> tuple[Task, ...]:
    """The tasks whose reference networks are all present in ``folder``, in :data:`TASKS` order;
    never one withdrawn because its lesson did not hold (its record says where)."""
    shipped = provenance(folder).get("tasks", {})
    return tuple(
        t
        for t in TASKS
        if t in shipped
        and "withdrawn" not in shipped[t]
        and all((folder / file_name(t, n)).is_file() for n in shipped[t]["losses"])
    )


def withdrawn(folder: Path = REFERENCE_DIR) -> dict[str, str]:
    """Task → why it was withdrawn (trained ahead, its lesson did not hold on every bundled photo)."""
    return {
        t: str(r["withdrawn"]) for t, r in provenance(folder).get("tasks", {}).items() if "withdrawn" in r
    }


def _entry(task: str, folder: Path) -> dict[str, Any]:
    if not is_one_of(task, TASKS):
        raise InputError(
            msg("unknown task {task!r}; choose one of {tasks}", task=task, tasks=", ".join(TASKS))
        )
    if task not in tasks(folder):
        raise InputError(
            msg(
                "no reference networks for {task}; shipped: {tasks}",
                task=task,
                tasks=", ".join(tasks(folder)) or "—",
            )
        )
    entry: dict[str, Any] = provenance(folder)["tasks"][task]
    return entry


def trained_settings(task: str, folder: Path = REFERENCE_DIR) -> tl.TrainSettings:
    """The settings the reference networks of ``task`` were trained with (steps, data sizes,
    degradation strength, losses, seed…), as recorded in ``reference.json``."""
    recorded = _entry(task, folder)["settings"]
    known = {f.name for f in fields(tl.TrainSettings)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in known
    }
    return tl.TrainSettings(**values)


def eval_settings(
    task: str, model: VGGFeatures, seed: int = 0, eval_size: int | None = None, folder: Path = REFERENCE_DIR
) -> tl.TrainSettings:
    """Settings that evaluate ``task``'s reference networks as the live lesson evaluates its own
    on ``model``'s device: the degradation they were trained for, the device's evaluation size
    (or ``eval_size``), the held-out noise of ``seed`` (resolved)."""
    t = trained_settings(task, folder)
    live = tl.TrainSettings(
        task=t.task, losses=t.losses, noise=t.noise, blur=t.blur, seed=seed, eval_size=eval_size
    )
    return live.resolved(model.arch, model.device)


@functools.cache
def _load(task: str, folder: Path) -> dict[LossName, tl.ResidualCNN]:
    from safetensors.torch import load_file

    s = trained_settings(task, folder)
    nets: dict[LossName, tl.ResidualCNN] = {}
    for loss in s.losses:
        net = tl.ResidualCNN(int(s.width or 0), int(s.depth))
        state = load_file(str(folder / file_name(task, loss)))
        net.load_state_dict({k: v.float() for k, v in state.items()})
        nets[loss] = net.eval().requires_grad_(False)
    return nets


def networks(task: str, folder: Path = REFERENCE_DIR) -> dict[LossName, tl.ResidualCNN]:
    """Loss → the reference network of ``task`` (fp32, eval mode, on CPU; loaded once)."""
    _entry(task, folder)
    with _LOCK:
        return dict(_load(task, folder))


@dataclass(frozen=True)
class ReferenceRun:
    """The reference networks of one task on one held-out image."""

    settings: tl.TrainSettings  # resolved, as evaluated (see :func:`eval_settings`)
    x: torch.Tensor  # the degraded input (1, 3, h, w), CPU
    truth: torch.Tensor  # the ground truth
    outputs: dict[str, torch.Tensor]  # loss → output, CPU, in [0, 1]
    scores: dict[str, dict[str, float | None]]  # "input" and each loss → :func:`.train.evaluate`


def outputs(task: str, x: torch.Tensor, folder: Path = REFERENCE_DIR) -> dict[str, torch.Tensor]:
    """Loss → what ``task``'s reference network makes of ``x`` (1, 3, h, w), on CPU in [0, 1]
    (the networks are small: a 256-px image takes a few tens of milliseconds)."""
    x = x.detach().to("cpu", torch.float32)
    with torch.inference_mode():
        return {loss: net(x).clamp(0, 1) for loss, net in networks(task, folder).items()}


def run(
    model: VGGFeatures,
    task: str,
    eval_image: torch.Tensor,
    *,
    seed: int = 0,
    eval_size: int | None = None,
    folder: Path = REFERENCE_DIR,
) -> ReferenceRun:
    """``task``'s reference networks applied to ``eval_image`` (degraded as the live lesson
    degrades it) and scored against its ground truth: MSE, PSNR, SSIM, LPIPS and DISTS."""
    s = eval_settings(task, model, seed, eval_size, folder)
    x, truth = tl.eval_pair(eval_image, s)
    outs = outputs(task, x, folder)
    scores = tl.evaluate(model, {"input": x, **outs}, truth, dists=True)
    return ReferenceRun(s, x, truth, outs, scores)
