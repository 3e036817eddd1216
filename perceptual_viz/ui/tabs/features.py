"""The "Feature maps" tab: shallow → deep overview, a point followed through the blocks, one
layer's channel grid, one channel enlarged, and what that channel looks for.

Public endpoints: ``/overview``, ``/feature_grid``, ``/channel``, ``/locate`` (one point through
every block), ``/top_patches`` and ``/visualize`` (long jobs: the patches that excite a channel
most, and an image optimised to excite it; the latter streams).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from ...archs import Arch
from ...figures import DEFAULT_SIZE
from ...figures import features as ff
from ...images import to_pil
from ...layers import block_outputs, layers
from ...render import COLORMAPS
from ...tables import Table
from .. import text
from ..context import AppContext, Upload, quiet_without_image
from ..serve import png_file, publish
from ..shared import PRIVATE, Shared
from ..widgets import image_input, md, shown
from . import looks_for

MAX_UPLOADS = 12  # images of this session searched for a channel's top patches
DEFAULT_K = 16  # channels a grid shows at first
DEFAULT_ALPHA = 0.6  # the enlarged channel's overlay opacity at first


def layer_choices(arch: Arch) -> list[str]:
    return [i.name for i in layers(arch)]


def frame(t: Table) -> pd.DataFrame:
    return pd.DataFrame(t.rows, columns=t.columns)


def _point(point: Any) -> tuple[int, int] | None:
    return (int(point[0]), int(point[1])) if point else None


def overview(
    ctx: AppContext, image: Upload, arch: str, size: str, cmap: str, point: Any = None
) -> tuple[Any, str, Any]:
    """The shallow → deep row (and the picture to click a point on)."""
    model, a = ctx.analysis(image, arch, size)
    fig = ff.overview(model, ctx.cache, a, size, cmap, _point(point))
    gallery = [(path, None) for path in publish(fig).values()]
    return gallery, " · ".join(a.notes), png_file(to_pil(a.array))


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
    point: Any = None,
) -> tuple[Any, ...]:
    model, a = ctx.analysis(image, arch, size)
    fig = ff.grid(model, ctx.cache, a, size, layer, k, sort, scope, cmap, _point(point))
    (picture,) = publish(fig).values()
    chans = fig.extras["channels"]
    state = {"channels": chans, "hw": list(fig.extras["fmap_hw"]), "layer": layer}
    return picture, f"**{fig.extras['caption']}**\n\n{fig.extras['strongest']}", chans[0], state


def channel(
    ctx: AppContext,
    image: Upload,
    arch: str,
    size: str,
    layer: str,
    index: float,
    cmap: str,
    alpha: float,
    point: Any = None,
) -> tuple[Any, ...]:
    model, a = ctx.analysis(image, arch, size)
    fig = ff.channel(model, ctx.cache, a, size, layer, index, cmap, float(alpha), _point(point))
    (picture,) = publish(fig).values()
    return picture, frame(fig.extras["table"]), fig.extras["stats"]


def locate(ctx: AppContext, image: Upload, arch: str, size: str, x: float, y: float) -> tuple[Any, ...]:
    """One point through every block: the picture with each block's receptive field, a table,
    and the units as JSON ({block: [row, column]})."""
    model, a = ctx.analysis(image, arch, size)
    fig = ff.locate(model, ctx.cache, a, size, x, y)
    (picture,) = publish(fig).values()
    return picture, frame(fig.extras["table"]), {"cells": fig.extras["cells"], "boxes": fig.extras["boxes"]}


def _grid_and_channel(
    ctx: AppContext,
    image: Upload,
    arch: str,
    size: str,
    layer: str,
    k: float,
    sort: str,
    scope: str,
    cmap: str,
    alpha: float,
    point: Any,
) -> tuple[Any, ...]:
    """A view change in one round trip: the grid, its strongest channel enlarged, and the grid's
    tile layout for keyboard users (an event chained on the state would cost another trip)."""
    grid_out = feature_grid(ctx, image, arch, size, layer, k, sort, scope, cmap, point)
    shown = channel(ctx, image, arch, size, layer, grid_out[2], cmap, alpha, point)
    return (*grid_out, *shown, grid_keys(grid_out[3]))


def _clicked(
    ctx: AppContext,
    image: Upload,
    arch: str,
    size: str,
    cmap: str,
    layer: str,
    k: float,
    sort: str,
    scope: str,
    alpha: float,
    index: float,
    evt: gr.SelectData,
) -> tuple[Any, ...]:
    """A click on the picture: follow that point through the blocks, mark it on every map."""
    x, y = evt.index
    point = [int(x), int(y)]
    located = locate(ctx, image, arch, size, x, y)
    gallery, _notes, _plain = overview(ctx, image, arch, size, cmap, point)
    grid_out = feature_grid(ctx, image, arch, size, layer, k, sort, scope, cmap, point)
    detail = channel(ctx, image, arch, size, layer, index, cmap, alpha, point)
    return (point, located[0], located[1], gallery, grid_out[0], grid_out[3], detail[0], detail[1])


def _channel_from_click(state: dict | None, evt: gr.SelectData) -> Any:
    if not state:
        raise gr.Error("show a layer first", print_exception=False)
    x, y = evt.index
    ch = ff.channel_at_click(state["channels"], tuple(state["hw"]), x, y)
    return gr.skip() if ch is None else ch


def grid_keys(state: dict | None) -> str:
    """The grid's tile layout as a hidden element, for keyboard users (see :mod:`..a11y`)."""
    if not state:
        return ""
    spec = ff.tile_layout(state["channels"], tuple(state["hw"]))
    return f"<div data-grid='{json.dumps({**spec, 'layer': state['layer']})}'></div>"


