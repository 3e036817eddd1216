"""Take the README and docs/ screenshots of the app with real ImageNet VGG16 weights.

    python tools/screenshots.py [--weights PATH] [--out docs/img] [--port 0] [--only STEP …]
                                [--quiz-db PATH --quiz-code CODE] [--width PX]

Starts ``python app.py --port N --weights PATH`` as a subprocess (background showcase off, a
temporary cache folder, so nothing else competes for the CPU), drives it with Playwright and
Debian's Chromium (``/usr/bin/chromium``; no browser is ever downloaded), and writes, each under
700 KB:

- ``tab_features.png``, ``tab_gram.png``, ``tab_compare.png``, ``tab_sweep.png``,
  ``tab_equal_mse.png``, ``tab_train.png``, ``tab_reconstruct.png`` and
  ``tab_style_transfer.png``: the tabs, 1440 px wide (``--width`` another width, e.g. 390 to
  look at a tab as a phone shows it);
- ``unit_arithmetic.png`` (step ``unit``): *How one number is made* after a click above Chelsea's eye
  in relu3_3's strongest channel over the photo;
- ``tab_quiz.png`` (step ``quiz``): the teacher's dashboard of a round people voted on, read from
  ``--quiz-db`` (``--quiz-code`` names the round; without it the step is skipped: a dashboard of
  made-up votes would show nothing true);
- ``lang_ja_features.png``, ``lang_ja_compare.png``, ``lang_zh_features.png`` and
  ``lang_zh_compare.png`` (steps of the same names): Feature maps and Compare as a Japanese and a
  Chinese browser first sees them, the words inside the pictures included; the machine needs CJK
  fonts for these (Debian: ``apt-get install fonts-noto-cjk``);
- ``dark_tab_features.png``, ``dark_tab_gram.png`` and ``dark_tab_compare.png`` (step ``dark``):
  the same tabs in Gradio's dark theme (``?__theme=dark``);
- ``projector_compare.png`` (step ``projector``): Compare in projector mode (``?present=1``) on a
  1920 × 1080 screen, its teaching box at the first step;
- ``phone_features.png`` (step ``phone``): the Feature maps tab at a phone's width (390 × 844),
  from the top of the page through the shallow → deep row;
- ``channel_visualisations.png`` (step ``visualisations``): images optimised to excite a few
  channels of relu3_3 and relu4_3, made in-process with the library (no app, no browser);
- ``style_transfer.png`` (step ``stylised``): the sample pairs of the Style transfer tab, each
  as content photo, style photo and result, made in-process with the library at the default
  weights, larger than the app's CPU default (:data:`STYLISED_STEPS` steps at
  :data:`STYLISED_PX` px).

Before each shot every lazy picture is scrolled into view, and the page is checked for text cut
off by its box and for component labels over pictures. Those are reported, and make the exit
code 1, but the PNG is still written. The weights file is read where it is; never copy it into
the repository.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the package next to this folder
    sys.path.insert(0, str(ROOT))

from perceptual_viz.assets import SAMPLES_DIR  # noqa: E402
from perceptual_viz.ui.pagecheck import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    clipped_texts,
    labels_over_pictures,
    open_tab,
    scrolled_tables,
    wait_idle,
)

SAMPLES = SAMPLES_DIR
DEFAULT_WEIGHTS = ROOT.parent / "shared" / "weights" / "vgg16_imagenet_features.pth"
WIDTH = 1440
PHONE = {"width": 390, "height": 844}
MAX_BYTES = 700 * 1024
TIMEOUT_MS = 600_000  # real weights on a busy 2-core CPU: a 200-step reconstruction can take minutes
EYE = (0.375, 0.385)  # the cat's left eye (as we look at it) in chelsea.png, as fractions of its size
BROW = (0.387, 0.250)  # above it (under the title): relu3_3 channel 203 fires there, a unit worth reading
# The visualisation row: strong channels of chelsea at relu3_3 and relu4_3 whose optimised
# images read as textures (203 is the channel tab_features.png enlarges; 479 is relu4_3's
# strongest). The library's default steps on a CPU, at its default size.
CHANNELS = (
    ("relu3_3", 203),
    ("relu3_3", 207),
    ("relu3_3", 98),
    ("relu4_3", 479),
    ("relu4_3", 309),
    ("relu4_3", 418),
)
VIS_STEPS, VIS_SIZE = 160, 112
# The README's style transfers: the first two sample pairs of the tab, at the default weights.
STYLISED_PAIRS = (("chelsea.png", "brick.png"), ("astronaut.png", "coffee.png"))
STYLISED_STEPS, STYLISED_PX = 150, 192


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(weights: Path, port: int, quiz_db: Path | None = None) -> Iterator[str]:
    """``python app.py`` in a subprocess; yields its URL once it answers, stops it afterwards."""
    with tempfile.TemporaryDirectory(prefix="perceptual-viz-shots-") as cache:
        env = {
            **os.environ,
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PERCEPTUAL_VIZ_SHOWCASE": "off",  # no background warmer competing for the CPU
            "PERCEPTUAL_VIZ_CACHE_DIR": cache,
            # A sweep or a reconstruction must finish, even on a busy machine.
            "PERCEPTUAL_VIZ_TIME_LIMIT": str(TIMEOUT_MS // 1000),
            # The votes the dashboard shows; without one, a database of this run only.
            "PERCEPTUAL_VIZ_DB": str(quiz_db or Path(cache) / "quiz.sqlite3"),
        }
        cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--weights", str(weights)]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the app exited with code {proc.returncode}")
                try:
                    with urllib.request.urlopen(url, timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the app did not answer within 180 s") from None
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def encode_png(im: Image.Image, max_bytes: int = MAX_BYTES) -> bytes:
    """``im`` as PNG under ``max_bytes``: lossless if it fits, else 256 colours, else shrunk.

    The 256 colours are an octree palette with Floyd–Steinberg dithering: a median-cut palette
    without dithering turns the figures' colour bars into a few wrong-coloured bands.
    """
    im = im.convert("RGB")

    def encode(img: Image.Image) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        return buf.getvalue()

    def few_colours(img: Image.Image) -> Image.Image:
        palette = img.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
        return img.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)

    data = encode(im)
    if len(data) > max_bytes:
        data = encode(few_colours(im))
    scale = 1.0
    while len(data) > max_bytes:
        scale *= 0.85
        small = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        data = encode(few_colours(small))
    return data


def save_png(png: bytes | Image.Image, path: Path, max_bytes: int = MAX_BYTES) -> int:
    """Write ``png`` (PNG bytes or a picture) to ``path`` under ``max_bytes``; its size in bytes."""
    im = png if isinstance(png, Image.Image) else Image.open(io.BytesIO(png))
    data = encode_png(im, max_bytes)
    path.write_bytes(data)
    with Image.open(path) as saved:
        print(f"{path}: {saved.width}×{saved.height} px, {len(data) / 1024:.0f} KB", flush=True)
    return len(data)


class Shooter:
    """One browser page on the app, with the helpers the tabs need."""

    def __init__(self, page: Any, out: Path, width: int = WIDTH) -> None:
        self.page = page
        self.out = out
        self.width = width
        self.errors: list[str] = []
        self.problems: list[str] = []
        self.quiz_code: str | None = None  # the round the quiz step shows
        self.prefix = ""  # put before every file name (the dark theme's copies of the tabs)
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def tab(self, name: str) -> None:
        open_tab(self.page, name)

    def sample(self, name: str, into: str) -> None:
        """Click the visible example thumbnail of ``name``; wait until the input ``into`` shows it."""
        before = self.page.locator(f"#{into} img").first
        src = (before.get_attribute("src") or "") if before.count() else ""
        img = self.page.locator(f'img[src$="/{name}"]')
        self.page.locator("button.gallery-item:visible").filter(has=img).first.click()
        self.changed(f"#{into} img", src)

    def upload(self, elem_id: str, name: str) -> None:
        self.page.locator(f"#{elem_id} input[type=file]").set_input_files(str(SAMPLES / name))

    def choose(self, elem_id: str, option: str) -> None:
        """Pick ``option`` in the (single-choice) dropdown ``elem_id``."""
        self.page.locator(f"#{elem_id} input[role=combobox]").click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def wait(self, locator: Any, timeout_ms: int = TIMEOUT_MS) -> None:
        """Wait for ``locator`` to show, failing at once if the app shows an error instead."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            try:
                locator.wait_for(timeout=2000)
                return
            except PlaywrightTimeout:
                self.fail_on_errors()
                if time.monotonic() > deadline:
                    raise

    def idle(self) -> None:
        """Wait until no component shows a spinner or progress and every picture has loaded."""
        wait_idle(self.page, TIMEOUT_MS)
        self.page.wait_for_timeout(800)  # plots and galleries paint

    def settle(self) -> None:
        """Scroll through the page so lazy pictures load, back to the top, then :meth:`idle`."""
        height = self.page.evaluate("document.body.scrollHeight")
        for y in range(0, height + 800, 600):
            self.page.evaluate(f"window.scrollTo(0, {y})")
            self.page.wait_for_timeout(60)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=TIMEOUT_MS)
        self.idle()

    def click_at(self, elem_id: str, fx: float, fy: float) -> None:
        """Click the picture ``elem_id`` at (fx, fy), fractions of the image (not of its box)."""
        img = self.page.locator(f"#{elem_id} img").first
        img.scroll_into_view_if_needed()
        pos = img.evaluate(
            """(i, [fx, fy]) => {
                const r = i.getBoundingClientRect();
                const s = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight, 1);
                return {x: (r.width - i.naturalWidth * s) / 2 + fx * i.naturalWidth * s,
                        y: (r.height - i.naturalHeight * s) / 2 + fy * i.naturalHeight * s};
            }""",
            [fx, fy],
        )
        img.click(position=pos)

    def changed(self, selector: str, before: str) -> None:
        """Wait until the picture at ``selector`` is a different file than ``before``."""
        self.page.wait_for_function(
            "([sel, old]) => { const i = document.querySelector(sel);"
            " return i && i.getAttribute('src') !== old; }",
            arg=[selector, before],
            timeout=TIMEOUT_MS,
        )

    def fail_on_errors(self) -> None:
        """Raise if the app showed an error toast or the browser logged an error."""
        toast = self.page.locator("[data-testid=toast-body].error [data-testid=toast-text]")
        toasts = toast.all_inner_texts()
        if toasts or self.errors:
            raise RuntimeError(f"the app showed errors: {toasts + self.errors}")

    def check(self, name: str) -> None:
        """Errors fail the run; clipped text and labels over pictures are reported."""
        self.fail_on_errors()
        for what, found in (
            ("text cut off by its box", clipped_texts(self.page)),
            ("labels over pictures", labels_over_pictures(self.page)),
            ("tables that scroll sideways", scrolled_tables(self.page)),
        ):
            if found:
                self.problems.append(f"{name}: {what}: {found}")
                print(f"WARNING {name}: {what}: {found}", file=sys.stderr, flush=True)

    def shot(self, name: str, top: Any, bottom: Any) -> None:
        """Save the page from the top of ``top`` to the bottom of ``bottom`` (locators), full width."""
        self.settle()
        self.check(name)
        span = "e => { const r = e.getBoundingClientRect(); return [r.top + scrollY, r.bottom + scrollY]; }"
        y0 = max(0.0, top.evaluate(span)[0] - 12)
        y1 = bottom.evaluate(span)[1] + 12
        clip = {"x": 0, "y": y0, "width": self.width, "height": y1 - y0}
        save_png(self.page.screenshot(full_page=True, clip=clip), self.out / (self.prefix + name))

    def top(self) -> Any:
        """The tab bar: every tab screenshot starts there."""
        return self.page.get_by_role("tablist").first


