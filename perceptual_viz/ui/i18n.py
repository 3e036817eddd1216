"""The page in English, Japanese or Simplified Chinese.

What the server says is data until it reaches the page: the library and the tabs build
:class:`~perceptual_viz.messages.Message` values (an id and its values), and :func:`localised`
words every message of an endpoint's answer in the language of the request it serves, and sets
that language while the answer is computed so that the words drawn into pictures follow it.
Nothing English is read back: a plain ``str`` in an answer is shown as it is (a layer name, a
number, a path). The page's own texts (labels, buttons, teaching text) are the catalogs' ids as
they were built, translated by exact lookup when the reader chooses a language (:func:`wire`).
Catalogs: ``perceptual_viz/locales/<lang>/*.po`` (see :mod:`perceptual_viz.messages`).

How a page gets its language: a link's ``?lang=``; else the selector in the header, remembered
in the browser (``localStorage`` and a cookie, :data:`COOKIE`); on a first visit, the browser's
own language.
The server reads the cookie (:func:`request_language`); a script or API caller sends none and
gets English. Metric names, layer names and formulas are the same in every language. Gradio's
own words (e.g. "Drop Image Here") follow the browser's language.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from typing import Any

import gradio as gr

from .. import messages
from ..messages import N_, Joined, Message, Text

LANGS: dict[str, str] = messages.LANGS
DEFAULT = messages.SOURCE
COOKIE = "pv_lang"
# Component properties that hold text a reader sees, by the component types that have them.
_TEXT_PROPS = ("label", "info", "placeholder")
_VALUE_IS_TEXT = ("Markdown", "Button", "DownloadButton")
_CHOICE_TYPES = ("Radio", "Dropdown", "CheckboxGroup")
# Texts the server rewrites as the page is used (the status line): worded by the server instead.
DYNAMIC_IDS = frozenset({"status", "lang", "q_unavailable"})


def language(value: Any) -> str:
    """A supported language code from ``value`` ("ja", "ja-JP", "zh-CN" …), else English."""
    return messages.known(value)


def text(s: str, lang: str) -> str:
    """``s`` (a text of the page as built: its catalog id) in ``lang``."""
    return messages.entries(lang).get(s, s) if lang != DEFAULT else s


def word(value: Any, lang: str) -> Any:
    """A message (or joined texts) worded in ``lang``; anything else as it is."""
    return messages.word(value, lang) if isinstance(value, (Message, Joined)) else value


def localise(value: Any, lang: str) -> Any:
    """An endpoint's answer in ``lang``: every message in it worded — texts, table headers and
    cells, gallery captions, the text of updates. Pictures and numbers stay as they are; JSON
    (data for programs) gets its messages in English."""
    if isinstance(value, (Message, Joined)):
        return messages.word(value, lang)
    if isinstance(value, tuple):
        return tuple(localise(v, lang) for v in value)
    if isinstance(value, list):  # a gallery: (picture, caption) pairs
        return [(v[0], word(v[1], lang)) if _captioned(v) else localise(v, lang) for v in value]
    if _is_frame(value):
        out = value.copy()
        out.columns = [word(c, lang) for c in out.columns]
        for c in out.columns:
            if out[c].dtype == object:
                out[c] = [word(v, lang) for v in out[c]]
        return out
    if isinstance(value, dict) and value.get("__type__") == "update":
        return {
            k: localise(v, lang) if k in ("value", "label", "info", "choices") else v
            for k, v in value.items()
        }
    if isinstance(value, dict):
        return messages.english(value)
    return value


def _captioned(v: Any) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], (str, Message, Joined))


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def localised(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (plain or generator) computed and answered in the language of the request it serves."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            lang = request_language()
            outputs = fn(*args, **kwargs)
            while True:
                with messages.speaking(lang):
                    try:
                        out = next(outputs)
                    except StopIteration:
                        return
                yield localise(out, lang)

        return stream

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        lang = request_language()
        with messages.speaking(lang):
            return localise(fn(*args, **kwargs), lang)

    return plain


def request_language(request: Any = None) -> str:
    """The language of the request being served (its :data:`COOKIE`), English without one."""
    if request is None:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
    headers = getattr(request, "headers", None) if request is not None else None
    raw = headers.get("cookie", "") if headers is not None else ""
    if not raw:
        return DEFAULT
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed cookie header from someone else's page: just English
        return DEFAULT
    return language(jar[COOKIE].value) if COOKIE in jar else DEFAULT


# --------------------------------------------------------------------------- the page


def texts_of(block: Any) -> dict[str, Any]:
    """The translatable properties of one component as built: {prop: English text or choices}."""
    kind = type(block).__name__
    found: dict[str, Any] = {}
    for prop in _TEXT_PROPS:
        v = getattr(block, prop, None)
        if isinstance(v, str) and v.strip():
            found[prop] = v
    if kind in _VALUE_IS_TEXT and isinstance(getattr(block, "value", None), str) and block.value.strip():
        found["value"] = block.value
    if kind in _CHOICE_TYPES:
        choices = getattr(block, "choices", None) or []
        if any(isinstance(c, (tuple, list)) and c[0] != c[1] for c in choices):
            found["choices"] = [tuple(c) for c in choices]
    return found


def page_texts(demo: gr.Blocks) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Every component of ``demo`` with text to translate, and that text."""
    for block in demo.blocks.values():
        if getattr(block, "elem_id", None) in DYNAMIC_IDS:
            continue
        found = texts_of(block)
        if found:
            yield block, found


