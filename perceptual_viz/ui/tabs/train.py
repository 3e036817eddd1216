"""The "Train with it" tab (a long job): one small network per loss, trained side by side, streamed.

Public endpoint: ``/train`` (streams the held-out pictures, the zoomed crops, the loss curves and
the info; the scores table and the export zip at the end).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr
import torch

from ...assets import PHOTOS, sample
from ...figures import load
from ...figures import train as ft
from ...lessons import train as tl
from ...options import LossName, Task
from .. import text
from ..context import AppContext, UserError, session_of
from ..lanes import LongJob
from ..serve import bundle_file, png_file, publish
from ..shared import Shared
from ..widgets import export_button, md, readable, shown
from .reconstruct import display, stop_button

KIND = "training"
MAX_UPLOADS = 8  # own training photos per run
REPORT_STEPS = 5


def _paths(files: Any) -> list[str]:
    """Paths of the files of a ``gr.File(file_count="multiple")`` value (paths or file dicts)."""
    out = []
    for f in files or []:
        path = f.get("path") if isinstance(f, dict) else getattr(f, "name", f)
        if path:
            out.append(str(path))
    return out


def images(
    photos: Sequence[str] | None, uploads: Any, held_out: str
) -> tuple[list[torch.Tensor], torch.Tensor, str]:
    """The training images (chosen bundled photos, minus the held-out one, and uploads), the
    held-out image, and a note saying which photo was held out when it was also chosen."""
    if held_out not in PHOTOS:
        raise UserError(f"the held-out image must be one of the bundled photos: {', '.join(PHOTOS)}")
    chosen = list(photos or [])
    unknown = [p for p in chosen if p not in PHOTOS]
    if unknown:
        raise UserError(f"unknown bundled photo {unknown[0]!r}; choose from {', '.join(PHOTOS)}")
    files = _paths(uploads)
    if len(files) > MAX_UPLOADS:
        raise UserError(f"upload at most {MAX_UPLOADS} training photos, not {len(files)}")
    note = f" ({held_out} is held out, so it was not trained on)" if held_out in chosen else ""
    paths = [str(sample(p)) for p in chosen if p != held_out] + files
    if not paths:
        raise UserError("choose at least one training photo (or upload your own) besides the held-out one")
    train = [load(p, f"training photo {i}").tensor() for i, p in enumerate(paths, start=1)]
    return train, load(str(sample(held_out)), "the held-out photo").tensor(), note


def train(
    ctx: AppContext,
    task: Task,
    losses: list[LossName],
    steps: float,
    seed: float,
    photos: list[str],
    uploads: Any,
    held_out: str,
    arch: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
) -> Iterator[tuple[Any, ...]]:
    """Stream a training run: (held-out pictures, zoomed crops, loss curves, info, table, zip);
    the table and the zip at the end."""
    with ctx.lanes.long_job(session_of(request), KIND) as job:
        yield from _stream(ctx, task, losses, steps, seed, photos, uploads, held_out, arch, job, progress)


def _stream(
    ctx: AppContext,
    task: Task,
    losses: list[LossName],
    steps: float,
    seed: float,
    photos: list[str],
    uploads: Any,
    held_out: str,
    arch: str,
    job: LongJob,
    progress: Any,
) -> Iterator[tuple[Any, ...]]:
    model = ctx.model(arch)
    train_images, eval_image, note = images(photos, uploads, held_out)
    settings = tl.TrainSettings(
        task=task, losses=tuple(losses or ()), steps=int(steps), seed=int(seed)
    ).resolved(model.arch, model.device)
    x, truth = tl.eval_pair(eval_image, settings)
    label = ft.input_label(settings)
    fixed = [(png_file(display(x)), f"input ({label})"), (png_file(display(truth)), "ground truth")]
    deadline = time.monotonic() + ctx.time_limit_s
    last, curves = None, {}
    # A report at least every REPORT_STEPS steps: a closed tab or a cancelled request is noticed
    # at a report, so a long run must not go quiet for long.
    every = min(ft.report_every(int(settings.steps or 1)), REPORT_STEPS)
    for st, so_far in ft.run(
        model, train_images, eval_image, settings, should_stop=job.should_stop, deadline=deadline, every=every
    ):
        last, curves = st, so_far
        progress(st.step / max(1, st.total), desc=f"step {st.step}/{st.total}")
        if st.done:
            break
        outs = [
            (png_file(display(o)), f"{n} network · PSNR {st.psnr[n]:.2f} dB") for n, o in st.outputs.items()
        ]
        strip, _ = ft.zoom_strip(x, truth, st.outputs, label)
        info = f"{ft.what(settings)}{note} · step {st.step}/{st.total} · {st.seconds:.1f} s on {model.device}"
        yield fixed + outs, strip, ft.loss_chart(curves), info, gr.skip(), gr.skip()
    assert last is not None
    why = job.reason if last.stopped == "cancelled" and job.reason else last.stopped
    fig = ft.figure(model, eval_image, settings, last, curves, stopped=why or None)
    files = publish(fig)
    scores = fig.record["runs"]
    gallery = [(files[f"input ({label})"], f"input ({label})"), (files["ground truth"], "ground truth")]
    for n in settings.losses:
        ev = scores[n]["eval"]
        gallery.append(
            (files[f"{n} network"], f"{n} network · PSNR {ev['psnr']:.2f} dB · LPIPS {_num(ev['lpips'])}")
        )
    info = fig.extras["info"].replace(ft.what(settings), ft.what(settings) + note, 1)
    yield (
        gallery,
        files["zoomed crops"],
        files["loss curves"],
        info,
        readable(fig.extras["table"]),
        bundle_file(fig, files, model),
    )


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def _controls(shared: Shared) -> list[Any]:
    b = tl.budget(shared.device)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            task = gr.Radio(
                [("×4 super-resolution", "sr4"), ("denoising", "denoise"), ("deblurring", "deblur")],
                value="sr4",
                label="Task",
                elem_id="t_task",
            )
            losses = gr.CheckboxGroup(
                list(tl.LOSSES),
                value=list(tl.DEFAULT_LOSSES),
                label="Losses (one network each)",
                elem_id="t_losses",
            )
            with gr.Row():
                steps = gr.Slider(10, b.max_steps, value=b.steps, step=10, label="Steps", elem_id="t_steps")
                seed = gr.Number(value=0, precision=0, label="Seed", elem_id="t_seed")
            with gr.Row():
                btn = gr.Button("Train", variant="primary", elem_id="t_btn")
                stop = gr.Button("Stop", variant="stop", elem_id="t_stop")
        with gr.Column(scale=1, min_width=300):
            photos = gr.CheckboxGroup(
                list(PHOTOS),
                value=list(tl.DEFAULT_TRAIN_SAMPLES),
                label="Training photos (random patches of these)",
                elem_id="t_photos",
            )
            uploads = gr.File(
                file_count="multiple",
                file_types=["image"],
                label=f"Your own training photos (optional, up to {MAX_UPLOADS})",
                elem_id="t_uploads",
            )
            held_out = gr.Dropdown(
                list(PHOTOS),
                value=tl.DEFAULT_EVAL_SAMPLE,
                label="Held-out photo (never trained on: the networks are judged on it)",
                elem_id="t_eval",
            )
    return [task, losses, steps, seed, photos, uploads, held_out, btn, stop]


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Train with it", id="train"):
        gr.Markdown(text.PDN_TRAIN, elem_classes=["pdn"])
        task, losses, steps, seed, photos, uploads, held_out, btn, stop = _controls(shared)
        info = gr.Markdown(elem_id="t_info")
        outs = gr.Gallery(
            label="The held-out photo: what each network makes of it",
            columns=5,
            height="auto",
            format="png",
            object_fit="contain",
            preview=False,
            elem_id="t_outs",
            elem_classes=["figure-row"],
        )
        with gr.Row():
            crops = shown("Zoomed crops (where the texture is)", elem_id="t_crops")
            curve = shown("Training loss (log scale)", elem_id="t_curve")
        table = gr.Dataframe(
            headers=list(ft.TABLE_COLUMNS),
            label="Scores on the held-out photo (against the ground truth)",
            interactive=False,
            wrap=True,
            elem_id="t_table",
        )
        with gr.Accordion("How the networks are trained, and what to notice", open=False):
            md(text.TRAIN)
        zipped = export_button("t_zip")
        run = btn.click(
            ctx.endpoint(train, gpu_s=120),
            [task, losses, steps, seed, photos, uploads, held_out, shared.arch],
            [outs, crops, curve, info, table, zipped],
            api_name="train",
            **ctx.lanes.events("long"),
        )
        stop_button(stop, run, ctx, KIND)
        shared.long_jobs[btn] = run
