"""The "Train with it" figure: one small network per loss, trained side by side, and what each
learned on a held-out image — its output, a zoomed crop where texture shows, its scores."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..images import to_pil
from ..lessons import reconstruct as rc
from ..lessons import reference as rf
from ..lessons import train as tl
from ..messages import Joined, Text, joined, msg, msg_n
from ..plots import line_chart
from . import Figure, Table

CURVE_POINTS = 25  # reports (and loss-curve points) per run
ZOOM_FRACTION = 3  # the zoomed crop is a square of 1/3 of the shorter side of the eval image
ZOOM_DISPLAY = 160  # px: crops are enlarged (nearest neighbour, pixels stay visible) to about this
UNTRAINED_NOTE = msg(
    "⚠️ **Untrained weights:** the perceptual networks learned from the features of a *random* "
    "VGG, and LPIPS is computed on it too (its learned weights are not calibrated for it); load "
    "ImageNet weights to see the lesson."
)
SCORE_KEYS = ("mse", "psnr", "ssim", "lpips")
TABLE_COLUMNS: tuple[Text, ...] = (
    msg("image"),
    "MSE",
    msg("PSNR (dB)"),
    "SSIM",
    "LPIPS",
    msg("final training loss"),
)
# The reference networks' table: DISTS too (the lesson they are held to includes it).
REFERENCE_COLUMNS: tuple[Text, ...] = (*TABLE_COLUMNS[:5], "DISTS", TABLE_COLUMNS[5])

Curves = dict[str, list[dict[str, Any]]]


def report_every(steps: int) -> int:
    """Steps between two reports of a run of ``steps`` (the same for every front end)."""
    return max(1, int(steps) // CURVE_POINTS)


def input_label(settings: tl.TrainSettings) -> Text:
    """What the networks are given, e.g. "bicubic ×4" or "noisy, σ 0.1"."""
    if settings.task == "sr4":
        return msg("bicubic ×{scale}", scale=tl.SCALE)
    if settings.task == "denoise":
        return msg("noisy, σ {noise:g}", noise=settings.noise)
    return msg("blurred, σ {blur:g} px", blur=settings.blur)


def input_name(settings: tl.TrainSettings) -> Text:
    """The held-out input as a caption names it: "input (bicubic ×4)" (its English text is its
    picture's name)."""
    return msg("input ({label})", label=input_label(settings))


def network_name(loss: str) -> Text:
    """The network trained with ``loss``, e.g. "mse network" (its English text is its picture's name)."""
    return msg("{loss} network", loss=loss)


def what(settings: tl.TrainSettings) -> Text:
    """One line naming the experiment (``settings`` resolved)."""
    label = input_label(settings)
    task = {
        "sr4": msg("×{scale} super-resolution ({input})", scale=tl.SCALE, input=label),
        "denoise": msg("Denoising ({input})", input=label),
        "deblur": msg("Deblurring ({input})", input=label),
    }
    return Joined(
        (
            task[settings.task],
            Joined(settings.losses, " vs "),
            msg(
                "{steps} steps of {batch} × {patch}-px patches",
                steps=settings.steps,
                batch=settings.batch,
                patch=settings.patch,
            ),
            msg("seed {seed}", seed=settings.seed),
        )
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


def loss_chart(curves: Curves, title: Text | None = None) -> Image.Image:
    """Each network's training loss against the step, one line per loss, on a log axis."""
    series = {n: [(float(p["step"]), float(p["loss"])) for p in pts] for n, pts in curves.items()}
    return line_chart(
        series,
        title=title or msg("Training loss (log scale)"),
        xlabel=msg("step"),
        ylabel=msg("loss"),
        log=True,
        size=(380, 280),
    )


def scores_table(
    scores: dict[str, dict[str, float | None]],
    final: dict[str, float | None],
    label: Text,
    dists: bool = False,
) -> Table:
    """One row per image: the degraded input (the baseline), then each network's output (with a
    DISTS column when ``dists``: :data:`REFERENCE_COLUMNS`)."""
    rows = []
    for name, sc in scores.items():
        title = msg("input ({label})", label=label) if name == "input" else network_name(name)
        metrics = [sc["mse"], sc["psnr"], sc["ssim"], sc["lpips"], *([sc.get("dists")] if dists else [])]
        rows.append([title, *metrics, final.get(name)])
    return Table(list(REFERENCE_COLUMNS if dists else TABLE_COLUMNS), rows)


def _scores_line(sc: dict[str, float | None] | None) -> str:
    """PSNR and LPIPS of one output, e.g. "PSNR 28.41 · LPIPS 0.153" (the same in every language)."""
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
    label: Text,
    scores: dict[str, dict[str, float | None]] | None = None,
) -> tuple[Image.Image, tuple[int, int, int]]:
    """The same square (:func:`zoom_box`) of the input, the truth and every output, enlarged,
    each titled; with ``scores`` (name → {"psnr", "lpips", …}; "input" for the input) the
    titles carry them. Returns the strip and the box (top, left, side)."""
    box = zoom_box(truth)
    sc = scores or {}
    first = joined(label, _scores_line(sc.get("input")), sep="\n")
    tiles = [
        chrome.titled(_crop(x, box), msg("input"), first),
        chrome.titled(_crop(truth, box), msg("ground truth"), msg("the original")),
    ]
    tiles += [chrome.titled(_crop(o, box), n, _scores_line(sc.get(n))) for n, o in outputs.items()]
    return _bottom_aligned(tiles), box


def _info(settings: tl.TrainSettings, last: tl.TrainStep, reason: Text, trained: bool, note: Text) -> Text:
    """What was trained, how far and how long (Markdown); ``note`` follows the experiment's name."""
    if reason:
        ran = msg(
            "stopped at step {step} of {steps} ({why})", step=last.step, steps=settings.steps, why=reason
        )
    else:
        ran = msg_n("{n} step", "{n} steps", last.step)
    done = msg(
        "{ran} in {seconds:.1f} s. Every network started from the same weights and saw the same "
        "patches; only the loss differs.",
        ran=ran,
        seconds=last.seconds,
    )
    head = Joined((joined(what(settings), note, sep=" "), done), " — ")
    return Joined((head, *([] if trained else [UNTRAINED_NOTE])), "\n\n")


@dataclass(frozen=True)
class TrainFigure(Figure):
    """The held-out input, its truth, every network's output, the zoomed crops and the loss
    curves. ``what``: the experiment in one line; ``info``: the run (Markdown); ``table``: the
    scores; ``seconds``: how long it trained."""

    what: Text
    info: Text
    table: Table
    seconds: float
    kind = "train"


def _final_losses(settings: tl.TrainSettings, last: tl.TrainStep) -> dict[str, float | None]:
    """Each network's last reported training loss (None before its first step)."""
    return {n: (last.losses.get(n) if last.step else None) for n in settings.losses}


def _record(
    model: VGGFeatures,
    settings: tl.TrainSettings,
    last: tl.TrainStep,
    curves: Curves,
    scores: dict[str, dict[str, float | None]],
    truth_hw: list[int],
    box: tuple[int, int, int],
    reason: str,
) -> dict[str, Any]:
    """The export's record: settings, weights, network, each run's scores and curve (English)."""
    final = _final_losses(settings, last)
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
        "eval": {"size_hw": truth_hw, "input": {k: scores["input"][k] for k in SCORE_KEYS}},
        "zoom": {"top": box[0], "left": box[1], "side": box[2]},
        "runs": runs,
    }
    if not model.status.trained:
        record["note"] = str(UNTRAINED_NOTE).replace("⚠️ **Untrained weights:**", "UNTRAINED VGG weights:")
    return record