def features(s: Shooter) -> None:
    """Chelsea: the point on her eye followed through the blocks, the shallow → deep row, the
    relu3_3 grid and its strongest channel over the photo (all with the point marked)."""
    s.tab("Feature maps")
    s.sample("chelsea.png", "f_img")
    s.wait(s.page.locator("#detail img"))
    s.wait(s.page.locator("#f_point img"))
    s.wait(s.page.locator("#grid_caption").get_by_text("relu3_3"))
    s.idle()
    before = s.page.locator("#grid img").first.get_attribute("src") or ""
    s.click_at("f_point", *EYE)
    s.wait(s.page.locator("#f_point_table").get_by_text("relu5_3").first)
    s.changed("#grid img", before)  # the point is marked on the grid too
    s.idle()
    row = s.page.locator("#detail").locator("xpath=ancestor::div[contains(@class, 'row')][1]")
    s.shot("tab_features.png", s.top(), row)


def unit(s: Shooter) -> None:
    """How one number is made: a click above the eye on relu3_3's enlarged channel over the photo."""
    s.tab("Feature maps")
    if not s.page.locator("#detail img").count():
        s.sample("chelsea.png", "f_img")
        s.wait(s.page.locator("#grid_caption").get_by_text("relu3_3"))
    s.page.locator("#detail").scroll_into_view_if_needed()  # lazy: a phone loads it once in view
    s.wait(s.page.locator("#detail img"))
    s.idle()
    s.click_at("detail", *BROW)
    s.wait(s.page.locator("#f_unit img"))
    s.wait(s.page.locator("#f_unit_text").get_by_text("conv3_3").first)
    s.idle()
    row = s.page.locator("#f_unit").locator("xpath=ancestor::div[contains(@class, 'row')][1]")
    s.shot("unit_arithmetic.png", s.page.locator("#f_unit_head"), row)


