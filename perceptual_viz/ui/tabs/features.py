"""The "Feature maps" tab: shallow → deep overview, a point followed through the blocks, one
layer's channel grid, one channel enlarged, and what that channel looks for.

Public endpoints: ``/overview``, ``/feature_grid``, ``/channel``, ``/locate`` (one point through
every block), ``/top_patches`` and ``/visualize`` (long jobs: the patches that excite a channel
most, and an image optimised to excite it; the latter streams).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from ...archs import Arch
from ...figures import DEFAULT_SIZE
from ...figures import features as ff
from ...figures import unit as fu
from ...images import to_pil
from ...layers import block_outputs, layers
from ...messages import N_, Joined, Text, english, msg
from ...render import COLORMAPS
from ...tables import Table
from .. import text
from ..context import AppContext, Upload, quiet_without_image
from ..errors import shown_error
from ..links import Entry
from ..serve import png_file, publish
from ..shared import PRIVATE, Shared, inputs_of, outputs_of
from ..widgets import figure_row, image_input, md, shown
from . import camera, looks_for

MAX_UPLOADS = 12  # images of this session searched for a channel's top patches
DEFAULT_K = 16  # channels a grid shows at first
DEFAULT_ALPHA = 0.6  # the enlarged channel's overlay opacity at first


def layer_choices(arch: Arch) -> list[str]:
    return [i.name for i in layers(arch)]


def frame(t: Table) -> pd.DataFrame:
    """A table for a ``gr.Dataframe``: its words stay messages until they are worded for the reader."""
    return pd.DataFrame(t.rows, columns=pd.Index(t.columns, dtype=object))


def _point(point: Any) -> tuple[int, int] | None:
    return (int(point[0]), int(point[1])) if point else None


class Overview(NamedTuple):
    """What ``/overview`` answers: the shallow → deep row, notes on the image, the picture to
    click a point on."""

    gallery: Any
    notes: Text
    point_picture: str


class Grid(NamedTuple):
    """What ``/feature_grid`` answers: the grid, its caption, its first channel, the click state."""

    grid: str
    caption: Text
    channel: int
    state: dict[str, Any]


class Channel(NamedTuple):
    """What ``/channel`` answers: the channel over the image, its statistics (a table and JSON)."""

    detail: str
    stats: pd.DataFrame
    stats_json: dict[str, object]


class Located(NamedTuple):
    """What ``/locate`` answers: the receptive fields drawn, a row per block, the units as JSON."""

    point_picture: str
    point_table: pd.DataFrame
    units: dict[str, Any]


class Views(NamedTuple):
    """A view change: the grid, its strongest channel enlarged, the tile layout for keyboards."""

    grid: str
    caption: Text
    channel: int
    state: dict[str, Any]
    detail: str
    stats: pd.DataFrame
    stats_json: dict[str, object]
    keys: str


class Unit(NamedTuple):
    """What ``/unit`` answers: the arithmetic of one unit, drawn and in words, and as JSON."""

    unit_picture: str
    unit_text: Text
    unit_json: dict[str, Any]


class Clicked(NamedTuple):
    """A point clicked: it, where it goes in each block, and every map redrawn with it marked."""

    point: list[int]
    point_picture: str
    point_table: pd.DataFrame
    gallery: Any
    grid: str
    state: dict[str, Any]
    detail: str
    stats: pd.DataFrame


def overview(ctx: AppContext, image: Upload, arch: str, size: str, cmap: str, point: Any = None) -> Overview:
    """The shallow → deep row (and the picture to click a point on)."""
    model, a = ctx.analysis(image, arch, size)
    fig = ff.overview(model, ctx.cache, a, size, cmap, _point(point))
    gallery = [(path, None) for path in publish(fig).values()]
    return Overview(gallery, Joined(tuple(fig.notes)), png_file(to_pil(a.array)))


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
) -> Grid:
    """The top-k channels of a layer as one picture (click a tile to enlarge it)."""
    model, a = ctx.analysis(image, arch, size)
    fig = ff.grid(model, ctx.cache, a, size, layer, int(k), sort, scope, cmap, _point(point))
    (picture,) = publish(fig).values()
    state = {"channels": fig.channels, "hw": list(fig.fmap_hw), "layer": layer}
    caption = Joined((Joined(("**", fig.caption, "**"), ""), fig.strongest), "\n\n")
    return Grid(picture, caption, fig.channels[0], state)


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
) -> Channel:
    """One channel enlarged over the image, with its statistics."""
    model, a = ctx.analysis(image, arch, size)
    fig = ff.channel(model, ctx.cache, a, size, layer, int(index), cmap, float(alpha), _point(point))
    (picture,) = publish(fig).values()
    return Channel(picture, frame(fig.table), fig.stats)


def locate(ctx: AppContext, image: Upload, arch: str, size: str, x: float, y: float) -> Located:
    """One point through every block: the picture with each block's receptive field, a table,
    and the units as JSON ({block: [row, column]})."""
    model, a = ctx.analysis(image, arch, size)
    fig = ff.locate(model, ctx.cache, a, size, int(x), int(y))
    (picture,) = publish(fig).values()
    return Located(picture, frame(fig.table), {"cells": fig.cells, "boxes": fig.boxes})


def unit(
    ctx: AppContext, image: Upload, arch: str, size: str, layer: str, index: float, x: float, y: float
) -> Unit:
    """How one number of a channel is made: the unit of ``layer``'s channel ``index`` that sees
    pixel (x, y), as the sum of its input channels' 3×3 patches times the kernel, plus the bias."""
    model, a = ctx.analysis(image, arch, size)
    fig = fu.unit_figure(model, ctx.cache, a, size, layer, int(index), int(x), int(y))
    (picture,) = publish(fig).values()
    return Unit(picture, fig.said, english(fig.record["unit"]))


