"""How the app is served: queue, limits and what may be read from disk — in one place, so that
``app.py`` and the tests launch exactly the same server."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from PIL import Image

from .. import png
from ..assets import SAMPLES_DIR
from ..backbone import VGGFeatures
from ..export import write_figure
from ..figures import Figure
from ..files import write_atomic
from . import a11y, i18n, present
from .style import CSS, PHONE_TABLES_JS

MAX_FILE_SIZE = "20mb"
QUEUE_MAX_SIZE = 64


def close(demo: gr.Blocks, timeout_s: float = 5.0) -> None:
    """Stop a launched app from any thread, quietly.

    ``Blocks.close`` sets the server's ``asyncio.Event`` that every open heartbeat stream waits
    on from the calling thread; ``asyncio.Event`` is not thread-safe, and a stream ending at that
    moment raised "deque mutated during iteration". So the event is set on the server's own
    loop first, and ``close`` then finds it set.
    """
    event = getattr(getattr(demo, "app", None), "stop_event", None)
    loop = getattr(event, "_loop", None)  # bound once a stream waits on it
    if event is not None and loop is not None and loop.is_running():
        done = threading.Event()

        def stop() -> None:
            event.set()
            done.set()

        loop.call_soon_threadsafe(stop)
        done.wait(timeout_s)
    with contextlib.redirect_stdout(io.StringIO()):  # "Closing server running on port …"
        demo.close()


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, **kwargs: Any) -> Any:
    """The queue (each lane's limit is set on its events: see :mod:`.lanes`), no share link,
    uploads capped, only the bundled samples served; AA-contrast colours and names for what
    Gradio leaves unnamed (see :mod:`.a11y`)."""
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_MAX_SIZE)
    kwargs.setdefault("css", CSS + a11y.CSS + present.CSS)
    kwargs.setdefault("theme", a11y.theme())
    scripts = (a11y.JS, i18n.relabel_js(), present.JS, PHONE_TABLES_JS)
    kwargs.setdefault("js", "() => {" + "".join(f" ({s})();" for s in scripts) + " }")
    kwargs.setdefault("i18n", gr.I18n(**GRADIO_MISSING_KEYS))
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(SAMPLES_DIR)],
        footer_links=["api"],
        **kwargs,
    )


# Words Gradio's own page asks for under keys its locale files lack: its status tracker announces
# a finished event to screen readers as ``common.complete`` (its files have ``chatbot.complete``),
# so without these the announcement is the raw key. Unlisted languages fall back to English.
GRADIO_MISSING_KEYS: dict[str, dict[str, str]] = {
    "en": {"common.complete": "Complete"},
    "ja": {"common.complete": "完了"},
    "zh-CN": {"common.complete": "完成"},
    "zh-TW": {"common.complete": "完成"},
}


def png_file(img: Image.Image) -> str:
    """Encode a picture as PNG for the browser, fast, straight into Gradio's file cache.

    Gradio would encode returned PIL images itself at zlib level 6; :func:`perceptual_viz.png.encode`
    is about 7× quicker on the Compare tab's pictures for ~15% more bytes, and on a view change
    the encoding is most of the server's time. Still lossless. A path inside Gradio's cache is
    served as is, without another copy. The same pixels again (the clean image of every
    Compare of one photo, say) reuse the file they were encoded to.
    """
    h = hashlib.blake2b(img.tobytes(), digest_size=16)
    h.update(f"{img.mode}{img.size}{get_upload_folder()}".encode())
    key = h.hexdigest()
    with _ENCODED_LOCK:
        known = _ENCODED.get(key)
    if known is not None and os.path.exists(known):
        return known
    path = png_bytes_file(png.encode(img))
    with _ENCODED_LOCK:
        _ENCODED[key] = path
        while len(_ENCODED) > ENCODED_KEPT:
            _ENCODED.pop(next(iter(_ENCODED)))
    return path


ENCODED_KEPT = 1024  # pixel hash → its PNG file (paths only: the files are Gradio's)
_ENCODED: dict[str, str] = {}
_ENCODED_LOCK = threading.Lock()


def png_bytes_file(data: bytes) -> str:
    """Encoded PNG bytes as a content-addressed file in Gradio's cache (see :func:`png_file`)."""
    return cached_file(data, "image.png")


def cached_file(data: bytes, name: str) -> str:
    """``data`` as file ``name`` in Gradio's cache, content-addressed: the same data, the same file
    (a download that did not change is not written again)."""
    folder = Path(get_upload_folder()) / hashlib.sha256(data).hexdigest()[:40]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():  # content-addressed: an existing file is complete (written atomically)
        write_atomic(path, data)
    return str(path)


def png_gallery(items: Iterable[tuple[Image.Image, str]]) -> list[tuple[str, str]]:
    """(picture, caption) pairs with each picture encoded by :func:`png_file` (shown and exported)."""
    return [(png_file(p), caption) for p, caption in items]


def publish(fig: Figure) -> dict[str, str]:
    """Every picture of ``fig`` encoded once (caption → PNG path): the files shown are the files
    exported. Pictures a figure already has as PNG files (a showcase entry) are not re-encoded."""
    stored = fig.stored
    return {
        caption: png_bytes_file(Path(stored[caption]).read_bytes()) if caption in stored else png_file(pic)
        for caption, pic in fig.pictures.items()
    }


def bundle_file(fig: Figure, shown: Mapping[str, str], model: VGGFeatures) -> str:
    """The figure's export zip (see :mod:`perceptual_viz.export`) in Gradio's file cache.

    Each request gets its own folder, so users never see each other's bundles; the cache's
    periodic clean-up removes them like any other result.
    """
    folder = Path(get_upload_folder()) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"perceptual-lab-{fig.kind}.zip"
    return str(write_figure(path, fig, model, frontend="app", pictures=shown))
