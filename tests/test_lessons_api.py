"""The lesson endpoints over HTTP, as an API user calls them: ``/equal_mse``, ``/reconstruct`` and
``/style_transfer``.

``/equal_mse`` returns the gallery (each picture titled with its rank and scores), the readable
table (3 significant digits), the info, the JSON summary and the export zip; ``/reconstruct``
streams (picture, loss chart, info) and ends with the runs so far and the zip. Values are checked
against the library (the same search and scores computed directly) and against the full-precision
record in the zip (the loss curve, the reconstruction), the stream of a reconstruction is read
step by step, and a running reconstruction is cancelled without blocking the next request.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from perceptual_viz.export import read_bundle  # noqa: E402
from perceptual_viz.features import Resize, prepare  # noqa: E402
from perceptual_viz.images import load_image  # noqa: E402
from perceptual_viz.lessons import equal_mse as em  # noqa: E402

from .support import CHELSEA, COFFEE, SAMPLES, stays_unchanged  # noqa: E402

BRICK = SAMPLES / "brick.png"

pytestmark = pytest.mark.slow


def _equal_mse(client, path=COFFEE, kind="MSE", target=0.005, rank_by="LPIPS", seed=0):
    return client.predict(
        handle_file(str(path)), kind, target, rank_by, seed, "vgg16", "224", api_name="/equal_mse"
    )


def test_equal_mse_endpoint_matches_the_library_and_ranks(client, served):
    gallery, table, info, data, zipped = _equal_mse(client, kind="PSNR (dB)", target=25.0, seed=2)
    target = em.psnr_to_mse(25.0)
    assert data["target_mse"] == pytest.approx(target)
    entries = data["entries"]
    assert len(entries) == len(gallery) == len(table["data"]) == len(em.gallery_degradations())
    # The readable table: the entries in rank order, their MSE to 3 significant digits.
    rows = [dict(zip(table["headers"], r, strict=True)) for r in table["data"]]
    assert [r["degradation"] for r in rows] == [e["label"] for e in entries]
    assert [r["rank"] for r in rows] == list(range(1, len(entries) + 1))
    for r, e in zip(rows, entries, strict=True):
        v = float(r["MSE"])
        assert abs(v - e["mse"]) <= 0.5 * 10 ** (math.floor(math.log10(v)) - 2) * 1.001, (r["MSE"], e["mse"])
    assert "Target MSE" in info and "25.00 dB" in info
    assert "Untrained weights" in info  # the test app runs untrained: the ranking says so
    # The same search run directly on the same prepared image finds the same strengths.
    model = served.pool.get("vgg16")
    x = prepare(load_image(COFFEE).tensor(), Resize.parse("224"), model.device)
    direct = {m.name: m for m in em.equal_mse(x, target, seed=2)}
    for e in entries:
        m = direct[e["name"]]
        assert e["strength"] == pytest.approx(m.strength, rel=1e-9), e["name"]
        assert e["mse"] == pytest.approx(m.mse, rel=1e-6)
        if e["within"]:
            assert abs(e["mse"] - target) <= em.DEFAULT_TOLERANCE * target
    # Ranked by LPIPS, least damaged first; every continuous degradation hits the target.
    lp = [e["scores"]["lpips"] for e in entries]
    assert lp == sorted(lp)
    assert all(e["within"] for e in entries if e["name"] not in ("jpeg", "shift"))
    # The pictures shown are the images that were scored (PNG, lossless), under a title band.
    for item, e in zip(gallery, entries, strict=True):
        shown = np.asarray(Image.open(item["image"]).convert("RGB"), dtype=np.float32) / 255
        scored = direct[e["name"]].image[0].permute(1, 2, 0).numpy()
        (h, w), (sh, sw) = scored.shape[:2], shown.shape[:2]
        assert sw >= w and sh > h, e["name"]
        x0 = (sw - w) // 2  # centred when the title is wider than the image
        assert np.abs(shown[sh - h :, x0 : x0 + w] - scored).max() <= 1 / 255 + 1e-6, e["name"]
    record, pics = read_bundle(zipped)
    assert record["kind"] == "equal-mse" and len(pics) == 1 + len(entries)
    assert record["settings"]["target_mse"] == pytest.approx(target)
    assert [e["name"] for e in record["gallery"]["entries"]] == [e["name"] for e in entries]
    # ... and the zip holds them as shown: the clean image, then the gallery in rank order.
    ranked = [f"#{i} {e['name']}" for i, e in enumerate(entries, start=1)]
    assert list(record["pictures"].values()) == ["clean", *ranked]
    for item, name in zip(gallery, list(record["pictures"])[1:], strict=True):
        assert np.array_equal(np.asarray(Image.open(item["image"]).convert("RGB")), np.asarray(pics[name]))


@pytest.mark.parametrize(
    ("kind", "target", "message"),
    [("MSE", 0.0, "target"), ("MSE", 2.0, "target"), ("PSNR (dB)", 3.0, "target")],
)
def test_equal_mse_endpoint_rejects_bad_targets_clearly(client, kind, target, message):
    with pytest.raises(AppError, match=message):
        _equal_mse(client, kind=kind, target=target)


def _reconstruct_job(client, path=CHELSEA, mode="content", layers=("relu2_2",), steps=20, px=48, seed=0):
    return client.submit(
        handle_file(str(path)), mode, list(layers), steps, px, seed, "vgg16", api_name="/reconstruct"
    )


def test_reconstruct_endpoint_streams_and_finishes(client):
    job = _reconstruct_job(client, steps=20, px=48, seed=1)
    outs = list(job)  # every streamed update, then the final one
    assert len(outs) >= 3, "intermediate images are streamed"
    *_, final = outs
    picture, curve, info, runs, zipped = final
    assert "step 20/20" in info
    assert all(Path(o[1]).is_file() for o in outs), "every update carries the loss chart (a picture)"
    assert len(runs) == 1 and runs[0]["caption"].startswith("content · relu2_2 · 20 steps · loss ")
    record, pics = read_bundle(zipped)
    assert record["kind"] == "reconstruct"
    assert record["settings"]["layers"] == ["relu2_2"] and record["settings"]["seed"] == 1
    assert record["result"]["steps_done"] == 20
    curve_points = record["loss_curve"]
    losses = [p["loss"] for p in curve_points]
    assert losses[-1] < 0.5 * losses[0], "the optimisation reduces the loss"
    # Each streamed update reports a step of that curve, in order, its loss to 4 digits.
    by_step = {p["step"]: p["loss"] for p in curve_points}
    steps = []
    for o in outs:
        m = re.search(r"step (\d+)/20 · loss (\S+) ·", o[2])
        assert m, o[2]
        steps.append(int(m[1]))
        shown, exact = float(m[2]), by_step[int(m[1])]
        assert abs(shown - exact) <= 0.5 * 10 ** (math.floor(math.log10(shown)) - 3) * 1.001, (m[2], exact)
    assert steps == sorted(steps) and steps[-1] == 20 and len(set(steps)) == len(steps)
    assert np.array_equal(np.asarray(Image.open(curve).convert("RGB")), np.asarray(pics["03_loss_curve.png"]))
    rec = np.asarray(pics["02_reconstruction.png"])
    assert max(rec.shape[:2]) == 48
    # The picture shown is that reconstruction enlarged with nearest neighbour (pixels kept).
    shown = np.asarray(Image.open(picture).convert("RGB"))
    f = shown.shape[1] // rec.shape[1]
    assert f >= 1 and max(shown.shape[:2]) >= 48
    assert np.array_equal(shown, np.repeat(np.repeat(rec, f, axis=0), f, axis=1))
    # Reproducible: the same request gives the same picture.
    again = read_bundle(list(_reconstruct_job(client, steps=20, px=48, seed=1))[-1][4])[1]
    assert np.array_equal(np.asarray(again["02_reconstruction.png"]), rec)


def test_reconstruct_cancel_stops_the_optimisation(client, served):
    model = served.pool.get("vgg16")
    job = _reconstruct_job(client, mode="texture", layers=("relu1_1", "relu2_1"), steps=400, px=128)
    t0 = time.monotonic()
    while len(job.outputs()) < 2 and time.monotonic() - t0 < 60:
        time.sleep(0.1)
    assert job.outputs(), "the job started streaming"
    job.cancel()
    # The server-side loop stops: the shared model sees no more forward passes from it (a step
    # at 128 px takes well under a tenth of the quiet 1.5 s asked for).
    assert stays_unchanged(lambda: model.forward_count), "the cancelled optimisation kept running"
    gallery, *_ = _equal_mse(client, path=CHELSEA, target=0.01)  # and the app serves the next one
    assert len(gallery) == len(em.gallery_degradations())


def test_reconstruct_endpoint_rejects_bad_settings(client):
    with pytest.raises(AppError, match="layer"):
        _reconstruct_job(client, layers=("relu9_9",)).result()
    with pytest.raises(AppError, match="400"):  # the CPU's step limit
        _reconstruct_job(client, steps=10**6).result()
    with pytest.raises(AppError, match="content"):
        _reconstruct_job(client, mode="dream").result()


def _style_job(
    client,
    content=CHELSEA,
    style=BRICK,
    style_weight=10.0,
    steps=10,
    px=48,
    init="content",
    content_layer="relu3_3",
):
    return client.submit(
        handle_file(str(content)),
        handle_file(str(style)),
        1.0,
        style_weight,
        10.0,
        content_layer,
        steps,
        px,
        0,
        init,
        "vgg16",
        api_name="/style_transfer",
    )


def test_style_transfer_endpoint_streams_and_finishes(client):
    outs = list(_style_job(client))
    assert len(outs) >= 3, "intermediate results are streamed"
    *_, (picture, curve, info, runs, zipped) = outs
    assert "step 10/10" in info and "style distance" in info and "from the start" in info
    assert all(Path(o[1]).is_file() for o in outs), "every update carries the loss curves"
    assert len(runs) == 1 and runs[0]["caption"].startswith("relu3_3 · α 1, β 10, γ 10 · 10 steps · loss ")
    record, pics = read_bundle(zipped)
    assert record["kind"] == "style-transfer" and record["settings"]["style_weight"] == 10.0
    assert list(pics) == ["01_content.png", "02_style.png", "03_result.png", "04_loss_curves.png"]
    start, end = record["result"]["start_distances"], record["result"]["distances"]
    assert end["style"] < start["style"] and start["content"] == 0.0 < end["content"]
    result = np.asarray(pics["03_result.png"])
    assert result.shape[:2] == (32, 48)
    shown = np.asarray(Image.open(picture).convert("RGB"))  # enlarged with nearest neighbour
    f = shown.shape[1] // result.shape[1]
    assert np.array_equal(shown, np.repeat(np.repeat(result, f, axis=0), f, axis=1))
    assert np.array_equal(
        np.asarray(Image.open(curve).convert("RGB")), np.asarray(pics["04_loss_curves.png"])
    )


def test_style_transfer_endpoint_rejects_bad_settings(client):
    with pytest.raises(AppError, match="400"):  # the CPU's step limit
        _style_job(client, steps=10**6).result()
    with pytest.raises(AppError, match="noise"):  # the radio's choices
        _style_job(client, init="white").result()
    with pytest.raises(AppError, match="relu9_9"):
        _style_job(client, content_layer="relu9_9").result()