def _unit_clicked(
    ctx: AppContext, image: Upload, arch: str, size: str, layer: str, index: float, evt: gr.SelectData
) -> Unit:
    """A click on the enlarged channel: the arithmetic of the unit there."""
    x, y = evt.index
    return unit(ctx, image, arch, size, layer, index, x, y)


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
) -> Views:
    """A view change in one round trip: the grid, its strongest channel enlarged, and the grid's
    tile layout for keyboard users (an event chained on the state would cost another trip)."""
    g = feature_grid(ctx, image, arch, size, layer, k, sort, scope, cmap, point)
    c = channel(ctx, image, arch, size, layer, g.channel, cmap, alpha, point)
    return Views(*g, *c, grid_keys(g.state))


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
) -> Clicked:
    """A click on the picture: follow that point through the blocks, mark it on every map."""
    x, y = evt.index
    return _at_point(ctx, image, arch, size, cmap, layer, k, sort, scope, alpha, index, int(x), int(y))


def _at_point(
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
    x: int,
    y: int,
) -> Clicked:
    """Point (x, y) followed through the blocks and marked on every map."""
    point = [x, y]
    located = locate(ctx, image, arch, size, x, y)
    over = overview(ctx, image, arch, size, cmap, point)
    g = feature_grid(ctx, image, arch, size, layer, k, sort, scope, cmap, point)
    c = channel(ctx, image, arch, size, layer, index, cmap, alpha, point)
    return Clicked(
        point, located.point_picture, located.point_table, over.gallery, g.grid, g.state, c.detail, c.stats
    )


class Followed(NamedTuple):
    """What a link's channel and point make of the view once its picture is drawn."""

    point: Any
    point_picture: Any
    point_table: Any
    gallery: Any
    grid: Any
    state: Any
    channel: Any
    detail: Any
    stats: Any
    stats_json: Any
    link_state: Any


