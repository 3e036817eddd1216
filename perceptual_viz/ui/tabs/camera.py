"""The live camera of the Feature maps tab: the shallow → deep row follows the webcam.

Each frame (Gradio's streaming image input) is analysed at a reduced size — :data:`CPU_SIZE` px
on a CPU, :data:`GPU_SIZE` on a GPU — and answered with one picture, the five block outputs side
by side. Frames run in the long-job lane and give way to other students' requests like a long
job's steps (:meth:`~perceptual_viz.ui.lanes.Lanes.streamed_frame`), and their activations go to a
small cache of their own, so a stream never evicts anyone's features.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from ... import chrome
from ...features import FeatureCache
from ...figures import analyse
from ...figures import features as ff
from ...images import load_image
from ..context import AppContext
from ..serve import png_file
from ..shared import Shared

CPU_SIZE = "128"  # shorter side of a frame on a CPU (≈ 0.1 s a frame on 2 cores)
GPU_SIZE = "224"
STREAM_EVERY_S = 0.5  # how often the page sends a frame
TIME_LIMIT_S = 300  # a stream ends after this long (start it again to go on)
FRAME_CACHE_BYTES = 64 * 2**20  # the stream's own activations: one frame's, all layers


def live_row(ctx: AppContext, frame: Any, arch: str, cmap: str) -> Any:
    """One webcam frame's shallow → deep row, as one picture; nothing while there is no frame."""
    if frame is None:
        return gr.skip()
    model = ctx.model(arch)
    size = GPU_SIZE if model.device.type == "cuda" else CPU_SIZE
    with ctx.lanes.streamed_frame():
        a = analyse(model, load_image(np.asarray(frame)), size)
        fig = ff.overview(model, FeatureCache(FRAME_CACHE_BYTES), a, size, cmap)
        return png_file(chrome.side_by_side(list(fig.pictures.values())))


def build(ctx: AppContext, shared: Shared) -> None:
    """The camera and its live row (in an accordion of the Feature maps tab)."""
    with (
        gr.Accordion(
            "Live camera: the shallow → deep row follows your webcam", open=False, elem_id="f_cam_box"
        ),
        gr.Row(),
    ):
        cam = gr.Image(
            sources=["webcam"],
            streaming=True,
            type="numpy",
            label="Camera",
            elem_id="f_cam",
            scale=1,
        )
        row = gr.Image(
            label="Block outputs, live", format="png", interactive=False, elem_id="f_cam_row", scale=3
        )
    cam.stream(
        ctx.endpoint(live_row),
        [cam, shared.arch, shared.cmap],
        [row],
        api_name="live_row",
        stream_every=STREAM_EVERY_S,
        time_limit=TIME_LIMIT_S,
        show_progress="hidden",
        **ctx.lanes.events("long"),
    )