def gram(s: Shooter) -> None:
    """Two photos with different textures: G_A, G_B, |G_A − G_B|, style distance per layer, a pair."""
    s.tab("Gram matrices")
    s.upload("g_a", "chelsea.png")
    s.idle()
    s.upload("g_b", "brick.png")
    s.wait(s.page.locator("#gram_d img"))
    s.wait(s.page.locator("#g_chart img"))
    s.idle()
    s.page.get_by_role("button", name="Show pair").click()
    s.wait(s.page.locator("#g_pair img").first)
    s.idle()
    s.shot("tab_gram.png", s.top(), s.page.locator("#g_pair"))


def compare(s: Shooter) -> None:
    """Chelsea against JPEG quality 10: slider, scores, bars, difference maps, channels side by side."""
    s.tab("Compare")
    s.sample("chelsea.png", "c_clean")
    info = s.page.locator("#compare_info")
    s.wait(info.get_by_text("JPEG").first)
    s.idle()
    quality = s.page.locator("#c_strength input[type=number]")
    quality.fill("10")
    quality.press("Enter")
    s.page.locator("#compare_btn").click()
    s.wait(info.get_by_text("quality = 10").first)
    s.idle()
    s.shot("tab_compare.png", s.top(), s.page.locator("#c_side"))


def sweep(s: Shooter) -> None:
    """The default degradations at the default K levels: normalised curves, table, thumbnails."""
    s.tab("Sweep")
    s.sample("chelsea.png", "s_clean")
    s.page.locator("#s_btn").click()
    s.wait(s.page.locator("#s_info").get_by_text("degraded images").first)
    s.idle()
    s.shot("tab_sweep.png", s.top(), s.page.locator("#s_thumbs"))