def _follow_link(
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
    link_state: dict[str, int] | None,
) -> Followed:
    """After a link's view is drawn: its channel enlarged, its point followed (once: the link's
    wishes are then forgotten, and the page is the student's). Nothing when the link asked for
    neither."""
    if not link_state or not image:
        return Followed(*(gr.skip() for _ in Followed._fields))
    index = link_state.get("channel")
    if index is None:
        index = feature_grid(ctx, image, arch, size, layer, k, sort, scope, cmap).channel
    c = channel(ctx, image, arch, size, layer, index, cmap, alpha)
    if "x" in link_state and "y" in link_state:
        p = _at_point(
            ctx,
            image,
            arch,
            size,
            cmap,
            layer,
            k,
            sort,
            scope,
            alpha,
            index,
            link_state["x"],
            link_state["y"],
        )
        return Followed(
            p.point,
            p.point_picture,
            p.point_table,
            p.gallery,
            p.grid,
            p.state,
            index,
            p.detail,
            p.stats,
            c.stats_json,
            None,
        )
    skip = gr.skip()
    return Followed(skip, skip, skip, skip, skip, skip, index, c.detail, c.stats, c.stats_json, None)


def _channel_from_click(state: dict | None, evt: gr.SelectData) -> Any:
    if not state:
        raise shown_error(msg("show a layer first"))
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
    """The tab's components, named as the endpoints' parameters and answers name them."""

    image: gr.Image
    notes: gr.Markdown
    point_picture: gr.Image
    point_table: gr.Dataframe
    gallery: gr.Gallery
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
    unit_picture: gr.Image  # how one number of the enlarged channel is made
    unit_text: gr.Markdown
    unit_json: gr.JSON

    def named(self, shared: Shared) -> dict[str, Any]:
        """Every component by the name parameters and answers use (the page-wide ones too)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**fields, **shared.named(), "index": self.channel}


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
                value=pd.DataFrame(columns=[str(c) for c in ff.LOCATE_COLUMNS]),
                headers=[str(c) for c in ff.LOCATE_COLUMNS],
                label="That point in each block (click the picture above)",
                interactive=False,
                wrap=True,
                elem_id="f_point_table",
            )
    return img, notes, point_pic, point_table


def _grid_controls(shared: Shared, layer0: str) -> tuple[gr.Dropdown, gr.Slider, gr.Radio, gr.Radio]:
    """Which layer, how many channels, in which order, on which colour scale."""
    # allow_custom_value: API callers may name any layer of either architecture
    layer = gr.Dropdown(
        layer_choices(shared.arch0), value=layer0, label="Layer", elem_id="f_layer", allow_custom_value=True
    )
    k = gr.Slider(*ff.K_RANGE, value=DEFAULT_K, step=1, label="Channels shown (top k)", elem_id="f_k")
    sort = gr.Radio(
        [(N_("by mean"), "mean"), (N_("by max"), "max"), (N_("by channel number"), "index")],
        value="mean",
        label="Order channels by",
    )
    scope = gr.Radio(
        [(N_("each channel its own"), "channel"), (N_("one for the layer"), "layer")],
        value="channel",
        label="Colour scaling: per channel or shared across the layer",
    )
    with gr.Accordion("What is a channel? Why are deep maps coarse?", open=False):
        md(text.FEATURES)
    return layer, k, sort, scope


def _detail_column() -> tuple[gr.Number, gr.Slider, gr.Image, gr.Dataframe, gr.JSON]:
    """The chosen channel enlarged over the image, and its statistics."""
    with gr.Row():
        channel_no = gr.Number(value=0, precision=0, label="Channel", minimum=0, elem_id="f_channel")
        alpha = gr.Slider(0, 1, value=DEFAULT_ALPHA, step=0.05, label="Overlay opacity")
    detail = shown("Channel over the image (click it: how a number is made)", elem_id="detail")
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
    return channel_no, alpha, detail, stats, stats_json


def _layout(ctx: AppContext, shared: Shared) -> UI:
    outs = list(block_outputs(shared.arch0))
    gr.Markdown(text.PDN_FEATURES, elem_classes=["pdn"])
    img, notes, point_pic, point_table = _top(ctx)
    gr.Markdown("## Shallow → deep: the strongest channels of each block")
    over = figure_row("Block outputs", 5, "overview", show_label=False)
    with gr.Row():
        with gr.Column(scale=1, min_width=240):
            layer, k, sort, scope = _grid_controls(shared, outs[2])
        with gr.Column(scale=2, min_width=300):
            caption = gr.Markdown(elem_id="grid_caption")
            grid = shown("Channel grid (click a tile)", elem_id="grid")
            keys = gr.HTML(elem_id="grid_keys", elem_classes=["pv-hidden"], container=False)
        with gr.Column(scale=2, min_width=300):
            channel_no, alpha, detail, stats, stats_json = _detail_column()
    unit_picture, unit_text, unit_json = _unit_view()
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
        unit_picture,
        unit_text,
        unit_json,
    )


def _unit_view() -> tuple[gr.Image, gr.Markdown, gr.JSON]:
    """Where one unit's arithmetic is shown (a click on the channel over the image fills it)."""
    gr.Markdown("### How one number is made", elem_id="f_unit_head")
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            picture = shown("One unit's arithmetic", elem_id="f_unit")
        with gr.Column(scale=2, min_width=280):
            gr.Markdown(
                "Click a point of the channel over the image: its unit is the bias plus, for every "
                "input channel, a 3×3 patch of that channel times the kernel. The picture shows the "
                "channels that add the most, and every number adds up to the value of the map."
            )
            said = gr.Markdown(elem_id="f_unit_text")
    return picture, said, gr.JSON(visible=False)


