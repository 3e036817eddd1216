"""Take the README screenshots of the app's six tabs with real ImageNet VGG16 weights.

    python tools/screenshots.py [--weights PATH] [--out docs/img] [--port 0] [--only TAB …]

Starts ``python app.py --port N --weights PATH`` as a subprocess, drives it with Playwright and
Debian's Chromium (``/usr/bin/chromium``; no browser is ever downloaded), and writes
``tab_features.png``, ``tab_gram.png``, ``tab_compare.png``, ``tab_sweep.png``,
``tab_equal_mse.png`` and ``tab_reconstruct.png``, each under 700 KB. The weights file is read
where it is; never copy it into the repository.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "perceptual_viz" / "assets" / "samples"
DEFAULT_WEIGHTS = ROOT.parent / "shared" / "weights" / "vgg16_imagenet_features.pth"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH = 1400
MAX_BYTES = 700 * 1024
TIMEOUT_MS = 120_000  # real weights on a 2-core CPU: a sweep of 20 images takes a few seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(weights: Path, port: int) -> Iterator[str]:
    """``python app.py`` in a subprocess; yields its URL once it answers, stops it afterwards."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--weights", str(weights)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not answer within 120 s") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def save_png(png: bytes, path: Path, max_bytes: int = MAX_BYTES) -> int:
    """Write ``png`` to ``path`` under ``max_bytes``: optimise, then 256 colours, then shrink."""
    im = Image.open(io.BytesIO(png)).convert("RGB")

    def encode(img: Image.Image) -> bytes:
        buf = io.BytesIO()
        img.save(buf, "PNG", optimize=True)
        return buf.getvalue()

    data = encode(im)
    if len(data) > max_bytes:
        data = encode(im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    scale = 1.0
    while len(data) > max_bytes:
        scale *= 0.85
        small = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        data = encode(small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    path.write_bytes(data)
    return len(data)


class Shooter:
    """One browser page on the app, with the helpers the four tabs need."""

    def __init__(self, page, out: Path) -> None:
        self.page = page
        self.out = out
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name, exact=True).click()

    def sample(self, name: str) -> None:
        """Click the visible example thumbnail of ``name``."""
        img = self.page.locator(f'img[src$="/{name}"]')
        self.page.locator("button.gallery-item:visible").filter(has=img).first.click()

    def upload(self, elem_id: str, name: str) -> None:
        self.page.locator(f"#{elem_id} input[type=file]").set_input_files(str(SAMPLES / name))

    def choose(self, label: str, option: str) -> None:
        self.page.get_by_role("combobox", name=label, exact=True).click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def idle(self) -> None:
        """Wait until no component shows a pending spinner / progress, then let images paint."""
        self.page.wait_for_function(
            "() => !document.querySelector('.wrap.pending, .progress-bar, .eta-bar')", timeout=TIMEOUT_MS
        )
        self.page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=TIMEOUT_MS)
        self.page.wait_for_timeout(800)  # plots animate in

    def close_toasts(self) -> None:
        """Close the toasts shown (after giving an expected one up to 3 s to appear)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.locator("[data-testid=toast-body]").first.wait_for(timeout=3000)
        except PlaywrightTimeout:
            return
        for button in self.page.locator("[data-testid=toast-close]").all():
            button.click()
        self.page.locator("[data-testid=toast-body]").first.wait_for(state="detached")

    def check(self) -> None:
        toast = self.page.locator("[data-testid=toast-body].error [data-testid=toast-text]")
        toasts = toast.all_inner_texts()
        if toasts or self.errors:
            raise RuntimeError(f"the app showed errors: {toasts + self.errors}")

    def block(self, label: str):
        """The component block whose label reads ``label`` (for components without an elem_id)."""
        return self.page.locator(".block:visible").filter(has=self.page.get_by_text(label, exact=True)).last

    def shot(self, name: str, top, bottom) -> None:
        """Save the page from the top of ``top`` to the bottom of ``bottom`` (locators), full width."""
        self.check()
        span = "e => { const r = e.getBoundingClientRect(); return [r.top + scrollY, r.bottom + scrollY]; }"
        y0 = max(0.0, top.evaluate(span)[0] - 12)
        y1 = bottom.evaluate(span)[1] + 12
        clip = {"x": 0, "y": y0, "width": WIDTH, "height": y1 - y0}
        png = self.page.screenshot(full_page=True, clip=clip)
        n = save_png(png, self.out / name)
        print(f"{self.out / name}: {n / 1024:.0f} KB", flush=True)


def features(s: Shooter) -> None:
    """A photo, the shallow → deep row, the relu3_3 grid and one channel over the image."""
    s.tab("Feature maps")
    s.sample("chelsea.png")
    s.page.locator("#detail img").wait_for(timeout=TIMEOUT_MS)
    s.page.locator("#grid_caption").get_by_text("relu3_3").wait_for(timeout=TIMEOUT_MS)
    s.idle()
    row = s.page.locator("#detail").locator("xpath=ancestor::div[contains(@class, 'row')][1]")
    s.shot("tab_features.png", s.page.get_by_role("tablist").first, row)


def gram(s: Shooter) -> None:
    """Two photos with different textures: G_A, G_B, |G_A − G_B|, style distance per layer, a pair."""
    s.tab("Gram matrices")
    s.upload("g_a", "chelsea.png")
    s.idle()
    s.upload("g_b", "brick.png")
    s.block("|G_A − G_B|").locator("img").wait_for(timeout=TIMEOUT_MS)
    s.idle()
    s.page.get_by_role("button", name="Show pair").click()
    s.block("F_i, F_j and their product").locator("img").first.wait_for(timeout=TIMEOUT_MS)
    s.idle()
    s.shot("tab_gram.png", s.page.get_by_role("tablist").first, s.block("F_i, F_j and their product"))


def compare(s: Shooter) -> None:
    """Chelsea against JPEG quality 10: slider, scores, bars, difference maps, channels side by side."""
    s.tab("Compare")
    s.sample("chelsea.png")
    info = s.page.locator("#compare_info")
    info.get_by_text("JPEG").wait_for(timeout=TIMEOUT_MS)
    s.idle()
    quality = s.page.get_by_role("spinbutton", name="JPEG compression: quality").first
    quality.fill("10")
    quality.press("Enter")
    s.page.locator("#compare_btn").click()
    info.get_by_text("quality = 10").wait_for(timeout=TIMEOUT_MS)
    s.idle()
    bottom = s.block("Same channels, clean vs degraded, one scale")
    s.shot("tab_compare.png", s.page.get_by_role("tablist").first, bottom)


def sweep(s: Shooter) -> None:
    """Noise, blur, JPEG and brightness at K = 5 levels: the five normalised curves, table, thumbnails."""
    s.tab("Sweep")
    s.sample("chelsea.png")
    s.page.get_by_role("button", name="Run sweep").click()
    s.page.get_by_text("degraded images + the clean one scored").wait_for(timeout=TIMEOUT_MS)
    s.idle()
    s.shot("tab_sweep.png", s.page.get_by_role("tablist").first, s.block("The degraded images"))


def equal_mse(s: Shooter) -> None:
    """Coffee at MSE 0.005 made seven ways, ranked by LPIPS, with the score table."""
    s.tab("Equal MSE")
    s.sample("coffee.png")
    s.page.locator("#e_btn").click()
    s.page.locator("#e_info").get_by_text("Target MSE").wait_for(timeout=TIMEOUT_MS)
    s.idle()
    s.shot("tab_equal_mse.png", s.page.get_by_role("tablist").first, s.page.locator("#e_table"))


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
    s.page.locator("#r_info").get_by_text(text).wait_for(timeout=TIMEOUT_MS)
    s.page.locator("#r_runs .thumbnail-item, #r_runs button.thumbnail-item").nth(runs - 1).wait_for(
        timeout=TIMEOUT_MS
    )
    s.idle()


def reconstruct(s: Shooter) -> None:
    """Feature inversion of Chelsea from shallow to deep layers, then texture synthesis from bricks."""
    s.tab("What does a layer keep?")
    s.sample("chelsea.png")
    layers = ("relu2_2", "relu3_3", "relu4_3", "relu5_3")
    for i, layer in enumerate(layers, start=1):
        _layers(s, [layer])
        s.page.get_by_text("Layers (one for inversion; several for texture)").click()  # list closed
        _run(s, f"from {layer} ·", i)
    s.sample("brick.png")
    s.page.get_by_text("texture synthesis (Gram)").click()
    _run(s, "Texture synthesis", len(layers) + 1)
    s.shot("tab_reconstruct.png", s.page.get_by_role("tablist").first, s.block("Runs so far (this session)"))


STEPS = {f.__name__: f for f in (features, gram, compare, sweep, equal_mse, reconstruct)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="VGG16 weights file")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="output folder")
    p.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    p.add_argument("--debug", action="store_true", help="also save full-page shots to the output folder")
    p.add_argument("--only", nargs="+", choices=list(STEPS), help="only these tabs (default: all)")
    args = p.parse_args(argv)
    weights = args.weights.resolve()
    if not weights.is_file():
        p.error(f"weights file not found: {weights}")
    if not Path(CHROMIUM).is_file():
        p.error(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with running_app(weights, args.port or free_port()) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": WIDTH, "height": 1000}).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url, wait_until="load")
            s = Shooter(page, args.out)
            for step in [STEPS[n] for n in (args.only or STEPS)]:
                step(s)
                if args.debug:
                    page.screenshot(path=str(args.out / f"debug_{step.__name__}.png"), full_page=True)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