def equal_mse(s: Shooter) -> None:
    """Coffee at MSE 0.005 made seven ways, ranked by LPIPS, with the score table."""
    s.tab("Equal MSE")
    s.sample("coffee.png", "e_img")
    s.page.locator("#e_btn").click()
    s.wait(s.page.locator("#e_info").get_by_text("Target MSE").first)
    s.wait(s.page.locator("#e_gallery img").nth(6))
    s.idle()
    s.shot("tab_equal_mse.png", s.top(), s.page.locator("#e_table"))


def _layers(s: Shooter, names: list[str]) -> None:
    """Replace the chosen layers of the multiselect dropdown with ``names``."""
    s.page.locator("#r_layers .remove-all").click()  # "Clear"
    box = s.page.locator("#r_layers input[role=combobox]")
    for n in names:
        box.click()
        box.fill(n)
        s.page.get_by_role("option", name=n, exact=True).click()
    box.press("Escape")  # close the list
    for n in names:
        s.page.locator("#r_layers .token").get_by_text(n, exact=True).wait_for()


def _run(s: Shooter, text: str, runs: int) -> None:
    """Click Reconstruct, wait for ``text`` in the info line and for run number ``runs`` to land."""
    s.page.locator("#r_btn").click()
    s.wait(s.page.locator("#r_info").get_by_text(text).first)
    s.wait(s.page.locator("#r_runs img").nth(runs - 1))
    s.idle()


