"""The two lesson tabs: **Equal MSE** and **What does a layer keep?**

Public endpoints: ``/equal_mse`` (one image and a target MSE or PSNR → the same pixel error made
seven ways, scored and ranked) and ``/reconstruct`` (feature inversion or texture synthesis,
streaming intermediate images). Both return an export zip as their last output.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from .. import equal_mse as em
from .. import reconstruct as rc
from ..images import load_image, to_pil
from ..layers import layers as all_layers
from . import text, views
from .common import (
    LOAD_WAIT_S,
    ON_CPU,
    TIME_LIMIT_S,
    Upload,
    analysis,
    export_button,
    image_input,
    md,
    session_of,
    shared_lanes,
    shared_pool,
    shown,
    user_errors,
)
from .lanes import chunk_images, progress_checkpoint
from .models import gpu
from .serve import bundle_file, png_file

TARGET_KINDS = ("MSE", "PSNR (dB)")
# Shown pictures of a reconstruction are enlarged (nearest neighbour) to at least this size.
DISPLAY_PX = 320


# --------------------------------------------------------------------------- equal MSE


def _target_mse(kind: str, value: float) -> float:
    if kind not in TARGET_KINDS:
        raise ValueError(f"target kind must be one of {', '.join(TARGET_KINDS)}, not {kind!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError("the target must be a finite number")
    return em.psnr_to_mse(v) if kind == "PSNR (dB)" else v


def _fmt(v: float | None) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


@gpu(duration=60)
def equal_mse(
    clean: Upload,
    target_kind: str,
    target: float,
    rank_by: str,
    seed: float,
    arch: str,
    size: str,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
):
    mse = _target_mse(target_kind, target)
    with shared_lanes().long_job(session_of(request), "equal-MSE gallery") as job:
        model, c = analysis(clean, arch, size, "a clean image")
        g = em.gallery(
            model,
            c.tensor,
            mse,
            seed=int(seed),
            rank_by=rank_by,
            cache=shared_pool().cache,
            clean_key=c.key,
            progress=progress_checkpoint(job, progress),
            chunk_images=chunk_images(model.device),
        )
    pics: list[tuple[Any, str]] = []
    for i, e in enumerate(g.entries, start=1):
        m, sc = e.match, e.scores
        off_target = "" if m.within else f" · ⚠️ MSE {m.mse:.3g}"
        caption = (
            f"#{i} {m.label} ({m.setting}){off_target} · SSIM {sc.ssim:.2f} · LPIPS {_fmt(sc.lpips)} · "
            f"perceptual {sc.perceptual_total:.3g}"
        )
        pics.append((png_file(to_pil(m.image)), caption))  # shown and exported: encoded once
    h, w = c.size
    off = [e.match for e in g.entries if not e.match.within]
    info = (
        f"**Target MSE {g.target_mse:.4g}** (PSNR {em.mse_to_psnr(g.target_mse):.2f} dB), "
        f"each degradation's strength found by bisection to within ±{g.tolerance:.0%} of it. "
        f"Ranked by **{g.rank_by}**, least damaged first (as the network sees it). "
        f"{w}×{h} px, scored in one VGG pass on {g.device} in {g.seconds:.2f} s."
        + "".join(f"\n\n⚠️ {m.label}: {m.note}" for m in off)
        + "".join(f"\n\n{n}" for n in g.notes)
        + (
            ""
            if model.status.trained
            else "\n\n⚠️ **Untrained weights:** these scores and this ranking are what a *random* "
            "network sees (LPIPS's learned weights are not calibrated for it); load ImageNet "
            "weights to see the lesson."
        )
    )
    record = {
        "settings": {
            "analysis_size": size,
            "size_hw": [h, w],
            "target_kind": target_kind,
            "target": float(target),
            "target_mse": g.target_mse,
            "tolerance": g.tolerance,
            "rank_by": g.rank_by,
            "seed": int(seed),
        },
        "gallery": g.as_dict(),
    }
    zipped = bundle_file(
        {"clean": to_pil(c.tensor), **{cap: p for p, cap in pics}}, record, "equal-mse", model
    )
    return pics, _readable(g.table()), info, g.as_dict(), zipped


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers to 4 significant digits for reading (the JSON output keeps full precision)."""
    out = table.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = [_fmt(float(v)) for v in out[col]]
    return out


# --------------------------------------------------------------------------- reconstruct


def _display(img) -> Any:
    """A reconstruction enlarged with nearest neighbour, so its pixels stay honest."""
    pil = to_pil(img)
    f = max(1, math.ceil(DISPLAY_PX / max(pil.size)))
    return pil.resize((pil.width * f, pil.height * f), resample=0) if f > 1 else pil


