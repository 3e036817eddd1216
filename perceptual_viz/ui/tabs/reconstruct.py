"""The "What does a layer keep?" tab (a long job): feature inversion or texture synthesis, streamed.

Public endpoint: ``/reconstruct`` (streams the picture, the loss curve, the info; the runs so
far and the export zip at the end).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ...archs import Arch
from ...backbone import VGGFeatures
from ...features import image_key
from ...figures import Figure
from ...figures import reconstruct as fr
from ...images import load_image, to_pil
from ...layers import layers as all_layers
from ...lessons import reconstruct as rc
from ...messages import Joined, Text, msg, word
from ...options import ReconstructMode
from .. import text
from ..context import AppContext, Upload, require, session_of
from ..lanes import REASONS, LongJob
from ..links import Entry
from ..serve import bundle_file, png_file, publish
from ..shared import PRIVATE, Shared, inputs_of
from ..showcase import FROM_SHOWCASE, Recipe, ShouldStop, sample_key
from ..widgets import export_button, figure_row, image_input, md, shown

# Shown pictures of a reconstruction are enlarged (nearest neighbour) to at least this size.
DISPLAY_PX = 320
RUNS_KEPT = 12
# Why a long job ended early, as the lanes say it, in a reader's words.


def why_stopped(job: LongJob, stopped: str) -> Text:
    """Why a run ended early ("" if it did not): the job's reason when it was cancelled (the
    person's Stop, a newer request), else the run's own ("time limit"). Its English text is what
    the record keeps."""
    if stopped == "cancelled" and job.reason:
        return REASONS.get(job.reason, job.reason)
    return rc.stopped_text(stopped)


def display(img: Any) -> Image.Image:
    """A reconstruction enlarged with nearest neighbour, so its pixels stay honest."""
    pil = img.convert("RGB") if isinstance(img, Image.Image) else to_pil(img)
    f = max(1, math.ceil(DISPLAY_PX / max(pil.size)))
    return pil.resize((pil.width * f, pil.height * f), resample=Image.Resampling.NEAREST) if f > 1 else pil


def reconstruct(
    ctx: AppContext,
    image: Upload,
    mode: ReconstructMode,
    layers: list[str],
    steps: float,
    px: float,
    seed: float,
    arch: str,
    history: list | None,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> Iterator[tuple[Any, ...]]:
    """Stream an optimisation: (picture, loss curve, info, runs so far, zip) every few steps."""
    with ctx.lanes.long_job(session_of(request), "reconstruction") as job:
        yield from _stream(ctx, image, mode, layers, steps, px, seed, arch, history, job, progress)


def _stream(
    ctx: AppContext,
    image: Upload,
    mode: ReconstructMode,
    layers: list[str],
    steps: float,
    px: float,
    seed: float,
    arch: str,
    history: list | None,
    job: LongJob,
    progress: Any,
) -> Iterator[tuple[Any, ...]]:
    model = ctx.model(arch)
    target = load_image(require(image)).tensor(model.device)
    settings = rc.ReconstructSettings(
        mode=mode, layers=tuple(layers) if layers else None, steps=int(steps), size=int(px), seed=int(seed)
    ).resolved(model.arch, model.device)
    runs = kept_runs(history)
    key, keyed = image_key(target), _keyed(settings)
    stored = ctx.showcase.get("reconstruct", model, key, keyed)
    if isinstance(stored, fr.ReconstructFigure):
        yield _final(stored, runs, model, Joined((stored.info, FROM_SHOWCASE), "\n\n"))
        return
    deadline = time.monotonic() + ctx.time_limit_s
    reports = fr.run(model, target, settings, should_stop=job.should_stop, deadline=deadline)
    last, curve, info = yield from streamed(reports, model, progress, fr.what(settings), fr.loss_chart)
    info, why = ended(job, last, info)
    fig = fr.figure(target, settings, last, curve, stopped=why, info=info)
    if not last.stopped:
        ctx.showcase.put("reconstruct", model, key, keyed, fig)
    yield _final(fig, runs, model, info)


def streamed(
    steps: Iterator[tuple[Any, list[dict[str, Any]]]],
    model: VGGFeatures,
    progress: Any,
    what: Text,
    chart: Callable[[list[dict[str, Any]]], Image.Image],
    said: Callable[[Any, list[dict[str, Any]]], Text] | None = None,
) -> Generator[tuple[Any, ...], None, tuple[Any, list[dict[str, Any]], Text]]:
    """A long optimisation's frames as it runs (picture, ``chart`` of the curve, info; the runs
    row, the zip and the history left as they are), from its ``(step, curve so far)`` reports;
    returns the last report, the curve and the info line (``what``, the step, the loss,
    ``said(step, curve)``, the time)."""
    last, curve, info = None, [], Joined(())
    for now, so_far in steps:
        last, curve = now, so_far
        step = msg("step {step}/{total}", step=now.step, total=now.total)
        progress(now.step / max(1, now.total), desc=word(step))
        took = msg("{seconds:.1f} s on {device}", seconds=now.seconds, device=str(model.device))
        extra = (said(now, curve),) if said else ()
        info = Joined((what, step, msg("loss {loss:.4g}", loss=now.loss), *extra, took))
        if not now.done:  # the runs row, the zip and the session's history change only at the end
            yield display(now.image), chart(curve), info, gr.skip(), gr.skip(), gr.skip()
    assert last is not None
    return last, curve, info


def ended(job: LongJob, last: Any, info: Text) -> tuple[Text, Text | None]:
    """The info line with why a run stopped early added, and that reason (None if it did not)."""
    why = why_stopped(job, last.stopped)
    if why:
        info = Joined((info, msg("**stopped at step {step}** ({why})", step=last.step, why=why)))
    return info, why or None


def _keyed(settings: rc.ReconstructSettings) -> dict[str, Any]:
    """Resolved settings as the showcase keys them."""
    return dataclasses.asdict(settings)


def kept_runs(history: list | None) -> list:
    """Earlier runs of this session, minus any whose picture the cache clean-up already removed."""
    return [(path, cap) for path, cap in (history or []) if Path(path).is_file()]


def final_frame(
    fig: Figure, names: tuple[str, str], caption: Text, runs: list, model: VGGFeatures, info: Text
) -> tuple[Any, ...]:
    """A long optimisation's last frame: its picture and its chart (``names`` in
    ``fig.pictures``), the info, the runs row with this run added (under ``caption``), the zip
    and the session's history."""
    shown_files = publish(fig)
    pic = display(fig.pictures[names[0]])
    # The caption sits under the picture in full (see ui/style.py), never cut off.
    runs = [*runs, (png_file(pic), caption)][-RUNS_KEPT:]
    zipped = bundle_file(fig, shown_files, model)
    return pic, fig.pictures[names[1]], info, runs, zipped, runs