def reconstruct(s: Shooter) -> None:
    """Feature inversion of Chelsea from shallow to deep layers, then texture synthesis from bricks."""
    s.tab("What does a layer keep?")
    s.sample("chelsea.png", "r_img")
    layers = ("relu2_2", "relu3_3", "relu4_3", "relu5_3")
    for i, layer in enumerate(layers, start=1):
        _layers(s, [layer])
        s.page.get_by_text("Layers (one for inversion; several for texture)").click()  # list closed
        _run(s, f"from {layer} ·", i)
    s.sample("brick.png", "r_img")
    s.page.locator("#r_mode").get_by_text("texture synthesis (Gram)").click()
    _run(s, "Texture synthesis", len(layers) + 1)
    s.shot("tab_reconstruct.png", s.top(), s.page.locator("#r_runs"))


def style_transfer(s: Shooter) -> None:
    """The first two sample pairs at the default settings (Chelsea in bricks, the astronaut in
    coffee): the last result, its loss curves and both runs in the runs row."""
    s.tab("Style transfer")
    for i in range(2):
        before = s.page.locator("#st_style img")
        src = (before.first.get_attribute("src") or "") if before.count() else ""
        s.page.locator("tr.tr-body:visible").nth(i).click()
        s.changed("#st_style img", src)
        s.idle()
        s.page.locator("#st_btn").click()
        s.wait(s.page.locator("#st_runs img").nth(i))
        s.idle()
    s.shot("tab_style_transfer.png", s.top(), s.page.locator("#st_runs"))


def phone(s: Shooter) -> None:
    """The Feature maps tab at a phone's width after the chelsea sample: the top of the page
    through the whole shallow → deep row (the five blocks wrap, none is cut off)."""
    s.tab("Feature maps")
    s.sample("chelsea.png", "f_img")
    blocks = s.page.locator("#overview img")
    s.wait(blocks.nth(4))
    s.wait(s.page.locator("#grid_caption").get_by_text("relu3_3"))
    s.idle()
    s.settle()
    for i in range(5):
        box = blocks.nth(i).bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > s.width + 1:
            s.problems.append(f"phone_features.png: block {i + 1} is cut off by the page's edge: {box}")
    s.shot("phone_features.png", s.page.locator("body"), s.page.locator("#overview"))


