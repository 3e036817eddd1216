"""README stays true: its Python example runs, and .ci/run calls exactly its test command."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .support import ROOT

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


@pytest.mark.slow
def test_readme_python_example_runs_from_another_folder(tmp_path):
    """After README's install command the package is installed, so the example works anywhere,
    not only next to the source (assets, paths and imports come from the installed package)."""
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    (code,) = [b for b in blocks if "from perceptual_viz import" in b]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "UNTRAINED" in proc.stdout
