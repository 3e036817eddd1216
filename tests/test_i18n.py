"""The page in English, Japanese and Simplified Chinese: complete catalogs that keep formulas,
Markdown and placeholders; messages worded in the caller's language (API callers get English);
and, in Chromium, the browser's language choosing the default and the selector switching every
tab's teaching text and the error messages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from perceptual_viz.ui import i18n

from .browser_support import ARTIFACTS, CHROMIUM
from .browser_support import sync_playwright as browser_sync_playwright
from .support import CHELSEA

gradio_client = pytest.importorskip("gradio_client")

CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KANA = re.compile(r"[\u3040-\u30ff]")
TIMEOUT_MS = 60_000
KANA_JS = "/[\\u3040-\\u30ff]/.test(t)"
TAB_LABELS = {
    "features": "Feature maps",
    "gram": "Gram matrices",
    "compare": "Compare",
    "sweep": "Sweep",
    "equal_mse": "Equal MSE",
    "train": "Train with it",
    "quiz": "Which looks closer?",
    "reconstruct": "What does a layer keep?",
}


@pytest.fixture(scope="module")
def demo(served):
    return served.demo


def _catalog(lang: str) -> dict:
    return json.loads((i18n.LOCALES / f"{lang}.json").read_text(encoding="utf-8"))


def _same_structure(en: str, tr: str) -> None:
    for mark in ("$", "**", "{", "}", "<", ">", "`"):
        assert en.count(mark) == tr.count(mark), (
            f"{mark!r} differs in the translation of {en[:60]!r}: {tr[:80]!r}"
        )
    assert re.findall(r"\$[^$]+\$", en) == re.findall(r"\$[^$]+\$", tr), f"a formula changed in {en[:60]!r}"
    assert sorted(re.findall(r"\{\d+\}", en)) == sorted(re.findall(r"\{\d+\}", tr)), en


@pytest.mark.parametrize("lang", ["ja", "zh"])
def test_every_text_of_the_page_is_translated_keeping_formulas_markdown_and_placeholders(demo, lang):
    data = _catalog(lang)
    texts, messages = data["text"], data["messages"]
    missing = sorted(s for s in i18n.english_strings(demo) if not texts.get(s, "").strip())
    assert not missing, f"{lang}: {len(missing)} texts without a translation, e.g. {missing[:5]}"
    for en, tr in [*texts.items(), *messages.items()]:
        _same_structure(en, tr)
    prose = [tr for en, tr in texts.items() if len(re.sub(r"[^A-Za-z]", "", en)) > 40]
    assert prose and all(CJK.search(tr) for tr in prose), "long teaching texts are translated"
    if lang == "ja":
        assert sum(bool(KANA.search(tr)) for tr in prose) > 0.9 * len(prose)  # Japanese, not Chinese
    else:
        assert not any(KANA.search(tr) for tr in [*texts.values(), *messages.values()])


@pytest.mark.parametrize(
    ("lang", "terms"),
    [("ja", ["知覚損失", "特徴マップ", "グラム行列"]), ("zh", ["感知损失", "特征图", "格拉姆矩阵"])],
)
def test_the_subjects_standard_terms_are_used(lang, terms):
    everything = " ".join(_catalog(lang)["text"].values())
    for term in terms:
        assert term in everything, f"{lang}: {term} never appears"


def test_a_language_is_read_from_what_browsers_and_cookies_say():
    assert [i18n.language(v) for v in ("ja", "ja-JP", "zh-CN", "zh_Hans", "ZH", "fr", "", None)] == [
        "ja",
        "ja",
        "zh",
        "zh",
        "zh",
        "en",
        "en",
        "en",
    ]

    class Req:
        def __init__(self, cookie: str) -> None:
            self.headers = {"cookie": cookie} if cookie else {}

    assert i18n.request_language(Req("a=1; pv_lang=zh")) == "zh"
    assert i18n.request_language(Req("pv_lang=xx")) == "en"
    assert i18n.request_language(Req("")) == "en"
    assert i18n.request_language(Req('broken="')) == "en"


def test_messages_are_translated_with_their_values_and_unknown_ones_stay_english():
    ja = i18n.message("upload a clean image first (or pick a sample)", "ja")
    assert CJK.search(ja) and "upload" not in ja
    assert i18n.message("a clean image", "ja") in ja  # the value in its placeholder is translated too
    two = i18n.message("clean image: the image file is corrupt or truncated", "zh")
    assert (
        i18n.message("clean image", "zh") in two
        and i18n.message("the image file is corrupt or truncated", "zh") in two
    )
    limits = i18n.message("the number of trials must be between 1 and 50, got 0", "zh")
    assert "1" in limits and "50" in limits and "0" in limits and CJK.search(limits)
    assert i18n.message("a sentence no catalog knows", "ja") == "a sentence no catalog knows"
    assert i18n.message("upload a clean image first (or pick a sample)", "en").startswith("upload")


def test_api_callers_get_english_and_a_language_cookie_gets_its_language(served, tmp_path):
    from gradio_client.exceptions import AppError

    url = served.url
    for headers, expect in (({}, "upload a clean image first"), ({"Cookie": "pv_lang=ja"}, "ja")):
        client = gradio_client.Client(url, verbose=False, headers=headers)
        with pytest.raises(AppError) as err:
            client.predict(
                None, None, "degrade", "jpeg", 10, 0, "vgg16", "224", "relu2_2", api_name="/compare"
            )
        said = str(err.value)
        if expect == "ja":
            assert said == i18n.message("upload a clean image first (or pick a sample)", "ja"), said
        else:
            assert expect in said


def test_results_come_back_in_the_pages_language_and_their_data_does_not_change(served):
    """/compare for a Chinese page: the info line and the table's headers and notes in Chinese;
    the scores, the JSON and the pictures exactly as an English caller gets them."""
    from gradio_client import handle_file

    url = served.url
    photo = handle_file(str(CHELSEA))
    args = (photo, None, "degrade", "jpeg", 10, 0, "vgg16", "224", "relu2_2")
    en = gradio_client.Client(url, verbose=False).predict(*args, api_name="/compare")
    zh = gradio_client.Client(url, verbose=False, headers={"Cookie": "pv_lang=zh"}).predict(
        *args, api_name="/compare"
    )
    info_en, info_zh = en[5], zh[5]
    assert "JPEG compression, quality = 10" in info_en and CJK.search(info_zh) and "JPEG" in info_zh, info_zh
    assert "quality" not in info_zh
    head_en, head_zh = en[1]["headers"], zh[1]["headers"]
    assert head_en == ["metric", "value", "what it is"] and all(CJK.search(h) for h in head_zh), head_zh
    values = [[row[1] for row in t["data"]] for t in (en[1], zh[1])]
    assert values[0] == values[1]  # the numbers are the numbers
    timing = ("seconds", "ms", "time")
    same = [{k: v for k, v in j.items() if not any(t in k for t in timing)} for j in (en[6], zh[6])]
    assert same[0] == same[1]  # all scores (JSON): data for programs, never translated


# --------------------------------------------------------------------------- in Chromium


def _pdn_texts(page) -> dict[str, str]:
    """Each tab's Predict → Do → Notice text, opening the tabs one by one."""
    from perceptual_viz.ui.pagecheck import open_tab

    out = {}
    for tab_id, english in TAB_LABELS.items():
        button = page.locator(f'[role="tab"][data-tab-id="{tab_id}"]').filter(visible=True).first
        name = button.inner_text().strip() if button.count() else english
        open_tab(page, name)
        panel = page.locator(f"#{tab_id}, [role=tabpanel]:visible").filter(visible=True).first
        out[tab_id] = panel.locator(".pdn").first.inner_text()
    return out


