"""The "Gram matrices" tab: where style lives. Public endpoints: ``/gram``, ``/gram_pair``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr

from ...figures import DEFAULT_SIZE, match_size
from ...figures import gram as fg
from ...gram import GRAM_NORMS
from ...layers import block_outputs
from ...messages import N_, Text, msg
from ...render import COLORMAPS
from .. import text
from ..context import AppContext, Upload, quiet_without_image
from ..errors import shown_error
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared, inputs_of, outputs_of
from ..widgets import export_button, figure_row, image_input, md, shown

SAMPLES_SHOWN = 6  # the samples under the two inputs
DEFAULT_NORM = "chw"
DEFAULT_TOP = 32  # channels drawn, by energy
DEFAULT_PAIR = (0, 1)  # the channel pair explained at first


class Grams(NamedTuple):
    """What ``/gram`` answers: G_A, G_B, |G_A − G_B|, the style-distance chart, the formula, the
    click state, the zip."""

    ga: str | None
    gb: str | None
    gd: str | None
    chart: str | None
    formula: Text
    state: dict[str, Any]
    zip: str


class Pair(NamedTuple):
    """What ``/gram_pair`` answers: channels i and j and their product, and the cell's value."""

    pair: list[tuple[str, None]]
    ptext: str


def gram(
    ctx: AppContext,
    image_a: Upload,
    image_b: Upload,
    arch: str,
    size: str,
    layer: str,
    norm: str,
    top: float,
    cmap: str,
    colour_scale: str = "log",
) -> Grams:
    """The Gram matrices of image A (and B, and their difference) at a layer, over A's strongest
    channels, with the style distance per layer when there are two images."""
    model, a = ctx.analysis(image_a, arch, size, msg("image A"), msg("image A"))
    b = None
    if image_b is not None:
        _, b = ctx.analysis(image_b, arch, size, msg("image B"), msg("image B"))
        b, _note = match_size(a, b, (msg("image B"), msg("image A")))
    fig = fg.matrices(model, ctx.cache, a, b, size, layer, norm, int(top), cmap, colour_scale)
    shown_files = publish(fig)
    mats: list[str | None] = [shown_files[c] for c in fig.matrices]
    mats += [None] * (3 - len(mats))
    chart = shown_files[fig.chart] if fig.chart else None
    state = {"channels": fig.channels, "scale": fig.scale, "origin": list(fig.origin)}
    formula = msg(
        "**{layer}, matrices drawn with normalisation '{norm}':** `{formula}`  \n"
        "**Style distance** (the same in every tab): {definition}.",
        layer=layer,
        norm=norm,
        formula=fig.formula,
        definition=fg.STYLE_DEFINITION,
    )
    zipped = bundle_file(fig, shown_files, model)
    return Grams(mats[0], mats[1], mats[2], chart, formula, state, zipped)


def gram_pair(
    ctx: AppContext, image: Upload, arch: str, size: str, layer: str, i: float, j: float, cmap: str
) -> Pair:
    """Channels i and j of a layer and their product: the Gram cell G_ij is its sum."""
    model, a = ctx.analysis(image, arch, size, msg("image A"))
    fig = fg.pair(model, ctx.cache, a, size, layer, int(i), int(j), cmap)
    return Pair([(p, None) for p in publish(fig).values()], fig.text)


def _pair_from_click(state: dict | None, evt: gr.SelectData) -> Any:
    if not state:
        raise shown_error(msg("compute the Gram matrix first"))
    x, y = evt.index
    cell = fg.cell_at_click(state["channels"], state["scale"], x, y, tuple(state.get("origin", (0, 0))))
    return (gr.skip(), gr.skip()) if cell is None else cell


@dataclass
class _UI:
    """The tab's components, named as the endpoints' parameters and answers name them."""

    image_a: gr.Image
    image_b: gr.Image
    layer: gr.Dropdown
    norm: gr.Radio
    top: gr.Slider
    btn: gr.Button
    formula: gr.Markdown
    ga: gr.Image
    gb: gr.Image
    gd: gr.Image
    chart: gr.Image
    i: gr.Number
    j: gr.Number
    pbtn: gr.Button
    ptext: gr.Markdown
    pair: gr.Gallery
    zip: gr.DownloadButton
    state: gr.State
    colour_scale: gr.Radio

    def named(self, shared: Shared) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {**fields, **shared.named(), "image": self.image_a}


def _scale_radio() -> gr.Radio:
    """How the matrices are coloured: one log scale, each its own, or one linear scale."""
    return gr.Radio(
        [
            (N_("log, one scale for the three"), "log"),
            (N_("log, each its own"), "log-own"),
            (N_("linear, one scale"), "linear"),
        ],
        value="log",
        label="Colour scale (log: a few bright cells do not hide the rest)",
        elem_id="g_scale",
    )


def _pair_view() -> tuple[gr.Number, gr.Number, gr.Button, gr.Markdown, gr.Gallery]:
    """One Gram cell taken apart: channels i and j and their product."""
    with gr.Row():
        i = gr.Number(value=DEFAULT_PAIR[0], precision=0, label="channel i", minimum=0)
        j = gr.Number(value=DEFAULT_PAIR[1], precision=0, label="channel j", minimum=0)
        pbtn = gr.Button("Show pair")
    ptext = gr.Markdown(elem_id="g_ptext")
    pair = figure_row("F_i, F_j and their product", 3, "g_pair")
    return i, j, pbtn, ptext, pair