def visualisations(weights: Path, out: Path) -> None:
    """A row of images optimised to excite :data:`CHANNELS`, each titled with layer and channel."""
    import torch

    from perceptual_viz import chrome
    from perceptual_viz.backbone import load_vgg
    from perceptual_viz.figures.visualize import display
    from perceptual_viz.lessons.visualize import VisualizeSettings, visualize

    model = load_vgg("vgg16", str(weights), "cpu")  # the CPU defaults, whatever the machine
    if not model.status.trained:
        raise RuntimeError(f"{weights}: not trained ImageNet weights ({model.status.message})")
    torch.manual_seed(0)
    pictures = []
    for layer, channel in CHANNELS:
        t0 = time.monotonic()
        settings = VisualizeSettings(layer=layer, channel=channel, steps=VIS_STEPS, size=VIS_SIZE)
        *_, last = visualize(model, settings, every=VIS_STEPS)  # the last report holds the image
        assert last.done and not last.stopped, last
        print(f"{layer} channel {channel}: {time.monotonic() - t0:.0f} s", flush=True)
        subtitle = f"{last.step} steps at {VIS_SIZE} px · mean activation {chrome.num(last.activation)}"
        pictures.append(chrome.titled(display(last.image), f"{layer} · channel {channel}", subtitle))
    row = chrome.side_by_side(pictures, gap=12)
    framed = Image.new("RGB", (row.width + 16, row.height + 16), "white")
    framed.paste(row, (8, 8))
    save_png(framed, out / "channel_visualisations.png")


def stylised(weights: Path, out: Path) -> None:
    """A row per sample pair: content photo, style photo, result, titled."""
    from perceptual_viz import chrome
    from perceptual_viz.backbone import load_vgg
    from perceptual_viz.figures import style_transfer as fst
    from perceptual_viz.images import load_image
    from perceptual_viz.lessons.style_transfer import StyleSettings

    model = load_vgg("vgg16", str(weights), "cpu")
    if not model.status.trained:
        raise RuntimeError(f"{weights}: not trained ImageNet weights ({model.status.message})")
    settings = StyleSettings(steps=STYLISED_STEPS, px=STYLISED_PX).resolved(model.arch, model.device)
    rows = []
    for content, style in STYLISED_PAIRS:
        t0 = time.monotonic()
        c, st = (load_image(SAMPLES / n).tensor() for n in (content, style))
        fig = fst.run_to_end(model, c, st, settings)
        print(
            f"{content} × {style}: {time.monotonic() - t0:.0f} s; {fig.record['result']['distances']}",
            flush=True,
        )
        d = fig.record["result"]
        said = f"content distance {chrome.num(d['distances']['content'])}"
        change = d["distances"]["style"] / d["start_distances"]["style"] - 1
        pictures = [
            chrome.titled(fig.pictures["content"], "content photo", content),
            chrome.titled(fig.pictures["style"], "style photo", style),
            chrome.titled(fig.pictures["result"], "result", f"{said} · style distance {change:+.0%}"),
        ]
        rows.append(chrome.side_by_side(pictures, gap=12))
    width = max(r.width for r in rows)
    framed = Image.new("RGB", (width + 16, sum(r.height for r in rows) + 12 * len(rows) + 4), "white")
    y = 8
    for r in rows:
        framed.paste(r, (8, y))
        y += r.height + 12
    what = f"{fst.what(settings)!s}"
    print(what, flush=True)
    save_png(framed, out / "style_transfer.png")


def quiz(s: Shooter) -> None:
    """The teacher's dashboard of a round that people voted on (``--quiz-db``, ``--quiz-code``):
    from the code banner through the trials where people and MSE disagreed most."""
    if not s.quiz_code:
        print("skipped quiz: it needs a round voted by hand (--quiz-db and --quiz-code)", flush=True)
        return
    s.tab("Which looks closer?")
    s.page.get_by_text("Teacher: open a round and watch the results").click()
    s.page.locator("#q_watch_code input, #q_watch_code textarea").first.fill(s.quiz_code)
    s.page.locator("#q_show").click()
    s.wait(s.page.locator("#q_stats").get_by_text("votes from").first)
    s.wait(s.page.locator("#q_disagreed img").first)
    s.idle()
    s.shot("tab_quiz.png", s.page.locator("#q_code"), s.page.locator("#q_disagreed"))