@pytest.mark.slow
def test_the_browsers_language_is_the_default_and_the_selector_switches_every_tab(app_url):
    """A Japanese browser gets Japanese; choosing 中文 turns every tab's teaching text and an error
    message into Chinese, and English back; the choice is remembered on reload."""
    sync_playwright = browser_sync_playwright()
    from perceptual_viz.ui.pagecheck import CHROMIUM_ARGS, wait_idle

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app_url, wait_until="load")
            _wait_pdn(page, KANA_JS)
            texts = _pdn_texts(page)
            assert all(KANA.search(t) for t in texts.values()), texts
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "20_lang_ja.png"), full_page=True)

            _choose(page, "简体中文")
            _wait_pdn(page, "!" + KANA_JS)
            texts = _pdn_texts(page)
            assert all(CJK.search(t) and not KANA.search(t) for t in texts.values()), texts
            _compare_without_image(page)
            toast = page.locator("[data-testid=toast-body].error [data-testid=toast-text]").first
            toast.wait_for()
            assert toast.inner_text().strip() == i18n.message(
                "upload a clean image first (or pick a sample)", "zh"
            )
            wait_idle(page, TIMEOUT_MS)
            page.screenshot(path=str(ARTIFACTS / "21_lang_zh.png"), full_page=True)

            page.reload(wait_until="load")  # remembered
            _wait_pdn(page, "/[\\u4e00-\\u9fff]/.test(t)")
            _choose(page, "English")
            _wait_pdn(page, "t.includes('Predict:')")
            assert all("Predict:" in t for t in _pdn_texts(page).values())
        finally:
            browser.close()


