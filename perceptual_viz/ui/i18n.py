"""The page in English, Japanese or Simplified Chinese.

Catalogs (``locales/ja.json``, ``locales/zh.json``) map the English text to its translation, in
two parts: ``text`` (everything the page shows as it is built: teaching text, labels, buttons,
tabs, choices) and ``messages`` (what the server says later: errors, notes), whose ``{0}``,
``{1}`` … stand for the values the English sentence carries ("upload {0} first (or pick a
sample)"). English is the source, so a missing entry shows English, never a key.

How a page gets its language: the selector in the header, remembered in the browser
(``localStorage`` and a cookie, :data:`COOKIE`); on a first visit, the browser's own language.
Choosing one rewrites every translatable text of the page in one request (:func:`wire`). The
server reads the cookie to word its messages (:func:`request_language`); a script or API caller
sends none and gets English. Metric names, layer names and formulas are the same in every
language. Gradio's own words (e.g. "Drop Image Here") follow the browser's language.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import gradio as gr

LANGS: dict[str, str] = {"en": "English", "ja": "日本語", "zh": "简体中文"}
DEFAULT = "en"
COOKIE = "pv_lang"
LOCALES = Path(__file__).resolve().parent / "locales"
# Component properties that hold text a reader sees, by the component types that have them.
_TEXT_PROPS = ("label", "info", "placeholder")
_VALUE_IS_TEXT = ("Markdown", "Button", "DownloadButton")
_CHOICE_TYPES = ("Radio", "Dropdown", "CheckboxGroup")
# Texts the server rewrites as the page is used (the status line): worded by the server instead.
DYNAMIC_IDS = frozenset({"status", "lang"})


def _pattern(template: str) -> re.Pattern[str]:
    """``template`` ("upload {0} first") as a regex whose groups capture the placeholders."""
    parts = re.split(r"(\{\d+\})", template)
    rx = "".join(f"(?P<p{p[1:-1]}>.+?)" if re.fullmatch(r"\{\d+\}", p) else re.escape(p) for p in parts)
    return re.compile(f"^{rx}$", re.S)


@lru_cache(maxsize=len(LANGS) + 1)
def catalog(lang: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str, bool]]]:
    """``lang``'s texts (English → translation) and message patterns (with whether the pattern
    has a word of its own); empty for English."""
    path = LOCALES / f"{lang}.json"
    if lang == DEFAULT or not path.is_file():
        return {}, []
    data = json.loads(path.read_text(encoding="utf-8"))
    # The most specific first: "{0} steps at {1} px" before "{0} px" (more literal text wins).
    entries = sorted(
        ((en, tr) for en, tr in data.get("messages", {}).items() if tr),
        key=lambda e: -len(re.sub(r"\{\d+\}", "", e[0])),
    )
    messages = [
        (_pattern(en), tr, bool(re.search(r"[A-Za-z]", re.sub(r"\{\d+\}", "", en)))) for en, tr in entries
    ]
    return {en: tr for en, tr in data.get("text", {}).items() if tr}, messages


def language(value: Any) -> str:
    """A supported language code from ``value`` ("ja", "ja-JP", "zh-CN" …), else English."""
    code = str(value or "").strip().lower().replace("_", "-")
    base = code.split("-", 1)[0]
    return base if base in LANGS else DEFAULT


def text(s: str, lang: str) -> str:
    """``s`` (a text of the page as built) in ``lang``."""
    return catalog(lang)[0].get(s, s)


def message(s: str, lang: str, depth: int = 0, generic: bool = True) -> str:
    """``s`` (a sentence from the server) in ``lang``: an exact entry, else the first pattern that
    matches, its captured values (themselves translated where a catalog knows them: "a clean
    image") put in the translation's placeholders; else ``s`` as it is."""
    texts, patterns = catalog(lang)
    if s in texts:
        return texts[s]
    for rx, tr, worded in patterns:
        if not (generic or worded):
            continue
        m = rx.match(s)
        if m:
            return _fill(tr, m, lang, depth)
    return s


def knows(s: str, lang: str) -> bool:
    """Whether ``lang``'s catalog has an entry for ``s`` (an exact text or a worded pattern)."""
    texts, patterns = catalog(lang)
    return s in texts or any(worded and rx.match(s) for rx, _, worded in patterns)


def _fill(template: str, m: re.Match[str], lang: str, depth: int) -> str:
    """``template`` with the values ``m`` captured, each translated where a catalog knows it."""
    values = {k[1:]: v if depth > 2 else message(v, lang, depth + 1) for k, v in m.groupdict().items()}
    return re.sub(r"\{(\d+)\}", lambda g: values[g.group(1)], template)


# A pattern with no word of its own ("{0}: {1}") may re-punctuate an error sentence, never a
# result's text (``message(..., generic=False)``).
_WRAP = re.compile(r"^(\s*(?:\*\*|\*|_)?)(.*?)((?:\*\*|\*|_)?[.]?\s*)$", re.S)
_COLLECT_ENV = "PERCEPTUAL_VIZ_I18N_COLLECT"
_FULL_STOP = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")  # text that ends with 。


def _segment(seg: str, lang: str) -> str:
    """One piece of a result's text in ``lang``: Markdown emphasis around it is kept."""
    m = _WRAP.match(seg)
    head, core, tail = m.groups() if m else ("", seg, "")
    if not core.strip():
        return seg
    said = message(core, lang, generic=False)
    if said == core and lang == COLLECTING:
        _collect(core)
    if said != core and tail.lstrip("*_").startswith(".") and _FULL_STOP.search(said[-1:]):
        tail = tail.replace(".", "" if said.endswith("。") else "。", 1)  # a sentence ends in 。 there
    return head + said + tail


def say(s: str, lang: str) -> str:
    """A text the server wrote for a result (an info line, a caption, a table cell) in ``lang``:
    paragraph by paragraph and piece by piece (" · " separates pieces), each an exact entry or a
    pattern of the catalog's ``messages``; what no entry knows stays as it is."""
    if lang == DEFAULT or not s or not s.strip() or _is_path(s):
        return s
    texts, _ = catalog(lang)
    if s in texts:
        return texts[s]
    return "\n\n".join(
        " · ".join(_segment(seg, lang) for seg in para.split(" · ")) for para in s.split("\n\n")
    )


def localise(value: Any, lang: str) -> Any:
    """An endpoint's output in ``lang``: texts (:func:`say`), table headers and text cells, gallery
    captions, the text of updates. Pictures, numbers, JSON (data for programs) stay as they are."""
    if lang == DEFAULT:
        return value
    if isinstance(value, str):
        return say(value, lang)
    if isinstance(value, tuple):
        return tuple(localise(v, lang) for v in value)
    if isinstance(value, list):  # a gallery: (picture, caption) pairs
        return [(v[0], say(v[1], lang)) if _captioned(v) else v for v in value]
    if _is_frame(value):
        out = value.copy()
        out.columns = [say(str(c), lang) for c in out.columns]
        for c in out.columns:
            cells = list(out[c])
            said = [say(v, lang) if isinstance(v, str) else v for v in cells]
            if said != cells:
                out[c] = said
        return out
    if isinstance(value, dict) and value.get("__type__") == "update":
        return {
            k: say(v, lang) if k in ("value", "label", "info") and isinstance(v, str) else v
            for k, v in value.items()
        }
    return value


def _is_path(s: str) -> bool:
    """A picture's or a download's file path (what Gradio serves), not a text."""
    return (s.startswith("/") or s[1:3] in (":\\", ":/")) and "\n" not in s and " · " not in s


def _captioned(v: Any) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], str)


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


