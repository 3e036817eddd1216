"""The examples in the public API's docstrings run as written (untrained weights, tiny images,
no network), so what the docstrings show stays true."""

from __future__ import annotations

import doctest
import importlib
import io

import pytest

import perceptual_viz

# The modules perceptual_viz/__init__.py exports from, the tables they read, and the messages.
MODULES = sorted({*perceptual_viz._EXPORTS, "archs", "options", "messages"})
# The main entry points each show an example.
WITH_EXAMPLES = (
    "PerceptualLoss",
    "load_vgg",
    "score_pairs",
    "ssim",
    "psnr",
    "mse",
    "gram",
    "gram_distance",
    "perceptual_distance",
    "prepare",
    "Resize",
    "block_outputs",
)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name):
    module = importlib.import_module(f"perceptual_viz.{name}")
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    for test in doctest.DocTestFinder(exclude_empty=True).find(module):
        runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()


def test_the_main_entry_points_have_examples():
    # Through the defining module, not the package: perceptual_viz.gram may be the submodule.
    def doc(name: str) -> str:
        module = importlib.import_module(f"perceptual_viz.{perceptual_viz._MODULE_OF[name]}")
        return getattr(module, name).__doc__ or ""

    missing = [n for n in WITH_EXAMPLES if ">>>" not in doc(n)]
    assert not missing, missing
