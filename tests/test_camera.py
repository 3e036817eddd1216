"""The live camera in Chromium: with its fake camera (a moving test pattern) the Feature maps tab's
shallow → deep row keeps updating from the webcam; a frame is answered with a picture of the five
blocks, and nothing is kept in the shared feature cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from perceptual_viz.ui.tabs import camera

from .browser_support import accessible

TIMEOUT_MS = 60_000


def test_a_frame_is_answered_with_the_row_of_five_blocks(served):
    ctx = served.demo.ctx
    shared = (ctx.cache.hits, ctx.cache.misses)
    frame = np.random.default_rng(3).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    row = Image.open(camera.live_row(ctx, frame, "vgg16", "viridis"))
    assert row.width > 4 * row.height > 0, row.size  # five block pictures side by side
    assert (ctx.cache.hits, ctx.cache.misses) == shared, "a frame never touches the shared cache"
    assert camera.live_row(ctx, None, "vgg16", "viridis") is not None  # no frame yet: no change


@pytest.mark.slow
def test_the_row_follows_the_fake_camera(contexts, app_url):
    page = contexts.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"]).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.locator("#f_cam_box").get_by_text("Live camera").first.click()
    page.locator("#f_cam button").filter(has_text="Webcam").first.click()
    page.locator("#f_cam button.capture-button").click()  # start streaming
    row = page.locator("#f_cam_row img")
    seen: list[str] = []
    for _ in range(240):  # until the row has been drawn three times (a frame every 0.5 s)
        src = row.first.get_attribute("src") if row.count() else None
        if src and (not seen or seen[-1] != src):
            seen.append(src)
        if len(seen) >= 3:
            break
        page.wait_for_timeout(250)
    assert len(seen) >= 3, f"the live row was drawn {len(seen)} time(s)"
    page.locator("#f_cam button").filter(has_text="Stop").first.click()  # the page at rest
    accessible(page, "live camera")
