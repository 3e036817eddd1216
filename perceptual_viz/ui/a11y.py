"""Accessibility of the page: colours with AA contrast, and names for what Gradio leaves unnamed.

- :func:`theme`: Gradio's default theme with a primary colour (Okabe & Ito's blue, darkened) and a
  stop colour whose white text meets WCAG AA (4.5 : 1); Gradio's orange buttons reach 2.8 : 1.
- :data:`CSS`: AA contrast for the small grey texts Gradio draws itself (a slider's range, the
  "- or -" of an upload box, the footer's API link) and a focus ring that is always visible.
- :data:`JS`: runs once in the page and keeps naming what appears later. Sample buttons of
  ``gr.Examples`` hold only a thumbnail, so a screen reader hears "button"; each gets the name of
  its sample ("Sample photo: Chelsea the cat", from :data:`perceptual_viz.assets.DESCRIPTIONS`).
  Gradio's empty picture placeholders carry an ``aria-label`` on a plain ``div``, which ARIA
  forbids; they get ``role="img"``. An upload box's spoken name ("Drop an image file here to
  upload") differs from its visible text, and so does a gallery thumbnail's ("Thumbnail 1 of 2"
  under a caption); the visible text is made (part of) their names.

The same script makes pictures that answer a click usable by keyboard: arrow keys move a cursor
(tile by tile on the channel grid, whose layout the page publishes; else a point), and Enter or
Space clicks there.
"""

from __future__ import annotations

import json

import gradio as gr

from ..assets import DESCRIPTIONS
from ..messages import LANGS, msg, word

PRIMARY = "#0a5a9c"  # white on it: 7.0 : 1
PRIMARY_HOVER = "#084a80"
STOP = "#b42318"  # white on it: 6.5 : 1
STOP_HOVER = "#912018"
SUBDUED = "#4b5563"  # on white: 7.6 : 1
SUBDUED_DARK = "#c3c8cf"  # on Gradio's dark background (#0b0f19): 11 : 1


def theme() -> gr.themes.Base:
    """Gradio's default theme with AA-contrast buttons and subdued text."""
    return gr.themes.Default(primary_hue=gr.themes.colors.blue).set(
        button_primary_background_fill=PRIMARY,
        button_primary_background_fill_hover=PRIMARY_HOVER,
        button_primary_border_color=PRIMARY,
        button_primary_text_color="#ffffff",
        button_primary_text_color_hover="#ffffff",
        button_cancel_background_fill=STOP,
        button_cancel_background_fill_hover=STOP_HOVER,
        button_cancel_border_color=STOP,
        button_cancel_text_color="#ffffff",
        button_cancel_text_color_hover="#ffffff",
        body_text_color_subdued=SUBDUED,
        body_text_color_subdued_dark=SUBDUED_DARK,
    )


CSS = f"""
/* Gradio's own small grey texts, at AA contrast. */
[data-testid="min-value"], [data-testid="max-value"], .upload-container .or, .show-api,
.show-api * {{ color: {SUBDUED} !important; }}
/* ... and in dark mode (one .dark rule per selector: Gradio rewrites a rule's first .dark only). */
.dark [data-testid="min-value"] {{ color: {SUBDUED_DARK} !important; }}
.dark [data-testid="max-value"] {{ color: {SUBDUED_DARK} !important; }}
.dark .upload-container .or {{ color: {SUBDUED_DARK} !important; }}
.dark .show-api {{ color: {SUBDUED_DARK} !important; }}
.dark .show-api * {{ color: {SUBDUED_DARK} !important; }}
/* Focus is always visible, for keyboard users. */
button:focus-visible, [role="tab"]:focus-visible, input:focus-visible, textarea:focus-visible,
a:focus-visible, [tabindex]:focus-visible {{ outline: 3px solid {PRIMARY} !important;
  outline-offset: 2px !important; }}
/* The keyboard cursor over a picture (a tile, or a point), and what only scripts read. */
.image-container > button {{ position: relative; }}
.pv-cursor {{ position: absolute; pointer-events: none; box-sizing: border-box;
  border: 3px solid #ffffff; outline: 3px solid {PRIMARY}; }}
.pv-hidden {{ display: none !important; }}
"""


def _names() -> str:
    """Per language: each sample's name, and how a gallery thumbnail is named (``{caption}`` and
    ``{place}`` filled in by the page)."""
    return json.dumps(
        {
            lang: {
                "samples": {f: word(msg("Sample {what}", what=d), lang) for f, d in DESCRIPTIONS.items()},
                "captioned": word(
                    msg("{caption} (picture {place})", caption="{caption}", place="{place}"), lang
                ),
                "picture": word(msg("Picture {place}", place="{place}"), lang),
            }
            for lang in LANGS
        },
        ensure_ascii=False,
    )


