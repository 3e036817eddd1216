"""The real app in a real browser: headless Debian Chromium driven by Playwright's sync API.

The app runs in-process (untrained VGG16 on the CPU, so no weights or network are needed). The
tests run every tab's main action as a student would (Feature maps with a linked point,
Compare with an example, Gram with its controls, Sweep, Equal MSE, a short reconstruction and a
stopped one, and the Feature maps at a phone's width), and after each check the page a reader
sees: no visible text cut off by its box, no component label over a picture, no critical or
serious accessibility violation found by axe-core (WCAG 2.1 A/AA). Any console error,
page error or unexpected error toast fails them. Screenshots go to ``artifacts/browser/``
(git-ignored).

Without ``/usr/bin/chromium`` or the ``playwright`` package the test is skipped, except when
``CI`` is "true" or "1": CI must never skip it silently.
"""

from __future__ import annotations

import re
import time

import pytest

from .browser_support import accessible
from .support import ROOT

ARTIFACTS = ROOT / "artifacts" / "browser"
TIMEOUT_MS = 30_000  # per wait; CPU-only untrained VGG16: first forward ~1 s, compare ~2 s

pytestmark = pytest.mark.slow


@pytest.fixture
def errors() -> list[str]:
    """Console errors and page errors seen by ``page``."""
    return []


def _open(browser, app_url, errors, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    # Nothing is ignored: the app has a favicon and loads no remote resources.
    pg.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text} {m.location}"))
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.goto(app_url, wait_until="load")
    return pg


@pytest.fixture
def page(contexts, app_url, errors):
    """A page 1400 px wide in a fresh context; its console and page errors go to ``errors``."""
    return _open(contexts, app_url, errors, 1400, 1000)


@pytest.fixture
def phone(contexts, app_url, errors):
    """The same at a phone's width (390 × 844)."""
    return _open(contexts, app_url, errors, 390, 844)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _readable(page, name: str) -> None:
    """Every picture loaded (lazy ones too), then: no visible text clipped by its box, no
    component label over a picture, no table a reader must scroll sideways; a full-page
    screenshot for a person to look at."""
    from perceptual_viz.ui.pagecheck import clipped_texts, labels_over_pictures, scrolled_tables, wait_idle

    height = page.evaluate("document.body.scrollHeight")
    for y in range(0, height + 800, 700):  # lazy pictures load once scrolled into view
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(40)
    page.evaluate("window.scrollTo(0, 0)")
    wait_idle(page, TIMEOUT_MS)
    _shot(page, name)
    clipped, over = clipped_texts(page), labels_over_pictures(page)
    assert not clipped, f"{name}: text cut off by its box: {clipped}"
    assert not over, f"{name}: labels over pictures: {over}"
    wide = scrolled_tables(page)
    assert not wide, f"{name}: tables that scroll sideways: {wide}"
    accessible(page, name)
    _fits_a_phone(page, name)


def _fits_a_phone(page, name: str) -> None:
    """The same view at a phone's width (390 px): no table scrolls sideways (a wide one is read
    as cards); then back to the width the test had."""
    from perceptual_viz.ui.pagecheck import scrolled_tables

    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        page.evaluate("() => window.pvFitTables && window.pvFitTables()")
        wide = scrolled_tables(page)
        assert not wide, f"{name} at 390 px: tables that scroll sideways: {wide}"
    finally:
        page.set_viewport_size(size)


def _tab(page, name: str) -> None:
    from perceptual_viz.ui.pagecheck import open_tab

    open_tab(page, name)


def _src(page, selector: str) -> str:
    return page.locator(selector).first.get_attribute("src") or ""


def _changed(page, selector: str, before: str) -> None:
    """Wait until the picture at ``selector`` is a different file than ``before``."""
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel);"
        " return i && i.getAttribute('src') !== old; }",
        arg=[selector, before],
        timeout=TIMEOUT_MS,
    )


def _click_sample(page, name: str) -> None:
    """Click the visible example thumbnail showing ``name`` (examples render as button.gallery-item)."""
    item = page.locator("button.gallery-item:visible").filter(has=page.locator(f'img[src$="/{name}"]'))
    item.first.click()