def _without_lane(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("concurrency")}


def _wire_link(ctx: AppContext, shared: Shared, ui: UI, viewed: Any) -> None:
    """Once a link's image is drawn, its channel and point (they need the drawn view)."""
    followed = {**ui.named(shared), "link_state": shared.link_state}
    viewed.success(
        ctx.endpoint(_follow_link, interactive=True, gpu_s=20),
        inputs_of(_follow_link, followed),
        outputs_of(Followed, followed),
        api_visibility="private",
        api_name="ui_link",
        **ctx.lanes.events("interactive"),
    )


def _wire_views(ctx: AppContext, shared: Shared, ui: UI) -> None:
    """The page's own events: quiet while no image is there (the public endpoints are below)."""
    quick, named = ctx.lanes.events("interactive"), ui.named(shared)
    # Every sample's first look (its overview and default views) is computed once after start.
    first = [(p, shared.arch0, DEFAULT_SIZE, COLORMAPS[0]) for p in ctx.samples]
    view0 = (block_outputs(shared.arch0)[2], DEFAULT_K, "mean", "channel")
    views = ctx.endpoint(
        quiet_without_image(_grid_and_channel, len(Views._fields)),
        interactive=True,
        gpu_s=20,
        shared=True,
        defaults=[(p, a, s, *view0, c, DEFAULT_ALPHA, None) for p, a, s, c in first],
    )
    show_views = dict(
        fn=views,
        inputs=inputs_of(_grid_and_channel, named),
        outputs=outputs_of(Views, named),
        api_visibility="private",
        **quick,
    )
    over_fn = ctx.endpoint(
        quiet_without_image(overview, len(Overview._fields)),
        interactive=True,
        gpu_s=30,
        shared=True,
        defaults=first,
    )
    show_over = dict(
        fn=over_fn,
        inputs=inputs_of(overview, named, without=("point",)),
        outputs=outputs_of(Overview, named),
        api_visibility="private",
        **quick,
    )
    forget_point = dict(fn=lambda: (None, None), inputs=None, outputs=[ui.point, ui.point_table], **PRIVATE)
    new_image = gr.on([ui.image.change, shared.size.change], **forget_point)
    viewed = new_image.then(api_name="ui_image", trigger_mode="always_last", **show_over).success(
        api_name="ui_views", **show_views
    )
    _wire_link(ctx, shared, ui, viewed)
    ui.image.upload(_remember_upload, [ui.image, ui.uploads], [ui.uploads], **PRIVATE)
    shared.loaded.success(
        lambda a: gr.update(choices=layer_choices(a), value=block_outputs(a)[2]),
        [shared.arch],
        [ui.layer],
        **PRIVATE,
    )
    shared.loaded.success(api_name="ui_overview", **show_over).success(
        api_name="ui_views_after_switch", **show_views
    )
    gr.on(
        [ui.layer.change, ui.k.release, ui.k.input, ui.sort.change, ui.scope.change, shared.cmap.change],
        api_name="ui_view_change",
        trigger_mode="always_last",
        **{**_without_lane(show_views), **ctx.lanes.events("view")},
    )
    _wire_channel(ctx, shared, ui)
    _public(ctx, shared, ui)


