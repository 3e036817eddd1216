"""The "Style transfer" tab (a long job): a content photo painted in a style photo's texture, streamed.

Public endpoint: ``/style_transfer`` (streams the picture, the loss curves, the info; the runs
so far and the export zip at the end).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from ...assets import sample
from ...backbone import VGGFeatures
from ...features import image_key
from ...figures import Figure
from ...figures import style_transfer as fst
from ...images import load_image
from ...lessons import style_transfer as st
from ...messages import Joined, Text, msg
from ...options import StyleInit
from .. import text
from ..context import AppContext, Upload, require, session_of
from ..lanes import LongJob
from ..shared import PRIVATE, Shared, inputs_of
from ..showcase import FROM_SHOWCASE, Recipe, ShouldStop
from ..widgets import image_input, md
from .reconstruct import (
    ended,
    final_frame,
    kept_runs,
    relu_layers,
    run_controls,
    run_outputs,
    stop_button,
    streamed,
)

KIND = "style transfer"
SHOWCASE = "style-transfer"
# The example pairs (content, style); their default runs are the showcase's.
PAIRS = (("chelsea.png", "brick.png"), ("astronaut.png", "coffee.png"), ("coffee.png", "chelsea.png"))


def style_transfer(
    ctx: AppContext,
    content: Upload,
    style: Upload,
    content_weight: float,
    style_weight: float,
    tv_weight: float,
    content_layer: str,
    steps: float,
    px: float,
    seed: float,
    init: StyleInit,
    arch: str,
    history: list | None,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> Iterator[tuple[Any, ...]]:
    """Stream a style transfer: (picture, loss curves, info, runs so far, zip) every few steps."""
    settings = st.StyleSettings(
        content_weight=content_weight,
        style_weight=style_weight,
        tv_weight=tv_weight,
        content_layer=content_layer or None,
        steps=int(steps),
        px=int(px),
        seed=int(seed),
        init=init,
    )
    with ctx.lanes.long_job(session_of(request), KIND) as job:
        yield from _stream(ctx, content, style, settings, arch, history, job, progress)


def _stream(
    ctx: AppContext,
    content: Upload,
    style: Upload,
    settings: st.StyleSettings,
    arch: str,
    history: list | None,
    job: LongJob,
    progress: Any,
) -> Iterator[tuple[Any, ...]]:
    model = ctx.model(arch)
    c = load_image(require(content, msg("a content photo"))).tensor(model.device)
    s = load_image(require(style, msg("a style photo"))).tensor(model.device)
    settings = settings.resolved(model.arch, model.device)
    runs, key, keyed = kept_runs(history), pair_key(c, s), _keyed(settings)
    stored = ctx.showcase.get(SHOWCASE, model, key, keyed)
    if isinstance(stored, fst.StyleTransferFigure):
        yield _final(stored, runs, model, Joined((stored.info, FROM_SHOWCASE), "\n\n"))
        return
    deadline = time.monotonic() + ctx.time_limit_s
    reports = fst.run(model, c, s, settings, should_stop=job.should_stop, deadline=deadline)
    last, curve, info = yield from streamed(
        reports, model, progress, fst.what(settings), fst.loss_chart, _said
    )
    info, why = ended(job, last, info)
    fig = fst.figure(c, s, settings, last, curve, stopped=why, info=info)
    if not last.stopped:
        ctx.showcase.put(SHOWCASE, model, key, keyed, fig)
    yield _final(fig, runs, model, info)


def _said(now: st.StyleStep, curve: list[dict[str, Any]]) -> Text:
    return fst.measured(now.distances, fst.start_distances(curve))


def pair_key(content: Any, style: Any) -> str:
    """The showcase's key of a (content, style) pair: both images' content hashes."""
    return f"{image_key(content)}+{image_key(style)}"


def _keyed(settings: st.StyleSettings) -> dict[str, Any]:
    """Resolved settings as the showcase keys them."""
    return dataclasses.asdict(settings)


def _final(fig: fst.StyleTransferFigure, runs: list, model: VGGFeatures, info: Text) -> tuple[Any, ...]:
    """The last frame: picture, loss curves, info, the runs row with this run added, zip, history."""
    caption = Joined((fig.run_title, fig.run_note))
    return final_frame(fig, ("result", "loss curves"), caption, runs, model, info)


def recipes(shared: Shared) -> list[Recipe]:
    """The default run of every example pair, for the showcase (one recipe per pair: its
    "sample" is the content photo, the style photo is part of the recipe)."""
    settings = st.StyleSettings().resolved(shared.arch0, shared.device)
    out = []
    for content, style in PAIRS:
        style_path = str(sample(style))

        def key(model: VGGFeatures, path: str, s: str = style_path) -> str:
            return pair_key(load_image(path).tensor(), load_image(s).tensor())

        def compute(model: VGGFeatures, path: str, should_stop: ShouldStop, s: str = style_path) -> Figure:
            c, t = (load_image(p).tensor(model.device) for p in (path, s))
            return fst.run_to_end(model, c, t, settings, should_stop)

        out.append(Recipe(SHOWCASE, _keyed(settings), [str(sample(content))], key, compute))
    return out


def _weights(defaults: st.StyleSettings) -> list[Any]:
    with gr.Row():
        style_w = gr.Slider(
            0, 50, value=defaults.style_weight, step=0.5, label="Style weight β", elem_id="st_beta"
        )
        content_w = gr.Slider(
            0, 10, value=defaults.content_weight, step=0.1, label="Content weight α", elem_id="st_alpha"
        )
        tv_w = gr.Slider(
            0, 50, value=defaults.tv_weight, step=1, label="Smoothness (TV) weight γ", elem_id="st_tv"
        )
    return [content_w, style_w, tv_w]


def _controls(ctx: AppContext, shared: Shared) -> dict[str, Any]:
    defaults = st.StyleSettings().resolved(shared.arch0, shared.device)
    with gr.Row():
        with gr.Column(scale=1):
            with gr.Row():
                content = image_input("Content photo", elem_id="st_content")
                style = image_input("Style photo", elem_id="st_style")
            pairs = [[str(sample(c)), str(sample(s))] for c, s in PAIRS]
            gr.Examples(pairs, inputs=[content, style], label="Sample pairs (content, style)")
        with gr.Column(scale=1):
            content_w, style_w, tv_w = _weights(defaults)
            with gr.Row():
                layer = gr.Dropdown(
                    relu_layers(shared.arch0),
                    value=defaults.content_layer,
                    allow_custom_value=True,  # API callers may name any layer of either arch
                    label="Content layer",
                    elem_id="st_layer",
                )
                init = gr.Radio(
                    [("the content photo", "content"), ("noise", "noise")],
                    value=defaults.init,
                    label="Start from",
                    elem_id="st_init",
                )
            steps, px, seed, btn, stop = run_controls(
                "st", st.limits(shared.device), (int(defaults.steps or 0), defaults.px), "Transfer the style"
            )
            md(text.STYLE_TRANSFER)
    named = {"content": content, "style": style, "content_weight": content_w, "style_weight": style_w}
    named |= {"tv_weight": tv_w, "content_layer": layer, "steps": steps, "px": px, "seed": seed, "init": init}
    return {**named, "btn": btn, "stop": stop}


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Style transfer", id="style_transfer"):
        gr.Markdown(text.PDN_STYLE_TRANSFER, elem_classes=["pdn"])
        c = _controls(ctx, shared)
        # A link's sample is the content photo, its sample_b the style photo, its layer the
        # content layer (see ..links).
        shared.link(
            "style_transfer",
            sample=c["content"],
            sample_b=c["style"],
            layer=c["content_layer"],
            seed=c["seed"],
        )
        info, out, curve, runs, zipped = run_outputs(
            "st", "Result (streamed as it forms)", "Loss terms (log scale)"
        )
        history = gr.State([])
        for r in recipes(shared):
            ctx.showcase.add(r)
        shared.arch.change(
            lambda a: gr.update(choices=relu_layers(a), value=st.CONTENT_LAYERS[a]),
            [shared.arch],
            [c["content_layer"]],
            **PRIVATE,
        )
        named = {**c, "arch": shared.arch, "history": history}
        run = c["btn"].click(
            ctx.endpoint(style_transfer, gpu_s=120),
            inputs_of(style_transfer, named),
            [out, curve, info, runs, zipped, history],
            api_name="style_transfer",
            **ctx.lanes.events("long"),
        )
        stop_button(c["stop"], run, ctx, KIND)
        shared.long_jobs[c["btn"]] = run
