"""What does a channel look for? Under the Feature maps tab's enlarged channel: the image patches
that excite it most (the bundled samples and this session's uploads), and an image optimised to
excite it. Both are long jobs. Public endpoints: ``/top_patches``, ``/visualize`` (streams).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ...figures import features as ff
from ...figures import visualize as fv
from ...lessons import visualize as vz
from ...messages import Joined, msg, word
from .. import text
from ..context import AppContext, session_of
from ..lanes import LongJob, progress_checkpoint
from ..serve import bundle_file, publish
from ..shared import Shared
from ..widgets import export_button, figure_row, md, shown
from .reconstruct import stop_button, why_stopped

PATCHES = 8


def top_patches(
    ctx: AppContext,
    layer: str,
    index: float,
    arch: str,
    size: str,
    uploads: list | None = None,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> tuple[Any, Any]:
    """The patches (receptive fields around local maxima) where the channel fires most, among
    the bundled photos and patterns and the images this session uploaded; plus their JSON."""
    with ctx.lanes.long_job(session_of(request), "patch search") as job:
        images = []
        for path in [*ctx.samples, *(uploads or [])]:
            if Path(path).is_file():
                model, a = ctx.analysis(path, arch, size)
                images.append((Path(path).name, a))
        fig = ff.top_patches(
            model, ctx.cache, images, size, layer, int(index), PATCHES, progress_checkpoint(job, progress)
        )
    return [(p, c) for c, p in publish(fig).items()], fig.patches


def visualize(
    ctx: AppContext,
    layer: str,
    index: float,
    steps: float,
    px: float,
    seed: float,
    arch: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> Iterator[tuple[Any, ...]]:
    """Stream a feature visualisation: (picture, info, zip; the zip at the end)."""
    with ctx.lanes.long_job(session_of(request), "visualisation") as job:
        yield from _stream(ctx, layer, index, steps, px, seed, arch, job, progress)


def _stream(
    ctx: AppContext,
    layer: str,
    index: float,
    steps: float,
    px: float,
    seed: float,
    arch: str,
    job: LongJob,
    progress: Any,
) -> Iterator[tuple[Any, ...]]:
    model = ctx.model(arch)
    settings = vz.VisualizeSettings(
        layer=layer, channel=int(index), steps=int(steps), size=int(px), seed=int(seed)
    ).resolved(model)
    deadline = time.monotonic() + ctx.time_limit_s
    last, curve, info = None, [], Joined(())
    for st, so_far in fv.run(model, settings, should_stop=job.should_stop, deadline=deadline):
        last, curve = st, so_far
        step = msg("step {step}/{total}", step=st.step, total=st.total)
        progress(st.step / max(1, st.total), desc=word(step))
        value = f"{st.activation:.4g}"
        activation = msg("mean activation {value}", value=value)
        info = Joined((fv.what(settings), step, activation, f"{st.seconds:.1f} s"))
        if not st.done:
            yield fv.display(st.image), info, gr.skip()
    assert last is not None
    why = why_stopped(job, last.stopped)
    if why:
        info = Joined((info, msg("stopped at step {step} ({why})", step=last.step, why=why)))
    if fv.never_fired(curve):
        info = Joined((info, msg("{dead}: try another channel", dead=fv.DEAD)))
    fig = fv.figure(settings, last, curve, stopped=why or None)
    shown_files = publish(fig)
    yield shown_files["visualisation"], info, bundle_file(fig, shown_files, model)


def build(ctx: AppContext, shared: Shared, ui: Any) -> None:
    """The section, under the enlarged channel; ``ui`` holds the tab's layer, channel, uploads."""
    gr.Markdown("## What does this channel look for?")
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            find = gr.Button("Find the patches that excite it most", elem_id="f_patches_btn")
            patches = figure_row("Patches that excite it most", 4, "f_patches", show_label=False)
            patches_json = gr.JSON(visible=False)
        with gr.Column(scale=2, min_width=300):
            with gr.Row():
                steps = gr.Slider(
                    20, vz.limits(shared.device)[0], value=160, step=10, label="Steps", elem_id="f_vis_steps"
                )
                px = gr.Slider(48, vz.limits(shared.device)[1], value=112, step=16, label="Size (px)")
                seed = gr.Number(value=0, precision=0, label="Seed")
            with gr.Row():
                go = gr.Button(
                    "Visualise: optimise an image to excite it", variant="primary", elem_id="f_vis_btn"
                )
                stop = gr.Button("Stop", variant="stop", elem_id="f_vis_stop")
            info = gr.Markdown(elem_id="f_vis_info")
            out = shown("Optimised image (starts as faint noise)", elem_id="f_vis_out")
            zipped = export_button("f_vis_zip")
    with gr.Accordion("How are these made?", open=False):
        md(text.LOOKS_FOR)
    long = ctx.lanes.events("long")
    run = find.click(
        ctx.endpoint(top_patches, gpu_s=60),
        [ui.layer, ui.channel, shared.arch, shared.size, ui.uploads],
        [patches, patches_json],
        api_name="top_patches",
        **long,
    )
    shared.long_jobs[find] = run
    vis = go.click(
        ctx.endpoint(visualize, gpu_s=120),
        [ui.layer, ui.channel, steps, px, seed, shared.arch],
        [out, info, zipped],
        api_name="visualize",
        **long,
    )
    stop_button(stop, vis, ctx, "visualisation")
    shared.long_jobs[go] = vis
