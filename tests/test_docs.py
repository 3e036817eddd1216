"""The documentation stays true: every link of README and ``docs/`` leads somewhere that exists
(a file, and the heading an anchor names), every ``docs/`` page is reachable from README, and
every Python example in ``docs/`` runs as written (the API examples against the served app).

README's own example runs in ``test_readme``; the quiz's API example in ``test_quiz_api``, which
has the quiz's small-trial server and checks what it prints."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from .support import ROOT

PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "benchmarks" / "README.md",
    ROOT / "assets" / "ATTRIBUTION.md",
]
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
SERVER = "http://127.0.0.1:7860/"
RUN_ELSEWHERE = {"/quiz_new_round": "tests/test_quiz_api.py::test_the_api_docs_quiz_example_runs"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _prose(text: str) -> str:
    """The page without its fenced code blocks (a ``#`` there is a comment, not a heading)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces → hyphens."""
    text = heading.strip().lower()
    kept = [c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM"]
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every anchor of a Markdown page (GitHub numbers repeated headings -1, -2, …)."""
    seen: dict[str, int] = {}
    out = set()
    for line in _prose(path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text(encoding="utf-8")))


def test_the_link_pattern_finds_links_pictures_and_anchors():
    text = 'See [a](docs/a.md#x), ![p](img/p.png "t") and [`code`](b.md); not `[c](d)`?'
    assert LINK.findall(text)[:3] == ["docs/a.md#x", "img/p.png", "b.md"]
    assert slug('In class: "Which looks closer?"') == "in-class-which-looks-closer"
    assert slug("What is computed (conventions)") == "what-is-computed-conventions"
    assert slug("Accessibility and languages · 言語") == "accessibility-and-languages--言語"


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_link_leads_somewhere(page: Path):
    assert page.is_file(), page
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # http(s)://, mailto: — outside the repository
            assert target.startswith(("https://", "http://")), f"{target}: an unexpected scheme"
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif dest.is_relative_to(ROOT) is False:
            broken.append(f"{target}: outside the repository")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor} in {_rel(dest)}")
    assert not broken, f"{_rel(page)}: " + "; ".join(broken)


def test_readme_links_every_docs_page():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    missing = [_rel(p) for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages README does not link: {missing}"


def test_readme_fits_on_a_screen_or_two():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 15_000, f"README is {size} bytes; move detail to docs/"


def _examples() -> list[pytest.param]:
    out = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        blocks = re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), re.S | re.M)
        for i, code in enumerate(blocks):
            if any(key in code for key in RUN_ELSEWHERE):
                continue
            marks = [pytest.mark.slow] if "Client(" in code else []  # a few requests to the app
            out.append(pytest.param(code, id=f"{_rel(page)}[{i}]", marks=marks))
    return out


EXAMPLES = _examples()


def test_there_are_examples_to_run():
    names = {p.id for p in EXAMPLES}
    assert {"docs/library.md[0]", "docs/api.md[0]"} <= names, names


@pytest.mark.parametrize("code", EXAMPLES)
def test_docs_python_example_runs(code: str, request, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository root
    if "Client(" in code:
        assert SERVER in code, "API examples talk to the default local server"
        code = code.replace(SERVER, request.getfixturevalue("served").url)
    exec(compile(code, "example", "exec"), {"__name__": "__docs_example__"})
    assert capsys.readouterr().out.strip(), "an example prints what it computed"
