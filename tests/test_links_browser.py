"""Links that open the exact view, and projector mode, in Chromium.

A teacher's link opens the tab with its photo and settings, and the view computed; ``lang=ja``
opens the page in Japanese; a bad value is left out with a quiet note; the header's "Copy link
to this view" makes a link that opens the same view again. Projector mode (``present=1``) shows
each teaching box one step at a time, and the keys step through it and switch tabs."""

from __future__ import annotations

import re

import pytest

from perceptual_viz.messages import msg, word

from .browser_support import accessible

pytestmark = pytest.mark.slow
TIMEOUT_MS = 60_000


def _open(contexts, url: str, **kw):
    page = contexts.new_context(viewport={"width": 1400, "height": 1000}, **kw).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


def _selected_tab(page) -> str:
    return page.locator('[role="tab"][aria-selected="true"]').filter(visible=True).first.inner_text().strip()


def test_a_compare_link_opens_compare_with_its_photo_damage_and_layer(contexts, app_url):
    from playwright.sync_api import expect

    page = _open(contexts, app_url + "?tab=compare&sample=coffee&degradation=blur&strength=3&layer=relu3_3")
    expect(page.locator("#compare_info")).to_contain_text("Gaussian blur", timeout=TIMEOUT_MS)
    assert _selected_tab(page) == "Compare"
    expect(page.locator("#compare_info")).to_contain_text("= 3 (seed 0)")
    assert page.locator("#c_strength input[type=number]").input_value() == "3"
    assert (page.locator("#c_clean img").first.get_attribute("src") or "").endswith("/coffee.png")
    expect(page.locator("#c_layer input, #c_layer [role=combobox]").first).to_have_value("relu3_3")
    expect(page.locator("#scores")).to_contain_text("SSIM")
    expect(page.locator("#pv_link_note")).to_have_text("")


def test_a_feature_maps_link_opens_its_layer_and_channel_and_notes_a_bad_value(contexts, app_url):
    from playwright.sync_api import expect

    page = _open(contexts, app_url + "?tab=features&sample=chelsea&layer=relu4_3&channel=10&k=999&colour=red")
    expect(page.locator("#grid_caption")).to_contain_text("relu4_3", timeout=TIMEOUT_MS)
    expect(page.locator("#f_channel input")).to_have_value("10", timeout=TIMEOUT_MS)
    expect(page.locator("#detail img").first).to_have_attribute("alt", re.compile("10"), timeout=TIMEOUT_MS)
    note = page.locator("#pv_link_note")
    expect(note).to_contain_text("k=999 was ignored")
    expect(note).to_contain_text("colour=red was ignored")
    assert _selected_tab(page) == "Feature maps"
    # How one number is made: a click on the enlarged channel draws its unit's arithmetic
    page.locator("#detail img").first.click()
    expect(page.locator("#f_unit img").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#f_unit_text")).to_contain_text("conv4_3")
    accessible(page, "link note and a unit's arithmetic")
    bad = _open(contexts, app_url + "?tab=features&layer=nope")
    expect(bad.locator("#pv_link_note")).to_contain_text("layer=nope was ignored")
    expect(bad.locator("#f_layer input").first).to_have_value("relu3_3")  # the default stays


def test_a_train_link_sets_the_held_out_photo_and_the_seed(contexts, app_url):
    from playwright.sync_api import expect

    page = _open(contexts, app_url + "?tab=train&sample=coffee&seed=3")
    expect(page.locator("#t_seed input")).to_have_value("3", timeout=TIMEOUT_MS)
    assert _selected_tab(page) == "Train with it"
    expect(page.locator("#t_eval input").first).to_have_value("coffee.png")
    page.locator("#pv_copy_link").click()
    box = page.locator("#pv_link textarea, #pv_link input").first
    expect(box).to_have_value(re.compile(r"\?tab=train&sample=coffee&.*seed=3"), timeout=TIMEOUT_MS)


def test_lang_ja_opens_the_page_in_japanese(contexts, app_url):
    page = _open(contexts, app_url + "?lang=ja&tab=gram", locale="en-GB")
    page.wait_for_function("() => /[\\u3040-\\u30ff]/.test(document.querySelector('.pdn')?.innerText || '')")
    assert _selected_tab(page) == word(msg("Gram matrices"), "ja") or re.search(
        "[\u3040-\u30ff]", _selected_tab(page)
    )


def test_the_copied_link_opens_the_same_view(contexts, app_url):
    from playwright.sync_api import expect

    page = _open(contexts, app_url + "?tab=gram&sample=brick&sample_b=coffee&layer=relu2_2&norm=gatys")
    expect(page.locator("#gram_b img")).to_be_visible(timeout=TIMEOUT_MS)
    page.locator("#pv_copy_link").click()
    box = page.locator("#pv_link textarea, #pv_link input").first
    expect(box).to_have_value(re.compile(r"\?tab=gram&"), timeout=TIMEOUT_MS)
    link = box.input_value()
    accessible(page, "the copied link")
    for part in ("sample=brick", "sample_b=coffee", "layer=relu2_2", "norm=gatys", "lang=en"):
        assert part in link, link
    again = _open(contexts, link)
    expect(again.locator("#gram_b img")).to_be_visible(timeout=TIMEOUT_MS)
    assert _selected_tab(again) == "Gram matrices"
    expect(again.locator("#g_formula")).to_contain_text("relu2_2")
    expect(again.locator("#g_formula")).to_contain_text("gatys")


def test_projector_mode_steps_through_the_teaching_and_switches_tabs(contexts, app_url):
    page = _open(contexts, app_url + "?present=1")
    page.wait_for_function("() => document.body.classList.contains('pv-present')")

    def shown() -> list[str]:
        return page.evaluate(
            "() => [...document.querySelectorAll('.pdn')].filter(b => b.offsetParent)"
            ".map(b => [...b.querySelectorAll('p')].filter(p => getComputedStyle(p).visibility !== 'hidden')"
            ".map(p => p.innerText.split(':')[0]))[0]"
        )

    page.wait_for_function("() => document.querySelector('.pdn[data-step]')")
    assert shown() == ["Predict"]
    accessible(page, "projector mode")
    page.mouse.click(5, 5)
    page.keyboard.press("PageDown")
    assert shown() == ["Predict", "Do"]
    page.keyboard.press("ArrowRight")
    assert shown() == ["Predict", "Do", "Notice"]
    page.keyboard.press("ArrowLeft")
    assert shown() == ["Predict", "Do"]
    page.keyboard.press("]")
    page.wait_for_function(
        "() => document.querySelector('[role=tab][aria-selected=true]')?.innerText.includes('Gram')"
    )
    page.wait_for_timeout(200)
    assert shown() == ["Predict"]
    page.keyboard.press("3")
    page.wait_for_function(
        "() => document.querySelector('[role=tab][aria-selected=true]')?.innerText.includes('Compare')"
    )
    page.locator("#pv_present_btn").click()
    page.wait_for_function("() => !document.body.classList.contains('pv-present')")
    assert "present" not in page.evaluate("() => location.search")
