"""The page in English, Japanese and Simplified Chinese: complete catalogs that keep formulas,
Markdown and placeholders; messages worded in the caller's language (API callers get English);
and, in Chromium, the browser's language choosing the default and the selector switching every
tab's teaching text and the error messages."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from perceptual_viz import messages
from perceptual_viz.messages import Joined, msg, msg_n, word
from perceptual_viz.ui import i18n

from .browser_support import ARTIFACTS, CHROMIUM
from .browser_support import sync_playwright as browser_sync_playwright
from .support import CHELSEA, ROOT

UPLOAD_CLEAN = msg("upload {what} first (or pick a sample)", what=msg("a clean image"))

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
    "style_transfer": "Style transfer",
}


@pytest.fixture(scope="module")
def demo(served):
    return served.demo


def _tool():
    """tools/i18n.py, the catalogs' maintenance script (extraction with Babel)."""
    name = "i18n_tool"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "i18n.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up while being made
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def wanted(demo):
    """Every id the catalogs must hold: the messages the code builds and the page's texts."""
    return _tool().wanted(i18n.english_strings(demo))


def _entries(lang: str) -> dict:
    """``lang``'s catalog as id → translation (plural ids and forms as tuples)."""
    return {i: tr for i, (_, tr) in _tool().held(lang).items()}


@pytest.mark.parametrize("lang", ["ja", "zh"])
def test_every_message_and_page_text_has_a_translation_and_every_entry_is_used(wanted, lang):
    """Babel extracts every message of the code (msg, msg_n, N_); with the page's texts as built,
    that is what each catalog must hold: a reworded sentence with no translation, or an entry
    nothing uses any more, fails here (the tool prints the same: python tools/i18n.py check)."""
    problems = _tool().problems(lang, wanted)
    assert not problems, f"{len(problems)} catalog problems, e.g.:\n" + "\n".join(problems[:12])


@pytest.mark.parametrize("lang", ["ja", "zh"])
def test_translations_keep_formulas_markdown_and_placeholders(lang):
    entries = _entries(lang)
    assert len(entries) > 300
    for en, tr in entries.items():
        source = en if isinstance(en, str) else en[1]  # one form in ja and zh: the plural's
        for said in [tr] if isinstance(tr, str) else list(tr):
            _same_structure(source, said)
    prose = [
        tr for en, tr in entries.items() if isinstance(en, str) and len(re.sub(r"[^A-Za-z]", "", en)) > 40
    ]
    assert prose and all(CJK.search(tr) for tr in prose), "long teaching texts are translated"
    if lang == "ja":
        assert sum(bool(KANA.search(tr)) for tr in prose) > 0.9 * len(prose)  # Japanese, not Chinese
    else:
        assert not any(KANA.search(str(tr)) for tr in entries.values())


def _same_structure(en: str, tr: str) -> None:
    for mark in ("$", "**", "`"):
        assert en.count(mark) == tr.count(mark), (
            f"{mark!r} differs in the translation of {en[:60]!r}: {tr[:80]!r}"
        )
    tags = r"</?[a-zA-Z][^<>]*>"
    assert sorted(re.findall(tags, en)) == sorted(re.findall(tags, tr)), f"HTML differs in {en[:60]!r}"
    assert re.findall(r"\$[^$]+\$", en) == re.findall(r"\$[^$]+\$", tr), f"a formula changed in {en[:60]!r}"
    assert sorted(re.findall(r"\{[^{}]*\}", en)) == sorted(re.findall(r"\{[^{}]*\}", tr)), en


@pytest.mark.parametrize(
    ("lang", "terms"),
    [("ja", ["知覚損失", "特徴マップ", "グラム行列"]), ("zh", ["感知损失", "特征图", "格拉姆矩阵"])],
)
def test_the_subjects_standard_terms_are_used(lang, terms):
    everything = " ".join(str(tr) for tr in _entries(lang).values())
    for term in terms:
        assert term in everything, f"{lang}: {term} never appears"


def test_nothing_english_is_parsed_back():
    """The translation path words messages and looks page texts up by their id: it has no
    regular expressions over rendered text (the engine it replaced had ~180)."""
    for module in (i18n, messages):
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        imported = {
            a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names
        }
        modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "re" not in imported and "re" not in modules, f"{module.__name__} imports re"


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


def test_messages_are_worded_with_their_values_nested_messages_and_plural_forms():
    upload = msg("upload {what} first (or pick a sample)", what=msg("a clean image"))
    ja = word(upload, "ja")
    assert CJK.search(ja) and "upload" not in ja
    assert word(msg("a clean image"), "ja") in ja  # a message as a value is worded in the same language
    assert word(upload, "en") == str(upload) == "upload a clean image first (or pick a sample)"
    limits = msg("the number of channels shown must be between {lo} and {hi}; got {k}", lo=1, hi=64, k=0)
    zh = word(limits, "zh")
    assert "1" in zh and "64" in zh and "0" in zh and CJK.search(zh)
    timed = msg("scored at {w}×{h} px on {device} in {ms:.0f} ms", w=336, h=224, device="cpu", ms=412.6)
    assert "413" in word(timed, "ja") and "336" in word(timed, "zh") and "413 ms" in str(timed)
    unknown = msg("a sentence no catalog knows, {n} times", n=2)
    assert word(unknown, "ja") == "a sentence no catalog knows, 2 times"  # English, never a key
    both = Joined((msg("a clean image"), "relu3_3"))
    assert word(both, "zh") == f"{word(msg('a clean image'), 'zh')} · relu3_3"


