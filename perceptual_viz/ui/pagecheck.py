"""Checks of the page a student sees, for browser tests and tools (Playwright + system Chromium).

Nothing here imports Playwright: the functions take a Playwright ``Page`` and run JavaScript in
it. What is checked is what a reader would notice: text cut off by its box (clipped captions,
headers broken into an ellipsis), component labels drawn over the pictures they label, and what
axe-core finds against WCAG 2.1 AA (names, contrast, ARIA).
"""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
# A headless Chromium that makes no network connections of its own.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_CLIPPED_JS = """
() => {
  const out = [];
  const visible = e => {
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim().length > 0);
    if (!own || !visible(e) || e.classList.contains('sr-only') || e.clientWidth <= 1) continue;
    const s = getComputedStyle(e);
    const clips = s.overflow === 'hidden' || s.overflowX === 'hidden' || s.textOverflow === 'ellipsis'
      || s.overflowY === 'hidden';
    if (!clips) continue;
    const wide = e.scrollWidth > e.clientWidth + 1;
    const tall = e.scrollHeight > e.clientHeight + 1 && s.overflowY !== 'visible';
    if (wide || tall) {
      out.push({text: e.textContent.trim().slice(0, 80), tag: e.tagName.toLowerCase(),
                cls: String(e.className).slice(0, 60), sw: e.scrollWidth, cw: e.clientWidth,
                sh: e.scrollHeight, ch: e.clientHeight});
    }
  }
  return out;
}
"""

_OVERLAP_JS = """
() => {
  const out = [];
  const boxes = [...document.querySelectorAll('[data-testid="block-label"], label.float')];
  const imgs = [...document.querySelectorAll('img')].filter(i => {
    const r = i.getBoundingClientRect();
    return r.width > 8 && r.height > 8 && i.complete && i.naturalWidth > 0;
  });
  for (const b of boxes) {
    const lb = b.getBoundingClientRect();
    if (lb.width === 0 || lb.height === 0 || getComputedStyle(b).visibility === 'hidden') continue;
    for (const i of imgs) {
      const r = i.getBoundingClientRect();
      const w = Math.min(lb.right, r.right) - Math.max(lb.left, r.left);
      const h = Math.min(lb.bottom, r.bottom) - Math.max(lb.top, r.top);
      if (w > 2 && h > 2) {
        out.push({label: b.textContent.trim().slice(0, 60), src: (i.getAttribute('src') || '').slice(-40)});
        break;
      }
    }
  }
  return out;
}
"""


def clipped_texts(page: Any) -> list[dict[str, Any]]:
    """Visible text elements whose box cuts their text off (overflow hidden or an ellipsis)."""
    return list(page.evaluate(_CLIPPED_JS))


_SCROLLED_TABLES_JS = """
() => {
  const out = [];
  for (const t of document.querySelectorAll('table')) {
    const r = t.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || t.closest('.pv-tabled')) continue;  // shown as cards
    for (let p = t.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll'].includes(s.overflowX) && p.scrollWidth > p.clientWidth + 1) {
        out.push({text: t.textContent.trim().slice(0, 80), sw: p.scrollWidth, cw: p.clientWidth});
        break;
      }
    }
  }
  return out;
}
"""


def scrolled_tables(page: Any) -> list[dict[str, Any]]:
    """Visible tables wider than their box, so a reader has to scroll sideways to see a column."""
    return list(page.evaluate(_SCROLLED_TABLES_JS))


def labels_over_pictures(page: Any) -> list[dict[str, Any]]:
    """Component labels (Gradio's floating badges) drawn over a loaded picture."""
    return list(page.evaluate(_OVERLAP_JS))


def open_tab(page: Any, name: str) -> None:
    """Open tab ``name``, through the "More tabs" menu when the page is too narrow for it."""
    # Gradio renders a hidden copy of the tab bar to measure what fits: click the visible one.
    page.get_by_role("tab").filter(visible=True).first.wait_for()  # the page has drawn its tabs
    tab = page.get_by_role("tab", name=name, exact=True).filter(visible=True)
    if tab.count():
        tab.first.click()
        # Selected: Gradio shows the tab's panel in the same update that marks its button.
        page.get_by_role("tab", name=name, exact=True, selected=True).filter(visible=True).first.wait_for()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button").filter(has_text=name).first.click()
        page.wait_for_timeout(300)  # the menu closes and the bar redraws


def wait_idle(page: Any, timeout_ms: int = 180_000) -> None:
    """Until no component shows a spinner or progress, and every picture has loaded."""
    page.wait_for_function(
        "() => !document.querySelector('.wrap.pending, .progress-bar, .eta-bar')", timeout=timeout_ms
    )
    page.wait_for_function(
        "() => [...document.images].every(i => i.complete || i.loading === 'lazy')", timeout=timeout_ms
    )


# WCAG 2.1 A and AA, the level universities require of course tools.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("critical", "serious")


def axe_violations(page: Any, axe_js: str, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """Run axe-core (the script's source, ``axe_js``) on the page's WCAG 2.1 A/AA rules: the
    violations of the given impacts, each ``{"id", "impact", "help", "nodes": [selector, …]}``.

    Only what a user can reach is checked: elements hidden from everyone (a closed accordion, a
    hidden tab) are skipped by axe itself.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_js)
    found = page.evaluate(
        """async (tags) => {
          const only = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
          const r = await axe.run(document, only);
          return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.map(n => n.target.join(' '))}));
        }""",
        AXE_TAGS,
    )
    return [v for v in found if v["impact"] in impacts]
