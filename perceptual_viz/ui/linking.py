"""Links on the page: opening one restores its view; the header's button copies the view's link.

The tabs register what a link sets (:class:`~.links.Entry`, in ``shared.links``) as they are
built. On page load, :func:`wire`'s handler reads the address's query (:func:`.links.parse`),
opens the tab and sets every registered component; what the view change needs after the
picture is drawn (Feature maps' channel and point) waits in ``shared.link_state`` for the tab's
own follow-up. Parameters left out are said in a quiet note under the header.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..messages import Joined, Text
from . import i18n
from .links import Entry, Link, parse, query, settings_of
from .shared import PRIVATE, Shared

# The JS that hands the copy button's handler the open tab's id, as its first input.
_OPEN_TAB_JS = """
(...values) => {
  const open = document.querySelector('[role="tab"][aria-selected="true"]');
  return [open ? open.dataset.tabId || "" : "", ...values.slice(1)];
}
"""
# ... and copies the link it makes (a query) as a whole address, shown in the box too.
_COPY_JS = """
(q) => {
  const url = location.origin + location.pathname + (q || "");
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}
"""


def components(shared: Shared) -> list[Any]:
    return [e.component for e in shared.links]


def wire(shared: Shared, demo: gr.Blocks, tabs: gr.Tabs, tab_ids: tuple[str, ...]) -> None:
    """The load handler that applies a link, and the copy button's events."""
    entries: list[Entry] = shared.links
    outputs = [tabs, shared.link_note, shared.link_state, *components(shared)]

    def apply(request: gr.Request) -> tuple[Any, ...]:
        link = parse(dict(request.query_params), tab_ids)
        tab = link.tab or tab_ids[0]
        values = [e.value(link, tab) for e in entries]
        opened = gr.update(selected=link.tab) if link.tab else gr.skip()
        note: Text = Joined(link.notes, "; ") if link.notes else ""
        return (opened, note, pending(link, tab), *(gr.skip() if v is None else v for v in values))

    demo.load(i18n.localised(apply), None, outputs, **PRIVATE)

    def copy(tab: str, *values: Any) -> Any:
        settings = settings_of(entries, tab or tab_ids[0], list(values))
        # The box stays hidden until there is a link to show.
        return gr.update(value=query({**settings, "lang": i18n.request_language()}), visible=True)

    tab_box = gr.Textbox(visible=False)
    made = shared.copy_link.click(
        copy, [tab_box, *components(shared)], [shared.link_box], js=_OPEN_TAB_JS, **PRIVATE
    )
    made.then(None, [shared.link_box], [shared.link_box], js=_COPY_JS, **PRIVATE)


def pending(link: Link, tab: str) -> dict[str, int] | None:
    """What a tab applies once its picture is drawn (Feature maps: the channel, the point)."""
    wanted = {k: getattr(link, k) for k in ("channel", "x", "y") if getattr(link, k) is not None}
    return wanted if tab == "features" and wanted else None
