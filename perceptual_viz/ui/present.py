"""Projector mode: the page as a class sees it from the back of a room.

On with ``?present=1`` in the address (see :mod:`.links`) or the header's *Projector* button;
off with the button or ``?present=0``. In it:

- type and figures are large, the page uses the screen's whole width (1920 × 1080 in mind);
- each tab's Predict → Do → Notice box shows one step at a time, so the class answers the
  question before it sees what to do and what to notice;
- the keyboard (and a presenter's clicker, which sends Page Down / Page Up) drives it:
  **Page Down**, **→** or **N** show the next step, **Page Up**, **←** or **P** the previous one,
  **]** and **[** open the next and the previous tab, **1**–**9** a tab by its place. Keys typed
  into a field are left alone.
"""

from __future__ import annotations

CLASS = "pv-present"

CSS = f"""
/* Projector mode (perceptual_viz.ui.present): large type, full width, one teaching step at a time. */
body.{CLASS} .gradio-container {{ max-width: 100% !important; padding: 0 24px !important; }}
body.{CLASS}, body.{CLASS} .gradio-container {{ --text-xxs: 13px; --text-xs: 15px;
  --text-sm: 18px; --text-md: 22px; --text-lg: 26px; --text-xl: 32px; --text-xxl: 40px;
  --block-label-text-size: 18px; --block-title-text-size: 20px; --block-info-text-size: 18px;
  --checkbox-label-text-size: 18px; --section-header-text-size: 20px; --input-text-size: 20px;
  --button-small-text-size: 18px; --button-large-text-size: 22px; }}
body.{CLASS} .pdn, body.{CLASS} .pdn p {{ font-size: 30px !important; line-height: 1.4 !important; }}
body.{CLASS} .pdn[data-step] p:not(.pv-step-shown) {{ visibility: hidden; }}
body.{CLASS} [role="tab"] {{
  font-size: 22px !important; padding: 6px 16px !important; height: auto !important;
}}
body.{CLASS} .gallery-item, body.{CLASS} [data-testid="block-label"] {{ font-size: 18px !important; }}
#pv_present_btn.pv-on {{ outline: 3px solid #0a5a9c; }}
"""

# The mode is a class on <body>; the Predict → Do → Notice boxes keep their step in data-step.
JS = r"""
() => {
  const CLASS = "__CLASS__";
  const on = () => document.body.classList.contains(CLASS);
  const boxes = () => [...document.querySelectorAll(".pdn")].filter(b => b.offsetParent !== null);
  const show = (box) => {
    const steps = [...box.querySelectorAll("p")];
    const n = Math.max(1, Math.min(steps.length, Number(box.dataset.step || 1)));
    box.dataset.step = String(n);
    steps.forEach((p, i) => p.classList.toggle("pv-step-shown", i < n));
  };
  const step = (by) => {
    for (const box of boxes()) { box.dataset.step = String(Number(box.dataset.step || 1) + by); show(box); }
  };
  const tabs = () => [...document.querySelectorAll('[role="tab"]')].filter(t => t.offsetParent !== null);
  const fresh = () => document.querySelectorAll(".pdn").forEach(show);  // (redraws drop the marks)
  const openTab = (i) => { const t = tabs()[i]; if (t) { t.click(); setTimeout(fresh, 50); } };
  const current = () => tabs().findIndex(t => t.getAttribute("aria-selected") === "true");
  const set = (yes) => {
    document.body.classList.toggle(CLASS, yes);
    const url = new URL(location.href);
    if (yes) url.searchParams.set("present", "1"); else url.searchParams.delete("present");
    history.replaceState(null, "", url);
    document.querySelectorAll("#pv_present_btn").forEach(b => b.classList.toggle("pv-on", yes));
    document.querySelectorAll(".pdn").forEach(show);
  };
  window.pvPresent = () => set(!on());
  set(new URLSearchParams(location.search).get("present") === "1");
  document.addEventListener("keydown", (ev) => {
    if (!on() || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    const k = ev.key;
    if (k === "PageDown" || k === "ArrowRight" || k === "n") step(1);
    else if (k === "PageUp" || k === "ArrowLeft" || k === "p") step(-1);
    else if (k === "]") openTab(current() + 1);
    else if (k === "[") openTab(current() - 1);
    else if (/^[1-9]$/.test(k)) openTab(Number(k) - 1);
    else return;
    ev.preventDefault();
  }, true);
  let queued = false;
  new MutationObserver(() => {
    if (!on() || queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fresh(); });
  }).observe(document.body, {childList: true, subtree: true});
}
""".replace("__CLASS__", CLASS)

# The header's button: it toggles the mode in the page, with no request to the server.
TOGGLE_JS = "() => { window.pvPresent && window.pvPresent(); }"
