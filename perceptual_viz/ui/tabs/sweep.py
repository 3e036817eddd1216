"""The "Sweep" tab: every metric as the damage grows (a long job). Public endpoint: ``/sweep``."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from ...backbone import VGGFeatures
from ...degrade import DEGRADATIONS
from ...figures import DEFAULT_SIZE, Figure, analyse, load
from ...figures import sweep as fs
from ...messages import Joined, Text, msg
from .. import i18n, text
from ..context import AppContext, Upload, session_of
from ..lanes import progress_checkpoint
from ..links import Entry
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared, inputs_of
from ..showcase import FROM_SHOWCASE, Recipe, ShouldStop, sample_key
from ..widgets import export_button, figure_row, image_input, md, readable

SAMPLES_SHOWN = 6


def _settings(names: list[str], k: float, seed: float, size: str) -> dict[str, Any]:
    """The run's settings as the showcase keys them."""
    return {"names": list(names or []), "k": int(k), "seed": int(seed), "size": str(size)}


def sweep(
    ctx: AppContext,
    clean: Upload,
    names: list[str],
    k: float,
    seed: float,
    arch: str,
    size: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> tuple[Any, ...]:
    """The charts, the table, the degraded images, the info and the zip."""
    deadline = time.monotonic() + ctx.time_limit_s
    settings = _settings(names, k, seed, size)
    with ctx.lanes.long_job(session_of(request), "sweep") as job:
        model, c = ctx.analysis(clean, arch, size, msg("a clean image"))
        check = progress_checkpoint(job, progress)
        fig, stored = ctx.showcase.served(
            "sweep",
            model,
            c.key,
            settings,
            lambda: fs.sweep(
                model, c, size, settings["names"], int(k), int(seed), progress=check, deadline=deadline
            ),
        )
        info: Text = Joined((fig.info, FROM_SHOWCASE), "\n\n") if stored else fig.info
    shown_files = publish(fig)
    charts = [(shown_files[name], None) for name in fig.charts]
    thumbs = [(shown_files[name], None) for name in fig.thumbnails]
    return charts, readable(fig.table), thumbs, info, bundle_file(fig, shown_files, model)


def recipe(ctx: AppContext) -> Recipe:
    """The default sweep of each sample the tab offers, for the showcase."""
    settings = _settings(list(fs.DEFAULT_NAMES), fs.DEFAULT_LEVELS, 0, DEFAULT_SIZE)

    def compute(model: VGGFeatures, path: str, should_stop: ShouldStop) -> Figure:
        c = analyse(model, load(path), DEFAULT_SIZE)
        names, k = settings["names"], settings["k"]

        def progress(fraction: float, what: Text) -> None:
            should_stop()  # between two passes the warmer gives way to people's requests

        return fs.sweep(model, c, DEFAULT_SIZE, names, k, 0, progress=progress)

    return Recipe("sweep", settings, ctx.samples[:SAMPLES_SHOWN], sample_key(DEFAULT_SIZE), compute)


def levels_slider(names: list[str], k: float) -> Any:
    """K capped at what every chosen degradation can give (quantize has 7 bit depths)."""
    top = fs.max_levels(names) if names else fs.LEVELS_RANGE[1]
    label: Text = msg("Severity levels (K, at most {top} here)", top=top)
    if int(k) <= top:  # the value stays as typed: an answer arriving late must not undo a new K
        return gr.update(maximum=top, label=label)
    return gr.update(maximum=top, value=top, label=label)


def _levels_ok(k: int | None) -> bool:
    return k is not None and fs.LEVELS_RANGE[0] <= k <= fs.LEVELS_RANGE[1]


def _results() -> tuple[gr.Markdown, gr.Gallery, gr.Dataframe, gr.Gallery]:
    """What a sweep shows: a line, the charts, the raw values and the degraded images."""
    info = gr.Markdown(elem_id="s_info")
    charts = figure_row("Every metric against severity", 3, "s_charts")
    table = gr.Dataframe(
        headers=[str(c) for c in fs.COLUMNS],
        label="Raw values",
        interactive=False,
        wrap=True,
        elem_id="s_table",
    )
    thumbs = figure_row("The degraded images", 6, "s_thumbs")
    return info, charts, table, thumbs


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Sweep", id="sweep"):
        gr.Markdown(text.PDN_SWEEP, elem_classes=["pdn"])
        with gr.Row():
            with gr.Column():
                clean = image_input("Clean image", elem_id="s_clean")
                gr.Examples(ctx.samples[:SAMPLES_SHOWN], inputs=[clean], label="Samples")
            with gr.Column():
                names = gr.CheckboxGroup(
                    list(DEGRADATIONS), value=list(fs.DEFAULT_NAMES), label="Degradations", elem_id="s_names"
                )
                k = gr.Slider(
                    *fs.LEVELS_RANGE,
                    value=fs.DEFAULT_LEVELS,
                    step=1,
                    label="Severity levels (K)",
                    elem_id="s_k",
                )
                seed = gr.Number(value=0, precision=0, label="Seed")
                btn = gr.Button("Run sweep", variant="primary", elem_id="s_btn")
                with gr.Accordion("How to read the charts", open=False):
                    md(text.SWEEP)
        info, charts, table, thumbs = _results()
        zipped = export_button("s_zip")
    ctx.showcase.add(recipe(ctx))
    levels = Entry("sweep", "k", k, apply=lambda link: link.k if _levels_ok(link.k) else None)
    shared.link("sweep", sample=clean, k=levels, seed=seed)
    names.change(i18n.localised(levels_slider), [names, k], [k], **PRIVATE)
    run = btn.click(
        ctx.endpoint(sweep, gpu_s=90),
        inputs_of(sweep, {"clean": clean, "names": names, "k": k, "seed": seed, **shared.named()}),
        [charts, table, thumbs, info, zipped],
        api_name="sweep",
        **ctx.lanes.events("long"),
    )
    shared.long_jobs[btn] = run
