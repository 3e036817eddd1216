"""The Compare tab's "Why don't my numbers match?" panel: the pair Compare shows, scored under the
conventions libraries differ on, on demand. Public: ``/compare_conventions``.

It costs about three VGG passes of the pair beyond Compare's own, so it runs only when asked
(its button), never with every Compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from ...conventions import COLUMNS
from ...figures import conventions as fconv
from ...messages import Joined, Text, msg
from ...tables import Table
from .. import i18n
from ..context import AppContext, Upload
from ..errors import UserError
from ..shared import PRIVATE, inputs_of, outputs_of
from ..widgets import md
from .features import frame

INTRO = """\
Libraries compute "the same" metric in different ways, and each has its own default: the LPIPS
version and input range, SSIM's window, covariance and data range, whether VGG's input is
ImageNet-normalised, how Gram matrices are scaled. This scores the pair above under each
convention, says whose default it is and why its number differs. ✓ marks the convention this
app's score table uses.
"""


class Conventions(NamedTuple):
    """What ``/compare_conventions`` answers: the table, the info line, every row as JSON."""

    conventions_table: pd.DataFrame
    conventions_info: Text
    conventions_json: dict[str, Any]


def compare_conventions(
    ctx: AppContext,
    clean: Upload,
    degraded: Upload,
    source: str,
    degradation: str,
    strength: float,
    seed: float,
    arch: str,
    size: str,
) -> Conventions:
    """The pair ``/compare`` scores for the same inputs, under the conventions people mix up:
    LPIPS v0.1 vs v0.0 and [0, 1] vs [−1, 1] input, SSIM as Wang et al., scikit-image's default,
    pytorch-msssim's default and MATLAB's ssim.m, VGG with and without ImageNet normalisation,
    and the Gram normalisations none, chw and gatys."""
    t0 = time.perf_counter()
    model, c = ctx.analysis(clean, arch, size, msg("a clean image"), msg("clean image"))
    d = None
    if source == "upload":
        if not degraded:
            raise UserError(msg("upload the degraded image first (or apply a degradation instead)"))
        _, d = ctx.analysis(degraded, arch, size, which=msg("degraded image"))
    res = fconv.conventions(model, ctx.cache, c, d, degradation, float(strength), int(seed))
    seconds = time.perf_counter() - t0
    h, w = res.size
    device = str(model.device)
    scored = msg(
        "scored at {w}×{h} px on {device} in {ms:.0f} ms", w=w, h=h, device=device, ms=seconds * 1000
    )
    info = Joined((Joined((res.pair, scored)), *res.notes), "\n\n")
    data = {**res.as_dict(), "arch": model.arch, "device": device, "seconds": round(seconds, 4)}
    return Conventions(frame(res.table()), info, data)


def section(
    ctx: AppContext,
    named: Mapping[str, Any],
    compare_triggers: Sequence[Any],
    share_key: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """The panel, last in the Compare tab: ``named`` are the tab's and the page's controls by the
    names :func:`compare_conventions` gives its parameters; ``share_key`` is Compare's (what in
    them changes the pair). A new Compare (``compare_triggers``) empties the panel, so its
    numbers never stand next to another pair."""
    with gr.Accordion("Why don't my numbers match?", open=False, elem_id="c_conventions"):
        md(INTRO)
        btn = gr.Button("Score under other conventions", elem_id="c_conventions_btn")
        info = gr.Markdown(elem_id="c_conventions_info")
        table = gr.Dataframe(
            headers=[str(c) for c in COLUMNS],
            label="The same pair, other conventions",
            interactive=False,
            wrap=True,
            elem_id="c_conventions_table",
            column_widths=["10%", "20%", "9%", "6%", "27%", "28%"],
        )
        with gr.Accordion("Every convention (JSON)", open=False):
            data = gr.JSON(label="Every convention (JSON)")
    outputs = {"conventions_table": table, "conventions_info": info, "conventions_json": data}
    btn.click(
        ctx.endpoint(compare_conventions, interactive=True, gpu_s=40, shared=True, normalise=share_key),
        inputs_of(compare_conventions, named),
        outputs_of(Conventions, outputs),
        api_name="compare_conventions",
        **ctx.lanes.events("interactive"),
    )
    gr.on(list(compare_triggers), i18n.localised(_cleared), None, [table, info, data], **PRIVATE)


def _cleared() -> tuple[pd.DataFrame, str, None]:
    """The panel emptied (its headers in the page's language)."""
    return frame(Table(list(COLUMNS), [])), "", None
