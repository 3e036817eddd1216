"""The app's own flavours of Gradio components: image inputs, shown pictures, export buttons."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from ..chrome import num
from ..tables import Table

LATEX: list[dict[str, str | bool]] = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]


UPLOAD_CLASS = "pv-upload"  # marks the app's image inputs (see :func:`_preprocess`)
_GRADIO_PREPROCESS = gr.Image.preprocess


def upload_path(component: gr.Image, payload: Any) -> str | None:
    """Preprocessing for image inputs: the uploaded file's path, undecoded.

    Gradio's own preprocessing opens every upload with PIL before our code runs, so a hostile
    file (a decompression bomb, random bytes, a truncated PNG, a text file) would fail there
    with a generic message. This way :func:`perceptual_viz.images.load_image` is the only
    decoder, with its guards and specific messages. The path is safe to open: Gradio has
    already checked that it lies in its own upload folder, so a client cannot point it at
    another file on the server.
    """
    if payload is None:
        return None
    if getattr(payload, "path", None) is None:  # a data: URL — let Gradio decode it
        decoded = _GRADIO_PREPROCESS(component, payload)
        return decoded if isinstance(decoded, str) or decoded is None else None
    return str(payload.path)


def _preprocess(self: gr.Image, payload: Any) -> Any:
    """``gr.Image.preprocess``, except for the app's image inputs: :func:`upload_path`.

    Installed on the class, not on our instances and not through a subclass: Gradio rebuilds a
    component from its class and constructor arguments for a session whenever an event updates
    its properties (every example click does), so a per-instance patch would silently vanish
    there; and a subclass makes Gradio write a ``.pyi`` file next to this module at import.
    The marker class travels with the constructor arguments, so a rebuilt input keeps it.
    """
    if UPLOAD_CLASS in (getattr(self, "elem_classes", None) or []):
        return upload_path(self, payload)
    return _GRADIO_PREPROCESS(self, payload)


gr.Image.preprocess = _preprocess  # type: ignore[method-assign]


def image_input(label: str, **kw: Any) -> gr.Image:
    """An image input that hands endpoints the uploaded file's path (see :func:`upload_path`)."""
    classes = [*kw.pop("elem_classes", []), UPLOAD_CLASS]
    return gr.Image(
        label=label,
        type="filepath",
        image_mode=None,
        format="png",
        sources=["upload", "webcam", "clipboard"],
        height=300,
        elem_classes=classes,
        **kw,
    )


def md(value: str = "", **kw: Any) -> gr.Markdown:
    """Markdown with $…$ and $$…$$ formulas."""
    return gr.Markdown(value, latex_delimiters=LATEX, **kw)


def shown(label: str, **kw: Any) -> gr.Image:
    """A picture a student looks at: lossless PNG, downloadable, full screen."""
    return gr.Image(label=label, format="png", interactive=False, buttons=["download", "fullscreen"], **kw)


def figure_row(label: str, columns: int, elem_id: str, **kw: Any) -> gr.Gallery:
    """Pictures side by side, each whole (lossless PNG, as tall as it needs, never cropped)."""
    return gr.Gallery(
        label=label,
        columns=columns,
        height="auto",
        format="png",
        elem_id=elem_id,
        elem_classes=["figure-row"],
        object_fit="contain",
        **kw,
    )


def export_button(elem_id: str) -> gr.DownloadButton:
    """A one-click download of the figure on show (filled in by the endpoint that drew it)."""
    return gr.DownloadButton(
        "⬇ Download figure + scores (.zip)", value=None, elem_id=elem_id, size="sm", variant="secondary"
    )


def readable(t: Table, digits: int = 4) -> pd.DataFrame:
    """A table for reading: floats to ``digits`` significant digits, "—" for a missing value
    (exports and JSON outputs keep every digit)."""
    return pd.DataFrame(
        [[num(v, digits) if isinstance(v, float) else v for v in r] for r in t.rows], columns=t.columns
    )