def _final(fig: fr.ReconstructFigure, runs: list, model: VGGFeatures, info: Text) -> tuple[Any, ...]:
    """The last frame: picture, loss chart, info, the runs row with this run added, zip, history."""
    caption = Joined((fig.run_title, fig.run_note))
    return final_frame(fig, ("reconstruction", "loss curve"), caption, runs, model, info)


def recipes(ctx: AppContext, shared: Shared) -> list[Recipe]:
    """Each mode's default run of every sample, for the showcase."""
    out = []
    for mode in rc.RECONSTRUCT_MODES:
        settings = rc.ReconstructSettings(mode=mode).resolved(shared.arch0, shared.device)

        def compute(model: VGGFeatures, path: str, should_stop: ShouldStop, s: Any = settings) -> Figure:
            return fr.run_to_end(model, load_image(path).tensor(model.device), s, should_stop)

        out.append(Recipe("reconstruct", _keyed(settings), ctx.samples, sample_key(None), compute))
    return out


def relu_layers(arch: Arch) -> list[str]:
    """The layers offered for reconstruction: every ReLU (block outputs and Gatys' relu*_1)."""
    return [i.name for i in all_layers(arch) if i.name.startswith("relu")]


def stop_button(button: gr.Button, run: Any, ctx: AppContext, kind: str) -> None:
    """Stop: a running job ends at its next step and shows its result ("stopped at step n");
    a job still waiting in the queue is taken out of it.

    Call it inside the tab's ``with gr.Tab(...)``: it makes a ``gr.State``, and a component
    between two tabs shifts Gradio's tab numbering (a tab then draws over the next one).
    """
    queued = gr.State(0)

    def stop(n: int, request: gr.Request) -> Any:
        if ctx.lanes.stop(session_of(request), kind):
            return gr.skip()
        return (n or 0) + 1  # nothing running: cancel the queued event (the change below)

    button.click(stop, [queued], [queued], **PRIVATE)
    queued.change(None, None, None, cancels=[run], **PRIVATE)