def figure(
    model: VGGFeatures,
    eval_image: torch.Tensor,
    settings: tl.TrainSettings,
    last: tl.TrainStep,
    curves: Curves,
    stopped: Text | None = None,
    scores: dict[str, dict[str, float | None]] | None = None,
    note: Text = "",
) -> TrainFigure:
    """The held-out input, its ground truth and every network's output, a zoomed crop of each,
    the loss curves, and the scores (one VGG pass: :func:`~perceptual_viz.lessons.train.evaluate`,
    unless ``scores`` already holds them for "input" and every loss).

    ``stopped`` overrides the run's own reason for stopping early (e.g. "stopped by you"; the
    record keeps it in English); ``note`` is said after the experiment's name in the info.
    """
    why: Text = (stopped or rc.stopped_text(last.stopped)) if last.stopped else ""
    x, truth = tl.eval_pair(eval_image, settings)
    if scores is None:
        scores = tl.evaluate(model, {"input": x, **last.outputs}, truth)
    label = input_label(settings)
    strip, box = zoom_strip(x, truth, last.outputs, label, scores)
    record = _record(model, settings, last, curves, scores, list(truth.shape[-2:]), box, str(why))
    pictures = {
        str(input_name(settings)): to_pil(x),
        "ground truth": to_pil(truth),
        **{str(network_name(n)): to_pil(o) for n, o in last.outputs.items()},
        "zoomed crops": strip,
        "loss curves": loss_chart(curves),
    }
    return TrainFigure(
        pictures,
        record,
        what=what(settings),
        info=_info(settings, last, why, model.status.trained, note),
        table=scores_table(scores, _final_losses(settings, last), label),
        seconds=last.seconds,
    )


def run_to_end(
    model: VGGFeatures,
    train_images: Sequence[torch.Tensor],
    eval_image: torch.Tensor,
    settings: tl.TrainSettings,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[tl.TrainStep], None] | None = None,
) -> TrainFigure:
    """:func:`run` to its end, then :func:`figure` (for front ends that do not stream)."""
    last, curves = None, {}
    for st, so_far in run(model, train_images, eval_image, settings, should_stop=should_stop):
        last, curves = st, so_far
        if progress is not None:
            progress(st)
    assert last is not None
    return figure(model, eval_image, settings, last, curves)


