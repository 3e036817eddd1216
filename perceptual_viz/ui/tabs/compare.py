"""The "Compare" tab: a clean image against a degraded one, every metric. Public: ``/compare``."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from ...degrade import DEGRADATIONS, lookup
from ...figures import compare as fc
from ...layers import block_outputs
from .. import text
from ..context import AppContext, Upload
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared
from ..widgets import export_button, image_input, md
from .features import layer_choices


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
) -> tuple[Any, ...]:
    t0 = time.perf_counter()
    model, c = ctx.analysis(clean, arch, size, "a clean image", "clean image")
    d = None
    if source == "upload":
        _, d = ctx.analysis(
            degraded, arch, size, "the degraded image (or pick a degradation)", "degraded image"
        )
    fig = fc.compare(model, ctx.cache, c, size, d, degradation, float(strength), int(seed), layer=layer)
    shown_files = publish(fig)
    ex = fig.extras
    seconds = time.perf_counter() - t0
    h, w = c.size
    info = f"{ex['what']} · scored at {w}×{h} px on {ex['device']} in {seconds * 1000:.0f} ms" + "".join(
        f"\n\n⚠️ {n}" for n in ex["notes"]
    )
    scores = {**ex["scores"], "device": ex["device"], "size": [h, w], "seconds": round(seconds, 4)}
    table = pd.DataFrame(ex["table"].rows, columns=ex["table"].columns)
    layers = pd.DataFrame(ex["layers"].rows, columns=ex["layers"].columns)
    maps = [(shown_files[cap], cap) for cap in ex["maps"]]
    side = [(shown_files[cap], cap) for cap in ex["side"]]
    pair = (shown_files["clean"], shown_files["degraded"])
    zipped = bundle_file(fig, shown_files, model)
    return pair, table, layers, maps, side, info, scores, zipped


def strength_slider(name: str) -> Any:
    """The strength slider for degradation ``name``: its label, range, step and default."""
    d = lookup(name)
    step = 1 if d.integer else (d.maximum - d.minimum) / 200
    return gr.update(
        minimum=d.minimum, maximum=d.maximum, value=d.default, step=step, label=f"{d.label}: {d.param}"
    )


@dataclass
class _UI:
    clean: gr.Image
    source: gr.Radio
    deg: gr.Dropdown
    strength: gr.Slider
    seed: gr.Number
    up: gr.Image
    layer: gr.Dropdown
    btn: gr.Button
    info: gr.Markdown
    slider: gr.ImageSlider
    table: gr.Dataframe
    bars: gr.BarPlot
    maps: gr.Gallery
    side: gr.Gallery
    json: gr.JSON
    zip: gr.DownloadButton

    def outputs(self) -> list[Any]:
        return [self.slider, self.table, self.bars, self.maps, self.side, self.info, self.json, self.zip]


def _controls(
    ctx: AppContext, shared: Shared
) -> tuple[gr.Image, gr.Radio, gr.Dropdown, gr.Slider, gr.Number, gr.Image, gr.Dropdown, gr.Button]:
    d0 = DEGRADATIONS["jpeg"]
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
            deg = gr.Dropdown(list(DEGRADATIONS), value=d0.name, label="Degradation", elem_id="c_deg")
            # Bounds wide enough for every degradation, so API callers are not held to the first
            # one's range; the page narrows them to the chosen degradation (and degrade() checks
            # each range with a clear message).
            strength = gr.Slider(
                min(d.minimum for d in DEGRADATIONS.values()),
                max(d.maximum for d in DEGRADATIONS.values()),
                value=d0.default,
                label=f"{d0.label}: {d0.param}",
            )
            seed = gr.Number(value=0, precision=0, label="Seed")
            up = image_input("Degraded image (your model's output)", elem_id="c_up")
            layer = gr.Dropdown(
                layer_choices(shared.arch0),
                value=block_outputs(shared.arch0)[1],
                label="Layer for side-by-side channels",
                allow_custom_value=True,
            )
            btn = gr.Button("Compare", variant="primary", elem_id="compare_btn")
    return clean, source, deg, strength, seed, up, layer, btn


def _layout(ctx: AppContext, shared: Shared) -> _UI:
    clean, source, deg, strength, seed, up, layer, btn = _controls(ctx, shared)
    info = gr.Markdown(elem_id="compare_info")
    with gr.Row():
        slider = gr.ImageSlider(label="Clean ◀ ▶ degraded", format="png", type="pil")
        with gr.Column():
            table = gr.Dataframe(
                label="Scores",
                interactive=False,
                elem_id="scores",
                wrap=True,
                column_widths=["18%", "18%", "64%"],
            )
            bars = gr.BarPlot(
                x="layer", y="perceptual distance", label="Per-layer perceptual distance", height=220
            )
    maps = gr.Gallery(label="Where they differ", columns=6, height=230, format="png")
    side = gr.Gallery(
        label="Same channels, clean vs degraded, one scale", columns=3, height=260, format="png"
    )
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
        bars,
        maps,
        side,
        json,
        zipped,
    )


def _examples(ctx: AppContext, shared: Shared, ui: _UI) -> None:
    on_spaces = bool(os.environ.get("SPACE_ID"))
    layer0 = block_outputs(shared.arch0)[1]

    def example(c: AppContext, clean: Upload, degradation: str, strength: float) -> tuple[Any, ...]:
        return compare(c, clean, None, "degrade", degradation, strength, 0, shared.arch0, "224", layer0)

    gr.Examples(
        [[ctx.samples[1], "jpeg", 10], [ctx.samples[0], "blur", 3.0], [ctx.samples[2], "brightness", 0.2]],
        inputs=[ui.clean, ui.deg, ui.strength],
        outputs=ui.outputs(),
        fn=ctx.endpoint(example, interactive=True),
        cache_examples=on_spaces,  # lazily cached on Spaces; plain input-fillers locally
        cache_mode="lazy" if on_spaces else None,
        label="Try: the same photo, three kinds of damage",
        api_visibility="private",
    )


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Compare", id="compare"):
        ui = _layout(ctx, shared)
        _examples(ctx, shared, ui)
        md(text.COMPARE)
    quick = ctx.lanes.events("interactive")
    # .input (a user's choice), not .change: an example sets degradation and strength together.
    ui.deg.input(strength_slider, [ui.deg], [ui.strength], **PRIVATE)
    shared.demo.load(strength_slider, [ui.deg], [ui.strength], **PRIVATE)
    shared.loaded.success(
        lambda a: gr.update(choices=layer_choices(a), value=block_outputs(a)[1]),
        [shared.arch],
        [ui.layer],
        **PRIVATE,
    )
    cmp_in = [ui.clean, ui.up, ui.source, ui.deg, ui.strength, ui.seed, shared.arch, shared.size, ui.layer]
    gr.on(
        [ui.btn.click, ui.strength.release, ui.clean.change],
        ctx.endpoint(compare, interactive=True, gpu_s=40),
        cmp_in,
        ui.outputs(),
        api_name="compare",
        trigger_mode="always_last",
        **quick,
    )
