"""What the browser tests share: the system Chromium, skipping (never in CI) when it is missing,
and axe-core (vendored, see ``fixtures/axe-core/README.md``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from perceptual_viz.ui import pagecheck

from .support import ROOT

CHROMIUM = Path(pagecheck.CHROMIUM)
ARTIFACTS = ROOT / "artifacts" / "browser"
AXE_JS = (ROOT / "tests" / "fixtures" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def unavailable(reason: str) -> None:
    """Skip, except when ``CI`` is "true" or "1": CI must never skip a browser test silently."""
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so the browser test must run, not skip", pytrace=False)
    pytest.skip(reason)


def sync_playwright() -> Any:
    """Playwright's ``sync_playwright``, or a skip (a failure in CI) without the package."""
    try:
        from playwright.sync_api import sync_playwright as sp
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    return sp


def require_browser() -> None:
    """Skip (fail in CI) unless Chromium and Playwright are both there."""
    if not CHROMIUM.is_file():
        unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    sync_playwright()


def accessible(page: Any, name: str, timeout_ms: int = 120_000) -> None:
    """axe-core finds no critical or serious WCAG 2.1 A/AA violation on the page once it has
    settled (no request in progress: a component's progress overlay is not the page a reader
    meets, and under load it can still be there when the action's first result shows)."""
    pagecheck.wait_idle(page, timeout_ms)
    found = pagecheck.axe_violations(page, AXE_JS)
    assert not found, f"{name}: accessibility violations (axe-core): {found}"