COLLECTING = "collect"  # a pseudo-language: say() records what no catalog knows (tools/i18n_collect.py)


def _collect(text: str) -> None:
    path = os.environ.get(_COLLECT_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(text, ensure_ascii=False) + "\n")


def localised(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (plain or generator) with its outputs in the language of the request it serves."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            lang = _serving_language()
            for out in fn(*args, **kwargs):
                yield localise(out, lang)

        return stream

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        return localise(fn(*args, **kwargs), _serving_language())

    return plain


def _serving_language() -> str:
    return COLLECTING if os.environ.get(_COLLECT_ENV) else request_language()


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
  const asked = (saved || navigator.language || "en").toLowerCase().split("-")[0];
  const lang = known.includes(asked) ? asked : "en";
  document.cookie = "{COOKIE}=" + lang + "; path=/; max-age=31536000; SameSite=Lax";
  return lang;
}}
"""


SHORT = 100  # characters: labels, buttons, tabs, choices (not teaching text)


def short_texts() -> dict[str, dict[str, str]]:
    """Per language, the catalog's short one-line texts (English → translation), and for English
    the way back (translation → English): what :data:`RELABEL_JS` puts back on the page."""
    out: dict[str, dict[str, str]] = {"en": {}}
    for lang in LANGS:
        if lang == DEFAULT:
            continue
        texts = {en: tr for en, tr in catalog(lang)[0].items() if len(en) <= SHORT and "\n" not in en}
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
    + '[data-testid="block-info"], [role="option"], .token span';
  const relabel = () => {
    const dict = texts[chosen()];
    for (const el of document.querySelectorAll(where)) {
      for (const n of el.childNodes) {
        if (n.nodeType !== 3) continue;
        const t = n.data.trim();
        if (t && dict[t] !== undefined && dict[t] !== t) n.data = n.data.replace(t, dict[t]);
      }
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; relabel(); });
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
  relabel();
}
"""


def relabel_js() -> str:
    """:data:`RELABEL_JS` with the catalogs' short texts in it."""
    return RELABEL_JS.replace("__SHORT__", json.dumps(short_texts(), ensure_ascii=False)).replace(
        "__COOKIE__", COOKIE
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
