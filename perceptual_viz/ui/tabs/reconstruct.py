"""The "What does a layer keep?" tab (a long job): feature inversion or texture synthesis, streamed.

Public endpoint: ``/reconstruct`` (streams the picture, the loss curve, the info; the runs so
far and the export zip at the end).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

from ...figures import reconstruct as fr
from ...images import load_image, to_pil
from ...layers import layers as all_layers
from ...lessons import reconstruct as rc
from .. import text
from ..context import AppContext, Upload, require, session_of
from ..lanes import LongJob
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared
from ..widgets import export_button, image_input, md, shown

# Shown pictures of a reconstruction are enlarged (nearest neighbour) to at least this size.
DISPLAY_PX = 320
RUNS_KEPT = 12


def display(img: Any) -> Image.Image:
    """A reconstruction enlarged with nearest neighbour, so its pixels stay honest."""
    pil = to_pil(img)
    f = max(1, math.ceil(DISPLAY_PX / max(pil.size)))
    return pil.resize((pil.width * f, pil.height * f), resample=Image.Resampling.NEAREST) if f > 1 else pil


def reconstruct(
    ctx: AppContext,
    image: Upload,
    mode: str,
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
    mode: str,
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
    target = load_image(require(image, "an image")).tensor(model.device)
    settings = rc.ReconstructSettings(
        mode=mode, layers=tuple(layers) if layers else None, steps=int(steps), size=int(px), seed=int(seed)
    ).resolved(model.arch, model.device)
    deadline = time.monotonic() + ctx.time_limit_s
    # Earlier runs of this session, minus any whose picture the cache clean-up already removed.
    runs = [(path, cap) for path, cap in (history or []) if Path(path).is_file()]
    last, curve, info = None, [], ""
    for st, so_far in fr.run(model, target, settings, should_stop=job.should_stop, deadline=deadline):
        last, curve = st, so_far
        progress(st.step / max(1, st.total), desc=f"step {st.step}/{st.total}")
        done = f"step {st.step}/{st.total} · loss {st.loss:.4g} · {st.seconds:.1f} s on {model.device}"
        info = f"{fr.what(settings)} · {done}"
        if not st.done:  # the runs row, the zip and the session's history change only at the end
            yield display(st.image), pd.DataFrame(curve), info, gr.skip(), gr.skip(), gr.skip()
    assert last is not None
    why = job.reason if last.stopped == "cancelled" and job.reason else last.stopped
    if last.stopped:
        info += f" · stopped at step {last.step} ({why})"
    fig = fr.figure(target, settings, last, curve, stopped=why or None)
    shown_files = publish(fig)
    ran = f"stopped at step {last.step}" if last.stopped else f"{last.step} steps"
    caption = f"{settings.mode} · {'+'.join(settings.layers or ())} · {ran}"
    runs = [*runs, (shown_files["reconstruction"], caption)][-RUNS_KEPT:]
    yield display(last.image), pd.DataFrame(curve), info, runs, bundle_file(fig, shown_files, model), runs


def relu_layers(arch: str) -> list[str]:
    """The layers offered for reconstruction: every ReLU (block outputs and Gatys' relu*_1)."""
    return [i.name for i in all_layers(arch) if i.name.startswith("relu")]


def stop_button(button: gr.Button, run: Any, ctx: AppContext, kind: str) -> None:
    """Stop: a running job ends at its next step and shows its result ("stopped at step n");
    a job still waiting in the queue is taken out of it."""
    queued = gr.State(0)

    def stop(n: int, request: gr.Request) -> Any:
        if ctx.lanes.stop(session_of(request), kind):
            return gr.skip()
        return (n or 0) + 1  # nothing running: cancel the queued event (the change below)

    button.click(stop, [queued], [queued], **PRIVATE)
    queued.change(None, None, None, cancels=[run], **PRIVATE)


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
            with gr.Row():
                steps = gr.Slider(
                    10, max_steps, value=defaults.steps, step=10, label="Steps", elem_id="r_steps"
                )
                px = gr.Slider(
                    32, max_px, value=defaults.size, step=16, label="Size (longest side, px)", elem_id="r_px"
                )
                seed = gr.Number(value=0, precision=0, label="Seed")
            with gr.Row():
                btn = gr.Button("Reconstruct", variant="primary", elem_id="r_btn")
                stop = gr.Button("Stop", variant="stop", elem_id="r_stop")
            md(text.RECONSTRUCT)
    return [img, mode, layers, steps, px, seed, btn, stop]


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("What does a layer keep?", id="reconstruct"):
        img, mode, layers, steps, px, seed, btn, stop = _controls(ctx, shared)
        info = gr.Markdown(elem_id="r_info")
        with gr.Row():
            out = shown("Optimised image (starts as noise)", elem_id="r_out", height=DISPLAY_PX)
            curve = gr.LinePlot(x="step", y="loss", label="Loss", height=DISPLAY_PX, y_title="loss")
        runs = gr.Gallery(
            label="Runs so far (this session)",
            columns=6,
            height=260,
            format="png",
            object_fit="contain",
            preview=False,
            elem_id="r_runs",
        )
        zipped = export_button("r_zip")
        history = gr.State([])
    arch = shared.arch
    mode.input(lambda m, a: gr.update(value=list(rc.default_layers(m, a))), [mode, arch], [layers], **PRIVATE)
    arch.change(
        lambda a: gr.update(choices=relu_layers(a), value=list(rc.default_layers("content", a))),
        [arch],
        [layers],
        **PRIVATE,
    )
    run = btn.click(
        ctx.endpoint(reconstruct, gpu_s=120),
        [img, mode, layers, steps, px, seed, arch, history],
        [out, curve, info, runs, zipped, history],
        api_name="reconstruct",
        **ctx.lanes.events("long"),
    )
    stop_button(stop, run, ctx, "reconstruction")
    shared.long_jobs[btn] = run
