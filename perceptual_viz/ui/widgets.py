"""The app's own flavours of Gradio components: image inputs, shown pictures, export buttons."""

from __future__ import annotations

import functools
from typing import Any

import gradio as gr

LATEX: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]


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
        decoded = gr.Image.preprocess(component, payload)
        return decoded if isinstance(decoded, str) or decoded is None else None
    return str(payload.path)


def image_input(label: str, **kw: Any) -> gr.Image:
    """An image input that hands endpoints the uploaded file's path (see :func:`upload_path`)."""
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


def md(value: str = "", **kw: Any) -> gr.Markdown:
    """Markdown with $…$ and $$…$$ formulas."""
    return gr.Markdown(value, latex_delimiters=LATEX, **kw)


def shown(label: str, **kw: Any) -> gr.Image:
    """A picture a student looks at: lossless PNG, downloadable, full screen."""
    return gr.Image(label=label, format="png", interactive=False, buttons=["download", "fullscreen"], **kw)


def export_button(elem_id: str) -> gr.DownloadButton:
    """A one-click download of the figure on show (filled in by the endpoint that drew it)."""
    return gr.DownloadButton(
        "⬇ Download figure + scores (.zip)", value=None, elem_id=elem_id, size="sm", variant="secondary"
    )