# --------------------------------------------------------------------------- trained ahead

REFERENCE_UNTRAINED_NOTE = msg(
    "⚠️ **Untrained weights:** the networks were trained ahead with ImageNet VGG16, so their "
    "pictures and PSNR are theirs; LPIPS and DISTS, though, are computed on a *random* VGG here "
    "and mean nothing. Load ImageNet weights to see the lesson."
)


def _best(scores: dict[str, dict[str, float | None]], key: str, lowest: bool) -> tuple[str, float] | None:
    """The network (not the input) with the best score ``key``, and that score."""
    have = {n: v for n, s in scores.items() if n != "input" and (v := s.get(key)) is not None}
    if not have:
        return None
    name = (min if lowest else max)(have, key=lambda n: have[n])
    return name, have[name]


def verdict(scores: dict[str, dict[str, float | None]]) -> Text:
    """Which network has the best PSNR, LPIPS and DISTS (where scored), with the numbers, e.g.
    "best PSNR: mse network (27.31 dB) · best LPIPS: perceptual+mse network (0.152)"."""
    parts: list[Text] = []
    psnr = _best(scores, "psnr", lowest=False)
    if psnr:
        parts.append(msg("best PSNR: {net} ({value:.2f} dB)", net=network_name(psnr[0]), value=psnr[1]))
    lpips = _best(scores, "lpips", lowest=True)
    if lpips:
        parts.append(msg("best LPIPS: {net} ({value:.3f})", net=network_name(lpips[0]), value=lpips[1]))
    dists = _best(scores, "dists", lowest=True)
    if dists:
        parts.append(msg("best DISTS: {net} ({value:.3f})", net=network_name(dists[0]), value=dists[1]))
    return Joined(tuple(parts))


def trained_ahead(task: str) -> Text:
    """How the reference networks of ``task`` were made, in two sentences (from their record)."""
    made = rf.provenance().get("tasks", {}).get(task, {})
    s = made.get("settings", {})
    return msg(
        "**Trained ahead:** the same networks, trained for {steps} steps of {batch} × {patch}-px "
        "patches on {photos} openly licensed images (photos and drawn “dead leaves”) that are not "
        "among the bundled photos (so every bundled photo is held out for them). Their VGG loss "
        "compares {layers}.",
        steps=s.get("steps", 0),
        batch=s.get("batch", 0),
        patch=s.get("patch", 0),
        photos=len(rf.provenance().get("data", {}).get("photos", [])),
        layers=", ".join(s.get("layers") or tl.DEFAULT_LAYERS),
    )


@dataclass(frozen=True)
class ReferenceFigure(Figure):
    """The reference networks of one task on one held-out image: the input, its truth, every
    network's output, the zoomed crops. ``info``: how they were trained and which network won
    what here (Markdown); ``table``: the scores (with each network's final training loss)."""

    what: Text
    info: Text
    table: Table
    kind = "train-reference"


def _reference_record(model: VGGFeatures, run: rf.ReferenceRun, box: tuple[int, int, int]) -> dict[str, Any]:
    made = rf.provenance()
    task = str(run.settings.task)
    return {
        "task": task,
        "reference": {k: v for k, v in made.get("tasks", {}).get(task, {}).items() if k != "eval"},
        "training_photos": made.get("data", {}),
        "vgg_used_in_training": made.get("vgg", {}),
        "eval_settings": {"eval_size": run.settings.eval_size, "seed": run.settings.seed},
        "weights": model.status.as_dict(),
        "eval": {
            "size_hw": list(run.truth.shape[-2:]),
            "input": run.scores["input"],
            "runs": {n: sc for n, sc in run.scores.items() if n != "input"},
        },
        "zoom": {"top": box[0], "left": box[1], "side": box[2]},
    }


def reference_figure(
    model: VGGFeatures, task: str, eval_image: torch.Tensor, seed: int = 0
) -> ReferenceFigure:
    """``task``'s reference networks (:mod:`perceptual_viz.lessons.reference`) on the held-out
    ``eval_image``: pictures, zoomed crops, scores (one VGG pass), and the verdict."""
    run = rf.run(model, task, eval_image, seed=seed)
    label = input_label(run.settings)
    strip, box = zoom_strip(run.x, run.truth, run.outputs, label, run.scores)
    final = rf.provenance()["tasks"][task].get("final_loss", {})
    info: list[Text] = [trained_ahead(task), verdict(run.scores)]
    if not model.status.trained:
        info.append(REFERENCE_UNTRAINED_NOTE)
    pictures = {
        str(input_name(run.settings)): to_pil(run.x),
        "ground truth": to_pil(run.truth),
        **{str(network_name(n)): to_pil(o) for n, o in run.outputs.items()},
        "zoomed crops": strip,
    }
    return ReferenceFigure(
        pictures,
        _reference_record(model, run, box),
        what=what(rf.trained_settings(task)),
        info=Joined(tuple(info), "\n\n"),
        table=scores_table(run.scores, final, label, dists=True),
    )
