"""The "Train with it" tab: networks trained ahead (shown at once), and a live run (a long job).

Public endpoints: ``/train_reference`` (the reference networks of a task on a held-out bundled
photo: pictures, zoomed crops, info, scores, export zip; see
:mod:`perceptual_viz.lessons.reference`) and ``/train`` (one small network per loss, trained from
scratch side by side, streamed: the held-out pictures, the zoomed crops, the loss curves and the
info; the scores table and the export zip at the end). The tab offers the tasks that have
reference networks; when none is shipped (a task whose lesson did not hold is withdrawn, see
``tools/train_reference.py``) it says so, offers the live run alone, and has no ``/train_reference``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd
import torch

from ...assets import PHOTOS, sample
from ...backbone import VGGFeatures
from ...figures import load
from ...figures import train as ft
from ...lessons import reference as rf
from ...lessons import train as tl
from ...messages import Joined, Text, joined, msg, word
from ...options import LossName, Task
from .. import text
from ..context import AppContext, UserError, session_of
from ..lanes import LongJob
from ..links import Entry
from ..serve import bundle_file, png_file, publish
from ..shared import Shared, inputs_of, outputs_of
from ..widgets import export_button, figure_row, md, readable, shown
from .reconstruct import display, stop_button, why_stopped

KIND = "training"
MAX_UPLOADS = 8  # own training photos per run
REPORT_STEPS = 5
TASK_LABELS = {"sr4": "×4 super-resolution", "denoise": "denoising", "deblur": "deblurring"}


def offered_tasks() -> tuple[Task, ...]:
    """The tasks the tab offers: those with reference networks; all of them, for the live run
    alone, when none is shipped."""
    return rf.tasks() or tl.TASKS


def _paths(files: Any) -> list[str]:
    """Paths of the files of a ``gr.File(file_count="multiple")`` value (paths or file dicts)."""
    out = []
    for f in files or []:
        path = f.get("path") if isinstance(f, dict) else getattr(f, "name", f)
        if path:
            out.append(str(path))
    return out


def _held_out(held_out: str) -> torch.Tensor:
    if held_out not in PHOTOS:
        raise UserError(
            msg("the held-out image must be one of the bundled photos: {photos}", photos=", ".join(PHOTOS))
        )
    return load(str(sample(held_out)), msg("the held-out photo")).tensor()


def images(
    photos: Sequence[str] | None, uploads: Any, held_out: str
) -> tuple[list[torch.Tensor], torch.Tensor, Text]:
    """The training images (chosen bundled photos, minus the held-out one, and uploads), the
    held-out image, and a note saying which photo was held out when it was also chosen."""
    held_image = _held_out(held_out)
    chosen = list(photos or [])
    unknown = [p for p in chosen if p not in PHOTOS]
    if unknown:
        raise UserError(
            msg(
                "unknown bundled photo {photo!r}; choose from {photos}",
                photo=unknown[0],
                photos=", ".join(PHOTOS),
            )
        )
    files = _paths(uploads)
    if len(files) > MAX_UPLOADS:
        raise UserError(msg("upload at most {most} training photos, not {n}", most=MAX_UPLOADS, n=len(files)))
    held = msg("({photo} is held out, so it was not trained on)", photo=held_out)
    note: Text = held if held_out in chosen else ""
    paths = [str(sample(p)) for p in chosen if p != held_out] + files
    if not paths:
        raise UserError(
            msg("choose at least one training photo (or upload your own) besides the held-out one")
        )
    train = [load(p, msg("training photo {i}", i=i)).tensor() for i, p in enumerate(paths, start=1)]
    return train, held_image, note


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
    fixed = [(png_file(display(x)), ft.input_name(settings)), (png_file(display(truth)), msg("ground truth"))]
    named = joined(ft.what(settings), note, sep=" ")
    deadline = time.monotonic() + ctx.time_limit_s
    last, curves = None, {}
    # A report at least every REPORT_STEPS steps: a closed tab or a cancelled request is noticed
    # at a report, so a long run must not go quiet for long.
    every = min(ft.report_every(int(settings.steps or 1)), REPORT_STEPS)
    for st, so_far in ft.run(
        model, train_images, eval_image, settings, should_stop=job.should_stop, deadline=deadline, every=every
    ):
        last, curves = st, so_far
        step = msg("step {step}/{total}", step=st.step, total=st.total)
        progress(st.step / max(1, st.total), desc=word(step))
        if st.done:
            break
        outs = [
            (png_file(display(o)), Joined((ft.network_name(n), f"PSNR {st.psnr[n]:.2f} dB")))
            for n, o in st.outputs.items()
        ]
        strip, _ = ft.zoom_strip(x, truth, st.outputs, label)
        took = msg("{seconds:.1f} s on {device}", seconds=st.seconds, device=str(model.device))
        yield fixed + outs, strip, ft.loss_chart(curves), Joined((named, step, took)), gr.skip(), gr.skip()
    assert last is not None
    why = why_stopped(job, last.stopped)
    fig = ft.figure(model, eval_image, settings, last, curves, stopped=why or None, note=note)
    yield _final(fig, settings, model)


def _caption(loss: str, ev: dict[str, Any]) -> Joined:
    """A network's picture's caption: its name, PSNR, LPIPS (and DISTS where scored)."""
    numbers = [f"PSNR {ev['psnr']:.2f} dB", f"LPIPS {_num(ev['lpips'])}"]
    if "dists" in ev:
        numbers.append(f"DISTS {_num(ev['dists'])}")
    return Joined((ft.network_name(loss), *numbers))


def _final(fig: ft.TrainFigure, settings: tl.TrainSettings, model: VGGFeatures) -> tuple[Any, ...]:
    """The last frame: every picture with its scores, the crops, the curves, the info, the
    scores table and the zip."""
    files = publish(fig)
    scores = fig.record["runs"]
    name = ft.input_name(settings)
    gallery: list[tuple[str, Text]] = [(files[str(name)], name), (files["ground truth"], msg("ground truth"))]
    for n in settings.losses:
        ev = scores[n]["eval"]
        gallery.append((files[str(ft.network_name(n))], _caption(n, ev)))
    table = readable(fig.table)
    return (
        gallery,
        files["zoomed crops"],
        files["loss curves"],
        fig.info,
        table,
        bundle_file(fig, files, model),
    )


def _num(v: float | None) -> str:
    """An LPIPS score to three decimals, "—" where there is none."""
    return "—" if v is None else f"{v:.3f}"


class TrainedAhead(NamedTuple):
    """What ``/train_reference`` answers: the gallery (input, truth, each network with its PSNR,
    LPIPS and DISTS), the zoomed crops, the info (how they were trained, who won what), the
    scores, the zip."""

    ref_outs: list[tuple[str, Text]]
    ref_crops: str
    ref_info: Text
    ref_table: pd.DataFrame
    ref_zip: str


def train_reference(ctx: AppContext, task: Task, held_out: str, seed: float, arch: str) -> TrainedAhead:
    """The reference networks of ``task`` (trained ahead) on the held-out bundled photo, scored."""
    if task not in rf.tasks():
        shipped = ", ".join(rf.tasks()) or "—"
        raise UserError(msg("no reference networks for {task}; shipped: {tasks}", task=task, tasks=shipped))
    model = ctx.model(arch)
    fig = ft.reference_figure(model, task, _held_out(held_out), seed=int(seed))
    files = publish(fig)
    run = fig.record["eval"]
    name = ft.input_name(rf.eval_settings(task, model, int(seed)))
    gallery: list[tuple[str, Text]] = [(files[str(name)], name), (files["ground truth"], msg("ground truth"))]
    for n, ev in run["runs"].items():
        gallery.append((files[str(ft.network_name(n))], _caption(n, ev)))
    return TrainedAhead(
        gallery, files["zoomed crops"], fig.info, readable(fig.table), bundle_file(fig, files, model)
    )


def _controls(shared: Shared) -> list[Any]:
    b = tl.budget(shared.device)
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            task = gr.Radio(
                [(TASK_LABELS[t], t) for t in offered_tasks()],
                value=offered_tasks()[0],
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


def _trained_ahead(ctx: AppContext, shared: Shared, tab: gr.Tab, controls: list[Any]) -> None:
    """The reference networks' section, redrawn when the tab opens and when the task, the
    held-out photo, the seed (the held-out noise) or the backbone change."""
    task, _, _, seed, _, _, held_out, *_ = controls
    gr.Markdown("### Trained ahead: the lesson, on a photo they never saw")
    info = md(elem_id="t_ref_info")
    named: dict[str, Any] = {
        "task": task,
        "held_out": held_out,
        "seed": seed,
        **shared.named(),
        "ref_info": info,
        "ref_outs": figure_row(
            "The held-out photo: what each reference network makes of it", 5, "t_ref_outs", preview=False
        ),
    }
    with gr.Row():
        named["ref_crops"] = shown("Zoomed crops (where the texture is)", elem_id="t_ref_crops")
        named["ref_table"] = gr.Dataframe(
            headers=[str(c) for c in ft.REFERENCE_COLUMNS],
            label="Scores of the reference networks (the last column: their training loss at the end)",
            interactive=False,
            wrap=True,
            elem_id="t_ref_table",
        )
    named["ref_zip"] = export_button("t_ref_zip")
    fn = ctx.endpoint(
        train_reference,
        interactive=True,
        gpu_s=20,
        shared=True,
        defaults=[(offered_tasks()[0], tl.DEFAULT_EVAL_SAMPLE, 0, shared.arch0)],
    )
    wiring = dict(
        fn=fn,
        inputs=inputs_of(train_reference, named),
        outputs=outputs_of(TrainedAhead, named),
        trigger_mode="always_last",
        **ctx.lanes.events("interactive"),
    )
    gr.on([tab.select, task.change, held_out.change, seed.change], api_name="train_reference", **wiring)
    shared.loaded.success(api_visibility="private", api_name="ui_train_reference", **wiring)


def build(ctx: AppContext, shared: Shared) -> None:
    """The tab and its events."""
    with gr.Tab("Train with it", id="train") as tab:
        gr.Markdown(text.PDN_TRAIN, elem_classes=["pdn"])
        controls = _controls(shared)
        task, losses, steps, seed, photos, uploads, held_out, btn, stop = controls
        # A link's sample is the held-out photo (one of the six photos), its seed the run's.
        held = Entry("train", "sample", held_out, apply=lambda ln: ln.sample if ln.sample in PHOTOS else None)
        shared.link("train", sample=held, seed=seed)
        if rf.tasks():
            _trained_ahead(ctx, shared, tab, controls)
        else:  # every task trained ahead was withdrawn: its lesson did not hold on every photo
            md(text.TRAIN_NO_REFERENCE, elem_id="t_ref_none")
        gr.Markdown("### Watch them learn: the same networks, from scratch, live")
        md(text.TRAIN_LIVE)
        info = gr.Markdown(elem_id="t_info")
        outs = figure_row("The held-out photo: what each network makes of it", 5, "t_outs", preview=False)
        with gr.Row():
            crops = shown("Zoomed crops (where the texture is)", elem_id="t_crops")
            curve = shown("Training loss (log scale)", elem_id="t_curve")
        table = gr.Dataframe(
            headers=[str(c) for c in ft.TABLE_COLUMNS],
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
            inputs_of(
                train,
                {
                    "task": task,
                    "losses": losses,
                    "steps": steps,
                    "seed": seed,
                    "photos": photos,
                    "uploads": uploads,
                    "held_out": held_out,
                    **shared.named(),
                },
            ),
            [outs, crops, curve, info, table, zipped],
            api_name="train",
            **ctx.lanes.events("long"),
        )
        stop_button(stop, run, ctx, KIND)
        shared.long_jobs[btn] = run
