"""The controls every tab reads (backbone, analysis size, colour map) and what tabs share."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
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
    # Links (see .links and .linking): what a link sets, the value a tab applies once its
    # picture is drawn, the header's copy button, its box and the note on what a link left out.
    links: list[Any] = field(default_factory=list)
    link_state: Any = None
    copy_link: Any = None
    link_box: Any = None
    link_note: Any = None

    def named(self) -> dict[str, Any]:
        """The page-wide controls by the names endpoints give their parameters."""
        return {"arch": self.arch, "size": self.size, "cmap": self.cmap}

    def link(self, tab: str, **components: Any) -> None:
        """Components of ``tab`` a link sets and the copy button reads, by parameter name (a
        component, or an :class:`~.links.Entry` for one with its own rules)."""
        from .links import Entry

        for param, c in components.items():
            self.links.append(c if isinstance(c, Entry) else Entry(tab, param, c))


# Parameters Gradio fills itself (by their annotations), never inputs of an event.
FILLED_BY_GRADIO = frozenset({"request", "progress", "evt"})


def inputs_of(fn: Callable[..., Any], named: Mapping[str, Any], without: Collection[str] = ()) -> list[Any]:
    """The inputs of endpoint ``fn``, from its one declaration, its signature: for each parameter
    after the context, the component of that name in ``named``. Trailing parameters with a
    default and no component (or named in ``without``) keep their default."""
    out: list[Any] = []
    skipped = None
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.name in FILLED_BY_GRADIO:
            continue
        if p.name in without or (p.name not in named and p.default is not p.empty):
            skipped = skipped or p.name
            continue
        if skipped is not None or p.name not in named:
            raise TypeError(f"{fn.__name__}: no component for {p.name!r} (or it follows {skipped!r})")
        out.append(named[p.name])
    return out


def outputs_of(answer: type[tuple[Any, ...]], named: Mapping[str, Any]) -> list[Any]:
    """The outputs of an endpoint whose answer is ``answer`` (a named tuple): the component of
    each field's name, in order."""
    return [named[f] for f in answer._fields]  # type: ignore[attr-defined]
