"""The code stays ruff-clean (settings in pyproject.toml); skipped only when ruff is absent."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .support import ROOT


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it is in requirements-dev.txt)")
    proc = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
