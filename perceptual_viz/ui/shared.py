"""The controls every tab reads (backbone, analysis size, colour map) and what tabs share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..archs import Arch

PRIVATE: dict[str, Any] = {"api_visibility": "private", "queue": False}  # a private UI event, off the queue


@dataclass
class Shared:
    """The page-wide controls and hooks a tab's ``build`` uses.

    ``loaded`` is the event that fires once a backbone switch has loaded the new model: tabs
    chain their redraws on it, so none of them waits for a load in a compute slot.
    ``long_jobs`` collects each tab's long-job button and its event, so that pressing one takes
    the person's other long jobs out of the queue (one long job per person).
    """

    arch: gr.Radio
    size: gr.Dropdown
    cmap: gr.Dropdown
    arch0: Arch
    device: str
    demo: Any = None  # the Blocks, for page-load events
    loaded: Any = None
    long_jobs: dict[gr.Button, Any] = field(default_factory=dict)
    language: Any = None  # the language selector (see :mod:`.i18n`)
    status: Any = None  # the status line (which weights, which device)