def test_plural_forms_follow_each_languages_rule():
    one, many = msg_n("{n} trial", "{n} trials", 1), msg_n("{n} trial", "{n} trials", 7)
    assert (str(one), str(many)) == ("1 trial", "7 trials")
    ja = messages.translations("ja")
    assert ja.ngettext("{n} trial", "{n} trials", 1) == ja.ngettext("{n} trial", "{n} trials", 7)  # one form


def _words(text: str) -> list[str]:
    """The English words of a text drawn into a picture (layer names, units and metric names are
    the same in every language)."""
    if re.search(r"[Σφ‖|]", text):  # a formula: the same in every language
        return []
    # a word just before "(" is a formula's function (log, exp), the same in every language
    return [w for w in re.findall(r"\b[a-z]{3,}\b(?!\()", text) if w not in ("px",)]


def test_words_in_pictures_follow_the_language_being_spoken(vgg16):
    """The figure's own words — titles, colour-bar captions — as they are drawn: Japanese when
    Japanese is spoken, English otherwise; English (and said so) with no CJK font."""
    from perceptual_viz import chrome
    from perceptual_viz.features import FeatureCache
    from perceptual_viz.figures import analyse
    from perceptual_viz.figures import compare as fc
    from perceptual_viz.figures import features as ff
    from perceptual_viz.images import load_image

    cache = FeatureCache()
    a = analyse(vgg16, load_image(CHELSEA), "64")

    def drawn(lang: str) -> list[str]:
        with messages.speaking(lang), chrome.recording() as texts:
            ff.grid(vgg16, cache, a, "64", "relu2_2", 4)
            ff.channel(vgg16, cache, a, "64", "relu2_2", 3)
            ff.overview(vgg16, cache, a, "64")
            fc.compare(vgg16, cache, a, "64", degradation="blur", strength=2.0, layer="relu2_2")
        return texts

    english, japanese, chinese = drawn("en"), drawn("ja"), drawn("zh")
    assert len(english) == len(japanese) == len(chinese) > 20
    if not chrome.can_draw("ja"):  # no CJK font here: labelled in English, and the page says so
        assert japanese == chinese == english
        return
    worded = [(en, ja, zh) for en, ja, zh in zip(english, japanese, chinese, strict=True) if _words(en)]
    assert len(worded) > 10
    for _en, ja, zh in worded:  # every text with English words in it is translated, nothing left over
        assert KANA.search(ja) or CJK.search(ja), f"not Japanese: {ja!r}"
        assert CJK.search(zh) and not KANA.search(zh), f"not Chinese: {zh!r}"
        assert not _words(ja) and not _words(zh), (ja, zh)
    if chrome.can_draw("ja"):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(chrome, "cjk_font_file", lambda: None)
            assert not chrome.can_draw("ja")
            assert drawn("ja") == english, "with no font for Japanese, pictures are labelled in English"


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
            assert said == word(UPLOAD_CLEAN, "ja"), said
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
            assert toast.inner_text().strip() == word(UPLOAD_CLEAN, "zh")
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

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "locales/*/*.po" in data["tool"]["setuptools"]["package-data"]["perceptual_viz"]
    assert {p.parent.name for p in messages.LOCALES.glob("*/*.po")} == {"ja", "zh"}


def test_answers_are_worded_for_their_reader_and_data_stays_data():
    """localise(): messages in texts, table headers and cells, gallery captions and updates are
    worded; plain strings (numbers, paths, layer names) are shown as they are; JSON is English."""
    import pandas as pd

    clean = msg("a clean image")
    said = word(clean, "ja")
    frame = pd.DataFrame({"h": [clean, "relu3_3"], "number": [1.5, 2.0]})
    frame.columns = pd.Index([clean, "number"], dtype=object)
    out = i18n.localise((frame, [("pic.png", clean), "pic2.png"], {"note": clean}, "/tmp/x.png"), "ja")
    assert list(out[0].columns) == [said, "number"] and list(out[0].iloc[:, 0]) == [said, "relu3_3"]
    assert list(out[0]["number"]) == [1.5, 2.0]
    assert out[1] == [("pic.png", said), "pic2.png"]
    assert out[2] == {"note": "a clean image"}  # JSON is data for programs: English
    assert out[3] == "/tmp/x.png"
    assert list(frame.columns) == [clean, "number"]  # the caller's table is not changed
    update = i18n.localise({"__type__": "update", "value": clean, "visible": True}, "ja")
    assert update == {"__type__": "update", "value": said, "visible": True}
    assert i18n.localise("a clean image", "ja") == "a clean image", "a plain string is never parsed"
