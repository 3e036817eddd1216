"""Every lesson without a mouse: Feature maps (sample → tile → enlarge) and Compare, driven only by
the keyboard (Tab, arrows, Enter) in Chromium, with the focus always visible."""

from __future__ import annotations

import pytest

from .browser_support import ARTIFACTS, accessible

pytestmark = pytest.mark.slow
TIMEOUT_MS = 60_000
MAX_TABS = 400  # Tab presses allowed to reach a control


@pytest.fixture
def page(contexts, app_url):
    pg = contexts.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB").new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(app_url, wait_until="load")
    pg.get_by_role("tab").filter(visible=True).first.wait_for()
    return pg


def _tab_to(page, predicate: str, what: str, back: bool = False) -> None:
    """Press Tab (Shift+Tab with ``back``) until the focused element passes ``predicate`` (a JS
    expression about ``e``, the focused element); each stop must show where the focus is."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(f"() => {{ const e = document.activeElement; return !!e && ({predicate}); }}"):
            visible = page.evaluate(
                "() => { const s = getComputedStyle(document.activeElement);"
                " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"
            )
            assert visible, f"the focus on {what} is not visible"
            return
    pytest.fail(f"{what} was not reached with {MAX_TABS} Tab presses")


def _wait_src_change(page, selector: str, before: str) -> None:
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel);"
        " return i && i.getAttribute('src') !== old; }",
        arg=[selector, before],
    )


def test_feature_maps_by_keyboard_sample_then_tile_then_enlarge(page):
    _tab_to(page, "e.getAttribute('aria-label') === 'Sample photo: Chelsea the cat'", "the Chelsea sample")
    page.keyboard.press("Enter")
    page.locator("#grid img").wait_for()
    page.wait_for_function("() => !!document.querySelector('#grid_keys [data-grid]')")
    spec = page.evaluate("() => JSON.parse(document.querySelector('#grid_keys [data-grid]').dataset.grid)")
    # The grid's text alternative: its label, layer and order, and its strongest channels in words.
    page.wait_for_function(
        "() => (document.querySelector('#grid img').alt || '').includes('Strongest channels:')"
    )
    alt = page.locator("#grid img").first.get_attribute("alt") or ""
    assert (
        alt.startswith("Channel grid (click a tile): relu3_3") and f"{spec['channels'][0]} (mean " in alt
    ), alt
    detail = page.locator("#detail img").first
    detail.wait_for()
    before = detail.get_attribute("src") or ""

    # The linked view: the arrows move a point over the photo, Enter follows it through the blocks.
    _tab_to(page, "e.matches('#f_point .image-container > button')", "the linked-view picture")
    for key in ("ArrowLeft", "ArrowUp", "ArrowUp"):
        page.keyboard.press(key)
    label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert "point (" in label and "Enter selects" in label, label
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#f_point_table').innerText.includes('relu5_3')")

    _tab_to(page, "e.matches('#grid .image-container > button')", "the channel grid")
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        page.keyboard.press(key)
    j = 2 + spec["cols"]
    label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert f"tile {j + 1} of {spec['n']}, channel {spec['channels'][j]}" in label, label
    assert page.locator("#grid .pv-cursor").is_visible()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "(c) => document.querySelector('#f_channel input').value === String(c)", arg=spec["channels"][j]
    )
    _wait_src_change(page, "#detail img", before)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "30_keyboard_feature_maps.png"), full_page=True)
    accessible(page, "keyboard feature maps")


def test_compare_by_keyboard(page):
    _tab_to(page, "e.getAttribute('role') === 'tab' && e.dataset.tabId === 'compare'", "the Compare tab")
    page.keyboard.press("Enter")
    page.locator("#compare_btn").wait_for()
    _tab_to(page, "e.getAttribute('aria-label') === 'Sample photo: Chelsea the cat'", "a Compare sample")
    page.keyboard.press("Enter")
    page.locator("#c_clean img").wait_for()
    _tab_to(page, "e.id === 'compare_btn'", "the Compare button")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#scores').innerText.includes('SSIM')")
    page.locator("#c_slider img").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "31_keyboard_compare.png"), full_page=True)
    accessible(page, "keyboard compare")
