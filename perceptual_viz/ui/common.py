"""What every tab's endpoints share: the model pool, the lanes, request plumbing and widgets.

Endpoints get their model and prepared image from :func:`analysis` and are wrapped in
:func:`user_errors` (user mistakes become ``gr.Error``; a CUDA out-of-memory error is retried on
the CPU). Quick views are wrapped in :func:`interactive` and run in the interactive lane; long
jobs take a :meth:`~perceptual_viz.ui.lanes.Lanes.long_job` handle and run in the long lane
(see :mod:`perceptual_viz.ui.lanes`).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from ..backbone import WeightsError
from ..images import ImageError, load_image
from ..layers import layers
from . import views
from .lanes import JobStopped, Lanes
from .models import ModelPool

log = logging.getLogger("perceptual_viz.app")
# How long an interactive request waits for a backbone that is still loading before it says so
# (the page's backbone switch waits for the load in the loader lane instead).
LOAD_WAIT_S = 10.0
# Longest a sweep may run before it stops with a message (other requests are bounded by size).
TIME_LIMIT_S = float(os.environ.get("PERCEPTUAL_VIZ_TIME_LIMIT", "120"))

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets" / "samples"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "camera.png", "brick.png")
PATTERNS = ("grating_h_16.png", "grating_d_16.png", "checkerboard.png", "text.png", "patches.png")


def samples() -> list[str]:
    return [str(ASSETS / n) for n in (*PHOTOS, *PATTERNS) if (ASSETS / n).is_file()]


def _as_gr_error(exc: BaseException) -> gr.Error:
    """The one-sentence ``gr.Error`` a user sees for an expected failure."""
    msg = str(exc).strip("'\"") or type(exc).__name__
    return gr.Error(msg, print_exception=False)


USER_MISTAKES = (ImageError, WeightsError, ValueError, KeyError, TimeoutError, JobStopped)


def _reraise_for_user(exc: Exception, name: str) -> None:
    """Raise what the user should see for ``exc``; return only for a CUDA out-of-memory error.

    User mistakes become one-sentence ``gr.Error``s; anything else is logged and hidden. On
    out-of-memory the GPU is freed and the user warned, and the caller retries on the CPU
    (unless it already is on the CPU).
    """
    if isinstance(exc, gr.Error):
        raise exc
    if isinstance(exc, USER_MISTAKES):
        raise _as_gr_error(exc) from None
    if isinstance(exc, torch.OutOfMemoryError):
        if ON_CPU.get():
            raise gr.Error("Out of memory even on the CPU: try a smaller analysis size.") from None
        log.warning("GPU out of memory in %s; retrying on the CPU", name)
        shared_pool().release_gpu_memory()
        gr.Warning("The GPU ran out of memory: this result was computed on the CPU (slower).")
        return
    log.error("internal error in %s", name, exc_info=exc)
    raise gr.Error("Internal error: the request failed; please try again.", print_exception=False) from None


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user mistakes into ``gr.Error`` (no traceback); log and hide anything else.

    A CUDA out-of-memory error frees the GPU and runs the request again on the CPU. Generator
    endpoints (which stream intermediate results) are wrapped the same way.
    """
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                _reraise_for_user(exc, fn.__name__)
                token = ON_CPU.set(True)  # the GPU ran out of memory: again, on the CPU
                try:
                    yield from streaming(*args, **kwargs)
                finally:
                    ON_CPU.reset(token)

        return streaming

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            _reraise_for_user(exc, fn.__name__)
            token = ON_CPU.set(True)  # the GPU ran out of memory: again, on the CPU
            try:
                return wrapper(*args, **kwargs)
            finally:
                ON_CPU.reset(token)

    return wrapper


def layer_choices(arch: str) -> list[str]:
    return [i.name for i in layers(arch)]


Upload = str | None  # the path of a file Gradio received (see upload_path), or nothing

# The shared models, cache and lanes, set once by ``build_demo`` (hysts-style module-level
# model, so ZeroGPU can run the ``@gpu`` functions without pickling them). Nothing per-user
# lives here.
_POOL: ModelPool | None = None
_LANES: Lanes | None = None


def shared_pool() -> ModelPool:
    if _POOL is None:
        raise RuntimeError("build_demo() has not been called")
    return _POOL


def shared_lanes() -> Lanes:
    if _LANES is None:
        raise RuntimeError("build_demo() has not been called")
    return _LANES


def session_of(request: gr.Request | None) -> str | None:
    """Gradio's session hash: one per browser tab or ``gradio_client.Client``."""
    return getattr(request, "session_hash", None) if request is not None else None


def interactive(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An interactive-lane endpoint: long jobs give way while it runs; errors as in :func:`user_errors`."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with shared_lanes().interactive():
            return fn(*args, **kwargs)

    return user_errors(run)


# Set while a request is retried on the CPU after a CUDA out-of-memory error.
ON_CPU: contextvars.ContextVar[bool] = contextvars.ContextVar("perceptual_viz_on_cpu", default=False)


def analysis(image: Upload, arch: str, size: str, what: str = "an image", which: str | None = None):
    """Model and prepared image; ``which`` names the image in errors when a request has two."""
    model = shared_pool().get(arch, cpu=ON_CPU.get(), wait=LOAD_WAIT_S)
    try:
        loaded = load_image(views.require(image, what))
    except ImageError as exc:
        raise ImageError(f"{which}: {exc}") if which else exc from None
    return model, views.analyse(model, loaded, size)


def upload_path(component: gr.Image, payload: Any) -> str | None:
    """Preprocessing for image inputs: the uploaded file's path, undecoded.

    Gradio's own preprocessing opens every upload with PIL before our code runs, so a hostile
    file (a decompression bomb, random bytes, a truncated PNG) would fail there with a generic
    message. This way :func:`perceptual_viz.images.load_image` is the only decoder, with its
    guards and specific messages. The path is safe to open: Gradio has already checked that it
    lies in its own upload folder, so a client cannot point it at another file on the server.
    (Set on the instance, not by subclassing, which would make Gradio look for a custom
    component's frontend.)
    """
    if payload is None:
        return None
    if getattr(payload, "path", None) is None:  # a data: URL — let Gradio decode it
        return gr.Image.preprocess(component, payload)
    return str(payload.path)


def image_input(label: str, **kw: Any) -> gr.Image:
    img = gr.Image(
        label=label,
        type="filepath",
        image_mode=None,
        format="png",
        sources=["upload", "webcam", "clipboard"],
        height=300,
        **kw,
    )
    img.preprocess = functools.partial(upload_path, img)  # type: ignore[method-assign]
    return img


LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def md(value: str = "", **kw: Any) -> gr.Markdown:
    return gr.Markdown(value, latex_delimiters=LATEX, **kw)


def shown(label: str, **kw: Any) -> gr.Image:
    return gr.Image(label=label, format="png", interactive=False, buttons=["download", "fullscreen"], **kw)


def set_shared_pool(pool: ModelPool, lanes: Lanes) -> None:
    """Install the pool and lanes every endpoint uses (called once by ``build_demo``)."""
    global _POOL, _LANES
    _POOL = pool
    _LANES = lanes


def export_button(elem_id: str) -> gr.DownloadButton:
    """A one-click download of the figure on show (filled in by the endpoint that drew it)."""
    return gr.DownloadButton(
        "⬇ Download figure + scores (.zip)",
        value=None,
        elem_id=elem_id,
        size="sm",
        variant="secondary",
    )
