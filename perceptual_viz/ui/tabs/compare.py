"""The "Compare" tab: a clean image against a degraded one, every metric. Public: ``/compare``."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from ...assets import sample
from ...degrade import DEGRADATIONS, lookup
from ...figures import DEFAULT_SIZE
from ...figures import compare as fc
from ...layers import block_outputs
from ...messages import Joined, Text, msg
from .. import i18n, text
from ..context import AppContext, Upload
from ..errors import UserError
from ..links import Entry, Link
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared, inputs_of, outputs_of
from ..widgets import export_button, figure_row, image_input, md
from . import conventions
from .features import frame, layer_choices

DEFAULT_DEGRADATION = "jpeg"
# (sample, degradation, strength): the examples under the controls, and their labels.
EXAMPLES = (("chelsea.png", "jpeg", 10.0), ("astronaut.png", "blur", 3.0), ("coffee.png", "brightness", 0.2))


class Compared(NamedTuple):
    """What ``/compare`` answers: the before/after pair, the scores table, the per-layer chart,
    the difference maps, the channels side by side, the info line, every score as JSON, the zip."""

    slider: tuple[str, str]
    table: pd.DataFrame
    chart: str
    maps: list[tuple[str, None]]
    side: list[tuple[str, None]]
    info: Text
    json: dict[str, Any]
    zip: str


def compare(
    ctx: AppContext,
    clean: Upload,
    degraded: Upload,
    source: str,
    degradation: str,
    strength: float,
    seed: float,
    arch: str,
    size: str,
    layer: str,
) -> Compared:
    """A clean image against a degraded one (an upload, or a degradation of the clean one at a
    strength and seed): every score, where they differ, and the same channels side by side."""
    t0 = time.perf_counter()
    model, c = ctx.analysis(clean, arch, size, msg("a clean image"), msg("clean image"))
    d = None
    if source == "upload":
        if not degraded:
            raise UserError(msg("upload the degraded image first (or apply a degradation instead)"))
        _, d = ctx.analysis(degraded, arch, size, which=msg("degraded image"))
    fig = fc.compare(model, ctx.cache, c, size, d, degradation, float(strength), int(seed), layer=layer)
    shown_files = publish(fig)
    seconds = time.perf_counter() - t0
    h, w = c.size
    scored = msg(
        "scored at {w}×{h} px on {device} in {ms:.0f} ms", w=w, h=h, device=fig.device, ms=seconds * 1000
    )
    warnings = [Joined(("⚠️", n), " ") for n in fig.notes]
    info = Joined((Joined((fig.what, scored)), *warnings), "\n\n")
    scores = {**fig.scores, "device": fig.device, "size": [h, w], "seconds": round(seconds, 4)}
    maps = [(shown_files[name], None) for name in fig.maps]
    side = [(shown_files[name], None) for name in fig.side]
    pair = (shown_files["clean"], shown_files["degraded"])
    zipped = bundle_file(fig, shown_files, model)
    return Compared(pair, frame(fig.table), shown_files[fig.chart], maps, side, info, scores, zipped)


def share_key(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`compare` that change its result: an uploaded degraded image or
    a degradation's settings, whichever the source uses; the seed only where it matters."""
    k = dict(args)
    if k.get("source") == "upload":
        k.update(degradation=None, strength=None, seed=None)
    else:
        k["degraded"] = None
        d = DEGRADATIONS.get(str(k.get("degradation")))
        if d is not None and not d.seeded:
            k["seed"] = None
    return k


def strength_slider(name: str, value: float | None = None) -> Any:
    """The strength slider for degradation ``name``: its label, range, step, and ``value`` (if it
    is in range) or the degradation's default."""
    d = lookup(name)
    step = 1 if d.integer else (d.maximum - d.minimum) / 200
    v = d.default if value is None or not d.minimum <= float(value) <= d.maximum else float(value)
    label = msg("{degradation}: {param}", degradation=d.label, param=d.param)
    return gr.update(minimum=d.minimum, maximum=d.maximum, value=v, step=step, label=label)


@dataclass
class _UI:
    """The tab's components, named as ``compare``'s parameters and answer name them."""

    clean: gr.Image
    source: gr.Radio
    degradation: gr.Dropdown
    strength: gr.Slider
    seed: gr.Number
    degraded: gr.Image
    layer: gr.Dropdown
    btn: gr.Button
    info: gr.Markdown
    slider: gr.ImageSlider
    table: gr.Dataframe
    chart: gr.Image
    maps: gr.Gallery
    side: gr.Gallery
    json: gr.JSON
    zip: gr.DownloadButton

    def named(self, shared: Shared) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, **shared.named()}


def _controls(ctx: AppContext, shared: Shared) -> list[Any]:
    d0 = DEGRADATIONS[DEFAULT_DEGRADATION]
    with gr.Row():
        with gr.Column():
            clean = image_input("Clean image", elem_id="c_clean")
            gr.Examples(ctx.samples[:6], inputs=[clean], label="Samples")
        with gr.Column():
            source = gr.Radio(
                [("apply a degradation", "degrade"), ("upload a degraded image", "upload")],
                value="degrade",
                label="Degraded image",
            )
            # Only the controls of the chosen source are shown (see _show_source).
            with gr.Column(elem_id="c_degrade_box") as degrade_box:
                deg = gr.Dropdown(
                    [(str(d.label), d.name) for d in DEGRADATIONS.values()],
                    value=d0.name,
                    label="Degradation",
                    elem_id="c_deg",
                )
                # Bounds wide enough for every degradation, so API callers are not held to the first
                # one's range; the page narrows them to the chosen degradation (and degrade() checks
                # each range with a clear message).
                strength = gr.Slider(
                    min(d.minimum for d in DEGRADATIONS.values()),
                    max(d.maximum for d in DEGRADATIONS.values()),
                    value=d0.default,
                    label=str(msg("{degradation}: {param}", degradation=d0.label, param=d0.param)),
                    elem_id="c_strength",
                )
                seed = gr.Number(value=0, precision=0, label="Seed")
            up = image_input("Degraded image (your model's output)", elem_id="c_up", visible=False)
            layer = gr.Dropdown(
                layer_choices(shared.arch0),
                value=block_outputs(shared.arch0)[1],
                label="Layer for side-by-side channels",
                allow_custom_value=True,
                elem_id="c_layer",
            )
            btn = gr.Button("Compare", variant="primary", elem_id="compare_btn")
    source.input(_show_source, [source], [degrade_box, up], **PRIVATE)
    return [clean, source, deg, strength, seed, up, layer, btn, degrade_box]