def _choose(page, combobox, option: str) -> None:
    """Gradio 6 dropdown: click its combobox input, then the option in the listbox."""
    combobox.click()
    page.get_by_role("option", name=option, exact=True).click()


def _ssim(page) -> float:
    """SSIM as shown in the Scores table (a virtualised grid: role=row / role=gridcell)."""
    label = page.get_by_role("gridcell", name=re.compile(r"^\s*SSIM\s*$"))
    row = page.locator("#scores").get_by_role("row").filter(has=label)
    text = row.get_by_role("gridcell").nth(1).inner_text().strip()
    return float(text)


def _toasts(page) -> list[str]:
    return page.locator("[data-testid=toast-body].error [data-testid=toast-text]").all_inner_texts()


def _no_errors(page, errors: list[str]) -> None:
    toasts = _toasts(page)
    assert not toasts, f"error toasts shown: {toasts}"
    assert not errors, "browser errors:\n" + "\n".join(errors)


def test_feature_maps_linked_point_and_compare_examples(page, errors, tmp_path):
    from playwright.sync_api import expect

    from perceptual_viz.degrade import lookup

    t0 = time.monotonic()
    expect(page.locator("#status")).to_contain_text("UNTRAINED")

    # Feature maps: a sample → overview → grid (default layer relu3_3) → channel detail.
    _click_sample(page, "chelsea.png")
    expect(page.locator("#grid img")).to_be_visible(timeout=TIMEOUT_MS)
    caption = page.locator("#grid_caption")
    expect(caption).to_contain_text("relu3_3", timeout=TIMEOUT_MS)
    expect(page.locator("#overview img")).to_have_count(5)
    expect(page.locator("#detail img")).to_be_visible(timeout=TIMEOUT_MS)

    # Linked views: a click on the picture follows that point through every block.
    grid_before = _src(page, "#grid img")
    point = page.locator("#f_point img")
    box = point.bounding_box()
    assert box is not None
    point.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.4})
    table = page.locator("#f_point_table")
    expect(table).to_contain_text("relu5_3", timeout=TIMEOUT_MS)
    _changed(page, "#grid img", grid_before)  # the point is marked on the grid too

    # Switch the layer: the caption (and grid) follow.
    _choose(page, page.locator("#f_layer input[role=combobox]"), "relu1_2")
    expect(caption).to_contain_text("relu1_2", timeout=TIMEOUT_MS)
    expect(caption).to_contain_text("64×")
    _readable(page, "01_feature_maps.png")
    _no_errors(page, errors)

    # Compare: a sample runs the default degradation (JPEG) automatically.
    _tab(page, "Compare")
    _click_sample(page, "chelsea.png")
    info = page.locator("#compare_info")
    expect(info).to_contain_text("JPEG compression", timeout=TIMEOUT_MS)
    ssim_jpeg = _ssim(page)
    assert 0.0 < ssim_jpeg < 1.0, ssim_jpeg

    # An example sets every control it implies: the slider's label, range and value follow blur.
    page.get_by_text(re.compile(r"^astronaut · .*Gaussian blur")).first.click()
    expect(info).to_contain_text("Gaussian blur", timeout=TIMEOUT_MS)
    blur = lookup("blur")
    strength = page.locator("#c_strength")
    expect(strength).to_contain_text(f"{blur.label}: {blur.param}")
    number = strength.locator("input[type=number]")
    assert float(number.get_attribute("max") or "nan") == blur.maximum
    assert float(number.get_attribute("min") or "nan") == blur.minimum
    assert float(number.input_value()) == 3.0
    ssim_blur = _ssim(page)
    assert 0.0 < ssim_blur < 1.0 and ssim_blur != ssim_jpeg
    _readable(page, "02_compare.png")
    _no_errors(page, errors)

    # A file that is not an image in both slots: one sentence, not a bare "Error".
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"these are lecture notes, not a picture")
    page.get_by_text("upload a degraded image", exact=True).click()
    page.locator("#c_clean input[type=file]").set_input_files(str(junk))
    page.locator("#c_up input[type=file]").set_input_files(str(junk))
    page.locator("#compare_btn").click()
    page.wait_for_function(
        "() => document.querySelectorAll("
        "'[data-testid=toast-body].error [data-testid=toast-text]').length > 0",
        timeout=TIMEOUT_MS,
    )
    messages = _toasts(page)
    assert messages and all(len(m.split()) >= 4 for m in messages), messages
    assert any("image" in m for m in messages), messages
    assert all("Traceback" not in m for m in messages), messages
    assert not errors, errors
    assert time.monotonic() - t0 < 150, "the browser flow should take well under 150 s"


