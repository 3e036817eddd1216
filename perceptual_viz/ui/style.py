"""The app's CSS: labels and buttons above the pictures, never on them; rows that wrap on a phone."""

from __future__ import annotations

CSS = """
/* Component labels and their icon buttons sit above the content instead of floating over it. */
label.float[data-testid="block-label"] { position: static !important; margin: 4px 0 4px 4px !important; }
.top-panel { position: static !important; margin: 0 4px 4px auto !important; width: fit-content; }
/* Galleries of figures: as many columns as fit, so a phone wraps them instead of hiding some. */
.figure-row .grid-container {
  grid-template-columns: repeat(auto-fill, minmax(min(100%, var(--figure-min, 250px)), 1fr)) !important;
  grid-template-rows: none !important;
}
.figure-row .fixed-height { min-height: 0 !important; max-height: none !important; }
.figure-row .grid-wrap { overflow-y: visible !important; }
#overview { --figure-min: 220px; }
#s_thumbs { --figure-min: 150px; }
#r_runs { --figure-min: 200px; }
#t_outs { --figure-min: 190px; }
#q_chart { --figure-min: 420px; }
#q_disagreed { --figure-min: 520px; }
/* A wide strip of crops shrinks to its box instead of being cut at the sides. */
#t_crops img { max-width: 100% !important; height: auto !important; object-fit: contain !important; }
/* On a phone the crop strip keeps a readable size and scrolls sideways inside its box (its
   captions are drawn in the picture). */
@media (max-width: 640px) {
  #t_crops .image-frame { overflow-x: auto !important; justify-content: flex-start !important; }
  #t_crops img { max-width: none !important; width: 640px !important; }
}
.figure-row .thumbnail-item { aspect-ratio: auto !important; height: auto !important; }
.figure-row .thumbnail-item img { height: auto !important; object-fit: contain !important; }
/* A caption under its picture, whole and wrapped, instead of a cut-off badge over it. */
.figure-row .caption-label { position: static !important; max-width: none !important;
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important;
  border: none !important; background: transparent !important; }
/* A quiz trial on a phone: the reference across the screen, A and B side by side under it, so
   a student compares them without scrolling. */
@media (max-width: 640px) {
  #q_pics { flex-wrap: wrap !important; flex-direction: row !important; gap: 8px !important; }
  #q_pics > #q_ref { flex: 1 1 100% !important; }
  #q_pics > #q_a, #q_pics > #q_b { flex: 1 1 calc(50% - 4px) !important; min-width: 0 !important; }
}
/* The Predict → Do → Notice box at the top of each lesson. */
.pdn { border-left: 4px solid #0072b2; background: #f4f8fb; padding: 8px 14px !important;
       border-radius: 6px; }
.pdn p { margin: 4px 0 !important; }
/* Dark mode (Gradio's ?__theme=dark, or the system's): the box keeps its blue edge on a dark
   blue; the figures are pictures on white of their own, so they read the same on either. */
.dark .pdn { background: #13263a; }
/* Tables: never break a number or a header inside a word. */
table td, table th { overflow-wrap: normal !important; word-break: normal !important; }
/* On a phone a table too wide for the screen is shown as cards, one per row, each value under
   its column's name (PHONE_TABLES_JS builds them from the table). The table stays drawn (Gradio
   draws only the rows in view, so a hidden table would have none to read) but out of sight,
   under the cards, and out of screen readers' way. */
.table-container:has(> .pv-tabled) { position: relative; }
.pv-tabled { position: absolute !important; left: 0; top: 0; opacity: 0 !important;
  pointer-events: none !important; z-index: -1; }
.pv-cards { margin: 4px 0; }
.pv-card { border: 1px solid var(--border-color-primary); border-radius: 6px; margin: 6px 0;
  padding: 4px 8px; }
.pv-card > div { display: flex; gap: 8px; padding: 2px 0; }
.pv-card dt { font-weight: 600; flex: 0 0 42%; margin: 0; }
.pv-card dd { margin: 0; flex: 1 1 auto; overflow-wrap: anywhere; }
"""

# Tables wider than a phone's screen become cards (see the CSS above). Gradio draws a table with
# every column's width fixed for a wide screen; below PHONE px, a table that would scroll sideways
# is hidden and its rows are shown as cards instead, rebuilt whenever the table's text changes.
PHONE_TABLES_JS = r"""
() => {
  const PHONE = 640;
  const text = (e) => e.innerText.replace("⋮", "").replace(/\s+/g, " ").trim();
  // Gradio draws the header as a table and the rows as a virtual list: only rows in view exist,
  // so a table is carded only when every row is there (aria-rowcount counts the header too).
  const read = (wrap) => {
    const rows = [...wrap.querySelectorAll(".virtual-row[role=row]")]
      .map(r => [...r.querySelectorAll("[role=gridcell]")].map(text)).filter(r => r.some(Boolean));
    const all = Number(wrap.getAttribute("aria-rowcount") || 0) <= rows.length + 1;
    return {heads: [...wrap.querySelectorAll("[role=columnheader]")].map(text), rows: all ? rows : []};
  };
  const build = (t) => {
    const box = document.createElement("div");
    box.className = "pv-cards";
    for (const r of t.rows) {
      const card = document.createElement("dl");
      card.className = "pv-card";
      r.forEach((v, i) => {
        const line = document.createElement("div");
        const dt = document.createElement("dt"), dd = document.createElement("dd");
        dt.textContent = t.heads[i] || ""; dd.textContent = v;
        line.append(dt, dd); card.append(line);
      });
      box.append(card);
    }
    return box;
  };
  const fit = () => {
    for (const wrap of document.querySelectorAll(".table-wrap")) {
      const old = wrap.nextElementSibling && wrap.nextElementSibling.classList.contains("pv-cards")
        ? wrap.nextElementSibling : null;
      const t = read(wrap);
      const table = wrap.querySelector("table");
      const room = (wrap.closest(".table-container") || wrap).clientWidth;
      const wide = window.innerWidth <= PHONE && t.rows.length > 0 && !!table && table.offsetWidth > room + 1;
      if (!wide) {
        if (old) old.remove();
        wrap.classList.remove("pv-tabled");
        wrap.removeAttribute("aria-hidden");
        continue;
      }
      const sig = JSON.stringify(t);
      if (!old || old.dataset.sig !== sig) {
        const box = build(t);
        box.dataset.sig = sig;
        if (old) old.replaceWith(box); else wrap.after(box);
      }
      wrap.classList.add("pv-tabled");
      wrap.setAttribute("aria-hidden", "true");
    }
  };
  let queued = false;
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fit(); });
  };
  new MutationObserver(later).observe(document.body, {childList: true, subtree: true, characterData: true});
  window.addEventListener("resize", later);
  window.pvFitTables = fit;  // for tests
  fit();
}
"""
