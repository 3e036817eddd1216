"""The package's public names are declared once (``perceptual_viz._EXPORTS``): ``__all__`` and
the lazy lookup derive from it, and the literal imports type checkers read must say the same."""

from __future__ import annotations

import ast
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
    """In a fresh interpreter: importing the package imports no torch, and each name is looked up
    in its module. (Run apart: the lookup caches the names in the package, and once imported the
    submodules gram and layers shadow the functions of the same name there, a known wart that
    other tests' ``import perceptual_viz.gram as m`` relies on.)"""
    names = [n for group in perceptual_viz._EXPORTS.values() for n in group]
    assert len(names) == len(set(names)), "a name exported twice"
    assert perceptual_viz.__all__ == sorted(names)
    code = (
        "import importlib, sys, perceptual_viz as p\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "for module, group in p._EXPORTS.items():\n"
        "    for name in group:\n"
        "        obj = p.__getattr__(name)\n"
        "        assert obj is getattr(importlib.import_module(f'perceptual_viz.{module}'), name), name\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


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
