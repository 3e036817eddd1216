"""The "Train with it" figure: one small network per loss, trained side by side, and what each
learned on a held-out image — its output, a zoomed crop where texture shows, its scores."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..images import to_pil
from ..lessons import train as tl
from ..plots import line_chart
from . import Figure, Table

CURVE_POINTS = 25  # reports (and loss-curve points) per run
ZOOM_FRACTION = 3  # the zoomed crop is a square of 1/3 of the shorter side of the eval image
ZOOM_DISPLAY = 160  # px: crops are enlarged (nearest neighbour, pixels stay visible) to about this
UNTRAINED_NOTE = (
    "⚠️ **Untrained weights:** the perceptual networks learned from the features of a *random* "
    "VGG, and LPIPS is computed on it too (its learned weights are not calibrated for it); load "
    "ImageNet weights to see the lesson."
)
SCORE_KEYS = ("mse", "psnr", "ssim", "lpips")
TABLE_COLUMNS = ("image", "MSE", "PSNR (dB)", "SSIM", "LPIPS", "final training loss")

Curves = dict[str, list[dict[str, Any]]]


def report_every(steps: int) -> int:
    """Steps between two reports of a run of ``steps`` (the same for every front end)."""
    return max(1, int(steps) // CURVE_POINTS)


def input_label(settings: tl.TrainSettings) -> str:
    """What the networks are given, e.g. "bicubic ×4" or "noisy, σ 0.1"."""
    if settings.task == "sr4":
        return f"bicubic ×{tl.SCALE}"
    if settings.task == "denoise":
        return f"noisy, σ {settings.noise:g}"
    return f"blurred, σ {settings.blur:g} px"


def what(settings: tl.TrainSettings) -> str:
    """One line naming the experiment (``settings`` resolved)."""
    task = {"sr4": f"×{tl.SCALE} super-resolution", "denoise": "Denoising", "deblur": "Deblurring"}
    return (
        f"{task[settings.task]} ({input_label(settings)}) · {' vs '.join(settings.losses)} · "
        f"{settings.steps} steps of {settings.batch} × {settings.patch}-px patches · seed {settings.seed}"
    )


def run(
    model: VGGFeatures,
    train_images: Sequence[torch.Tensor],
    eval_image: torch.Tensor,
    settings: tl.TrainSettings,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
    every: int | None = None,
) -> Iterator[tuple[tl.TrainStep, Curves]]:
    """The training's reports, each with the loss curves so far (``settings`` resolved):
    loss → [{"step", "loss", "psnr"}] (the mean training loss since the previous point, and the
    held-out output's PSNR in dB), one point per report that covered new steps. ``every``: steps
    between reports (default :func:`report_every`; a front end that must notice a cancel
    quickly asks for more)."""
    curves: Curves = {n: [] for n in settings.losses}
    every = every or report_every(int(settings.steps or 1))
    for st in tl.train(
        model, train_images, eval_image, settings, every=every, should_stop=should_stop, deadline=deadline
    ):
        for n, v in st.losses.items():
            if not curves[n] or curves[n][-1]["step"] < st.step:
                curves[n].append({"step": st.step, "loss": v, "psnr": st.psnr[n]})
        yield st, curves


def zoom_box(truth: torch.Tensor) -> tuple[int, int, int]:
    """(top, left, side) of the square of the ground truth with the most local variance (grey):
    where texture is, so where the networks differ most."""
    g = truth.detach().to("cpu", torch.float32).mean(dim=1, keepdim=True)
    h, w = g.shape[-2:]
    side = max(8, min(h, w) // ZOOM_FRACTION)
    stride = max(1, side // 8)
    mu = F.avg_pool2d(g, side, stride)
    var = F.avg_pool2d(g * g, side, stride) - mu * mu
    idx = int(var.flatten().argmax())
    row, col = divmod(idx, var.shape[-1])
    return row * stride, col * stride, side


def _crop(x: torch.Tensor, box: tuple[int, int, int]) -> Image.Image:
    top, left, side = box
    pic = to_pil(x[..., top : top + side, left : left + side])
    k = max(1, math.ceil(ZOOM_DISPLAY / side))
    return pic.resize((side * k, side * k), Image.Resampling.NEAREST)


def loss_chart(curves: Curves, title: str = "Training loss (log scale)") -> Image.Image:
    """Each network's training loss against the step, one line per loss, on a log axis."""
    series = {n: [(float(p["step"]), float(p["loss"])) for p in pts] for n, pts in curves.items()}
    return line_chart(series, title=title, xlabel="step", ylabel="loss", log=True, size=(380, 280))


def scores_table(
    scores: dict[str, dict[str, float | None]], final: dict[str, float | None], label: str
) -> Table:
    """One row per image: the degraded input (the baseline), then each network's output."""
    rows = []
    for name, sc in scores.items():
        title = f"input ({label})" if name == "input" else f"{name} network"
        rows.append([title, sc["mse"], sc["psnr"], sc["ssim"], sc["lpips"], final.get(name)])
    return Table(list(TABLE_COLUMNS), rows)


def _scores_line(sc: dict[str, float | None] | None) -> str:
    if not sc:
        return ""
    parts = []
    if "psnr" in sc:
        parts.append("PSNR ∞" if sc["psnr"] is None else f"PSNR {sc['psnr']:.2f}")
    if sc.get("lpips") is not None:
        parts.append(f"LPIPS {sc['lpips']:.3f}")
    return " · ".join(parts)


def _bottom_aligned(tiles: list[Image.Image], gap: int = 10) -> Image.Image:
    """Tiles in a row on white, bottoms aligned: titles differ in height, the crops line up."""
    width = sum(t.width for t in tiles) + gap * (len(tiles) - 1)
    height = max(t.height for t in tiles)
    out = Image.new("RGB", (width, height), "white")
    x = 0
    for t in tiles:
        out.paste(t.convert("RGB"), (x, height - t.height))
        x += t.width + gap
    return out


def zoom_strip(
    x: torch.Tensor,
    truth: torch.Tensor,
    outputs: dict[str, torch.Tensor],
    label: str,
    scores: dict[str, dict[str, float | None]] | None = None,
) -> tuple[Image.Image, tuple[int, int, int]]:
    """The same square (:func:`zoom_box`) of the input, the truth and every output, enlarged,
    each titled; with ``scores`` (name → {"psnr", "lpips", …}; "input" for the input) the
    titles carry them. Returns the strip and the box (top, left, side)."""
    box = zoom_box(truth)
    sc = scores or {}
    first = "\n".join(t for t in (label, _scores_line(sc.get("input"))) if t)
    tiles = [
        chrome.titled(_crop(x, box), "input", first),
        chrome.titled(_crop(truth, box), "ground truth", "the original"),
    ]
    tiles += [chrome.titled(_crop(o, box), n, _scores_line(sc.get(n))) for n, o in outputs.items()]
    return _bottom_aligned(tiles), box


def _info(settings: tl.TrainSettings, last: tl.TrainStep, reason: str, trained: bool) -> str:
    ran = f"stopped at step {last.step} of {settings.steps} ({reason})" if reason else f"{last.step} steps"
    return (
        f"{what(settings)} — {ran} in {last.seconds:.1f} s. Every network started from the same "
        "weights and saw the same patches; only the loss differs."
        + ("" if trained else f"\n\n{UNTRAINED_NOTE}")
    )


def figure(
    model: VGGFeatures,
    eval_image: torch.Tensor,
    settings: tl.TrainSettings,
    last: tl.TrainStep,
    curves: Curves,
    stopped: str | None = None,
    scores: dict[str, dict[str, float | None]] | None = None,
) -> Figure:
    """The held-out input, its ground truth and every network's output, a zoomed crop of each,
    the loss curves, and the scores (one VGG pass: :func:`~perceptual_viz.lessons.train.evaluate`,
    unless ``scores`` already holds them for "input" and every loss).

    ``stopped`` overrides the run's own reason for stopping early (e.g. "stopped by you").
    """
    reason = (stopped or last.stopped) if last.stopped else ""
    x, truth = tl.eval_pair(eval_image, settings)
    if scores is None:
        scores = tl.evaluate(model, {"input": x, **last.outputs}, truth)
    label = input_label(settings)
    final: dict[str, float | None] = {n: (last.losses.get(n) if last.step else None) for n in settings.losses}
    strip, box = zoom_strip(x, truth, last.outputs, label, scores)
    nets = tl.build_networks(dataclasses.replace(settings, losses=settings.losses[:1]), "cpu")
    runs = {
        n: {
            "eval": {k: scores[n][k] for k in SCORE_KEYS},
            "seconds": last.seconds,
            "final_loss": final[n],
            "curve": list(curves.get(n, [])),
        }
        for n in settings.losses
    }
    record: dict[str, Any] = {
        "settings": dataclasses.asdict(settings),
        "task": settings.task,
        "steps": settings.steps,
        "seed": settings.seed,
        "weights": model.status.as_dict(),
        "result": {"steps_done": last.step, "seconds": last.seconds, "stopped": reason},
        "network": {
            "kind": "residual CNN",
            "parameters": tl.parameter_count(next(iter(nets.values()))),
        },
        "eval": {"size_hw": list(truth.shape[-2:]), "input": {k: scores["input"][k] for k in SCORE_KEYS}},
        "zoom": {"top": box[0], "left": box[1], "side": box[2]},
        "runs": runs,
    }
    if not model.status.trained:
        record["note"] = UNTRAINED_NOTE.replace("⚠️ **Untrained weights:**", "UNTRAINED VGG weights:")
    pictures = {
        f"input ({label})": to_pil(x),
        "ground truth": to_pil(truth),
        **{f"{n} network": to_pil(o) for n, o in last.outputs.items()},
        "zoomed crops": strip,
        "loss curves": loss_chart(curves),
    }
    extras = {
        "what": what(settings),
        "info": _info(settings, last, reason, model.status.trained),
        "table": scores_table(scores, final, label),
        "seconds": last.seconds,
    }
    return Figure("train", pictures, record, extras)


def run_to_end(
    model: VGGFeatures,
    train_images: Sequence[torch.Tensor],
    eval_image: torch.Tensor,
    settings: tl.TrainSettings,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[tl.TrainStep], None] | None = None,
) -> Figure:
    """:func:`run` to its end, then :func:`figure` (for front ends that do not stream)."""
    last, curves = None, {}
    for st, so_far in run(model, train_images, eval_image, settings, should_stop=should_stop):
        last, curves = st, so_far
        if progress is not None:
            progress(st)
    assert last is not None
    return figure(model, eval_image, settings, last, curves)
