"""The Gradio 6 Blocks: six tabs wired to the endpoints in :mod:`perceptual_viz.ui.views` and
:mod:`perceptual_viz.ui.lessons`.

Public endpoints (callable with ``gradio_client``; each takes images and plain settings):
``/overview``, ``/feature_grid``, ``/channel``, ``/gram``, ``/gram_pair``, ``/compare``,
``/sweep``, ``/status``, ``/equal_mse``, ``/reconstruct``. Everything else (sample clicks, grid
clicks, slider ranges) is a private UI event. User mistakes surface as ``gr.Error`` with one
clear sentence and no traceback.
"""

from __future__ import annotations

import dataclasses
import os
import time

import gradio as gr

from ..backbone import pick_device
from ..compare import ScoreSettings
from ..degrade import DEGRADATIONS
from ..gram import GRAM_NORMS
from ..images import to_pil
from ..layers import ARCHS, block_outputs
from ..render import COLORMAPS
from . import lessons, text, views
from .common import (
    ON_CPU,
    TIME_LIMIT_S,
    Upload,
    analysis,
    export_button,
    image_input,
    interactive,
    layer_choices,
    md,
    samples,
    session_of,
    set_shared_pool,
    shared_lanes,
    shared_pool,
    shown,
    user_errors,
)
from .lanes import LaneLimits, Lanes, chunk_images, progress_checkpoint
from .models import ModelPool, gpu
from .serve import bundle_file, png_file, png_gallery

__all__ = ["ON_CPU", "build_demo", "user_errors"]


def status_line(arch: str) -> str:
    m = shared_pool().get(arch)
    return text.status_markdown(m.arch, m.status.message, m.status.trained, str(m.device))


def backbone_status(arch: str):
    """The status line; while ``arch`` loads, first a line that says so (the loader lane)."""
    pool = shared_pool()
    if not pool.is_ready(arch):
        yield text.loading_markdown(arch)
        pool.get(arch)
    yield status_line(arch)


@gpu(duration=30)
def overview(image: Upload, arch: str, size: str, cmap: str):
    model, a = analysis(image, arch, size)
    notes = " · ".join(a.notes)
    return png_gallery(views.overview(model, shared_pool().cache, a, cmap)), notes


@gpu(duration=20)
def feature_grid(
    image: Upload,
    arch: str,
    size: str,
    layer: str,
    k: float,
    sort: str,
    scope: str,
    cmap: str,
):
    model, a = analysis(image, arch, size)
    g = views.layer_grid(model, shared_pool().cache, a, layer, int(k), sort, scope, cmap)
    state = {"channels": g.channels, "hw": list(g.fmap_hw), "layer": layer}
    return png_file(g.picture), png_file(g.colorbar), g.caption, g.channels[0], state


@gpu(duration=20)
def channel(image: Upload, arch: str, size: str, layer: str, channel: float, cmap: str, alpha: float):
    model, a = analysis(image, arch, size)
    v = views.channel_detail(model, shared_pool().cache, a, layer, int(channel), cmap, float(alpha))
    return png_file(v.picture), png_file(v.colorbar), v.stats


