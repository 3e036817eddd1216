"""Sentences for people as data: an id and its values, worded at the edge in the reader's language.

The library never builds a finished sentence for a person. It builds a :class:`Message`: the
English source (gettext's ``msgid``, with ``{named}`` placeholders and their format specs) and
the values that fill it, numbers as numbers. Whoever shows it — the app for a Japanese page, the
command line in English, an export's JSON — words it with :func:`word` in one language. Texts
that are the same in every language (layer names, numbers, formulas, file paths) stay plain
``str``; :class:`Joined` strings several texts together (" · " between pieces of an info line).

Catalogs are gettext ``.po`` files (``locales/<lang>/<part>.po``), read with Babel and used through the
standard library's :mod:`gettext` (plural forms included). English needs neither: the source is
the English text. ``tools/i18n.py`` extracts every message from the code (Babel's extractor,
keywords ``msg``, ``msg_n`` and ``N_``) and updates the catalogs; ``tests/test_i18n.py`` fails
when a message has no translation or a catalog keeps an entry no code uses.

>>> m = msg("scored at {w}×{h} px in {ms:.0f} ms", w=336, h=224, ms=412.3)
>>> word(m, "en")
'scored at 336×224 px in 412 ms'
>>> str(msg_n("{n} trial", "{n} trials", 3))
'3 trials'
>>> word(Joined(("relu3_3", msg("{n} channels", n=256))), "en")
'relu3_3 · 256 channels'
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext
import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

LANGS: dict[str, str] = {"en": "English", "ja": "日本語", "zh": "简体中文"}
SOURCE = "en"  # the language messages are written in
LOCALES = Path(__file__).resolve().parent / "locales"


@dataclass(frozen=True)
class Message:
    """One sentence (or label) for a person: ``id`` is its English source with ``{named}``
    placeholders; ``values`` fill them (themselves texts, numbers or names). With ``plural``,
    ``count`` picks the form (English: ``id`` for 1, ``plural`` otherwise; other languages: their
    catalog's plural rule)."""

    id: str
    values: tuple[tuple[str, Any], ...] = ()
    plural: str | None = None
    count: int | None = None

    def __str__(self) -> str:
        return word(self, SOURCE)

    def value(self, name: str) -> Any:
        """The value filling ``{name}`` (for tests and exports)."""
        return dict(self.values)[name]


@dataclass(frozen=True)
class Joined:
    """Texts shown as one, ``sep`` between them (a separator is the same in every language)."""

    parts: tuple[Text, ...]
    sep: str = " · "

    def __str__(self) -> str:
        return word(self, SOURCE)


Text: TypeAlias = Message | Joined | str


def msg(id: str, /, **values: Any) -> Message:
    """A message: ``id`` is the English text, ``values`` fill its ``{placeholders}``."""
    return Message(id, tuple(values.items()))


def msg_n(singular: str, plural: str, n: int, /, **values: Any) -> Message:
    """A message with plural forms chosen by ``n`` (also available as ``{n}``)."""
    return Message(singular, tuple({"n": n, **values}.items()), plural, int(n))


def N_(text: str) -> str:
    """Marks a text for the catalogs without making it a message (a page text built once)."""
    return text


def joined(*parts: Text | None, sep: str = " · ") -> Joined:
    """The non-empty ``parts`` as one text."""
    return Joined(tuple(p for p in parts if p), sep)


# --------------------------------------------------------------------------- the reader's language

_LANGUAGE: contextvars.ContextVar[str] = contextvars.ContextVar("perceptual_viz_language", default=SOURCE)


def language() -> str:
    """The language texts are worded in by default here (see :func:`speaking`)."""
    return _LANGUAGE.get()


@contextlib.contextmanager
def speaking(lang: str) -> Iterator[str]:
    """Within the block, :func:`word` without a language (the words drawn into pictures) uses
    ``lang``: the app sets it to the language of the request it serves."""
    token = _LANGUAGE.set(known(lang))
    try:
        yield known(lang)
    finally:
        _LANGUAGE.reset(token)


def known(lang: str | None) -> str:
    """A supported language code from ``lang`` ("ja", "ja-JP", "zh-CN", "zh_Hans" …), else English."""
    code = str(lang or "").strip().lower().replace("_", "-")
    base = code.split("-", 1)[0]
    return base if base in LANGS else SOURCE


# --------------------------------------------------------------------------- catalogs

_LOCK = threading.Lock()
_LOADED: dict[str, tuple[gettext.NullTranslations, dict[str, dict[str, str]]]] = {}


def catalog_files(lang: str) -> list[Path]:
    """``lang``'s catalog: one ``.po`` file per part of the app (``locales/<lang>/*.po``)."""
    return sorted((LOCALES / lang).glob("*.po"))


def translations(lang: str) -> gettext.NullTranslations:
    """``lang``'s catalog as standard gettext translations (English: the source as it is)."""
    return _loaded(lang)[0]


def entries(lang: str, part: str | None = None) -> dict[str, str]:
    """``lang``'s translated texts without plural forms (English → translation), of one part of
    the catalog (a ``.po`` file's name, e.g. ``"page"``) or of all."""
    parts = _loaded(lang)[1]
    if part is not None:
        return parts.get(part, {})
    return {en: tr for texts in parts.values() for en, tr in texts.items()}


def _loaded(lang: str) -> tuple[gettext.NullTranslations, dict[str, dict[str, str]]]:
    with _LOCK:
        if lang not in _LOADED:
            _LOADED[lang] = _load(lang)
        return _LOADED[lang]


def _load(lang: str) -> tuple[gettext.NullTranslations, dict[str, dict[str, str]]]:
    files = catalog_files(lang) if lang != SOURCE else []
    if not files:
        return gettext.NullTranslations(), {}
    from babel.messages.catalog import Catalog  # the app's dependency; English needs no Babel
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    merged = Catalog(locale=lang)
    parts: dict[str, dict[str, str]] = {}
    for path in files:
        with path.open("rb") as f:
            for m in read_po(f, locale=lang):
                if m.id and m.string:
                    merged[m.id] = m
                    if isinstance(m.id, str) and isinstance(m.string, str):
                        parts.setdefault(path.stem, {})[m.id] = m.string
    buf = io.BytesIO()
    write_mo(buf, merged, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf), parts


def template(m: Message, lang: str) -> str:
    """``m``'s text in ``lang`` before its values are filled in (English where none is known)."""
    t = translations(lang)
    if m.plural is not None:
        return t.ngettext(m.id, m.plural, m.count if m.count is not None else 1)
    return t.gettext(m.id)


def word(text: Text | None, lang: str | None = None) -> str:
    """``text`` worded in ``lang`` (default: :func:`language`); values that are texts themselves
    are worded in the same language."""
    if text is None:
        return ""
    lang = known(lang) if lang is not None else language()
    if isinstance(text, str):
        return text
    if isinstance(text, Joined):
        return text.sep.join(s for s in (word(p, lang) for p in text.parts) if s)
    t = template(text, lang)
    if not text.values:
        return t
    return t.format_map(_Values(text.values, lang))


class _Values(Mapping[str, Any]):
    """A message's values for :meth:`str.format_map`: texts worded in the same language."""

    def __init__(self, values: tuple[tuple[str, Any], ...], lang: str) -> None:
        self._values = dict(values)
        self._lang = lang

    def __getitem__(self, key: str) -> Any:
        v = self._values[key]
        return word(v, self._lang) if isinstance(v, (Message, Joined)) else v

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def said(exc: BaseException) -> Text:
    """What an exception says: its message where the code made one, else its text."""
    first = exc.args[0] if len(exc.args) == 1 else None
    if isinstance(first, (Message, Joined)):
        return first
    return str(exc).strip() or type(exc).__name__


def to_json(value: Any) -> Any:
    """``value`` with its texts as JSON objects (:func:`from_json` reads them back): a stored
    result keeps its messages, to be worded for each reader."""
    if isinstance(value, Message):
        out: dict[str, Any] = {"__msg__": value.id, "values": {k: to_json(v) for k, v in value.values}}
        if value.plural is not None:
            out.update(plural=value.plural, count=value.count)
        return out
    if isinstance(value, Joined):
        return {"__joined__": [to_json(p) for p in value.parts], "sep": value.sep}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(obj: dict[str, Any]) -> Any:
    """A ``json.loads`` object hook for what :func:`to_json` wrote."""
    if "__msg__" in obj:
        values = tuple(obj.get("values", {}).items())
        return Message(obj["__msg__"], values, obj.get("plural"), obj.get("count"))
    if "__joined__" in obj:
        return Joined(tuple(obj["__joined__"]), obj.get("sep", " · "))
    return obj


def english(value: Any) -> Any:
    """``value`` with every text in it worded in English (a record for programs: JSON, exports)."""
    if isinstance(value, (Message, Joined)):
        return word(value, SOURCE)
    if isinstance(value, dict):
        return {k: english(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(english(v) for v in value)
    return value