def train(s: Shooter) -> None:
    """The networks trained ahead on the held-out photo (where any ship), then the default live
    run (×4 super-resolution; mse vs perceptual vs perceptual+mse)."""
    s.tab("Train with it")
    from perceptual_viz.lessons import reference as rf

    if rf.tasks():  # input, truth and the three reference outputs
        s.wait(s.page.locator("#t_ref_outs img").nth(4))
    s.page.locator("#t_btn").click()
    s.wait(s.page.locator("#t_outs img").nth(4))  # input, truth and the three networks' outputs
    s.page.wait_for_function(  # the scores table is filled once the run has ended
        "() => document.querySelector('#t_table').innerText.includes('perceptual+mse network')",
        timeout=TIMEOUT_MS,
    )
    s.idle()
    s.shot("tab_train.png", s.top(), s.page.locator("#t_table"))


def _wait_teaching_text(s: Shooter, chars: str) -> None:
    """Until the first Predict → Do → Notice box holds one of ``chars`` (a regex class)."""
    s.page.wait_for_function(
        "(c) => new RegExp(c).test((document.querySelector('.pdn') || {}).innerText || '')", arg=chars
    )


CJK_CHARS = {"ja": "[\\u3040-\\u30ff]", "zh": "[\\u4e00-\\u9fff]"}  # kana for Japanese


def _lang_features(s: Shooter, lang: str) -> None:
    """A first visit of a Japanese or Chinese browser (the page picks the language by itself):
    Feature maps after the Chelsea sample, from the title through the grid and the enlarged
    channel — their titles and colour-bar captions drawn in that language."""
    _wait_teaching_text(s, CJK_CHARS[lang])
    s.sample("chelsea.png", "f_img")
    s.wait(s.page.locator("#detail img"))
    s.wait(s.page.locator("#f_point img"))
    s.idle()
    row = s.page.locator("#detail").locator("xpath=ancestor::div[contains(@class, 'row')][1]")
    s.shot(f"lang_{lang}_features.png", s.page.locator("body"), row)


def _lang_compare(s: Shooter, lang: str) -> None:
    """The same browser on Compare: Chelsea against JPEG, through the difference maps."""
    _wait_teaching_text(s, CJK_CHARS[lang])
    s.page.locator('[role="tab"][data-tab-id="compare"]').filter(visible=True).first.click()
    s.sample("chelsea.png", "c_clean")
    s.wait(s.page.locator("#c_maps img").first)
    s.idle()
    s.shot(f"lang_{lang}_compare.png", s.page.locator("body"), s.page.locator("#c_maps"))


LANG_STEPS: dict[str, tuple[Callable[[Shooter], None], str]] = {
    "lang_ja_features": (lambda s: _lang_features(s, "ja"), "ja-JP"),
    "lang_ja_compare": (lambda s: _lang_compare(s, "ja"), "ja-JP"),
    "lang_zh_features": (lambda s: _lang_features(s, "zh"), "zh-CN"),
    "lang_zh_compare": (lambda s: _lang_compare(s, "zh"), "zh-CN"),
}

PAGE_STEPS: dict[str, Callable[[Shooter], None]] = {
    f.__name__: f
    for f in (features, unit, gram, compare, sweep, equal_mse, train, quiz, reconstruct, style_transfer)
}


def projector(s: Shooter) -> None:
    """Projector mode on a 1920 × 1080 screen: Compare, Chelsea against JPEG, its teaching box at
    its first step (Predict) — the class answers before it is told what to do."""
    s.tab("Compare")
    s.sample("chelsea.png", "c_clean")
    s.wait(s.page.locator("#c_maps img").first)
    s.idle()
    s.page.mouse.click(5, 5)  # the page, not a field, has the focus: the keys are the mode's
    s.shot("projector_compare.png", s.top(), s.page.locator("#scores"))