def _remember_upload(path: Upload, uploads: list | None) -> list:
    """This session's own images, searched with the samples for a channel's top patches."""
    kept = [p for p in (uploads or []) if p != path]
    return ([*kept, path] if path else kept)[-MAX_UPLOADS:]


@dataclass
class UI:
    img: gr.Image
    notes: gr.Markdown
    point_pic: gr.Image
    point_table: gr.Dataframe
    over: gr.Gallery
    layer: gr.Dropdown
    k: gr.Slider
    sort: gr.Radio
    scope: gr.Radio
    caption: gr.Markdown
    grid: gr.Image
    channel: gr.Number
    alpha: gr.Slider
    detail: gr.Image
    stats: gr.Dataframe
    stats_json: gr.JSON
    state: gr.State
    point: gr.State
    uploads: gr.State
    keys: gr.HTML  # the grid's tile layout, for keyboard users


def _top(ctx: AppContext) -> tuple[gr.Image, gr.Markdown, gr.Image, gr.Dataframe]:
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            img = image_input("Image", elem_id="f_img")
            gr.Examples(
                ctx.samples, inputs=[img], label="Samples: photos and test patterns", examples_per_page=12
            )
            notes = gr.Markdown()
        with gr.Column(scale=1, min_width=280):
            point_pic = shown("Click a point: follow it through the blocks", elem_id="f_point")
            point_table = gr.Dataframe(
                value=pd.DataFrame(columns=list(ff.LOCATE_COLUMNS)),
                headers=list(ff.LOCATE_COLUMNS),
                label="That point in each block (click the picture above)",
                interactive=False,
                wrap=True,
                elem_id="f_point_table",
            )
    return img, notes, point_pic, point_table


