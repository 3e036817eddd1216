"""The "Equal MSE" tab (a long job): the same pixel error made every way, ranked by the network.

Public endpoint: ``/equal_mse`` (one image and a target MSE or PSNR → the gallery, the ranked
table, the info, the JSON summary and the export zip).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ...backbone import VGGFeatures
from ...features import FeatureCache
from ...figures import DEFAULT_SIZE, Analysis, Figure, Progress, analyse, load
from ...figures import equal_mse as fe
from ...lessons import equal_mse as em
from ...messages import Joined, Text, msg
from .. import text
from ..context import AppContext, Upload, session_of
from ..lanes import progress_checkpoint
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared, inputs_of
from ..showcase import FROM_SHOWCASE, Recipe, ShouldStop, sample_key
from ..widgets import export_button, figure_row, image_input, md, readable

SAMPLES_SHOWN = 6


def _settings(target_kind: str, target: float, rank_by: str, seed: float, size: str) -> dict[str, Any]:
    """The run's settings as the showcase keys them."""
    return {
        "target_kind": target_kind,
        "target": float(target),
        "rank_by": rank_by,
        "seed": int(seed),
        "size": str(size),
    }


def _figure(
    model: VGGFeatures,
    cache: FeatureCache,
    c: Analysis,
    s: dict[str, Any],
    progress: Progress | None,
) -> fe.EqualMseFigure:
    """The gallery of ``c`` with the settings ``s`` (as :func:`_settings` makes them)."""
    return fe.equal_mse(
        model, cache, c, s["size"], s["target_kind"], s["target"], s["rank_by"], s["seed"], progress=progress
    )


def equal_mse(
    ctx: AppContext,
    clean: Upload,
    target_kind: str,
    target: float,
    rank_by: str,
    seed: float,
    arch: str,
    size: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> tuple[Any, ...]:
    """The gallery, the ranked table, the info, the JSON summary and the zip."""
    fe.target_mse(target_kind, target)  # a bad target is refused before any work
    settings = _settings(target_kind, target, rank_by, seed, size)
    with ctx.lanes.long_job(session_of(request), "equal-MSE gallery") as job:
        model, c = ctx.analysis(clean, arch, size, msg("a clean image"))
        check = progress_checkpoint(job, progress)
        fig, stored = ctx.showcase.served(
            "equal_mse", model, c.key, settings, lambda: _figure(model, ctx.cache, c, settings, check)
        )
        info: Text = Joined((fig.info, FROM_SHOWCASE), "\n\n") if stored else fig.info
    shown_files = publish(fig)
    gallery = [(shown_files[name], None) for name in fig.gallery]
    return gallery, readable(fig.table, 3), info, fig.data, bundle_file(fig, shown_files, model)


def recipe(ctx: AppContext) -> Recipe:
    """The default gallery of each sample the tab offers, for the showcase."""
    d = fe.DEFAULTS
    settings = _settings(str(d["target_kind"]), float(d["target"]), str(d["rank_by"]), 0, DEFAULT_SIZE)

    def compute(model: VGGFeatures, path: str, should_stop: ShouldStop) -> Figure:
        c = analyse(model, load(path), DEFAULT_SIZE)

        def progress(fraction: float, what: Text) -> None:
            should_stop()  # between two steps the warmer gives way to people's requests

        return _figure(model, ctx.cache, c, settings, progress)

    return Recipe("equal_mse", settings, ctx.samples[:SAMPLES_SHOWN], sample_key(DEFAULT_SIZE), compute)


def _table() -> gr.Dataframe:
    """The ranked scores: pixel widths that fit a laptop's page (a phone scrolls the table
    sideways), a header never broken inside a word, the long notes wrapped in the last column."""
    return gr.Dataframe(
        headers=[str(c) for c in em.TABLE_COLUMNS],
        label="Scores",
        interactive=False,
        wrap=True,
        column_widths=[f"{w}px" for w in (50, 110, 90, 85, 64, 64, 85, 112, 85, 85, 85, 95, 185)],
        elem_id="e_table",
    )


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    d = fe.DEFAULTS
    with gr.Tab("Equal MSE", id="equal_mse"):
        gr.Markdown(text.PDN_EQUAL_MSE, elem_classes=["pdn"])
        with gr.Row():
            with gr.Column(scale=1):
                img = image_input("Clean image", elem_id="e_img")
                gr.Examples(ctx.samples[:SAMPLES_SHOWN], inputs=[img], label="Samples")
            with gr.Column(scale=1):
                with gr.Row():
                    kind = gr.Radio(list(fe.TARGET_KINDS), value=d["target_kind"], label="Target given as")
                    target = gr.Number(value=d["target"], label="Target", elem_id="e_target")
                rank = gr.Radio(list(em.RANK_METRICS), value=d["rank_by"], label="Rank by")
                seed = gr.Number(value=d["seed"], precision=0, label="Seed (noise, salt & pepper)")
                btn = gr.Button("Make the gallery", variant="primary", elem_id="e_btn")
                with gr.Accordion("How to read the gallery", open=False):
                    md(text.EQUAL_MSE)
        info = gr.Markdown(elem_id="e_info")
        gallery = figure_row("Same MSE, ranked by the network (least damaged first)", 4, "e_gallery")
        table = _table()
        with gr.Accordion("All scores (JSON)", open=False):
            data = gr.JSON(label="All scores (JSON)")
        zipped = export_button("e_zip")
    ctx.showcase.add(recipe(ctx))
    shared.link("equal_mse", sample=img, seed=seed)
    kind.input(lambda k: gr.update(value=30.0 if k == "PSNR (dB)" else 0.005), [kind], [target], **PRIVATE)
    run = btn.click(
        ctx.endpoint(equal_mse, gpu_s=60),
        inputs_of(
            equal_mse,
            {
                "clean": img,
                "target_kind": kind,
                "target": target,
                "rank_by": rank,
                "seed": seed,
                **shared.named(),
            },
        ),
        [gallery, table, info, data, zipped],
        api_name="equal_mse",
        **ctx.lanes.events("long"),
    )
    shared.long_jobs[btn] = run