# Steps on a fresh page of their own: (step, prefix of its files, viewport, the address's query).
FRESH_STEPS: dict[str, tuple[Callable[[Shooter], None], str, dict[str, int], str]] = {
    "dark": (
        lambda s: [step(s) for step in (features, gram, compare)],
        "dark_",
        {"width": WIDTH, "height": 1000},
        "?__theme=dark",
    ),
    "projector": (projector, "", {"width": 1920, "height": 1080}, "?present=1"),
}
IN_PROCESS = {"visualisations": visualisations, "stylised": stylised}  # the library alone, no browser
ALL = [*PAGE_STEPS, "phone", *LANG_STEPS, *FRESH_STEPS, *IN_PROCESS]


def _page(browser: Any, url: str, out: Path, viewport: dict[str, int], locale: str = "en-GB") -> Shooter:
    page = browser.new_context(viewport=viewport, locale=locale).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="load")
    return Shooter(page, out, viewport["width"])


def shoot_pages(
    weights: Path,
    port: int,
    out: Path,
    steps: list[str],
    debug: bool,
    quiz: tuple[Path, str] | None = None,
    width: int = WIDTH,
) -> list[str]:
    """Run the browser steps against the app; the problems seen on its pages. ``quiz``: the
    database and code of the round whose dashboard the quiz step shows; ``width``: of the page
    the tabs are shot on."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    db, code = quiz or (None, None)
    with running_app(weights, port or free_port(), db) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            tabs = [n for n in steps if n in PAGE_STEPS]
            if tabs:
                s = _page(browser, url, out, {"width": width, "height": 1000})
                s.quiz_code = code
                for name in tabs:
                    PAGE_STEPS[name](s)
                    if debug:
                        s.page.screenshot(path=str(out / f"debug_{name}.png"), full_page=True)
                problems += s.problems
            for name in (n for n in steps if n in LANG_STEPS):  # a fresh page: its own first visit
                step, locale = LANG_STEPS[name]
                s = _page(browser, url, out, {"width": WIDTH, "height": 1000}, locale)
                step(s)
                problems += s.problems
            for name in (n for n in steps if n in FRESH_STEPS):
                step, prefix, viewport, query = FRESH_STEPS[name]
                s = _page(browser, url + query, out, viewport)
                s.prefix = prefix
                step(s)
                problems += s.problems
            if "phone" in steps:  # a fresh page: the phone's own first visit
                s = _page(browser, url, out, PHONE)
                phone(s)
                if debug:
                    s.page.screenshot(path=str(out / "debug_phone.png"), full_page=True)
                problems += s.problems
        finally:
            browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="VGG16 weights file")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="output folder")
    p.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    p.add_argument("--debug", action="store_true", help="also save full-page shots to the output folder")
    p.add_argument("--only", nargs="+", choices=ALL, help="only these steps (default: all)")
    p.add_argument("--quiz-db", type=Path, help="the quiz database holding a round voted by hand")
    p.add_argument("--quiz-code", help="that round's code (the quiz step is skipped without one)")
    p.add_argument("--width", type=int, default=WIDTH, help=f"page width of the tab steps (default {WIDTH})")
    args = p.parse_args(argv)
    weights = args.weights.resolve()
    if not weights.is_file():
        p.error(f"weights file not found: {weights}")
    steps = list(args.only or ALL)
    in_browser = [n for n in steps if n not in IN_PROCESS]
    if in_browser and not Path(CHROMIUM).is_file():
        p.error(f"{CHROMIUM} not found (apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    if in_browser:
        quiz_round = (args.quiz_db.resolve(), args.quiz_code) if args.quiz_db and args.quiz_code else None
        problems = shoot_pages(weights, args.port, args.out, steps, args.debug, quiz_round, args.width)
    for name in (n for n in steps if n in IN_PROCESS):
        IN_PROCESS[name](weights, args.out)
    for line in problems:
        print(f"PROBLEM {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