def _layout(ctx: AppContext, shared: Shared) -> UI:
    outs = list(block_outputs(shared.arch0))
    gr.Markdown(text.PDN_FEATURES, elem_classes=["pdn"])
    img, notes, point_pic, point_table = _top(ctx)
    gr.Markdown("## Shallow → deep: the strongest channels of each block")
    over = gr.Gallery(
        label="Block outputs",
        show_label=False,
        columns=5,
        height="auto",
        format="png",
        elem_id="overview",
        elem_classes=["figure-row"],
        object_fit="contain",
    )
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            # allow_custom_value: API callers may name any layer of either architecture
            layer = gr.Dropdown(
                layer_choices(shared.arch0),
                value=outs[2],
                label="Layer",
                elem_id="f_layer",
                allow_custom_value=True,
            )
            k = gr.Slider(*ff.K_RANGE, value=DEFAULT_K, step=1, label="Channels shown (top k)", elem_id="f_k")
            sort = gr.Radio(list(ff.SORTS), value="mean", label="Order channels by")
            scope = gr.Radio(
                list(ff.SCOPES),
                value="channel",
                label="Colour scaling: per channel or shared across the layer",
            )
            with gr.Accordion("What is a channel? Why are deep maps coarse?", open=False):
                md(text.FEATURES)
        with gr.Column(scale=2, min_width=300):
            caption = gr.Markdown(elem_id="grid_caption")
            grid = shown("Channel grid (click a tile)", elem_id="grid")
            keys = gr.HTML(elem_id="grid_keys", elem_classes=["pv-hidden"], container=False)
        with gr.Column(scale=2, min_width=300):
            with gr.Row():
                channel_no = gr.Number(value=0, precision=0, label="Channel", minimum=0, elem_id="f_channel")
                alpha = gr.Slider(0, 1, value=DEFAULT_ALPHA, step=0.05, label="Overlay opacity")
            detail = shown("Channel over the image", elem_id="detail")
            stats = gr.Dataframe(
                headers=["statistic", "value"],
                label="Statistics",
                interactive=False,
                wrap=True,
                column_widths=["40%", "60%"],
                elem_id="f_stats",
            )
            with gr.Accordion("Statistics (JSON)", open=False):
                stats_json = gr.JSON(label="Statistics (JSON)")
    return UI(
        img,
        notes,
        point_pic,
        point_table,
        over,
        layer,
        k,
        sort,
        scope,
        caption,
        grid,
        channel_no,
        alpha,
        detail,
        stats,
        stats_json,
        gr.State(),
        gr.State(None),
        gr.State([]),
        keys,
    )


def _without_lane(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("concurrency")}


def _wire_views(ctx: AppContext, shared: Shared, ui: UI) -> None:
    """The page's own events: quiet while no image is there (the public endpoints are below)."""
    quick = ctx.lanes.events("interactive")
    arch, size, cmap = shared.arch, shared.size, shared.cmap
    view_in = [ui.img, arch, size, ui.layer, ui.k, ui.sort, ui.scope, cmap, ui.alpha, ui.point]
    view_out = [ui.grid, ui.caption, ui.channel, ui.state, ui.detail, ui.stats, ui.stats_json, ui.keys]
    # Every sample's first look (its overview and default views) is computed once after start.
    first = [(p, shared.arch0, DEFAULT_SIZE, COLORMAPS[0]) for p in ctx.samples]
    view0 = (block_outputs(shared.arch0)[2], DEFAULT_K, "mean", "channel")
    views = ctx.endpoint(
        quiet_without_image(_grid_and_channel, len(view_out)),
        interactive=True,
        gpu_s=20,
        shared=True,
        defaults=[(p, a, s, *view0, c, DEFAULT_ALPHA, None) for p, a, s, c in first],
    )
    show_views = dict(fn=views, inputs=view_in, outputs=view_out, api_visibility="private", **quick)
    over_fn = ctx.endpoint(
        quiet_without_image(overview, 3), interactive=True, gpu_s=30, shared=True, defaults=first
    )
    over_in, over_out = [ui.img, arch, size, cmap], [ui.over, ui.notes, ui.point_pic]
    new_image = gr.on(
        [ui.img.change, size.change], lambda: (None, None), None, [ui.point, ui.point_table], **PRIVATE
    )
    new_image.then(
        over_fn,
        over_in,
        over_out,
        api_visibility="private",
        api_name="ui_image",
        trigger_mode="always_last",
        **quick,
    ).success(api_name="ui_views", **show_views)
    ui.img.upload(_remember_upload, [ui.img, ui.uploads], [ui.uploads], **PRIVATE)
    shared.loaded.success(
        lambda a: gr.update(choices=layer_choices(a), value=block_outputs(a)[2]),
        [arch],
        [ui.layer],
        **PRIVATE,
    )
    shared.loaded.success(
        over_fn, over_in, over_out, api_visibility="private", api_name="ui_overview", **quick
    ).success(api_name="ui_views_after_switch", **show_views)
    gr.on(
        [ui.layer.change, ui.k.release, ui.k.input, ui.sort.change, ui.scope.change, cmap.change],
        api_name="ui_view_change",
        trigger_mode="always_last",
        **{**_without_lane(show_views), **ctx.lanes.events("view")},
    )
    chan_fn = ctx.endpoint(quiet_without_image(channel, 3), interactive=True, gpu_s=20, shared=True)
    chan_in = [ui.img, arch, size, ui.layer, ui.channel, cmap, ui.alpha, ui.point]
    chan_out = [ui.detail, ui.stats, ui.stats_json]
    ui.state.change(grid_keys, [ui.state], [ui.keys], **PRIVATE)
    ui.grid.select(_channel_from_click, [ui.state], [ui.channel], **PRIVATE).success(
        chan_fn, chan_in, chan_out, api_visibility="private", api_name="ui_channel", **quick
    )
    gr.on(
        [ui.channel.submit, ui.alpha.release],
        chan_fn,
        chan_in,
        chan_out,
        api_visibility="private",
        api_name="ui_channel_change",
        trigger_mode="always_last",
        **quick,
    )
    _public(ctx, shared, ui)