@pytest.mark.timing
def test_layer_change_repaints_every_changed_picture(page, errors):
    """A layer change on Feature maps repaints every picture it changes, once, each with a new
    file decoded: the channel grid and the enlarged channel (found in the page on a warm-up
    change; the overview does not change), for nine first looks at a layer. The measuring code
    is ``benchmarks/browser.py``'s; its time goal (median ≤ 250 ms from the pointer-down) is
    checked by that benchmark on a quiet machine, not here, where the suite's other workers
    share the CPU."""
    import statistics

    from .support import import_benchmark

    bench = import_benchmark("browser")
    measured = bench.view_changes(page, rounds=9, sample="chelsea.png")
    pictures, changes = measured["pictures"], measured["changes"]
    assert {"grid:0", "detail:0"} <= set(pictures), f"a layer change should repaint both: {pictures}"
    previous = None
    for c in changes:
        # Every picture that changes was waited for, each got a new file, none changed later.
        assert c["changed"] == pictures, f"{c['layer']}: changed {c['changed']}, timed {pictures}"
        assert not c["repainted_after"], f"{c['layer']}: repainted again after it was timed"
        assert not c["revisit"], f"{c['layer']} was shown before: not a first look"
        srcs = {k: c["pictures"][k]["src"] for k in pictures}
        assert all(srcs.values()) and srcs != previous, (c["layer"], srcs)
        assert all(c["pictures"][k]["decoded"] is not None for k in pictures), c["layer"]
        previous = srcs
    median = statistics.median(c["ms"] for c in changes)
    print(f"layer change repaint, median {median:.0f} ms (goal and verdict: benchmarks/browser.py)")
    _no_errors(page, errors)