@gpu(duration=30)
def gram(
    image_a: Upload,
    image_b: Upload,
    arch: str,
    size: str,
    layer: str,
    norm: str,
    top: float,
    cmap: str,
):
    model, a = analysis(image_a, arch, size, "image A", "image A")
    b = None
    if image_b is not None:
        _, b = analysis(image_b, arch, size, "image B", "image B")
        b, _note = views.match_size(a, b)
    g = views.gram_view(model, shared_pool().cache, a, b, layer, norm, int(top), cmap)
    # Encoded once (fast PNG into Gradio's cache): the same files are shown and exported.
    shown_pics = png_gallery(g.pictures)
    bar = png_file(g.colorbar)
    pics = shown_pics + [(None, "")] * (3 - len(shown_pics))
    dist = g.distances  # None with one image: an empty float-typed table would break the axis
    state = {"channels": g.channels, "scale": max(1, 384 // len(g.channels))}
    formula = f"**Normalisation '{norm}':** `{g.formula}`"
    record = {
        "settings": {
            "analysis_size": size,
            "size_hw": list(a.size),
            "layer": layer,
            "norm": norm,
            "formula": g.formula,
            "top_channels": int(top),
            "channels_shown": g.channels,
            "image_b": b is not None,
        },
        "style_distances": None if dist is None else dist.to_dict(orient="records"),
    }
    export_pics = {"image A": to_pil(a.tensor)} | ({"image B": to_pil(b.tensor)} if b is not None else {})
    export_pics |= {cap or f"gram_{i}": p for i, (p, cap) in enumerate(shown_pics)} | {"colour bar": bar}
    zipped = bundle_file(export_pics, record, "gram", model)
    return pics[0][0], pics[1][0], pics[2][0], bar, formula, dist, state, zipped


@gpu(duration=20)
def gram_pair(image: Upload, arch: str, size: str, layer: str, i: float, j: float, cmap: str):
    model, a = analysis(image, arch, size, "image A")
    pics, txt = views.gram_pair(model, shared_pool().cache, a, layer, int(i), int(j), cmap)
    return pics, txt


@gpu(duration=40)
def compare(
    clean: Upload,
    degraded: Upload,
    source: str,
    degradation: str,
    strength: float,
    seed: float,
    arch: str,
    size: str,
    layer: str,
):
    model, c = analysis(clean, arch, size, "a clean image", "clean image")
    d = None
    if source == "upload":
        _, d = analysis(degraded, arch, size, "the degraded image (or pick a degradation)", "degraded image")
    r = views.compare(model, shared_pool().cache, c, d, degradation, float(strength), int(seed), layer=layer)
    # Encoded once (fast PNG into Gradio's cache): the same files are shown and exported.
    pair = (png_file(to_pil(c.tensor)), png_file(r.degraded))
    maps = png_gallery(r.maps)
    side = png_gallery(r.side_by_side)
    pictures = {"clean": pair[0], "degraded": pair[1], **{cap: p for p, cap in (*maps, *side)}}
    record = {
        "settings": {
            "analysis_size": size,
            "size_hw": list(c.size),
            "source": source,
            "degradation": degradation if source != "upload" else None,
            "strength": float(strength) if source != "upload" else None,
            "seed": int(seed),
            "side_by_side_layer": layer,
            "score_settings": dataclasses.asdict(ScoreSettings()),
        },
        "scores": r.scores,
    }
    zipped = bundle_file(pictures, record, "compare", model)
    return pair, r.table, r.layers, maps, side, r.info, r.scores, zipped


@gpu(duration=90)
def sweep(
    clean: Upload,
    names: list[str],
    k: float,
    seed: float,
    arch: str,
    size: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
):
    deadline = time.monotonic() + TIME_LIMIT_S
    with shared_lanes().long_job(session_of(request), "sweep") as job:
        model, c = analysis(clean, arch, size, "a clean image")
        r = views.sweep(
            model,
            c,
            list(names),
            int(k),
            int(seed),
            progress=progress_checkpoint(job, progress),
            deadline=deadline,
            chunk_images=chunk_images(model.device),
        )
    plots = [r.plot[r.plot["metric"] == m] for m in views.SWEEP_METRICS]
    record = {
        "settings": {
            "analysis_size": size,
            "size_hw": list(c.size),
            "degradations": list(names),
            "levels": int(k),
            "seed": int(seed),
            "score_settings": dataclasses.asdict(ScoreSettings()),
        },
        "table": r.table.to_dict(orient="records"),
    }
    thumbs = png_gallery(r.thumbnails)
    zipped = bundle_file({"clean": to_pil(c.tensor), **{cap: p for p, cap in thumbs}}, record, "sweep", model)
    return (*plots, r.table, thumbs, r.info, zipped)


# --------------------------------------------------------------------------- private UI events


def _channel_from_click(state: dict | None, evt: gr.SelectData):
    if not state:
        raise gr.Error("show a layer first", print_exception=False)
    x, y = evt.index
    ch = views.channel_at_click(state["channels"], tuple(state["hw"]), x, y)
    return gr.update() if ch is None else ch


def _pair_from_click(state: dict | None, evt: gr.SelectData):
    if not state:
        raise gr.Error("compute the Gram matrix first", print_exception=False)
    x, y = evt.index
    chans, s = state["channels"], state["scale"]
    r, c = int(y) // s, int(x) // s
    if not (0 <= r < len(chans) and 0 <= c < len(chans)):
        return gr.update(), gr.update()
    return chans[r], chans[c]


def _strength_slider(name: str):
    d = DEGRADATIONS[name]
    step = 1 if d.integer else (d.maximum - d.minimum) / 200
    return gr.update(
        minimum=d.minimum, maximum=d.maximum, value=d.default, step=step, label=f"{d.label}: {d.param}"
    )


def _layer_dropdowns(arch: str):
    names = layer_choices(arch)
    outs = list(block_outputs(arch))
    return (
        gr.update(choices=names, value=outs[2]),
        gr.update(choices=outs, value=outs[1]),
        gr.update(choices=names, value=outs[1]),
    )


# --------------------------------------------------------------------------- layout


def build_demo(pool: ModelPool, limits: LaneLimits | None = None) -> gr.Blocks:
    """The whole app. ``pool`` holds the models and cache shared by every user; ``limits`` sets
    the lanes (default: :meth:`LaneLimits.resolve` for the pool's device)."""
    device_type = pick_device(pool.device).type
    lanes = Lanes(limits or LaneLimits.resolve(device_type), device_type)
    set_shared_pool(pool, lanes)
    quick, long_lane, loader = lanes.events("interactive"), lanes.events("long"), lanes.events("loader")
    arch0 = pool.arch
    outs0 = list(block_outputs(arch0))
    photos = samples()
    deg_names = list(DEGRADATIONS)
    d0 = DEGRADATIONS["jpeg"]

    # A long day: every 30 min, uploads and pictures older than an hour leave Gradio's cache.
    with gr.Blocks(title="Perceptual Loss Lab", delete_cache=(1800, 3600)) as demo:
        md(text.INTRO)
        status = gr.Markdown(status_line(arch0), elem_id="status")
        with gr.Row():
            arch = gr.Radio(list(ARCHS), value=arch0, label="Backbone", scale=1)
            size = gr.Dropdown(
                list(views.SIZES), value="224", label="Analysis size (shorter side, px)", scale=1
            )
            cmap = gr.Dropdown(list(COLORMAPS[:4]), value="viridis", label="Colour map", scale=1)

        with gr.Tabs():
            # ----------------------------------------------------------------- feature maps
            with gr.Tab("Feature maps", id="features"):
                with gr.Row():
                    with gr.Column(scale=1):
                        f_img = image_input("Image", elem_id="f_img")
                        gr.Examples(
                            photos,
                            inputs=[f_img],
                            label="Samples: photos and test patterns",
                            examples_per_page=12,
                        )
                        f_notes = gr.Markdown()
                    with gr.Column(scale=3):
                        gr.Markdown("### Shallow → deep: the strongest channels of each block")
                        f_over = gr.Gallery(
                            label="Block outputs", columns=5, height=200, format="png", elem_id="overview"
                        )
                with gr.Row():
                    with gr.Column(scale=1):
                        f_layer = gr.Dropdown(
                            layer_choices(arch0),
                            value=outs0[2],
                            label="Layer",
                            elem_id="f_layer",
                            allow_custom_value=True,  # API callers may name any layer of either arch
                        )
                        f_k = gr.Slider(1, 64, value=16, step=1, label="Channels shown (top k)")
                        f_sort = gr.Radio(["mean", "max", "index"], value="mean", label="Order channels by")
                        f_scope = gr.Radio(
                            ["channel", "layer"],
                            value="channel",
                            label="Colour scaling: per channel or shared across the layer",
                        )
                        md(text.FEATURES)
                    with gr.Column(scale=2):
                        f_caption = gr.Markdown(elem_id="grid_caption")
                        f_grid = shown("Channel grid (click a tile)", elem_id="grid")
                        f_bar = shown("Colour bar", height=70, show_label=False)
                    with gr.Column(scale=2):
                        with gr.Row():
                            f_channel = gr.Number(value=0, precision=0, label="Channel", minimum=0)
                            f_alpha = gr.Slider(0, 1, value=0.6, step=0.05, label="Overlay opacity")
                        f_detail = shown("Channel over the image", elem_id="detail")
                        f_dbar = shown("Colour bar", height=70, show_label=False)
                        f_stats = gr.JSON(label="Statistics")
                f_state = gr.State()

            # ----------------------------------------------------------------- Gram matrices
            with gr.Tab("Gram matrices", id="gram"):
                with gr.Row():
                    g_a = image_input("Image A", elem_id="g_a")
                    g_b = image_input("Image B (optional: compare styles)", elem_id="g_b")
                gr.Examples([[p, None] for p in photos[:6]], inputs=[g_a, g_b], label="Samples")
                with gr.Row():
                    g_layer = gr.Dropdown(outs0, value=outs0[1], label="Layer", allow_custom_value=True)
                    g_norm = gr.Radio(
                        list(GRAM_NORMS), value="chw", label="Normalisation (raw / ÷CHW / Gatys)"
                    )
                    g_top = gr.Slider(4, 128, value=32, step=4, label="Top-N channels by energy (G_ii)")
                    g_btn = gr.Button("Compute Gram matrices", variant="primary")
                g_formula = gr.Markdown()
                with gr.Row():
                    g_ga = shown("G_A (click a cell)", elem_id="gram_a")
                    g_gb = shown("G_B")
                    g_gd = shown("|G_A − G_B|")
                g_bar = shown("Colour bar", height=70, show_label=False)
                g_dist = gr.BarPlot(
                    x="layer", y="style distance", label="Style distance per layer", height=240
                )
                with gr.Row():
                    g_i = gr.Number(value=0, precision=0, label="channel i", minimum=0)
                    g_j = gr.Number(value=1, precision=0, label="channel j", minimum=0)
                    g_pbtn = gr.Button("Show pair")
                g_ptext = gr.Markdown()
                g_pair = gr.Gallery(label="F_i, F_j and their product", columns=3, height=260, format="png")
                md(text.GRAM)
                g_zip = export_button("g_zip")
                g_state = gr.State()

            # ----------------------------------------------------------------- compare
            with gr.Tab("Compare", id="compare"):
                with gr.Row():
                    with gr.Column():
                        c_clean = image_input("Clean image", elem_id="c_clean")
                        gr.Examples(photos[:6], inputs=[c_clean], label="Samples")
                    with gr.Column():
                        c_source = gr.Radio(
                            [("apply a degradation", "degrade"), ("upload a degraded image", "upload")],
                            value="degrade",
                            label="Degraded image",
                        )
                        c_deg = gr.Dropdown(deg_names, value="jpeg", label="Degradation")
                        # Bounds wide enough for every degradation, so API callers are not held to
                        # the first one's range; the page narrows them to the chosen degradation
                        # (and degrade() checks each range with a clear message).
                        c_strength = gr.Slider(
                            min(d.minimum for d in DEGRADATIONS.values()),
                            max(d.maximum for d in DEGRADATIONS.values()),
                            value=d0.default,
                            label=f"{d0.label}: {d0.param}",
                        )
                        c_seed = gr.Number(value=0, precision=0, label="Seed")
                        c_up = image_input("Degraded image (your model's output)", elem_id="c_up")
                        c_layer = gr.Dropdown(
                            layer_choices(arch0),
                            value=outs0[1],
                            label="Layer for side-by-side channels",
                            allow_custom_value=True,
                        )
                        c_btn = gr.Button("Compare", variant="primary", elem_id="compare_btn")
                c_info = gr.Markdown(elem_id="compare_info")
                with gr.Row():
                    c_slider = gr.ImageSlider(label="Clean ◀ ▶ degraded", format="png", type="pil")
                    with gr.Column():
                        c_table = gr.Dataframe(
                            label="Scores",
                            interactive=False,
                            elem_id="scores",
                            wrap=True,
                            column_widths=["18%", "18%", "64%"],
                        )
                        c_bars = gr.BarPlot(
                            x="layer",
                            y="perceptual distance",
                            label="Per-layer perceptual distance",
                            height=220,
                        )
                c_maps = gr.Gallery(label="Where they differ", columns=6, height=230, format="png")
                c_side = gr.Gallery(
                    label="Same channels, clean vs degraded, one scale", columns=3, height=260, format="png"
                )
                c_json = gr.JSON(label="All scores (JSON)")
                c_zip = export_button("c_zip")
                on_spaces = bool(os.environ.get("SPACE_ID"))

                def compare_example(clean: Upload, degradation: str, strength: float):
                    return compare(clean, None, "degrade", degradation, strength, 0, arch0, "224", outs0[1])

                gr.Examples(
                    [[photos[1], "jpeg", 10], [photos[0], "blur", 3.0], [photos[2], "brightness", 0.2]],
                    inputs=[c_clean, c_deg, c_strength],
                    outputs=[c_slider, c_table, c_bars, c_maps, c_side, c_info, c_json, c_zip],
                    fn=interactive(compare_example),
                    cache_examples=on_spaces,  # lazily cached on Spaces; plain input-fillers locally
                    cache_mode="lazy" if on_spaces else None,
                    label="Try: the same photo, three kinds of damage",
                    api_visibility="private",
                )
                md(text.COMPARE)

            # ----------------------------------------------------------------- sweep
            with gr.Tab("Sweep", id="sweep"):
                with gr.Row():
                    with gr.Column():
                        s_clean = image_input("Clean image", elem_id="s_clean")
                        gr.Examples(photos[:6], inputs=[s_clean], label="Samples")
                    with gr.Column():
                        s_names = gr.CheckboxGroup(
                            deg_names, value=["noise", "blur", "jpeg", "brightness"], label="Degradations"
                        )
                        s_k = gr.Slider(2, 8, value=5, step=1, label="Severity levels (K)")
                        s_seed = gr.Number(value=0, precision=0, label="Seed")
                        s_btn = gr.Button("Run sweep", variant="primary")
                        md(text.SWEEP)
                s_info = gr.Markdown()
                with gr.Row():
                    s_plots = [
                        gr.LinePlot(
                            x="level",
                            y="relative value",
                            color="degradation",
                            title=m,
                            y_lim=[0, 1.05],
                            height=220,
                            min_width=300,
                        )
                        for m in views.SWEEP_METRICS
                    ]
                s_table = gr.Dataframe(label="Raw values", interactive=False)
                s_thumbs = gr.Gallery(label="The degraded images", columns=8, height=220, format="png")
                s_zip = export_button("s_zip")

            # ----------------------------------------------------------------- lessons
            e_btn, e_run = lessons.equal_mse_tab(photos, arch, size, long_lane)
            r_btn, r_run = lessons.reconstruct_tab(
                photos, arch, arch0, str(pool.get(arch0).device), long_lane
            )

        # ------------------------------------------------------------------- events
        gr_private = {"api_visibility": "private", "queue": False}
        # A backbone switch waits for the load in the loader lane (the page says it is loading);
        # the views redraw once the model is there, so none of them waits for it in a slot.
        loading = arch.change(user_errors(backbone_status), [arch], [status], api_name="status", **loader)
        switched = loading.success(_layer_dropdowns, [arch], [f_layer, g_layer, c_layer], **gr_private)
        # .input (a user's choice), not .change: an example sets degradation and strength together.
        c_deg.input(_strength_slider, [c_deg], [c_strength], **gr_private)
        demo.load(_strength_slider, [c_deg], [c_strength], **gr_private)

        grid_in = [f_img, arch, size, f_layer, f_k, f_sort, f_scope, cmap]
        grid_out = [f_grid, f_bar, f_caption, f_channel, f_state]
        chan_in = [f_img, arch, size, f_layer, f_channel, cmap, f_alpha]
        chan_out = [f_detail, f_dbar, f_stats]
        show_channel = dict(
            fn=interactive(channel),
            inputs=chan_in,
            outputs=chan_out,
            api_visibility="private",
            api_name="ui_channel",
            **quick,
        )
        show_grid = dict(
            fn=interactive(feature_grid),
            inputs=grid_in,
            outputs=grid_out,
            api_visibility="private",
            api_name="ui_grid",
            **quick,
        )

        over_ev = gr.on(
            [f_img.change, size.change],
            interactive(overview),
            [f_img, arch, size, cmap],
            [f_over, f_notes],
            api_name="overview",
            **quick,
            trigger_mode="always_last",
        )
        over_ev.success(**show_grid).success(**show_channel)
        switched.success(
            interactive(overview),
            [f_img, arch, size, cmap],
            [f_over, f_notes],
            api_visibility="private",
            api_name="ui_overview",
            **quick,
        ).success(**show_grid).success(**show_channel)
        gr.on(
            [f_layer.change, f_k.release, f_sort.change, f_scope.change, cmap.change],
            interactive(feature_grid),
            grid_in,
            grid_out,
            api_name="feature_grid",
            **quick,
            trigger_mode="always_last",
        ).success(**show_channel)
        f_grid.select(_channel_from_click, [f_state], [f_channel], **gr_private).success(**show_channel)
        gr.on(
            [f_channel.submit, f_alpha.release],
            interactive(channel),
            chan_in,
            chan_out,
            api_name="channel",
            **quick,
            trigger_mode="always_last",
        )

        gram_in = [g_a, g_b, arch, size, g_layer, g_norm, g_top, cmap]
        gram_out = [g_ga, g_gb, g_gd, g_bar, g_formula, g_dist, g_state, g_zip]
        gr.on(
            [g_btn.click, g_a.change, g_b.change],
            interactive(gram),
            gram_in,
            gram_out,
            api_name="gram",
            **quick,
            trigger_mode="always_last",  # a second upload during a run must not be dropped
        )
        pair_in = [g_a, arch, size, g_layer, g_i, g_j, cmap]
        g_ga.select(_pair_from_click, [g_state], [g_i, g_j], **gr_private).success(
            interactive(gram_pair),
            pair_in,
            [g_pair, g_ptext],
            api_visibility="private",
            api_name="ui_pair",
            **quick,
        )
        g_pbtn.click(interactive(gram_pair), pair_in, [g_pair, g_ptext], api_name="gram_pair", **quick)

        cmp_in = [c_clean, c_up, c_source, c_deg, c_strength, c_seed, arch, size, c_layer]
        cmp_out = [c_slider, c_table, c_bars, c_maps, c_side, c_info, c_json, c_zip]
        gr.on(
            [c_btn.click, c_strength.release, c_clean.change],
            interactive(compare),
            cmp_in,
            cmp_out,
            api_name="compare",
            **quick,
            trigger_mode="always_last",
        )

        sw_in = [s_clean, s_names, s_k, s_seed, arch, size]
        s_run = s_btn.click(
            user_errors(sweep),
            sw_in,
            [*s_plots, s_table, s_thumbs, s_info, s_zip],
            api_name="sweep",
            **long_lane,
        )
        # One long job per person: pressing one takes that person's other long jobs out of the
        # queue (or stops them at their next step: see Lanes.long_job).
        long_jobs = {s_btn: s_run, e_btn: e_run, r_btn: r_run}
        for button in long_jobs:
            others = [run for b, run in long_jobs.items() if b is not button]
            button.click(None, None, None, cancels=others, **gr_private)
    return demo