def _public(ctx: AppContext, shared: Shared, ui: UI) -> None:
    """``/overview``, ``/feature_grid``, ``/channel`` for API callers, on hidden triggers: there an
    image is required, and a missing one is a one-sentence error."""
    quick = ctx.lanes.events("interactive")
    arch, size, cmap = shared.arch, shared.size, shared.cmap
    over = gr.Button(visible=False)
    over.click(
        ctx.endpoint(overview, interactive=True, gpu_s=30, shared=True),
        [ui.img, arch, size, cmap],
        [ui.over, ui.notes, ui.point_pic],
        api_name="overview",
        **quick,
    )
    grid = gr.Button(visible=False)
    grid.click(
        ctx.endpoint(feature_grid, interactive=True, gpu_s=20, shared=True),
        [ui.img, arch, size, ui.layer, ui.k, ui.sort, ui.scope, cmap],
        [ui.grid, ui.caption, ui.channel, ui.state],
        api_name="feature_grid",
        **quick,
    )
    chan = gr.Button(visible=False)
    chan.click(
        ctx.endpoint(channel, interactive=True, gpu_s=20, shared=True),
        [ui.img, arch, size, ui.layer, ui.channel, cmap, ui.alpha],
        [ui.detail, ui.stats, ui.stats_json],
        api_name="channel",
        **quick,
    )


def _wire_point(ctx: AppContext, shared: Shared, ui: UI) -> None:
    quick = ctx.lanes.events("interactive")
    clicked_in = [
        ui.img,
        shared.arch,
        shared.size,
        shared.cmap,
        ui.layer,
        ui.k,
        ui.sort,
        ui.scope,
        ui.alpha,
        ui.channel,
    ]
    clicked_out = [ui.point, ui.point_pic, ui.point_table, ui.over, ui.grid, ui.state, ui.detail, ui.stats]
    ui.point_pic.select(
        ctx.endpoint(_clicked, interactive=True, gpu_s=20),
        clicked_in,
        clicked_out,
        api_visibility="private",
        api_name="ui_point",
        **quick,
    )
    hidden = gr.Button(visible=False)
    x, y = gr.Number(visible=False), gr.Number(visible=False)
    locate_json = gr.JSON(visible=False)
    hidden.click(
        ctx.endpoint(locate, interactive=True, gpu_s=20, shared=True),
        [ui.img, shared.arch, shared.size, x, y],
        [ui.point_pic, ui.point_table, locate_json],
        api_name="locate",
        **quick,
    )


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events (inside the app's ``gr.Tabs``)."""
    with gr.Tab("Feature maps", id="features"):
        ui = _layout(ctx, shared)
        looks_for.build(ctx, shared, ui)
        _wire_views(ctx, shared, ui)  # inside the tab: its hidden API triggers belong to it
        _wire_point(ctx, shared, ui)
