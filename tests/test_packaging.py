"""What ``pip install .`` ships: every package, and the top-level ``assets/`` folder inside the
installed package, so the library and the CLI load their samples far from the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from .support import ROOT

pytestmark = pytest.mark.slow


def _tracked_copy(dest: Path) -> Path:
    """The repository's tracked files (what a fresh clone has), copied to ``dest``."""
    try:
        files = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: cannot tell which files a clone has")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())
    return dest


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "perceptual_viz").rglob("__init__.py")
    }
    assert found <= set(config["packages"]), (
        f"missing from [tool.setuptools] packages: {found - set(config['packages'])}"
    )
    assert config["package-dir"] == {"perceptual_viz._assets": "assets"}


def test_an_installed_copy_far_from_the_checkout_loads_a_bundled_sample(tmp_path):
    """``pip install .`` of a clean copy into a folder of its own; from a third folder, with only
    that folder on the path for our package, the library finds and loads a sample."""
    pytest.importorskip("setuptools")  # building without isolation: no download of build tools
    src, target, elsewhere = tmp_path / "src", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _tracked_copy(src)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    shutil.rmtree(src)  # nothing may still point into the copy that was installed
    code = (
        "import perceptual_viz, perceptual_viz.assets as a\n"
        "from perceptual_viz.images import load_image\n"
        "from perceptual_viz.lessons import reference as rf\n"
        "im = load_image(a.sample('chelsea.png'))\n"
        "nets = {t: sorted(rf.networks(t)) for t in rf.tasks()}\n"
        "print(perceptual_viz.__file__, a.SAMPLES_DIR, len(a.samples()), im.array.shape,"
        " (a.ASSETS_DIR / 'ATTRIBUTION.md').is_file(), rf.REFERENCE_DIR, repr(nets).replace(' ', ''))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    module, samples_dir, count, *rest = run.stdout.split(" ", 3)
    assert Path(module).is_relative_to(target), "the installed copy was imported, not the checkout"
    assert Path(samples_dir) == target / "perceptual_viz" / "_assets" / "samples"
    from perceptual_viz.assets import samples

    assert int(count) == len(samples()) > 0
    shape, attributed, reference, nets = rest[0].strip().rsplit(" ", 3)
    assert (shape, attributed) == ("(300, 451, 3)", "True")
    # The reference networks of "Train with it" (those shipped) and their record are installed,
    # and load there.
    from perceptual_viz.lessons import reference as rf

    assert Path(reference) == target / "perceptual_viz" / "_assets" / "reference"
    assert (Path(reference) / rf.PROVENANCE_FILE).is_file()
    assert nets == repr({t: sorted(rf.networks(t)) for t in rf.tasks()}).replace(" ", "")
