"""The "Sweep" tab: every metric as the damage grows (a long job). Public endpoint: ``/sweep``."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr
import pandas as pd

from ...degrade import DEGRADATIONS
from ...figures import sweep as fs
from .. import text
from ..context import AppContext, Upload, session_of
from ..lanes import progress_checkpoint
from ..serve import bundle_file, publish
from ..shared import Shared
from ..widgets import export_button, image_input, md


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
    deadline = time.monotonic() + ctx.time_limit_s
    with ctx.lanes.long_job(session_of(request), "sweep") as job:
        model, c = ctx.analysis(clean, arch, size, "a clean image")
        fig = fs.sweep(
            model,
            c,
            size,
            list(names or []),
            k,
            int(seed),
            progress=progress_checkpoint(job, progress),
            deadline=deadline,
        )
    shown_files = publish(fig)
    plot = fig.extras["plot"]
    long = pd.DataFrame(plot.rows, columns=plot.columns)
    plots = [long[long["metric"] == m] for m in fs.METRICS]
    table = pd.DataFrame(fig.extras["table"].rows, columns=fig.extras["table"].columns).round(6)
    thumbs = [(p, c) for c, p in shown_files.items() if c != "clean"]
    return (*plots, table, thumbs, fig.extras["info"], bundle_file(fig, shown_files, model))


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Sweep", id="sweep"):
        with gr.Row():
            with gr.Column():
                clean = image_input("Clean image", elem_id="s_clean")
                gr.Examples(ctx.samples[:6], inputs=[clean], label="Samples")
            with gr.Column():
                names = gr.CheckboxGroup(
                    list(DEGRADATIONS), value=["noise", "blur", "jpeg", "brightness"], label="Degradations"
                )
                k = gr.Slider(*fs.LEVELS_RANGE, value=5, step=1, label="Severity levels (K)")
                seed = gr.Number(value=0, precision=0, label="Seed")
                btn = gr.Button("Run sweep", variant="primary")
                md(text.SWEEP)
        info = gr.Markdown()
        with gr.Row():
            plots = [
                gr.LinePlot(
                    x="level",
                    y="relative value",
                    color="degradation",
                    title=m,
                    y_lim=[0, 1.05],
                    height=220,
                    min_width=300,
                )
                for m in fs.METRICS
            ]
        table = gr.Dataframe(label="Raw values", interactive=False)
        thumbs = gr.Gallery(label="The degraded images", columns=8, height=220, format="png")
        zipped = export_button("s_zip")
    run = btn.click(
        ctx.endpoint(sweep, gpu_s=90),
        [clean, names, k, seed, shared.arch, shared.size],
        [*plots, table, thumbs, info, zipped],
        api_name="sweep",
        **ctx.lanes.events("long"),
    )
    shared.long_jobs[btn] = run
