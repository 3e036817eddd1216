"""How the app is served: queue, limits and what may be read from disk — in one place, so that
``app.py`` and the tests launch exactly the same server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
MAX_FILE_SIZE = "20mb"
QUEUE_MAX_SIZE = 64


def launch(
    demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, concurrency: int = 2, **kwargs: Any
) -> Any:
    """At most ``concurrency`` VGG requests at once (all compute events share one concurrency
    group), no share link, uploads capped, only ``assets/`` served."""
    demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_MAX_SIZE)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        max_file_size=MAX_FILE_SIZE,
        allowed_paths=[str(ASSETS)],
        footer_links=["api"],
        **kwargs,
    )