# A picture's text alternative is its label, then what the elements listed here say about it (a
# caption's text, an input's label and value): "Channel grid (click a tile): relu3_3 · 16
# strongest channels by mean · …". The tables in DESCRIBED_BY hold its numbers: they become its
# aria-describedby, read after the name.
NAMED_BY: dict[str, list[str]] = {"grid": ["grid_caption"], "detail": ["f_channel"]}
DESCRIBED_BY: dict[str, list[str]] = {
    "detail": ["f_stats"],
    "f_point": ["f_point_table"],
    "c_slider": ["compare_info", "scores"],
    "c_chart": ["scores"],
    "gram_a": ["g_formula"],
    "gram_b": ["g_formula"],
    "gram_d": ["g_formula"],
    "t_crops": ["t_table"],
    "t_curve": ["t_info"],
    "r_out": ["r_info"],
    "r_curve": ["r_info"],
}

_JS_TEMPLATE = r"""
() => {
  const wordsByLang = __NAMES__;
  const spoken = () => {  // in the page's language, as the language selector remembers it
    const m = document.cookie.match(/(?:^|; )pv_lang=([a-z]+)/);
    return wordsByLang[m && wordsByLang[m[1]] ? m[1] : "en"];
  };
  const namedBy = __NAMED_BY__;
  const describedBy = __DESCRIBED_BY__;
  const said = (id) => {
    const e = document.getElementById(id);
    if (!e) return "";
    const input = e.querySelector("input, textarea");
    const label = e.querySelector("[data-testid=block-label], .block-title, span[data-testid=block-info]");
    if (input) return ((label ? label.innerText + " " : "") + input.value).trim();
    return e.innerText.replace(/\s+/g, " ").trim();
  };
  const describe = () => {
    for (const img of document.querySelectorAll(".image-container img, .image-frame img")) {
      const block = img.closest("[id]");
      if (!block) continue;
      const label = block.querySelector("[data-testid=block-label]");
      const parts = (namedBy[block.id] || []).map(said).filter(Boolean);
      const name = [label ? label.innerText.trim() : "", parts.join(", ")].filter(Boolean).join(": ");
      if (name && img.getAttribute("alt") !== name.slice(0, 300)) img.setAttribute("alt", name.slice(0, 300));
      const ids = (describedBy[block.id] || []).filter((id) => document.getElementById(id)).join(" ");
      if (ids && img.getAttribute("aria-describedby") !== ids) img.setAttribute("aria-describedby", ids);
    }
  };
  // Pictures that answer a click, by keyboard: arrow keys move a cursor (tile by tile on a grid
  // whose layout is published in TILES_OF; else a point, 1/16 of the picture, 1/64 with Shift),
  // Enter or Space clicks where it is. The cursor is drawn over the picture and spoken in the
  // picture's name.
  const tilesOf = __TILES_OF__;
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  const layout = (btn) => {
    const block = btn.closest("[id]");
    const src = block && tilesOf[block.id] && document.querySelector(tilesOf[block.id]);
    try { return src ? JSON.parse(src.dataset.grid) : null; } catch (e) { return null; }
  };
  const box = (img, spec, s) => {
    if (!spec) return [s.x - 6, s.y - 6, 12, 12];
    const q = s.j % spec.cols, r = Math.floor(s.j / spec.cols);
    return [spec.pad + q * (spec.tw + spec.pad), spec.pad + r * (spec.th + spec.pad), spec.tw, spec.th];
  };
  const scale = (img) => {
    const r = img.getBoundingClientRect();
    const sc = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
    return {r, sc, ox: (r.width - img.naturalWidth * sc) / 2, oy: (r.height - img.naturalHeight * sc) / 2};
  };
  const draw = (btn, img, spec, s) => {
    let c = btn.querySelector(".pv-cursor");
    if (!c) { c = document.createElement("div"); c.className = "pv-cursor"; btn.appendChild(c); }
    const {r, sc, ox, oy} = scale(img);
    const b = btn.getBoundingClientRect();
    const [x, y, w, h] = box(img, spec, s);
    Object.assign(c.style, {left: `${r.left - b.left + ox + x * sc}px`,
                            top: `${r.top - b.top + oy + y * sc}px`,
                            width: `${w * sc}px`, height: `${h * sc}px`});
    const label = (btn.closest("[id]")?.querySelector("[data-testid=block-label]")?.innerText || "").trim();
    const where = spec ? `tile ${s.j + 1} of ${spec.n}, channel ${spec.channels[s.j]}`
                       : `point (${Math.round(s.x)}, ${Math.round(s.y)})`;
    btn.setAttribute("aria-label", `${label}: ${where}. Arrow keys move, Enter selects.`);
  };
  const start = (btn, img) => {
    const spec = layout(btn);
    if (!btn._pv || (spec && btn._pv.j === undefined) || (!spec && btn._pv.x === undefined)) {
      btn._pv = spec ? {j: 0} : {x: img.naturalWidth / 2, y: img.naturalHeight / 2};
    }
    if (spec) btn._pv.j = clamp(btn._pv.j, 0, spec.n - 1);
    return spec;
  };
  const onKey = (btn, ev) => {
    const img = btn.querySelector("img");
    if (!img || !img.naturalWidth) return;
    const moves = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
    const spec = start(btn, img);
    const s = btn._pv;
    if (ev.key in moves) {
      const [dx, dy] = moves[ev.key];
      if (spec) s.j = clamp(s.j + dx + dy * spec.cols, 0, spec.n - 1);
      else {
        const step = ev.shiftKey ? 1 / 64 : 1 / 16;
        s.x = clamp(s.x + dx * img.naturalWidth * step, 0, img.naturalWidth - 1);
        s.y = clamp(s.y + dy * img.naturalHeight * step, 0, img.naturalHeight - 1);
      }
    } else if (ev.key === "Enter" || ev.key === " ") {
      const [x, y, w, h] = box(img, spec, s);
      const {r, sc, ox, oy} = scale(img);
      const cx = spec ? x + w / 2 : s.x, cy = spec ? y + h / 2 : s.y;
      img.dispatchEvent(new MouseEvent("click", {bubbles: true, clientX: r.left + ox + cx * sc,
                                                 clientY: r.top + oy + cy * sc}));
    } else return;
    ev.preventDefault();
    ev.stopPropagation();
    draw(btn, img, spec, s);
  };
  const keyboard = () => {
    for (const btn of document.querySelectorAll(".image-container > button")) {
      if (btn.dataset.pvKeys || !btn.querySelector(".selectable")) continue;
      btn.dataset.pvKeys = "1";
      btn.addEventListener("keydown", (ev) => onKey(btn, ev), true);
      btn.addEventListener("keyup", (ev) => { if (ev.key === " ") ev.preventDefault(); }, true);
      btn.addEventListener("focus", () => {
        const img = btn.querySelector("img");
        if (!img || !img.naturalWidth || !btn.matches(":focus-visible")) return;
        draw(btn, img, start(btn, img), btn._pv);
      });
      btn.addEventListener("blur", () => btn.querySelector(".pv-cursor")?.remove());
    }
  };
  const fix = () => {
    describe();
    keyboard();
    const words = spoken();
    for (const b of document.querySelectorAll("button.gallery-item")) {
      const img = b.querySelector("img");
      if (!img) continue;
      const file = decodeURIComponent((img.getAttribute("src") || "").split("?")[0].split("/").pop());
      const name = words.samples[file];
      if (name && b.getAttribute("aria-label") !== name) {
        b.setAttribute("aria-label", name);
        img.setAttribute("alt", "");
      }
    }
    for (const d of document.querySelectorAll("div.empty[aria-label]:not([role])")) {
      d.setAttribute("role", "img");
    }
    for (const t of document.querySelectorAll("button.thumbnail-item[aria-label]")) {
      const label = t.getAttribute("aria-label");
      const gradio = label.match(/^Thumbnail (\d+ of \d+)$/);  // Gradio's own, after each redraw
      if (gradio) t.dataset.place = gradio[1];
      if (!t.dataset.place) continue;
      const caption = t.innerText.replace(/\s+/g, " ").trim();
      const name = (caption ? words.captioned.replace("{caption}", caption) : words.picture)
        .replace("{place}", t.dataset.place);
      if (label !== name) t.setAttribute("aria-label", name);
    }
    // upload boxes and the webcam's record button: the visible words are the name
    for (const u of document.querySelectorAll(
      "button.upload-container[aria-label], button.capture-button[aria-label]"
    )) {
      const text = u.innerText.replace(/\s+/g, " ").trim();
      if (text && u.getAttribute("aria-label") !== text) u.setAttribute("aria-label", text);
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fix(); });
  }).observe(document.body, {childList: true, subtree: true, characterData: true,
                             attributes: true, attributeFilter: ["src", "value"]});
  fix();
}
"""
# Pictures made of tiles, and the element whose ``data-grid`` says where the tiles are
# (:func:`perceptual_viz.figures.features.tile_layout`).
TILES_OF: dict[str, str] = {"grid": "#grid_keys [data-grid]"}

JS = (
    _JS_TEMPLATE.replace("__NAMES__", _names())
    .replace("__NAMED_BY__", json.dumps(NAMED_BY))
    .replace("__DESCRIBED_BY__", json.dumps(DESCRIBED_BY))
    .replace("__TILES_OF__", json.dumps(TILES_OF))
)
