"""The whole app: the header (status, backbone, size, colour map), then one tab per module.

Public endpoints (callable with ``gradio_client``; each takes images and plain settings):
``/status``, ``/overview``, ``/feature_grid``, ``/channel``, ``/locate``, ``/top_patches``,
``/visualize``, ``/gram``, ``/gram_pair``, ``/compare``, ``/sweep``, ``/equal_mse``, ``/train``,
``/quiz_new_round``, ``/quiz_next``, ``/quiz_vote``, ``/quiz_results``, ``/reconstruct``,
``/style_transfer``.
Everything else (sample clicks, grid clicks, slider ranges) is a private UI event. User mistakes
surface as one sentence; anything else as "Internal error <id>" (see :mod:`.errors`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import gradio as gr

from ..archs import ARCHS
from ..figures import DEFAULT_SIZE, SIZES
from ..messages import Text, word
from ..render import COLORMAPS
from . import i18n, linking, present, text
from .context import AppContext
from .lanes import LaneLimits
from .models import ModelPool
from .shared import PRIVATE, Shared
from .tabs import compare, equal_mse, features, gram, quiz, reconstruct, style_transfer, sweep, train
from .widgets import md

log = logging.getLogger("perceptual_viz.app")

TABS = (features, gram, compare, sweep, equal_mse, train, quiz, reconstruct, style_transfer)


def status_line(ctx: AppContext, arch: str) -> Text:
    m = ctx.pool.get(arch)
    return text.status_markdown(m.arch, m.status.message, m.status.trained, str(m.device))


def backbone_status(ctx: AppContext, arch: str) -> Iterator[Text]:
    """The status line; while ``arch`` loads, first a line that says so (the loader lane)."""
    if not ctx.pool.is_ready(arch):
        yield text.loading_markdown(arch)
        ctx.pool.get(arch)
    yield status_line(ctx, arch)


def _header(ctx: AppContext) -> Shared:
    arch0 = ctx.pool.arch
    md(text.INTRO)
    status = gr.Markdown(word(status_line(ctx, arch0), "en"), elem_id="status")
    with gr.Row():
        arch = gr.Radio(list(ARCHS), value=arch0, label="Backbone", scale=1)
        size = gr.Dropdown(list(SIZES), value=DEFAULT_SIZE, label="Analysis size (shorter side, px)", scale=1)
        cmap = gr.Dropdown(list(COLORMAPS[:4]), value=COLORMAPS[0], label="Colour map", scale=1)
        language = i18n.selector()
        with gr.Column(scale=0, min_width=170):
            projector = gr.Button("Projector mode", size="sm", elem_id="pv_present_btn")
            copy_link = gr.Button("Copy link to this view", size="sm", elem_id="pv_copy_link")
    projector.click(None, None, None, js=present.TOGGLE_JS, **PRIVATE)
    link_box = gr.Textbox(
        label="Link to this view",
        interactive=False,
        buttons=["copy"],
        elem_id="pv_link",
        max_lines=1,
        visible=False,
    )
    link_note = gr.Markdown(elem_id="pv_link_note")
    device = str(ctx.pool.get(arch0).device)
    shared = Shared(arch, size, cmap, arch0, device, language=language, status=status)
    shared.copy_link, shared.link_box, shared.link_note = copy_link, link_box, link_note
    shared.link_state = gr.State(None)
    shared.link("*", arch=arch, size=size, cmap=cmap)
    # A backbone switch waits for the load in the loader lane (the status says it is loading);
    # the tabs redraw once the model is there (on ``shared.loaded``).
    shared.loaded = arch.change(
        ctx.endpoint(backbone_status), [arch], [status], api_name="status", **ctx.lanes.events("loader")
    )
    return shared


def tab_ids(demo: gr.Blocks) -> tuple[str, ...]:
    """The ids of the app's tabs, in their order (what a link's ``tab`` may name)."""
    return tuple(str(b.id) for b in demo.blocks.values() if isinstance(b, gr.Tab) and b.id is not None)


def _one_long_job_per_person(shared: Shared) -> None:
    """Pressing a long job's button takes the person's other long jobs out of the queue (or
    stops them at their next step: see :meth:`~perceptual_viz.ui.lanes.Lanes.long_job`)."""
    for button in shared.long_jobs:
        others = [run for b, run in shared.long_jobs.items() if b is not button]
        button.click(None, None, None, cancels=others, **PRIVATE)


def _warm(ctx: AppContext, pool: ModelPool, views: bool, showcase: bool) -> None:
    model = pool.get(pool.arch)
    if views:
        n = ctx.precompute(ctx.showcase.stopping)
        log.info("precomputed %d default views of the bundled samples (%s)", n, ctx.results.stats())
    if showcase:
        ctx.showcase.start(model)


def build_demo(
    pool: ModelPool, limits: LaneLimits | None = None, warm: bool = False, precompute: bool = False
) -> gr.Blocks:
    """The whole app. ``pool`` holds the models and cache shared by every user; ``limits`` sets
    the lanes (default: :meth:`LaneLimits.resolve` for the pool's device); ``warm`` computes
    the showcase demos in the background (see :mod:`.showcase`); ``precompute`` the bundled
    samples' default views first (see :meth:`AppContext.precompute`)."""
    ctx = AppContext.create(pool, limits)
    # A long day: every 30 min, uploads and pictures older than an hour leave Gradio's cache.
    with gr.Blocks(title="Perceptual Loss Lab", delete_cache=(1800, 3600)) as demo:
        shared = _header(ctx)
        shared.demo = demo
        # Every lesson's tab stays in view, in rows on a phone, rather than behind a "More tabs"
        # menu: a teacher can say "open Which looks closer?" and everyone sees it. Nothing but
        # tabs may be created in here (see test_layout): Gradio numbers the tabs by position.
        with gr.Tabs(overflow_behavior="wrap") as tabs:
            for tab in TABS:
                tab.build(ctx, shared)
        _one_long_job_per_person(shared)
        linking.wire(shared, demo, tabs, tab_ids(demo))
        worded = i18n.wire(demo, shared.language)
        # The status line is worded by the server: again, in the chosen language.
        worded.then(ctx.endpoint(status_line), [shared.arch], [shared.status], **PRIVATE)
    if warm or precompute:  # the samples' default views, then the showcase's runs, while nobody waits
        args = (ctx, pool, precompute, warm)
        threading.Thread(target=_warm, args=args, name="precompute", daemon=True).start()
    demo.ctx = ctx  # for the benchmark and tests that drive it
    return demo
