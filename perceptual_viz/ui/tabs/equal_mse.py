"""The "Equal MSE" tab (a long job): the same pixel error made every way, ranked by the network.

Public endpoint: ``/equal_mse`` (one image and a target MSE or PSNR → the gallery, the ranked
table, the info, the JSON summary and the export zip).
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr
import pandas as pd

from ...figures import equal_mse as fe
from ...lessons import equal_mse as em
from ...tables import Table
from .. import text
from ..context import AppContext, Upload, session_of
from ..lanes import progress_checkpoint
from ..serve import bundle_file, publish
from ..shared import PRIVATE, Shared
from ..widgets import export_button, image_input, md


def readable(table: Table) -> pd.DataFrame:
    """Numbers to 3 significant digits for reading (the JSON output keeps full precision)."""

    def fmt(v: Any) -> Any:
        if isinstance(v, float):
            return "—" if math.isnan(v) else f"{v:.3g}"
        return v

    return pd.DataFrame([[fmt(v) for v in r] for r in table.rows], columns=table.columns)


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
    fe.target_mse(target_kind, target)  # a bad target is refused before any work
    with ctx.lanes.long_job(session_of(request), "equal-MSE gallery") as job:
        model, c = ctx.analysis(clean, arch, size, "a clean image")
        fig = fe.equal_mse(
            model,
            ctx.cache,
            c,
            size,
            target_kind,
            target,
            rank_by,
            int(seed),
            progress=progress_checkpoint(job, progress),
        )
    shown_files = publish(fig)
    gallery = [(shown_files[cap], cap) for cap in fig.extras["gallery"]]
    ex = fig.extras
    return gallery, readable(ex["table"]), ex["info"], ex["data"], bundle_file(fig, shown_files, model)


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Equal MSE", id="equal_mse"):
        with gr.Row():
            with gr.Column(scale=1):
                img = image_input("Clean image", elem_id="e_img")
                gr.Examples(ctx.samples[:6], inputs=[img], label="Samples")
            with gr.Column(scale=1):
                with gr.Row():
                    kind = gr.Radio(list(fe.TARGET_KINDS), value="MSE", label="Target given as")
                    target = gr.Number(value=0.005, label="Target", elem_id="e_target")
                rank = gr.Radio(list(em.RANK_METRICS), value="LPIPS", label="Rank by")
                seed = gr.Number(value=0, precision=0, label="Seed (noise, salt & pepper)")
                btn = gr.Button("Make the gallery", variant="primary", elem_id="e_btn")
                md(text.EQUAL_MSE)
        info = gr.Markdown(elem_id="e_info")
        gallery = gr.Gallery(
            label="Same MSE, ranked by the network (least damaged first)",
            columns=4,
            height="auto",
            format="png",
            elem_id="e_gallery",
        )
        table = gr.Dataframe(label="Scores", interactive=False, wrap=True, elem_id="e_table")
        data = gr.JSON(label="All scores (JSON)")
        zipped = export_button("e_zip")
    kind.input(lambda k: gr.update(value=30.0 if k == "PSNR (dB)" else 0.005), [kind], [target], **PRIVATE)
    run = btn.click(
        ctx.endpoint(equal_mse, gpu_s=60),
        [img, kind, target, rank, seed, shared.arch, shared.size],
        [gallery, table, info, data, zipped],
        api_name="equal_mse",
        **ctx.lanes.events("long"),
    )
    shared.long_jobs[btn] = run
