"""The "Feature maps" tab: shallow → deep overview, one layer's channel grid, one channel enlarged.

Public endpoints: ``/overview``, ``/feature_grid``, ``/channel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ...figures import features as ff
from ...layers import block_outputs, layers
from .. import text
from ..context import AppContext, Upload
from ..serve import png_file, publish
from ..shared import PRIVATE, Shared
from ..widgets import image_input, md, shown


def layer_choices(arch: str) -> list[str]:
    return [i.name for i in layers(arch)]


def overview(ctx: AppContext, image: Upload, arch: str, size: str, cmap: str) -> tuple[Any, str]:
    model, a = ctx.analysis(image, arch, size)
    fig = ff.overview(model, ctx.cache, a, size, cmap)
    return [(path, caption) for caption, path in publish(fig).items()], " · ".join(a.notes)


def feature_grid(
    ctx: AppContext,
    image: Upload,
    arch: str,
    size: str,
    layer: str,
    k: float,
    sort: str,
    scope: str,
    cmap: str,
) -> tuple[Any, ...]:
    model, a = ctx.analysis(image, arch, size)
    fig = ff.grid(model, ctx.cache, a, size, layer, k, sort, scope, cmap)
    picture, bar = (png_file(p) for p in fig.pictures.values())
    chans = fig.extras["channels"]
    state = {"channels": chans, "hw": list(fig.extras["fmap_hw"]), "layer": layer}
    return picture, bar, fig.extras["caption"], chans[0], state


def channel(
    ctx: AppContext, image: Upload, arch: str, size: str, layer: str, index: float, cmap: str, alpha: float
) -> tuple[Any, ...]:
    model, a = ctx.analysis(image, arch, size)
    fig = ff.channel(model, ctx.cache, a, size, layer, index, cmap, float(alpha))
    picture, bar = (png_file(p) for p in fig.pictures.values())
    return picture, bar, fig.extras["stats"]


def _channel_from_click(state: dict | None, evt: gr.SelectData) -> Any:
    if not state:
        raise gr.Error("show a layer first", print_exception=False)
    x, y = evt.index
    ch = ff.channel_at_click(state["channels"], tuple(state["hw"]), x, y)
    return gr.skip() if ch is None else ch


@dataclass
class _UI:
    img: gr.Image
    over: gr.Gallery
    notes: gr.Markdown
    layer: gr.Dropdown
    k: gr.Slider
    sort: gr.Radio
    scope: gr.Radio
    caption: gr.Markdown
    grid: gr.Image
    bar: gr.Image
    channel: gr.Number
    alpha: gr.Slider
    detail: gr.Image
    dbar: gr.Image
    stats: gr.JSON
    state: gr.State


def _layout(ctx: AppContext, shared: Shared) -> _UI:
    outs = list(block_outputs(shared.arch0))
    with gr.Row():
        with gr.Column(scale=1):
            img = image_input("Image", elem_id="f_img")
            gr.Examples(
                ctx.samples, inputs=[img], label="Samples: photos and test patterns", examples_per_page=12
            )
            notes = gr.Markdown()
        with gr.Column(scale=3):
            gr.Markdown("### Shallow → deep: the strongest channels of each block")
            over = gr.Gallery(label="Block outputs", columns=5, height=200, format="png", elem_id="overview")
    with gr.Row():
        with gr.Column(scale=1):
            # allow_custom_value: API callers may name any layer of either architecture
            layer = gr.Dropdown(
                layer_choices(shared.arch0),
                value=outs[2],
                label="Layer",
                elem_id="f_layer",
                allow_custom_value=True,
            )
            k = gr.Slider(*ff.K_RANGE, value=16, step=1, label="Channels shown (top k)")
            sort = gr.Radio(list(ff.SORTS), value="mean", label="Order channels by")
            scope = gr.Radio(
                list(ff.SCOPES),
                value="channel",
                label="Colour scaling: per channel or shared across the layer",
            )
            md(text.FEATURES)
        with gr.Column(scale=2):
            caption = gr.Markdown(elem_id="grid_caption")
            grid = shown("Channel grid (click a tile)", elem_id="grid")
            bar = shown("Colour bar", height=70, show_label=False)
        with gr.Column(scale=2):
            with gr.Row():
                channel_no = gr.Number(value=0, precision=0, label="Channel", minimum=0)
                alpha = gr.Slider(0, 1, value=0.6, step=0.05, label="Overlay opacity")
            detail = shown("Channel over the image", elem_id="detail")
            dbar = shown("Colour bar", height=70, show_label=False)
            stats = gr.JSON(label="Statistics")
    return _UI(
        img,
        over,
        notes,
        layer,
        k,
        sort,
        scope,
        caption,
        grid,
        bar,
        channel_no,
        alpha,
        detail,
        dbar,
        stats,
        gr.State(),
    )


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events (inside the app's ``gr.Tabs``)."""
    with gr.Tab("Feature maps", id="features"):
        ui = _layout(ctx, shared)
    quick = ctx.lanes.events("interactive")
    arch, size, cmap = shared.arch, shared.size, shared.cmap
    grid_in = [ui.img, arch, size, ui.layer, ui.k, ui.sort, ui.scope, cmap]
    grid_out = [ui.grid, ui.bar, ui.caption, ui.channel, ui.state]
    chan_in = [ui.img, arch, size, ui.layer, ui.channel, cmap, ui.alpha]
    chan_out = [ui.detail, ui.dbar, ui.stats]
    over_fn = ctx.endpoint(overview, interactive=True, gpu_s=30)
    grid_fn = ctx.endpoint(feature_grid, interactive=True, gpu_s=20)
    chan_fn = ctx.endpoint(channel, interactive=True, gpu_s=20)
    show_channel = dict(
        fn=chan_fn, inputs=chan_in, outputs=chan_out, api_visibility="private", api_name="ui_channel", **quick
    )
    show_grid = dict(
        fn=grid_fn, inputs=grid_in, outputs=grid_out, api_visibility="private", api_name="ui_grid", **quick
    )
    over_in, over_out = [ui.img, arch, size, cmap], [ui.over, ui.notes]
    gr.on(
        [ui.img.change, size.change],
        over_fn,
        over_in,
        over_out,
        api_name="overview",
        trigger_mode="always_last",
        **quick,
    ).success(**show_grid).success(**show_channel)
    shared.loaded.success(
        lambda a: gr.update(choices=layer_choices(a), value=block_outputs(a)[2]),
        [arch],
        [ui.layer],
        **PRIVATE,
    )
    shared.loaded.success(
        over_fn, over_in, over_out, api_visibility="private", api_name="ui_overview", **quick
    ).success(**show_grid).success(**show_channel)
    gr.on(
        [ui.layer.change, ui.k.release, ui.sort.change, ui.scope.change, cmap.change],
        grid_fn,
        grid_in,
        grid_out,
        api_name="feature_grid",
        trigger_mode="always_last",
        **quick,
    ).success(**show_channel)
    ui.grid.select(_channel_from_click, [ui.state], [ui.channel], **PRIVATE).success(**show_channel)
    gr.on(
        [ui.channel.submit, ui.alpha.release],
        chan_fn,
        chan_in,
        chan_out,
        api_name="channel",
        trigger_mode="always_last",
        **quick,
    )