@gpu(duration=120)
def reconstruct(
    image: Upload,
    mode: str,
    layers: list[str],
    steps: float,
    px: float,
    seed: float,
    arch: str,
    history: list | None,
    request: gr.Request | None = None,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's documented way
):
    """Stream an optimisation: (picture, loss curve, info, runs so far, zip) every few steps."""
    with shared_lanes().long_job(session_of(request), "reconstruction") as job:
        yield from _reconstruct(image, mode, layers, steps, px, seed, arch, history, job, progress)


def _reconstruct(image, mode, layers, steps, px, seed, arch, history, job, progress):
    model = shared_pool().get(arch, cpu=ON_CPU.get(), wait=LOAD_WAIT_S)
    loaded = load_image(views.require(image, "an image"))
    target = loaded.tensor(model.device)
    settings = rc.ReconstructSettings(
        mode=mode,
        layers=tuple(layers) if layers else None,
        steps=int(steps),
        size=int(px),
        seed=int(seed),
    ).resolved(model.arch, model.device)
    deadline = time.monotonic() + TIME_LIMIT_S
    curve: list[dict[str, Any]] = []
    what = (
        f"{'Feature inversion' if settings.mode == 'content' else 'Texture synthesis'} from "
        f"{', '.join(settings.layers or ())} · {settings.steps} steps at {settings.size} px · "
        f"seed {settings.seed}"
    )
    # Earlier runs of this session, minus any whose picture the cache clean-up already removed.
    runs = [(path, cap) for path, cap in (history or []) if Path(path).is_file()]
    last = None
    every = max(1, settings.steps // 25)
    for st in rc.reconstruct(
        model, target, settings, every=every, should_stop=job.should_stop, deadline=deadline
    ):
        last = st
        curve.append({"step": st.step, "loss": st.loss})
        progress(st.step / max(1, st.total), desc=f"step {st.step}/{st.total}")
        info = (
            f"{what} · step {st.step}/{st.total} · loss {st.loss:.4g} · {st.seconds:.1f} s on {model.device}"
        )
        if not st.done:  # the runs row, the zip and the session's history change only at the end
            yield _display(st.image), pd.DataFrame(curve), info, gr.skip(), gr.skip(), gr.skip()
    assert last is not None
    if last.stopped:
        why = job.reason if last.stopped == "cancelled" and job.reason else last.stopped
        info += f" · stopped at step {last.step} ({why})"
    caption = f"{'content' if settings.mode == 'content' else 'texture'} · {'+'.join(settings.layers or ())}"
    result = png_file(to_pil(last.image))  # encoded once: shown in the runs row and exported
    ran = f"stopped at step {last.step}" if last.stopped else f"{last.step} steps"
    runs = [*runs, (result, f"{caption} · {ran}")][-12:]
    record = {
        "settings": {
            "mode": settings.mode,
            "layers": list(settings.layers or ()),
            "steps": settings.steps,
            "size": settings.size,
            "tv_weight": settings.tv_weight,
            "lr": settings.lr,
            "seed": settings.seed,
        },
        "result": {
            "steps_done": last.step,
            "loss": last.loss,
            "parts": last.parts,
            "seconds": round(last.seconds, 3),
            "stopped": last.stopped,
        },
        "loss_curve": curve,
    }
    target_small = to_pil(rc.resize_target(target, settings.size, "cpu"))
    zipped = bundle_file({"target": target_small, "reconstruction": result}, record, "reconstruct", model)
    yield _display(last.image), pd.DataFrame(curve), info, runs, zipped, runs


def relu_layers(arch: str) -> list[str]:
    """The layers offered for reconstruction: every ReLU (block outputs and Gatys' relu*_1)."""
    return [i.name for i in all_layers(arch) if i.name.startswith("relu")]


def _layer_defaults(mode: str, arch: str):
    return gr.update(value=list(rc.default_layers(mode, arch)))


def _layer_choices(arch: str):
    return gr.update(choices=relu_layers(arch), value=list(rc.default_layers("content", arch)))


# --------------------------------------------------------------------------- tabs


def equal_mse_tab(
    photos: list[str], arch: gr.Radio, size: gr.Dropdown, lane: dict[str, Any]
) -> tuple[gr.Button, Any]:
    """The "Equal MSE" tab and its events (inside the app's ``gr.Tabs``): (button, its event)."""
    with gr.Tab("Equal MSE", id="equal_mse"):
        with gr.Row():
            with gr.Column(scale=1):
                e_img = image_input("Clean image", elem_id="e_img")
                gr.Examples(photos[:6], inputs=[e_img], label="Samples")
            with gr.Column(scale=1):
                with gr.Row():
                    e_kind = gr.Radio(list(TARGET_KINDS), value="MSE", label="Target given as")
                    e_target = gr.Number(value=0.005, label="Target", elem_id="e_target")
                e_rank = gr.Radio(list(em.RANK_METRICS), value="LPIPS", label="Rank by")
                e_seed = gr.Number(value=0, precision=0, label="Seed (noise, salt & pepper)")
                e_btn = gr.Button("Make the gallery", variant="primary", elem_id="e_btn")
                md(text.EQUAL_MSE)
        e_info = gr.Markdown(elem_id="e_info")
        e_gallery = gr.Gallery(
            label="Same MSE, ranked by the network (least damaged first)",
            columns=4,
            height="auto",
            format="png",
            elem_id="e_gallery",
        )
        e_table = gr.Dataframe(label="Scores", interactive=False, wrap=True, elem_id="e_table")
        e_json = gr.JSON(label="All scores (JSON)")
        e_zip = export_button("e_zip")
    e_kind.input(
        lambda k: gr.update(value=30.0 if k == "PSNR (dB)" else 0.005),
        [e_kind],
        [e_target],
        api_visibility="private",
        queue=False,
    )
    run = e_btn.click(
        user_errors(equal_mse),
        [e_img, e_kind, e_target, e_rank, e_seed, arch, size],
        [e_gallery, e_table, e_info, e_json, e_zip],
        api_name="equal_mse",
        **lane,
    )
    return e_btn, run


def reconstruct_tab(
    photos: list[str], arch: gr.Radio, arch0: str, device: str, lane: dict[str, Any]
) -> tuple[gr.Button, Any]:
    """The "What does a layer keep?" tab and its events: (button, its event)."""
    max_steps, max_px = rc.limits(device)
    defaults = rc.ReconstructSettings().resolved(arch0, device)
    with gr.Tab("What does a layer keep?", id="reconstruct"):
        with gr.Row():
            with gr.Column(scale=1):
                r_img = image_input("Image to reconstruct", elem_id="r_img")
                gr.Examples(photos, inputs=[r_img], label="Samples", examples_per_page=12)
            with gr.Column(scale=1):
                r_mode = gr.Radio(
                    [("feature inversion (content)", "content"), ("texture synthesis (Gram)", "texture")],
                    value="content",
                    label="Match",
                    elem_id="r_mode",
                )
                r_layers = gr.Dropdown(
                    relu_layers(arch0),
                    value=list(defaults.layers or ()),
                    multiselect=True,
                    allow_custom_value=True,  # API callers may name any layer of either arch
                    label="Layers (one for inversion; several for texture)",
                    elem_id="r_layers",
                )
                with gr.Row():
                    r_steps = gr.Slider(
                        10, max_steps, value=defaults.steps, step=10, label="Steps", elem_id="r_steps"
                    )
                    r_px = gr.Slider(
                        32,
                        max_px,
                        value=defaults.size,
                        step=16,
                        label="Size (longest side, px)",
                        elem_id="r_px",
                    )
                    r_seed = gr.Number(value=0, precision=0, label="Seed")
                with gr.Row():
                    r_btn = gr.Button("Reconstruct", variant="primary", elem_id="r_btn")
                    r_stop = gr.Button("Stop", variant="stop", elem_id="r_stop")
                md(text.RECONSTRUCT)
        r_info = gr.Markdown(elem_id="r_info")
        with gr.Row():
            r_out = shown("Optimised image (starts as noise)", elem_id="r_out", height=DISPLAY_PX)
            r_curve = gr.LinePlot(x="step", y="loss", label="Loss", height=DISPLAY_PX, y_title="loss")
        r_runs = gr.Gallery(
            label="Runs so far (this session)",
            columns=6,
            height=260,
            format="png",
            object_fit="contain",
            preview=False,
            elem_id="r_runs",
        )
        r_zip = export_button("r_zip")
        r_hist = gr.State([])
    r_mode.input(_layer_defaults, [r_mode, arch], [r_layers], api_visibility="private", queue=False)
    arch.change(_layer_choices, [arch], [r_layers], api_visibility="private", queue=False)
    run = r_btn.click(
        user_errors(reconstruct),
        [r_img, r_mode, r_layers, r_steps, r_px, r_seed, arch, r_hist],
        [r_out, r_curve, r_info, r_runs, r_zip, r_hist],
        api_name="reconstruct",
        **lane,
    )
    stop_button(r_stop, run, "reconstruction")
    return r_btn, run


def stop_button(button: gr.Button, run: Any, kind: str) -> None:
    """Stop: a running job ends at its next step and shows its result ("stopped at step n");
    a job still waiting in the queue is taken out of it."""
    queued = gr.State(0)

    def stop(n: int, request: gr.Request) -> Any:
        if shared_lanes().stop(session_of(request), kind):
            return gr.skip()
        return (n or 0) + 1  # nothing running: cancel the queued event (the change below)

    button.click(stop, [queued], [queued], api_visibility="private", queue=False)
    queued.change(None, None, None, cancels=[run], api_visibility="private", queue=False)