def _layout(ctx: AppContext, shared: Shared) -> _UI:
    outs = list(block_outputs(shared.arch0))
    gr.Markdown(text.PDN_GRAM, elem_classes=["pdn"])
    with gr.Row():
        a = image_input("Image A", elem_id="g_a")
        b = image_input("Image B (optional: compare styles)", elem_id="g_b")
    gr.Examples([[p, None] for p in ctx.samples[:SAMPLES_SHOWN]], inputs=[a, b], label="Samples")
    with gr.Row():
        layer = gr.Dropdown(outs, value=outs[1], label="Layer", allow_custom_value=True, elem_id="g_layer")
        norm = gr.Radio(
            list(GRAM_NORMS), value=DEFAULT_NORM, label="Normalisation (raw / ÷CHW / Gatys)", elem_id="g_norm"
        )
        top = gr.Slider(
            4, fg.TOP_RANGE[1], value=DEFAULT_TOP, step=4, label="Top-N channels by energy (G_ii)"
        )
        btn = gr.Button("Compute Gram matrices", variant="primary")
    colour_scale = _scale_radio()
    formula = gr.Markdown(elem_id="g_formula")
    with gr.Row():
        ga = shown("G_A (click a cell)", elem_id="gram_a")
        gb = shown("G_B", elem_id="gram_b")
        gd = shown("|G_A − G_B|", elem_id="gram_d")
    chart = shown("Style distance per layer", elem_id="g_chart")
    i, j, pbtn, ptext, pair = _pair_view()
    with gr.Accordion("Why Gram matrices measure style", open=False):
        md(text.GRAM)
    with gr.Accordion("DISTS: texture and structure from the same features", open=False):
        md(text.GRAM_DISTS)
    zipped = export_button("g_zip")
    return _UI(
        a,
        b,
        layer,
        norm,
        top,
        btn,
        formula,
        ga,
        gb,
        gd,
        chart,
        i,
        j,
        pbtn,
        ptext,
        pair,
        zipped,
        gr.State(),
        colour_scale,
    )


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events: every control redraws the matrices at once."""
    with gr.Tab("Gram matrices", id="gram"):
        ui = _layout(ctx, shared)
        shared.link("gram", sample=ui.image_a, sample_b=ui.image_b, layer=ui.layer, norm=ui.norm)
        _wire(ctx, shared, ui)  # inside the tab: its hidden API trigger belongs to it


def _wire(ctx: AppContext, shared: Shared, ui: _UI) -> None:
    quick = ctx.lanes.events("interactive")
    arch, cmap = shared.arch, shared.cmap
    named = ui.named(shared)
    gram_in, gram_out = inputs_of(gram, named), outputs_of(Grams, named)
    # every sample's first look: alone (no image B), the layout's defaults
    first = (
        shared.arch0,
        DEFAULT_SIZE,
        block_outputs(shared.arch0)[1],
        DEFAULT_NORM,
        DEFAULT_TOP,
        COLORMAPS[0],
    )
    gr.on(
        [
            ui.btn.click,
            ui.image_a.change,
            ui.image_b.change,
            ui.layer.change,
            ui.norm.change,
            ui.colour_scale.change,
            ui.top.release,
            cmap.change,
        ],
        ctx.endpoint(
            quiet_without_image(gram, len(gram_out)),
            interactive=True,
            gpu_s=30,
            shared=True,
            defaults=[(p, None, *first) for p in ctx.samples[:SAMPLES_SHOWN]],
        ),
        gram_in,
        gram_out,
        api_visibility="private",
        api_name="ui_gram",
        trigger_mode="always_last",  # a second change during a run must not be dropped
        **quick,
    )
    api = gr.Button(visible=False)  # /gram for API callers: an image is required there
    api.click(
        ctx.endpoint(gram, interactive=True, gpu_s=30, shared=True),
        gram_in,
        gram_out,
        api_name="gram",
        **quick,
    )
    shared.loaded.success(
        lambda a: gr.update(choices=list(block_outputs(a)), value=block_outputs(a)[1]),
        [arch],
        [ui.layer],
        **PRIVATE,
    )
    _wire_pair(ctx, shared, ui, first[2])


def _wire_pair(ctx: AppContext, shared: Shared, ui: _UI, layer0: str) -> None:
    """A click on G_A (or the button) shows the two channels whose product sums to that cell."""
    quick = ctx.lanes.events("interactive")
    pair0 = (shared.arch0, DEFAULT_SIZE, layer0, *DEFAULT_PAIR, COLORMAPS[0])
    pair_fn = ctx.endpoint(
        gram_pair,
        interactive=True,
        gpu_s=20,
        shared=True,
        defaults=[(p, *pair0) for p in ctx.samples[:SAMPLES_SHOWN]],
    )
    named = ui.named(shared)
    pair_in, pair_out = inputs_of(gram_pair, named), outputs_of(Pair, named)
    ui.ga.select(_pair_from_click, [ui.state], [ui.i, ui.j], **PRIVATE).success(
        pair_fn, pair_in, pair_out, api_visibility="private", api_name="ui_pair", **quick
    )
    ui.pbtn.click(pair_fn, pair_in, pair_out, api_name="gram_pair", **quick)
