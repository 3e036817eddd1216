"""List the texts the server writes for results (info lines, captions, table cells) that the
catalogs do not translate yet, as message templates for translators.

    python tools/i18n_collect.py [--tests tests/test_app_api.py …] [--out untranslated.json]

Runs the given tests (by default the API and browser tests, which reach every tab's results)
with ``PERCEPTUAL_VIZ_I18N_COLLECT`` set: every endpoint then records each piece of text it
returns (see :func:`perceptual_viz.ui.i18n.say`). Numbers, sizes, layer and file names, devices,
architectures and round codes become placeholders (``{0}``, ``{1}``, …), so "200 steps at 128
px" and "80 steps at 96 px" are one template. Templates a catalog already covers (ja and zh
alike) are left out. The output is a JSON list, for ``messages`` in ``perceptual_viz/ui/locales``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the package next to this folder
    sys.path.insert(0, str(ROOT))

from perceptual_viz.ui import i18n  # noqa: E402

DEFAULT_TESTS = [
    "tests/test_app_api.py",
    "tests/test_browser.py",
    "tests/test_quiz_api.py",
    "tests/test_quiz_browser.py",
    "tests/test_keyboard.py",
]
# What varies from one result to the next, in the order it is replaced.
VARYING = [
    r"\b[\w.-]+\.(?:png|jpe?g|pth|safetensors|zip|csv|json)\b",  # file names
    r"\b(?:conv|relu|pool)\d(?:_\d)?\b",  # layer names
    r"\b(?:cpu|cuda(?::\d+)?|mps)\b",  # devices
    r"\bvgg1[69]\b",  # architectures
    r"\b[2-9A-HJ-NP-Z]{6}\b(?<![A-Z]{6}[a-z])",  # quiz round codes
    r"[-+−]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?",  # numbers (1,234.5; never a list's comma)
]


def template(text: str) -> str:
    """``text`` with what varies replaced by ``{0}``, ``{1}``, … in reading order."""
    spans: list[tuple[int, int]] = []
    for rx in VARYING:
        for m in re.finditer(rx, text):
            if not any(a < m.end() and m.start() < b for a, b in spans):
                spans.append((m.start(), m.end()))
    out, last = [], 0
    for i, (a, b) in enumerate(sorted(spans)):
        out += [text[last:a], f"{{{i}}}"]
        last = b
    return "".join([*out, text[last:]])


def covered(text: str) -> bool:
    """Whether every catalog already says ``text``."""
    return all(i18n.knows(text, lang) for lang in i18n.LANGS if lang != i18n.DEFAULT)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tests", nargs="+", default=DEFAULT_TESTS, help="test files to run")
    p.add_argument("--out", type=Path, default=Path("untranslated.json"), help="the templates (JSON)")
    args = p.parse_args(argv)
    with tempfile.NamedTemporaryFile("w+", suffix=".jsonl", delete=False) as f:
        log = Path(f.name)
    env = {**os.environ, "PERCEPTUAL_VIZ_I18N_COLLECT": str(log), "CI": os.environ.get("CI", "")}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", *args.tests], cwd=ROOT, env=env, check=False)
    seen = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    log.unlink()
    templates = sorted({template(t) for t in seen if re.search(r"[A-Za-z]{2}", t)} - {"{0}"})
    missing = [t for t in templates if not covered(t)]
    args.out.write_text(json.dumps(missing, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(
        f"{len(seen)} pieces of text, {len(templates)} templates, {len(missing)} not translated → {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