def english_strings(demo: gr.Blocks) -> set[str]:
    """Every English text of the page a catalog's ``text`` part should translate."""
    out: set[str] = set()
    for _, found in page_texts(demo):
        for prop, v in found.items():
            if prop == "choices":
                out.update(str(label) for label, value in v if label != value)
            else:
                out.add(v)
    return out


def _translated(found: dict[str, Any], lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prop, v in found.items():
        if prop == "choices":
            out[prop] = [(text(str(label), lang) if label != value else label, value) for label, value in v]
        else:
            out[prop] = text(v, lang)
    return out


REMEMBER_JS = f"""
(lang) => {{
  try {{ localStorage.setItem("{COOKIE}", lang); }} catch (e) {{}}
  document.cookie = "{COOKIE}=" + lang + "; path=/; max-age=31536000; SameSite=Lax";
  document.documentElement.lang = lang === "zh" ? "zh-Hans" : lang;
  return lang;
}}
"""

PICK_JS = f"""
() => {{
  let saved = null;
  try {{ saved = localStorage.getItem("{COOKIE}"); }} catch (e) {{}}
  const known = {json.dumps(list(LANGS))};
  const linked = new URLSearchParams(location.search).get("lang");  // a link's ?lang= (see links.py)
  const asked = (linked || saved || navigator.language || "en").toLowerCase().split("-")[0];
  const lang = known.includes(asked) ? asked : "en";
  document.cookie = "{COOKIE}=" + lang + "; path=/; max-age=31536000; SameSite=Lax";
  return lang;
}}
"""


SHORT = 100  # characters: labels, buttons, tabs, choices (not teaching text)


# Short texts of the page built from messages (an example's label: a photo, a setting and a kind
# of damage), by their English: the page is built in English, and these follow the reader.
_COMPOSED: dict[str, Text] = {}


def page_words(text: Text) -> str:
    """``text`` (messages put together) as the page is built, in English; on the page it is
    shown in the reader's language like the catalog's own short texts (see :data:`RELABEL_JS`).
    For labels Gradio shows as they are given (an example's), not a component's own text."""
    english = messages.word(text, DEFAULT)
    _COMPOSED[english] = text
    return english


def short_texts() -> dict[str, dict[str, str]]:
    """Per language, the catalog's short one-line texts (English → translation), and for English
    the way back (translation → English): what :data:`RELABEL_JS` puts back on the page."""
    out: dict[str, dict[str, str]] = {"en": {}}
    for lang in LANGS:
        if lang == DEFAULT:
            continue
        texts = {en: tr for en, tr in messages.entries(lang).items() if len(en) <= SHORT and "\n" not in en}
        texts.update({en: messages.word(t, lang) for en, t in _COMPOSED.items()})
        out[lang] = texts
        out["en"].update({tr: en for en, tr in texts.items()})
    return out


# Gradio rebuilds a component from its constructor's arguments when an event updates it (every
# example click does), so a translated label can come back in English. This keeps the short texts
# of the page in the chosen language whatever redraws them: labels, tabs, buttons, choices.
RELABEL_JS = r"""
() => {
  const texts = __SHORT__;
  const chosen = () => {
    const m = document.cookie.match(/(?:^|; )__COOKIE__=([a-z]+)/);
    return m && texts[m[1]] ? m[1] : "en";
  };
  const where = '[data-testid="block-label"], [role="tab"], button, label span, .label-wrap span, '
    + '[data-testid="block-info"], [role="option"], .token span, th, th span, [role="columnheader"] span, '
    + 'button.gallery-item div';
  // Gradio's own screen-reader names and tooltips (a table header's title), English whatever the
  // page's language: each element keeps the English it came with (data-pv-aria, data-pv-title)
  // and gets it in the chosen language.
  const aria = __ARIA__;
  const prefixes = __PREFIXES__;
  const spoken = (english, lang) => {
    const words = aria[lang] || {};
    if (words[english] !== undefined) return words[english];
    if (texts[lang][english] !== undefined) return texts[lang][english];
    for (const [start, template] of Object.entries(prefixes[lang] || {})) {
      if (english.startsWith(start)) return template.replace("{label}", english.slice(start.length));
    }
    return english;
  };
  const relabel = () => {
    const lang = chosen();
    const dict = texts[lang];
    for (const el of document.querySelectorAll(where)) {
      for (const n of el.childNodes) {
        if (n.nodeType !== 3) continue;
        const t = n.data.trim();
        if (t && dict[t] !== undefined && dict[t] !== t) n.data = n.data.replace(t, dict[t]);
      }
    }
    for (const [attr, key] of [["aria-label", "pvAria"], ["title", "pvTitle"]]) {
      for (const el of document.querySelectorAll(`[${attr}]`)) {
        const now = el.getAttribute(attr);
        if (now !== el.dataset[key + "Said"]) el.dataset[key] = now;  // Gradio (re)wrote it
        const said = spoken(el.dataset[key], lang);
        if (said !== now) el.setAttribute(attr, said);
        el.dataset[key + "Said"] = said;
      }
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; relabel(); });
  }).observe(document.body, {childList: true, subtree: true, characterData: true,
                             attributes: true, attributeFilter: ["aria-label", "title"]});
  relabel();
}
"""

# Gradio's own screen-reader names that its locale files do not cover (English in every page).
GRADIO_ARIA = (
    N_("Capture from camera"),
    N_("capture photo"),
    N_("grant webcam access"),
    N_("Click to Access Webcam"),
    N_("Record"),
    N_("Stop recording"),
    N_("Click to upload or drop files"),
    N_("Empty value"),
    N_("File upload"),
    N_("Fullscreen"),
    N_("Table actions"),
    N_("Upload file"),
    N_("Copy table data"),
    N_("Copied to clipboard"),
    N_("Gradio footer navigation"),
    N_("Open cell menu"),
    N_("Paste from clipboard"),
    N_("Reset to default value"),
)
# ... and the ones it makes from a component's label: "number input for Channels shown (top k)".
GRADIO_ARIA_PREFIXES = {
    "number input for ": N_("number input for {label}"),
    "range slider for ": N_("range slider for {label}"),
}


def _aria_words() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """Per language, Gradio's English names → translations, and its prefixes → templates."""
    names = {lang: {en: text(en, lang) for en in GRADIO_ARIA} for lang in LANGS}
    prefixes = {lang: {p: text(t, lang) for p, t in GRADIO_ARIA_PREFIXES.items()} for lang in LANGS}
    return names, prefixes


def relabel_js() -> str:
    """:data:`RELABEL_JS` with the catalogs' short texts in it."""
    names, prefixes = _aria_words()
    return (
        RELABEL_JS.replace("__SHORT__", json.dumps(short_texts(), ensure_ascii=False))
        .replace("__COOKIE__", COOKIE)
        .replace("__ARIA__", json.dumps(names, ensure_ascii=False))
        .replace("__PREFIXES__", json.dumps(prefixes, ensure_ascii=False))
    )


def selector() -> gr.Dropdown:
    """The language selector of the header (its own label in all three languages)."""
    return gr.Dropdown(
        [(name, code) for code, name in LANGS.items()],
        value=DEFAULT,
        label="Language · 言語 · 语言",
        min_width=160,
        elem_id="lang",
    )


def wire(demo: gr.Blocks, chooser: gr.Dropdown) -> Any:
    """On load, pick the page's language (remembered, else the browser's); on a choice, rewrite
    every translatable text of the page. Call inside ``demo``'s ``with`` block, after the tabs;
    the returned event is the rewrite, for texts the server words itself to follow it."""
    # A Markdown that an event rewrites (an info line) keeps what the event wrote.
    written = {id(o) for fn in demo.fns.values() for o in fn.outputs if type(o).__name__ == "Markdown"}
    targets = [
        (b, {k: v for k, v in found.items() if not (k == "value" and id(b) in written)})
        for b, found in page_texts(demo)
    ]
    targets = [(b, found) for b, found in targets if found]
    outputs = [b for b, _ in targets]

    def rewrite(lang: str) -> list[Any]:
        code = language(lang)
        return [gr.update(**_translated(found, code)) for _, found in targets]

    worded = chooser.change(
        rewrite,
        [chooser],
        outputs,
        js=REMEMBER_JS,
        queue=False,
        api_visibility="private",
        show_progress="hidden",
    )
    demo.load(None, None, [chooser], js=PICK_JS, api_visibility="private")
    return worded