def _show_source(source: str) -> tuple[Any, Any]:
    """Show the degradation controls or the upload slot, whichever the chosen source uses."""
    return gr.update(visible=source == "degrade"), gr.update(visible=source == "upload")


def _layout(ctx: AppContext, shared: Shared) -> _UI:
    gr.Markdown(text.PDN_COMPARE, elem_classes=["pdn"])
    clean, source, deg, strength, seed, up, layer, btn, degrade_box = _controls(ctx, shared)
    _examples(clean, deg, strength, [source, degrade_box, up])  # right under the controls they set
    info = gr.Markdown(elem_id="compare_info")
    with gr.Row():
        slider = gr.ImageSlider(label="Clean ◀ ▶ degraded", format="png", type="pil", elem_id="c_slider")
        with gr.Column():
            table = gr.Dataframe(
                headers=[str(c) for c in fc.SCORE_COLUMNS],
                label="Scores",
                interactive=False,
                elem_id="scores",
                wrap=True,
                column_widths=["22%", "18%", "60%"],
            )
            chart = gr.Image(
                label="Perceptual distance per layer", format="png", interactive=False, elem_id="c_chart"
            )
    maps = figure_row("Where they differ", 3, "c_maps")
    side = figure_row("The same channels, clean vs degraded", 3, "c_side")
    with gr.Accordion("All scores (JSON)", open=False):
        json = gr.JSON(label="All scores (JSON)")
    zipped = export_button("c_zip")
    return _UI(
        clean,
        source,
        deg,
        strength,
        seed,
        up,
        layer,
        btn,
        info,
        slider,
        table,
        chart,
        maps,
        side,
        json,
        zipped,
    )


def _examples(clean: gr.Image, deg: gr.Dropdown, strength: gr.Slider, source_controls: list[Any]) -> None:
    """Examples that set every control they imply: the image, the degradation, the slider's
    label, range and value, and the source ("apply a degradation", its controls shown)."""
    rows = [[str(sample(img)), deg, s] for img, deg, s in EXAMPLES]
    labels = [
        i18n.page_words(
            Joined((Joined((img.split(".")[0], lookup(deg).setting(s))), lookup(deg).label), ": ")
        )
        for img, deg, s in EXAMPLES
    ]
    gr.Examples(
        rows,
        inputs=[clean, deg, strength],
        outputs=[strength, *source_controls],
        fn=i18n.localised(
            lambda clean, deg, s: (strength_slider(deg, s), "degrade", *_show_source("degrade"))
        ),
        run_on_click=True,
        cache_examples=False,
        example_labels=labels,
        label="Try: the same kinds of damage, three photos",
        api_visibility="private",
    )


def _linked_strength(link: Link) -> Any:
    """The strength slider as a page opens: for a link to Compare, its degradation and strength
    (a strength out of range keeps the default); else JPEG's default."""
    if link.tab != "compare":
        return strength_slider(DEFAULT_DEGRADATION)
    return strength_slider(link.degradation or DEFAULT_DEGRADATION, link.strength)


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Compare", id="compare"):
        ui = _layout(ctx, shared)
        with gr.Accordion("MSE, PSNR, SSIM, perceptual distances: the formulas", open=False):
            md(text.COMPARE)
        triggers = [ui.btn.click, ui.strength.release, ui.clean.change]
        conventions.section(ctx, ui.named(shared), triggers, share_key)
    quick = ctx.lanes.events("interactive")
    # .input (a user's choice), not .change: an example sets degradation and strength together.
    slider = i18n.localised(strength_slider)  # its label in the page's language
    ui.degradation.input(slider, [ui.degradation], [ui.strength], **PRIVATE)
    # On load the strength slider gets its degradation's range (and a link's strength): every
    # page, whatever the tab, in the link's load handler (see ..linking).
    strength = Entry("compare", "strength", ui.strength, apply=_linked_strength, always=True)
    shared.link(
        "compare",
        sample=ui.clean,
        degradation=ui.degradation,
        strength=strength,
        seed=ui.seed,
        layer=ui.layer,
    )
    shared.loaded.success(
        lambda a: gr.update(choices=layer_choices(a), value=block_outputs(a)[1]),
        [shared.arch],
        [ui.layer],
        **PRIVATE,
    )
    layer0 = block_outputs(shared.arch0)[1]
    gr.on(
        [ui.btn.click, ui.strength.release, ui.clean.change],
        ctx.endpoint(
            compare,
            interactive=True,
            gpu_s=40,
            shared=True,
            normalise=share_key,
            defaults=[
                (str(sample(img)), None, "degrade", deg, s, 0, shared.arch0, DEFAULT_SIZE, layer0)
                for img, deg, s in EXAMPLES
            ],
        ),
        inputs_of(compare, ui.named(shared)),
        outputs_of(Compared, ui.named(shared)),
        api_name="compare",
        trigger_mode="always_last",
        **quick,
    )
