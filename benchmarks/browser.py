"""Browser-measured latency: what a student waits for, timed in headless Chromium (Playwright).

    python benchmarks/browser.py                       # untrained VGG16
    python benchmarks/browser.py --weights vgg16.pth   # real weights (what docs/ quotes)

Two measurements, each from the click to the new picture being *painted* (its ``src`` changed
and the image decoded), so they include the round trip, Gradio's queue and the browser:

- **View change**: on Feature maps after a sample, the layer dropdown cycles through layers;
  each change repaints the channel grid (the features are cached: no VGG pass). Median and max.
- **Showcase demos**: the bundled samples' default Equal-MSE gallery, sweep and reconstruction
  are computed into a fresh showcase cache first (as the app's background warmer does after
  start); then each tab's button is pressed for that sample and timed until its result shows.

Needs ``/usr/bin/chromium`` and the ``playwright`` package; without them it says so in one line.
"""

from __future__ import annotations

import os

os.environ.setdefault("PERCEPTUAL_VIZ_OFFLINE", "1")

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perceptual_viz.ui.pagecheck import CHROMIUM, CHROMIUM_ARGS, open_tab  # noqa: E402

LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3", "pool4", "conv3_1", "relu2_1")
SAMPLE = "chelsea.png"
SHOWCASE = (  # (kind, tab, button, where the result's text appears, its first picture)
    ("equal_mse", "Equal MSE", "#e_btn", "#e_info", "#e_gallery img"),
    ("sweep", "Sweep", "#s_btn", "#s_info", "#s_charts img"),
    ("reconstruct", "What does a layer keep?", "#r_btn", "#r_info", "#r_out img"),
)
TIMEOUT_MS = 120_000

_PAINTED = """([sel, old]) => {
  const i = document.querySelector(sel);
  const done = i && i.getAttribute('src') !== old && i.complete && i.naturalWidth > 0;
  if (done) window.__paintedAt = performance.now();
  return done;
}"""
# The moment of the user's click, taken in the page (Playwright's own click first waits for the
# element to be stable, which is not the app's time): a capturing listener stamps it.
_STAMP_CLICKS = """() => {
  window.__clickedAt = null;
  document.addEventListener('pointerdown', () => { window.__clickedAt = performance.now(); }, true);
}"""
_SINCE_CLICK = "() => window.__paintedAt - window.__clickedAt"


def unavailable() -> str | None:
    """Why the browser rows cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def _click_sample(page: Any, name: str) -> None:
    item = page.locator("button.gallery-item:visible").filter(has=page.locator(f'img[src$="/{name}"]'))
    item.first.click()


def _src(page: Any, sel: str) -> str:
    return page.locator(sel).first.get_attribute("src") or ""


def view_changes(page: Any, rounds: int) -> list[float]:
    """Seconds from choosing a layer to the new grid painted, ``rounds`` times."""
    _click_sample(page, SAMPLE)
    page.locator("#grid img").wait_for(timeout=TIMEOUT_MS)
    page.locator("#grid_caption").get_by_text("relu3_3").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)
    combo = page.locator("#f_layer input[role=combobox]")
    out = []
    for i in range(rounds):
        layer = LAYERS[i % len(LAYERS)]
        if layer == "relu3_3":
            continue
        combo.click()
        option = page.get_by_role("option", name=layer, exact=True)
        option.wait_for()
        before = _src(page, "#grid img")
        option.click()
        page.wait_for_function(_PAINTED, arg=["#grid img", before], timeout=TIMEOUT_MS, polling="raf")
        out.append(page.evaluate(_SINCE_CLICK) / 1000)
        page.locator("#grid_caption").get_by_text(layer).wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(150)  # the channel detail of the same round trip settles
    return out


def warm(demo: Any, kinds: Sequence[str]) -> float:
    """Compute the showcase entries of :data:`SAMPLE` for ``kinds``, as the warmer would; seconds."""
    ctx = demo.ctx
    model = ctx.pool.get(ctx.pool.arch)
    t0 = time.perf_counter()
    for r in ctx.showcase.recipes:
        if r.kind not in kinds or r.settings.get("mode", "content") != "content":
            continue
        path = next(s for s in r.samples if s.endswith(SAMPLE))
        fig = r.compute(model, path, lambda: False)
        ctx.showcase.put(r.kind, model, r.image_key(model, path), r.settings, fig)
    return time.perf_counter() - t0


def showcase_paints(page: Any) -> dict[str, float]:
    """Seconds from pressing each tab's button to its cached result shown."""
    out = {}
    for kind, tab, button, info, picture in SHOWCASE:
        open_tab(page, tab)
        _click_sample(page, SAMPLE)
        page.wait_for_timeout(400)
        page.locator(button).click()
        page.locator(info).get_by_text("showcase cache").wait_for(timeout=TIMEOUT_MS)
        page.locator(picture).first.scroll_into_view_if_needed()
        page.wait_for_function(_PAINTED, arg=[picture, ""], timeout=TIMEOUT_MS, polling="raf")
        out[kind] = page.evaluate(_SINCE_CLICK) / 1000
    return out


def run(weights: str = "untrained", rounds: int = 15, showcase: bool = True) -> dict[str, Any]:
    """Both measurements on a freshly launched app; a dict for the report."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import load

    with tempfile.TemporaryDirectory() as tmp:
        before = os.environ.get("PERCEPTUAL_VIZ_CACHE_DIR")
        os.environ["PERCEPTUAL_VIZ_CACHE_DIR"] = tmp  # a fresh showcase cache for this run
        try:
            pool, demo, url = load.launch_app(weights=weights)
        finally:
            if before is None:
                os.environ.pop("PERCEPTUAL_VIZ_CACHE_DIR", None)
            else:
                os.environ["PERCEPTUAL_VIZ_CACHE_DIR"] = before
        result: dict[str, Any] = {"weights": pool.get(pool.arch).status.source}
        try:
            if showcase:
                result["warm_s"] = warm(demo, [k for k, *_ in SHOWCASE])
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.goto(url, wait_until="load")
                page.evaluate(_STAMP_CLICKS)
                times = view_changes(page, rounds)
                result["view_s"] = times
                result["view_median_s"] = statistics.median(times)
                result["view_max_s"] = max(times)
                if showcase:
                    result["showcase_s"] = showcase_paints(page)
                browser.close()
        finally:
            load.close_app(demo)
    return result


def report(r: dict[str, Any]) -> str:
    lines = [
        f"Browser (Chromium, 1440 px, {r['weights']} weights), click → new picture painted:",
        f"  layer change on Feature maps: median {r['view_median_s'] * 1000:.0f} ms, "
        f"max {r['view_max_s'] * 1000:.0f} ms over {len(r['view_s'])} changes",
    ]
    for kind, s in r.get("showcase_s", {}).items():
        lines.append(f"  showcase {kind} (warmed): {s:.2f} s")
    if "warm_s" in r:
        lines.append(f"  (warming those three took {r['warm_s']:.1f} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--weights", default="untrained", help="untrained | auto | PATH")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--no-showcase", action="store_true")
    args = p.parse_args(argv)
    why = unavailable()
    if why:
        print(f"browser rows skipped: {why}")
        return 0
    print(report(run(args.weights, args.rounds, not args.no_showcase)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
