"""Keep the message catalogs (``perceptual_viz/locales/<lang>/<part>.po``) in step with the code.

    python tools/i18n.py check     # what tests/test_i18n.py checks: nothing missing, nothing unused
    python tools/i18n.py update    # new messages into their part's catalog (msgstr empty), unused out

The texts to translate are (1) every message the code builds, found by Babel's Python extractor
(keywords ``msg``, ``msg_n`` and ``N_`` of :mod:`perceptual_viz.messages`), and (2) every text of
the page as built (labels, buttons, teaching text: :func:`perceptual_viz.ui.i18n.english_strings`).
A message belongs to the part (``.po`` file) named after where the code that builds it lives;
a page text to ``page``. After ``update``, fill in the empty ``msgstr``s (a translator's tool such
as Poedit reads these files), then run ``check``.
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the package next to this folder
    sys.path.insert(0, str(ROOT))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.extract import extract_from_dir  # noqa: E402
from babel.messages.pofile import read_po, write_po  # noqa: E402

from perceptual_viz import messages  # noqa: E402

PACKAGE = ROOT / "perceptual_viz"
KEYWORDS = {"msg": None, "msg_n": (1, 2), "N_": None}
PAGE = "page"
TRANSLATED = tuple(lang for lang in messages.LANGS if lang != messages.SOURCE)
MsgId = str | tuple[str, str]


@dataclass(frozen=True)
class Found:
    """One message in the code: its id (a pair for plural forms), where, and its part."""

    id: MsgId
    where: str
    part: str


# Modules outside lessons/ whose messages belong to a lesson (its figure, its tab).
LESSON_STEMS = ("train", "reconstruct", "style_transfer", "equal_mse", "sweep", "visualize")


def part_of(path: str) -> str:
    """The catalog part of a source file (a path relative to the package)."""
    p = Path(path)
    if "quiz" in p.parts or p.stem.startswith("quiz"):
        return "quiz"
    if p.parts[0] == "lessons" or p.stem in LESSON_STEMS:
        return "lessons"
    if p.parts[0] == "ui":
        return "app"
    return "library"


def extracted() -> list[Found]:
    """Every message the package's code builds (an f-string in a message is an error: its
    values would be baked into the id)."""
    out: list[Found] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path, lineno, ident, _comments, _ctx in extract_from_dir(
            PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            if isinstance(ident, tuple):
                ident = (ident[0], ident[1])
            out.append(Found(ident, f"{path}:{lineno}", part_of(path)))
    # Babel reports a message it cannot read (an f-string, a name) by printing a warning.
    bad = [str(w.message) for w in caught if "f-string" in str(w.message)]
    if bad:
        raise SystemExit("messages built from f-strings (use named placeholders):\n" + "\n".join(bad))
    return out


def page_texts() -> set[str]:
    """Every text of the page as built (the app with untrained weights, no network)."""
    from perceptual_viz.ui import i18n
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool

    demo = build_demo(ModelPool("vgg16", "untrained", "cpu"))
    return i18n.english_strings(demo)


def wanted(page: Iterable[str] | None = None) -> dict[MsgId, str]:
    """Every id a catalog must hold, and the part it belongs to."""
    out: dict[MsgId, str] = {}
    for f in extracted():
        out.setdefault(f.id, f.part)
    for t in page_texts() if page is None else page:
        out.setdefault(t, PAGE)
    return out


def read(path: Path, lang: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def held(lang: str) -> dict[MsgId, tuple[str, str | tuple[str, ...]]]:
    """``lang``'s catalog: id → (part, translation)."""
    out: dict[MsgId, tuple[str, str | tuple[str, ...]]] = {}
    for path in messages.catalog_files(lang):
        for m in read(path, lang):
            if m.id:
                out[m.id] = (path.stem, m.string)
    return out


def problems(lang: str, want: dict[MsgId, str]) -> list[str]:
    """What is wrong with ``lang``'s catalog: ids without a translation, entries no code uses,
    placeholders that differ from the source's."""
    have = held(lang)
    out = [f"{lang}: no translation for {i!r}" for i in want if not _filled(have.get(i, ("", ""))[1])]
    out += [
        f"{lang}: {part}.po has {i!r}, which no code uses" for i, (part, _) in have.items() if i not in want
    ]
    for i, (_, tr) in have.items():
        if i in want and _filled(tr) and _placeholders(i) != _placeholders(tr):
            out.append(f"{lang}: placeholders differ in {i!r}: {tr!r}")
    return out


def _filled(tr: str | tuple[str, ...]) -> bool:
    return all(s.strip() for s in tr) if isinstance(tr, tuple) else bool(tr.strip())


def _placeholders(text: MsgId | tuple[str, ...]) -> set[str]:
    import string

    parts = [text] if isinstance(text, str) else list(text)
    names: set[str] = set()
    for p in parts:
        try:
            names |= {f for _, f, _, _ in string.Formatter().parse(p) if f}
        except ValueError:
            names.add("<unbalanced braces>")
    return names


def update(want: dict[MsgId, str]) -> None:
    """Write each language's catalogs: what the code uses, translations kept, new ones empty."""
    for lang in TRANSLATED:
        have = held(lang)
        parts: dict[str, Catalog] = {}
        for ident, part in sorted(want.items(), key=lambda kv: str(kv[0])):
            part = have.get(ident, (part, ""))[0]
            cat = parts.setdefault(part, new_catalog(lang, messages.LOCALES / lang / f"{part}.po"))
            cat.add(ident, have.get(ident, ("", "" if isinstance(ident, str) else ("",)))[1])
        (messages.LOCALES / lang).mkdir(parents=True, exist_ok=True)
        for path in messages.catalog_files(lang):
            if path.stem not in parts:
                path.unlink()
        for part, cat in parts.items():
            write(cat, messages.LOCALES / lang / f"{part}.po")


HEADER = """\
# {language} messages of Perceptual Loss Lab (perceptual_viz).
# The same licence as the project (MIT). Updated with: python tools/i18n.py update
#"""


def new_catalog(lang: str, path: Path) -> Catalog:
    """An empty catalog for ``path``, keeping the dates of the file it replaces (no churn)."""
    old = read(path, lang) if path.is_file() else None
    return Catalog(
        locale=lang,
        project="Perceptual Loss Lab",
        version="0.1.0",
        header_comment=HEADER.format(language=messages.LANGS[lang]),
        creation_date=old.creation_date if old else None,
        revision_date=old.revision_date if old else None,
        fuzzy=False,
    )


def write(cat: Catalog, path: Path) -> None:
    buf = io.BytesIO()
    write_po(buf, cat, width=0, omit_header=False, sort_output=True, no_location=True)
    path.write_bytes(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("check", "update"))
    args = p.parse_args(argv)
    want = wanted()
    if args.command == "update":
        update(want)
    found = [x for lang in TRANSLATED for x in problems(lang, want)]
    print("\n".join(found) or f"catalogs complete: {len(want)} texts in {', '.join(TRANSLATED)}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
