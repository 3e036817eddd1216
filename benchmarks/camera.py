"""Frames per second of the live camera (Feature maps → Live camera).

    python benchmarks/camera.py [--weights PATH] [--device auto|cpu|cuda] [--frames 20] [--browser]

In-process: the median time of one frame through the app's own handler (a 640×480 webcam frame,
reduced to the analysis size the device gets, the five block pictures drawn and encoded), and
the frames per second that allows. With ``--browser``: the app served on a free port, Chromium's
fake camera streaming into it for ``--seconds``, and the live row's redraws counted in the page
(the page sends a frame every 0.5 s, so 2 per second is the most a page asks for).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def in_process(weights: str, device: str, frames: int) -> dict[str, float]:
    """Median seconds per frame through :func:`perceptual_viz.ui.tabs.camera.live_row`."""
    import numpy as np

    from perceptual_viz.ui.context import AppContext
    from perceptual_viz.ui.models import ModelPool
    from perceptual_viz.ui.tabs.camera import live_row

    ctx = AppContext.create(ModelPool("vgg16", weights, device))
    rng = np.random.default_rng(0)
    live_row(ctx, rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), "vgg16", "viridis")  # warm
    times = []
    for _ in range(frames):
        frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
        t0 = time.perf_counter()
        live_row(ctx, frame, "vgg16", "viridis")
        times.append(time.perf_counter() - t0)
    s = statistics.median(times)
    return {"seconds_per_frame": s, "frames_per_second": 1 / s}


def in_browser(weights: str, device: str, seconds: float) -> dict[str, float]:
    """Redraws of the live row per second, with Chromium's fake camera streaming into the page."""
    from playwright.sync_api import sync_playwright

    from benchmarks.harness import free_port
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool
    from perceptual_viz.ui.pagecheck import CHROMIUM, CHROMIUM_ARGS
    from perceptual_viz.ui.serve import close, launch

    port = free_port()
    demo = build_demo(ModelPool("vgg16", weights, device))
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *fake])
            page = browser.new_context(permissions=["camera"]).new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#f_cam_box").get_by_text("Live camera").first.click()
            page.locator("#f_cam button").filter(has_text="Webcam").first.click()
            page.locator("#f_cam button.capture-button").click()
            page.locator("#f_cam_row img").wait_for(timeout=60_000)
            return {"frames_per_second": _redraws(page, seconds) / seconds}
    finally:
        close(demo)


def _redraws(page: object, seconds: float) -> int:
    """How many times the live row's picture changed in ``seconds``."""
    row = page.locator("#f_cam_row img").first  # type: ignore[attr-defined]
    last, changes, end = row.get_attribute("src"), 0, time.monotonic() + seconds
    while time.monotonic() < end:
        src = row.get_attribute("src")
        if src != last:
            changes, last = changes + 1, src
        page.wait_for_timeout(50)  # type: ignore[attr-defined]
    return changes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="untrained", help="untrained (default) | auto | PATH")
    p.add_argument("--device", default="auto")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--browser", action="store_true", help="also count the page's redraws")
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args(argv)
    r = in_process(args.weights, args.device, args.frames)
    print(f"in-process: {r['seconds_per_frame'] * 1000:.0f} ms a frame = {r['frames_per_second']:.1f} fps")
    if args.browser:
        b = in_browser(args.weights, args.device, args.seconds)
        print(f"in the page (a frame sent every 0.5 s): {b['frames_per_second']:.2f} redraws per second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