def _wait_pdn(page, test: str) -> None:
    """Until the first Predict → Do → Notice text ``t`` of the page passes ``test`` (JavaScript)."""
    js = (
        "() => {  const e = document.querySelector('.pdn'); const t = e ? e.innerText : ''; "
        "return !!e && %s; }"
    )
    page.wait_for_function(js % test)


def _choose(page, name: str) -> None:
    page.locator("#lang input[role=combobox]").click()
    page.get_by_role("option", name=name, exact=True).click()


def _compare_without_image(page) -> None:
    from perceptual_viz.ui.pagecheck import open_tab

    open_tab(page, page.locator('[role="tab"][data-tab-id="compare"]').first.inner_text().strip())
    page.locator("#compare_btn").click()


def test_catalog_files_are_shipped_with_the_package():
    import tomllib

    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert "locales/*.json" in data["tool"]["setuptools"]["package-data"]["perceptual_viz.ui"]
    assert {p.name for p in Path(i18n.LOCALES).glob("*.json")} >= {"ja.json", "zh.json"}


def test_results_are_said_piece_by_piece_keeping_emphasis_numbers_and_paths():
    """say(): paragraphs and " · " pieces each translated, bold kept; unknown pieces and file paths
    untouched; the wordless "{0}: {1}" pattern (for errors) never re-punctuates a result."""
    import pandas as pd

    clean = i18n.message("a clean image", "ja")
    assert (
        i18n.say("**a clean image** · 0.0123 · /tmp/x/image.png", "ja")
        == f"**{clean}** · 0.0123 · /tmp/x/image.png"
    )
    assert i18n.say("a clean image\n\nnothing known here", "ja") == f"{clean}\n\nnothing known here"
    assert i18n.say("relu3_3: 16 channels", "zh") == "relu3_3: 16 channels"
    assert i18n.say("a clean image", "en") == "a clean image"

    frame = pd.DataFrame({"a clean image": ["a clean image", "x"], "number": [1.5, 2.0]})
    out = i18n.localise((frame, [("pic.png", "a clean image"), "pic2.png"], {"mse": "a clean image"}), "zh")
    said = i18n.message("a clean image", "zh")
    assert list(out[0].columns) == [said, "number"] and list(out[0].iloc[:, 0]) == [said, "x"]
    assert list(out[0]["number"]) == [1.5, 2.0]
    assert out[1] == [("pic.png", said), "pic2.png"]
    assert out[2] == {"mse": "a clean image"}  # JSON is data for programs: never translated
    assert list(frame.columns) == ["a clean image", "number"]  # the caller's table is not changed
    update = i18n.localise({"__type__": "update", "value": "a clean image", "visible": True}, "ja")
    assert update == {"__type__": "update", "value": clean, "visible": True}
