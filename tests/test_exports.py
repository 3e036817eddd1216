"""The package's public names are declared once (``perceptual_viz._EXPORTS``): ``__all__`` and
the lazy lookup derive from it, and the literal imports type checkers read must say the same."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest

import perceptual_viz

from .support import ROOT


def _type_checking_imports() -> dict[str, tuple[str, ...]]:
    """Module → names of the ``if TYPE_CHECKING:`` block of perceptual_viz/__init__.py."""
    tree = ast.parse((ROOT / "perceptual_viz" / "__init__.py").read_text(encoding="utf-8"))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
    ]
    out: dict[str, tuple[str, ...]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1 and node.module, ast.dump(node)
        assert all(a.asname == a.name for a in node.names), "``name as name``: an explicit re-export"
        out[node.module] = (*out.get(node.module, ()), *(a.name for a in node.names))
    return out


def test_the_type_checkers_imports_are_the_export_list():
    declared = {m: tuple(sorted(names)) for m, names in perceptual_viz._EXPORTS.items()}
    imported = {m: tuple(sorted(names)) for m, names in _type_checking_imports().items()}
    assert imported == declared, "the TYPE_CHECKING block of perceptual_viz/__init__.py and _EXPORTS differ"


def test_all_and_the_lazy_lookup_derive_from_the_one_list():
    names = [n for group in perceptual_viz._EXPORTS.values() for n in group]
    assert len(names) == len(set(names)), "a name exported twice"
    assert perceptual_viz.__all__ == sorted(names)
    for module, group in perceptual_viz._EXPORTS.items():
        mod = importlib.import_module(f"perceptual_viz.{module}")
        for name in group:
            # The lookup itself: once imported, the submodules gram and layers shadow the
            # functions of the same name as attributes of the package (a known wart).
            assert perceptual_viz.__getattr__(name) is getattr(mod, name), name


def test_importing_the_package_does_not_import_torch():
    code = (
        "import sys, perceptual_viz\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'load_vgg' in perceptual_viz.__all__\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_every_public_module_is_fully_annotated_by_the_type_checkers_settings():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    strict = {
        m
        for override in config["tool"]["mypy"]["overrides"]
        if override.get("disallow_untyped_defs")
        for m in override["module"]
    }
    public = {f"perceptual_viz.{m}" for m in perceptual_viz._EXPORTS}
    assert public <= strict, sorted(public - strict)