def test_gram_controls_redraw_the_matrices(page, errors):
    from playwright.sync_api import expect

    from perceptual_viz.assets import sample

    _tab(page, "Gram matrices")
    page.locator("#g_a input[type=file]").set_input_files(str(sample("chelsea.png")))
    page.locator("#g_b input[type=file]").set_input_files(str(sample("brick.png")))
    expect(page.locator("#gram_b img")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#g_chart img")).to_be_visible(timeout=TIMEOUT_MS)
    before = _src(page, "#gram_a img")
    _choose(page, page.locator("#g_layer input[role=combobox]"), "relu4_3")
    _changed(page, "#gram_a img", before)  # a new layer redraws at once, no button needed
    expect(page.locator("#g_formula")).to_contain_text("relu4_3")
    before = _src(page, "#gram_a img")
    page.locator("#g_norm").get_by_label("gatys", exact=True).check()
    _changed(page, "#gram_a img", before)
    expect(page.locator("#g_formula")).to_contain_text("gatys")
    _readable(page, "03_gram.png")
    _no_errors(page, errors)


def test_sweep_offers_only_levels_that_work_and_draws_charts(page, errors):
    from playwright.sync_api import expect

    from perceptual_viz.degrade import lookup
    from perceptual_viz.figures.sweep import METRICS

    _tab(page, "Sweep")
    _click_sample(page, "chelsea.png")
    k = page.locator("#s_k input[type=number]")
    page.locator("#s_names").get_by_label("quantize").check()
    expect(k).to_have_attribute("max", str(lookup("quantize").max_levels))
    expect(page.locator("#s_k")).to_contain_text(f"at most {lookup('quantize').max_levels}")
    for name in ("quantize", "jpeg", "brightness"):
        page.locator("#s_names").get_by_label(name).uncheck()
    expect(k).to_have_attribute("max", "8")
    k.fill("3")
    k.press("Enter")
    page.locator("#s_btn").click()
    # Wait on the thumbnails of *this* sweep (3 levels × 2 kinds): the info line can already
    # read "degraded images" from an earlier result while the new one is still on its way.
    expect(page.locator("#s_thumbs img")).to_have_count(6, timeout=4 * TIMEOUT_MS)
    expect(page.locator("#s_info")).to_contain_text("degraded images")
    expect(page.locator("#s_charts img")).to_have_count(len(METRICS))  # one chart per metric
    _readable(page, "04_sweep.png")
    _no_errors(page, errors)


def test_equal_mse_reconstruction_and_stop_in_chromium(page, errors, tmp_path):
    from playwright.sync_api import expect

    from perceptual_viz.export import read_bundle

    t0 = time.monotonic()
    expect(page.locator("#status")).to_contain_text("UNTRAINED")

    # Equal MSE: a sample, the default target, one click → seven pictures, ranked, with scores.
    _tab(page, "Equal MSE")
    _click_sample(page, "coffee.png")
    page.locator("#e_btn").click()
    info = page.locator("#e_info")
    expect(info).to_contain_text("Target MSE 0.005", timeout=2 * TIMEOUT_MS)
    expect(page.locator("#e_gallery img")).to_have_count(7, timeout=TIMEOUT_MS)
    expect(page.locator("#e_table")).to_contain_text("Brightness change")
    _readable(page, "05_equal_mse.png")
    # One click downloads the figure: the zip holds the clean image, the seven and the scores.
    with page.expect_download() as dl:
        page.locator("#e_zip").click()
    path = tmp_path / "equal_mse.zip"
    dl.value.save_as(path)
    record, pics = read_bundle(path)
    assert record["kind"] == "equal-mse" and len(pics) == 8
    assert record["settings"]["target_mse"] == 0.005
    assert len(record["gallery"]["entries"]) == 7
    _no_errors(page, errors)

    # What does a layer keep?: a short feature inversion streams pictures, then finishes.
    _tab(page, "What does a layer keep?")
    _click_sample(page, "chelsea.png")
    steps = page.locator("#r_steps input[type=number]")
    steps.fill("20")
    steps.press("Enter")
    page.locator("#r_btn").click()
    rinfo = page.locator("#r_info")
    expect(rinfo).to_contain_text("step 20/20", timeout=2 * TIMEOUT_MS)
    expect(page.locator("#r_out img")).to_be_visible()
    expect(page.locator("#r_curve img")).to_be_visible()
    expect(rinfo).to_contain_text("relu3_3")
    expect(page.locator("#r_runs img")).to_have_count(1)

    # Stop: the run ends at its next step, says where, and stays in the runs row.
    steps.fill("400")
    steps.press("Enter")
    page.locator("#r_btn").click()
    expect(rinfo).to_contain_text("/400", timeout=2 * TIMEOUT_MS)
    page.locator("#r_stop").click()
    expect(rinfo).to_contain_text("stopped at step", timeout=TIMEOUT_MS)
    expect(page.locator("#r_runs img")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#r_runs")).to_contain_text("relu3_3 · stopped at step")
    expect(page.locator("#r_runs")).to_contain_text("relu3_3 · 20 steps")
    _readable(page, "06_reconstruct.png")
    _no_errors(page, errors)
    assert time.monotonic() - t0 < 180, "the browser flow should take well under 3 minutes"


def test_style_transfer_streams_and_stops_in_chromium(page, errors, tmp_path):
    from playwright.sync_api import expect

    from perceptual_viz.export import read_bundle

    # A sample pair is a row of the examples table: the cat and the bricks fill both inputs.
    _tab(page, "Style transfer")
    page.locator("tr.tr-body:visible").filter(has=page.locator('img[src$="/brick.png"]')).first.click()
    expect(page.locator("#st_content img")).to_be_visible()
    expect(page.locator("#st_style img")).to_be_visible()
    steps, px = page.locator("#st_steps input[type=number]"), page.locator("#st_px input[type=number]")
    for box, value in ((steps, "10"), (px, "64")):
        box.fill(value)
        box.press("Enter")
    page.locator("#st_btn").click()
    info = page.locator("#st_info")
    expect(info).to_contain_text("step 10/10", timeout=2 * TIMEOUT_MS)
    expect(info).to_contain_text("style distance")
    expect(page.locator("#st_out img")).to_be_visible()
    expect(page.locator("#st_curve img")).to_be_visible()
    expect(page.locator("#st_runs img")).to_have_count(1)
    with page.expect_download() as dl:
        page.locator("#st_zip").click()
    dl.value.save_as(tmp_path / "style.zip")
    record, pics = read_bundle(tmp_path / "style.zip")
    assert record["kind"] == "style-transfer" and record["result"]["steps_done"] == 10 and len(pics) == 4

    # Stop: the run ends at its next step, says where, and stays in the runs row.
    steps.fill("400")
    steps.press("Enter")
    page.locator("#st_btn").click()
    expect(info).to_contain_text("/400", timeout=2 * TIMEOUT_MS)
    page.locator("#st_stop").click()
    expect(info).to_contain_text("stopped at step", timeout=TIMEOUT_MS)
    expect(page.locator("#st_runs img")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(page.locator("#st_runs")).to_contain_text("β 10, γ 10 · stopped at step")
    _readable(page, "08_style_transfer.png")
    _no_errors(page, errors)


def test_phone_width_reaches_every_block(phone, errors):
    from playwright.sync_api import expect

    _click_sample(phone, "chelsea.png")
    blocks = phone.locator("#overview img")
    expect(blocks).to_have_count(5, timeout=TIMEOUT_MS)
    expect(phone.locator("#grid_caption")).to_contain_text("relu3_3", timeout=TIMEOUT_MS)
    _readable(phone, "07_phone_feature_maps.png")
    width = phone.viewport_size["width"]
    for i in range(5):  # all five blocks inside the page's width: they wrap, none is cut off
        box = blocks.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (i, box)
    _no_errors(phone, errors)


def test_train_with_it_streams_and_scores_in_chromium(page, errors, tmp_path):
    from playwright.sync_api import expect

    from perceptual_viz.export import read_bundle

    _tab(page, "Train with it")
    # At once, without training: the networks trained ahead on the held-out photo, scored; or,
    # when every task trained ahead was withdrawn, the tab says so.
    from perceptual_viz.lessons import reference as rf

    if rf.tasks():
        ahead = rf.trained_settings(rf.tasks()[0])
        expect(page.locator("#t_ref_outs img")).to_have_count(2 + len(ahead.losses), timeout=TIMEOUT_MS)
        expect(page.locator("#t_ref_info")).to_contain_text(f"trained for {ahead.steps} steps")
        expect(page.locator("#t_ref_table")).to_contain_text("perceptual+mse network")
    else:
        expect(page.locator("#t_ref_none")).to_contain_text("Trained ahead: none shown")
    steps = page.locator("#t_steps input[type=number]")
    steps.fill("10")
    steps.press("Enter")
    page.locator("#t_btn").click()
    # Streaming: the held-out input, its ground truth and one output per default loss.
    expect(page.locator("#t_outs img")).to_have_count(5, timeout=TIMEOUT_MS)
    table = page.locator("#t_table")
    expect(table).to_contain_text("perceptual+mse network", timeout=TIMEOUT_MS)
    expect(page.locator("#t_info")).to_contain_text("10 steps")
    expect(page.locator("#t_info")).to_contain_text("only the loss differs")
    _readable(page, "06_train.png")
    with page.expect_download() as dl:
        page.locator("#t_zip").click()
    path = tmp_path / "train.zip"
    dl.value.save_as(path)
    record, pics = read_bundle(path)
    assert record["kind"] == "train" and record["steps"] == 10
    assert list(record["runs"]) == ["mse", "perceptual", "perceptual+mse"]
    assert any("zoomed" in name for name in pics)
    _no_errors(page, errors)


_KEY_SHAPED = r"^[a-z_]+(\.[a-z_]+)+$"
_FILE_NAME = r"\.(png|jpe?g|gif|webp|bmp|tiff?|zip|csv|json|pth)$"  # a sample's name is not a key
_TEXTS_JS = """() => { const out = [];
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let n; while ((n = w.nextNode())) { const t = n.textContent.trim(); if (t) out.push(t); }
  document.querySelectorAll('[aria-label],[title],[placeholder]').forEach(e => {
    for (const a of ['aria-label', 'title', 'placeholder']) {
      const v = e.getAttribute(a); if (v) out.push(v); } });
  return out; }"""


@pytest.mark.parametrize(("locale", "announced"), [("en", "Complete"), ("ja", "完了"), ("zh-CN", "完成")])
def test_no_translation_key_is_shown_or_announced(contexts, app_url, errors, locale, announced):
    """Gradio's page asks for words under keys its own locale files lack (its status tracker
    tells screen readers ``common.complete`` when an event finishes): every text and label of
    the page, watched from load through a sample click and then on every tab, is worded, never
    a key; the finished event is announced in the browser's language; in Japanese and Chinese
    no server sentence is left in English."""
    from perceptual_viz.ui.pagecheck import open_tab, wait_idle

    context = contexts.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(app_url)
    pg.wait_for_selector("button.gallery-item:visible")
    seen: set[str] = set(pg.evaluate(_TEXTS_JS))
    _click_sample(pg, "chelsea.png")
    for _ in range(60):  # the announcement is short-lived: watch it for 6 s
        pg.wait_for_timeout(100)
        seen |= set(pg.evaluate(_TEXTS_JS))
    assert announced in seen, f"the finished event was not announced as {announced!r}"
    settled: set[str] = set()  # what each tab shows once the page has had its words
    for tab in TAB_IDS:  # every tab, by its label in this language
        button = pg.locator(f'[role="tab"][data-tab-id="{tab}"]').filter(visible=True).first
        open_tab(pg, button.inner_text().strip())
        wait_idle(pg, TIMEOUT_MS)
        settled |= set(pg.evaluate(_TEXTS_JS))
    seen |= settled
    keys = sorted(t for t in seen if re.match(_KEY_SHAPED, t) and not re.search(_FILE_NAME, t))
    assert not keys, f"translation keys shown: {keys}"
    if locale != "en":
        english = sorted(t for t in settled if _ENGLISH_SENTENCE.search(t))
        assert not english, f"{locale}: English left on the page: {english}"
    context.close()


TAB_IDS = (
    "features",
    "gram",
    "compare",
    "sweep",
    "equal_mse",
    "train",
    "quiz",
    "reconstruct",
    "style_transfer",
)
# Three English words in a row: a sentence nobody translated (names like "VGG16" or "relu3_3" and
# metric names are not words of a sentence).
_ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z][a-z]+ [a-z]{2,} [a-z]{2,}\b")


def test_dark_mode_reads_on_feature_maps_gram_and_compare(contexts, app_url, errors):
    """Gradio's dark theme (``?__theme=dark``): Feature maps, Gram and Compare after their main
    action have no critical or serious accessibility violation (axe's contrast rule included);
    the figures keep their own white background, so they read the same on dark."""
    from perceptual_viz.ui.pagecheck import wait_idle

    pg = contexts.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(app_url + "?__theme=dark")
    pg.wait_for_function("() => document.body.classList.contains('dark')")
    _click_sample(pg, "chelsea.png")
    pg.locator("#detail img").wait_for()
    wait_idle(pg, TIMEOUT_MS)
    accessible(pg, "dark: Feature maps")
    _tab(pg, "Gram matrices")
    _click_sample(pg, "chelsea.png")
    pg.locator("#gram_a img").wait_for()
    accessible(pg, "dark: Gram matrices")
    _tab(pg, "Compare")
    pg.get_by_text(re.compile(r"^chelsea · ")).first.click()
    pg.locator("#c_maps img").first.wait_for()
    accessible(pg, "dark: Compare")
    _shot(pg, "30_dark_compare.png")