def run_controls(
    prefix: str, top: tuple[int, int], start: tuple[int, int], button: str
) -> tuple[gr.Slider, gr.Slider, gr.Number, gr.Button, gr.Button]:
    """A long optimisation's steps, size and seed (``top``: their maxima, ``start``: the
    defaults of steps and size), then its run button and Stop: ids ``{prefix}_steps``, …"""
    with gr.Row():
        steps = gr.Slider(10, top[0], value=start[0], step=10, label="Steps", elem_id=f"{prefix}_steps")
        px = gr.Slider(
            32, top[1], value=start[1], step=16, label="Size (longest side, px)", elem_id=f"{prefix}_px"
        )
        seed = gr.Number(value=0, precision=0, label="Seed")
    with gr.Row():
        btn = gr.Button(button, variant="primary", elem_id=f"{prefix}_btn")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}_stop")
    return steps, px, seed, btn, stop


def run_outputs(prefix: str, picture: str, chart: str) -> tuple[Any, ...]:
    """What a long optimisation shows: the info line, its picture and chart side by side, the
    runs so far and the export button (ids ``{prefix}_info``, ``_out``, ``_curve``, ``_runs``,
    ``_zip``)."""
    info = gr.Markdown(elem_id=f"{prefix}_info")
    with gr.Row():
        out = shown(picture, elem_id=f"{prefix}_out")
        curve = gr.Image(label=chart, format="png", interactive=False, elem_id=f"{prefix}_curve")
    runs = figure_row("Runs so far (this session)", 6, f"{prefix}_runs", preview=False)
    return info, out, curve, runs, export_button(f"{prefix}_zip")


def _controls(ctx: AppContext, shared: Shared) -> list[Any]:
    max_steps, max_px = rc.limits(shared.device)
    defaults = rc.ReconstructSettings().resolved(shared.arch0, shared.device)
    with gr.Row():
        with gr.Column(scale=1):
            img = image_input("Image to reconstruct", elem_id="r_img")
            gr.Examples(ctx.samples, inputs=[img], label="Samples", examples_per_page=12)
        with gr.Column(scale=1):
            mode = gr.Radio(
                [("feature inversion (content)", "content"), ("texture synthesis (Gram)", "texture")],
                value="content",
                label="Match",
                elem_id="r_mode",
            )
            layers = gr.Dropdown(
                relu_layers(shared.arch0),
                value=list(defaults.layers or ()),
                multiselect=True,
                allow_custom_value=True,  # API callers may name any layer of either arch
                label="Layers (one for inversion; several for texture)",
                elem_id="r_layers",
            )
            steps, px, seed, btn, stop = run_controls(
                "r", (max_steps, max_px), (int(defaults.steps or 0), defaults.size), "Reconstruct"
            )
            md(text.RECONSTRUCT)
    return [img, mode, layers, steps, px, seed, btn, stop]


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("What does a layer keep?", id="reconstruct"):
        gr.Markdown(text.PDN_RECONSTRUCT, elem_classes=["pdn"])
        img, mode, layers, steps, px, seed, btn, stop = _controls(ctx, shared)
        one_layer = Entry(
            "reconstruct",
            "layer",
            layers,
            apply=lambda link: [link.layer] if link.layer else None,
            read=lambda v: {"layer": v[0]} if v else {},
        )
        shared.link("reconstruct", sample=img, layer=one_layer, seed=seed)
        info, out, curve, runs, zipped = run_outputs(
            "r", "Optimised image (starts as noise)", "Loss (log scale)"
        )
        history = gr.State([])
        for r in recipes(ctx, shared):
            ctx.showcase.add(r)
        arch = shared.arch
        mode.input(
            lambda m, a: gr.update(value=list(rc.default_layers(m, a))), [mode, arch], [layers], **PRIVATE
        )
        arch.change(
            lambda a: gr.update(choices=relu_layers(a), value=list(rc.default_layers("content", a))),
            [arch],
            [layers],
            **PRIVATE,
        )
        run = btn.click(
            ctx.endpoint(reconstruct, gpu_s=120),
            inputs_of(
                reconstruct,
                {
                    "image": img,
                    "mode": mode,
                    "layers": layers,
                    "steps": steps,
                    "px": px,
                    "seed": seed,
                    "arch": arch,
                    "history": history,
                },
            ),
            [out, curve, info, runs, zipped, history],
            api_name="reconstruct",
            **ctx.lanes.events("long"),
        )
        stop_button(stop, run, ctx, "reconstruction")
        shared.long_jobs[btn] = run