def _wire_channel(ctx: AppContext, shared: Shared, ui: UI) -> None:
    """A tile clicked or a channel typed: that channel enlarged over the image."""
    named = ui.named(shared)
    chan_fn = ctx.endpoint(
        quiet_without_image(channel, len(Channel._fields)), interactive=True, gpu_s=20, shared=True
    )
    show = dict(
        fn=chan_fn,
        inputs=inputs_of(channel, named),
        outputs=outputs_of(Channel, named),
        api_visibility="private",
        **ctx.lanes.events("interactive"),
    )
    ui.state.change(grid_keys, [ui.state], [ui.keys], **PRIVATE)
    ui.detail.select(
        ctx.endpoint(_unit_clicked, interactive=True, gpu_s=20),
        inputs_of(_unit_clicked, named),
        outputs_of(Unit, named),
        api_visibility="private",
        api_name="ui_unit",
        **ctx.lanes.events("interactive"),
    )
    ui.grid.select(_channel_from_click, [ui.state], [ui.channel], **PRIVATE).success(
        api_name="ui_channel", **show
    )
    gr.on(
        [ui.channel.submit, ui.alpha.release],
        api_name="ui_channel_change",
        trigger_mode="always_last",
        **show,
    )


def _public(ctx: AppContext, shared: Shared, ui: UI) -> None:
    """``/overview``, ``/feature_grid``, ``/channel`` for API callers, on hidden triggers: there an
    image is required, and a missing one is a one-sentence error. Each one's inputs are its
    signature's, and its API description its docstring."""
    named = ui.named(shared)
    for fn, answer, gpu_s in ((overview, Overview, 30), (feature_grid, Grid, 20), (channel, Channel, 20)):
        gr.Button(visible=False).click(
            ctx.endpoint(fn, interactive=True, gpu_s=gpu_s, shared=True),
            inputs_of(fn, named, without=("point",)),
            outputs_of(answer, named),
            api_name=fn.__name__,
            **ctx.lanes.events("interactive"),
        )


def _wire_point(ctx: AppContext, shared: Shared, ui: UI) -> None:
    """A click on the picture follows that point; ``/locate`` does it for API callers."""
    quick, named = ctx.lanes.events("interactive"), ui.named(shared)
    ui.point_picture.select(
        ctx.endpoint(_clicked, interactive=True, gpu_s=20),
        inputs_of(_clicked, named),
        outputs_of(Clicked, named),
        api_visibility="private",
        api_name="ui_point",
        **quick,
    )
    hidden = {
        "x": gr.Number(visible=False),
        "y": gr.Number(visible=False),
        "units": gr.JSON(visible=False),
    }
    for fn, answer in ((locate, Located), (unit, Unit)):
        gr.Button(visible=False).click(
            ctx.endpoint(fn, interactive=True, gpu_s=20, shared=True),
            inputs_of(fn, {**named, **hidden}),
            outputs_of(answer, {**named, **hidden}),
            api_name=fn.__name__,
            **quick,
        )


def _link(shared: Shared, ui: UI) -> None:
    """What a link sets here (the channel and the point once the view is drawn: _follow_link)."""
    later = {
        "channel": Entry("features", "channel", ui.channel, apply=lambda link: None),
        "point": Entry(
            "features",
            "point",
            ui.point,
            apply=lambda link: None,
            read=lambda v: {"x": v[0], "y": v[1]} if v else {},
        ),
    }
    shared.link("features", sample=ui.image, layer=ui.layer, k=ui.k, sort=ui.sort, scope=ui.scope, **later)


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events (inside the app's ``gr.Tabs``)."""
    with gr.Tab("Feature maps", id="features"):
        ui = _layout(ctx, shared)
        _link(shared, ui)
        camera.build(ctx, shared)
        looks_for.build(ctx, shared, ui)
        _wire_views(ctx, shared, ui)  # inside the tab: its hidden API triggers belong to it
        _wire_point(ctx, shared, ui)
