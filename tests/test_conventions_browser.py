"""The Compare tab's "Why don't my numbers match?" panel in a real browser, in Japanese: it opens,
scores the pair on request, shows every row worded (no English sentence left), readable and
accessible, and a new Compare empties it. Skipped without Chromium, except in CI."""

from __future__ import annotations

import re

import pytest

from .browser_support import ARTIFACTS, accessible

pytestmark = pytest.mark.slow

TIMEOUT_MS = 60_000
# Three English words in a row: a sentence nobody translated (as tests/test_browser.py checks).
_ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z][a-z]+ [a-z]{2,} [a-z]{2,}\b")


def test_compare_conventions_panel_in_japanese(contexts, app_url):
    from playwright.sync_api import expect

    from perceptual_viz.ui.pagecheck import clipped_texts, open_tab, scrolled_tables, wait_idle

    errors: list[str] = []
    context = contexts.new_context(viewport={"width": 1400, "height": 1000}, locale="ja")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.goto(app_url)
    pg.wait_for_selector("button.gallery-item:visible")  # drawn, and in Japanese
    tab = pg.locator('[role="tab"][data-tab-id="compare"]').filter(visible=True).first
    # The page's words switch to Japanese after it is drawn: read the tab's name once they have.
    expect(tab).not_to_have_text("Compare", timeout=TIMEOUT_MS)
    open_tab(pg, tab.inner_text().strip())
    item = pg.locator("button.gallery-item:visible").filter(has=pg.locator('img[src$="/chelsea.png"]'))
    item.first.click()
    expect(pg.locator("#compare_info")).to_contain_text("JPEG", timeout=TIMEOUT_MS)
    wait_idle(pg, TIMEOUT_MS)

    panel = pg.locator("#c_conventions")
    panel.get_by_text("なぜ数値が合わないの？").first.click()
    pg.locator("#c_conventions_btn").click()
    table = pg.locator("#c_conventions_table")
    expect(table).to_contain_text("Gatys ら 2016", timeout=TIMEOUT_MS)
    expect(pg.locator("#c_conventions_info")).to_contain_text("JPEG", timeout=TIMEOUT_MS)
    wait_idle(pg, TIMEOUT_MS)
    cells = table.get_by_role("gridcell").all_inner_texts()
    assert [c.strip() for c in cells].count("✓") == 4, cells
    texts = [*cells, *table.get_by_role("columnheader").all_inner_texts()]
    texts.append(pg.locator("#c_conventions").inner_text())
    english = sorted({m.group(0) for t in texts for m in _ENGLISH_SENTENCE.finditer(t)})
    assert not english, f"English left in the panel: {english}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "compare_conventions_ja.png"), full_page=True)
    assert not scrolled_tables(pg), "the conventions table scrolls sideways"
    assert not clipped_texts(pg), "text cut off by its box"
    accessible(pg, "compare conventions (ja)")

    # A new Compare empties the panel: its numbers never stand next to another pair.
    pg.locator("#compare_btn").click()
    expect(table).not_to_contain_text("Gatys", timeout=TIMEOUT_MS)
    assert not errors, errors
    context.close()
