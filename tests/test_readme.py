"""README stays true: its Python example runs, and .ci/run calls exactly its test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_readme_gives_two_setup_commands_and_ci_runs_the_test_one():
    blocks = _bash_blocks()
    assert len(blocks) == 2, "exactly two set-up commands: run, and test"
    run, test = blocks
    assert run.startswith("python -m pip install -r requirements.txt && ")
    assert test == "python -m pip install -r requirements-dev.txt && python -m pytest"
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test in ci, ".ci/run must call exactly README's test command"


def test_readme_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    (code,) = [b for b in blocks if "from perceptual_viz import" in b]  # the library example
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "UNTRAINED" in out
