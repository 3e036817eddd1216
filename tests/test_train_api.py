"""``/train`` over HTTP, as an API user calls it: a short run streams the held-out pictures, the
zoomed crops, the loss chart and the info, and ends with the scores table and the export zip;
bad requests get one sentence; a cancelled run stops training and the app serves the next one."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from perceptual_viz.export import read_bundle  # noqa: E402
from perceptual_viz.lessons import reference as rf  # noqa: E402

from .support import stays_unchanged  # noqa: E402

PHOTOS = ["astronaut.png", "coffee.png"]
HELD = "chelsea.png"
# A choice outside a list is refused by Gradio itself, with its own sentence naming the value.
NOT_A_CHOICE = "is not in the list of choices"

pytestmark = pytest.mark.slow


def _train(
    client, losses=("mse", "perceptual"), steps=10, seed=0, photos=PHOTOS, uploads=None, held="chelsea.png"
):
    return client.submit(
        "sr4", list(losses), steps, seed, list(photos), uploads, held, "vgg16", api_name="/train"
    )


def _rows(table):
    return [dict(zip(table["headers"], r, strict=True)) for r in table["data"]]


def test_train_endpoint_streams_and_ends_with_scores_and_a_bundle(client):
    outs = list(_train(client, steps=10, seed=3))
    assert len(outs) >= 3, "progress is streamed"
    gallery, crops, curve, info, table, zipped = outs[-1]
    assert [g["caption"].split(" · ")[0] for g in gallery] == [
        "input (bicubic ×4)",
        "ground truth",
        "mse network",
        "perceptual network",
    ]
    assert "10 steps" in info and "chelsea.png is held out" not in info
    assert Path(crops).is_file() and Path(curve).is_file()
    rows = _rows(table)
    assert [r["image"] for r in rows] == ["input (bicubic ×4)", "mse network", "perceptual network"]
    record, pics = read_bundle(zipped)
    assert record["kind"] == "train" and record["settings"]["seed"] == 3 and record["steps"] == 10
    assert set(record["runs"]) == {"mse", "perceptual"}
    for name in ("mse", "perceptual"):
        ev = record["runs"][name]["eval"]
        assert 0 < ev["mse"] < 1 and ev["psnr"] > 10 and -1 <= ev["ssim"] <= 1
        shown = next(r for r in rows if r["image"] == f"{name} network")
        assert float(shown["PSNR (dB)"]) == pytest.approx(ev["psnr"], rel=1e-3)
    assert "note" in record and "UNTRAINED" in record["note"]  # the test app runs untrained weights
    # The picture shown is the bundle's picture (what the student saw is what was exported).
    names = {n.split("_", 1)[1]: n for n in pics}
    shown_curve = np.asarray(Image.open(curve).convert("RGB"))
    assert np.array_equal(shown_curve, np.asarray(pics[names["loss_curves.png"]].convert("RGB")))
    # Reproducible by seed.
    again = read_bundle(list(_train(client, steps=10, seed=3))[-1][5])[0]
    assert again["runs"]["mse"]["eval"] == record["runs"]["mse"]["eval"]


def test_a_held_out_photo_that_was_also_chosen_is_not_trained_on(client):
    *_, (_, _, _, info, _, _) = list(_train(client, steps=10, photos=["chelsea.png", "coffee.png"]))
    assert "chelsea.png is held out, so it was not trained on" in info


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"losses": ()}, "at least one loss"),
        ({"losses": ("mse", "sharpness")}, f"'sharpness'.*{NOT_A_CHOICE}"),
        ({"photos": ["chelsea.png"]}, "at least one training photo"),
        ({"held": "cat.png"}, f"cat.png {NOT_A_CHOICE}"),
        ({"photos": ["dog.png"]}, f"'dog.png'.*{NOT_A_CHOICE}"),
        ({"steps": 10**7}, "greater than maximum value"),
    ],
)
def test_train_endpoint_rejects_bad_requests_with_one_sentence(client, kwargs, message):
    with pytest.raises(AppError, match=message) as ei:
        _train(client, **kwargs).result()
    assert "Traceback" not in str(ei.value) and "internal error" not in str(ei.value).lower()


def test_a_non_image_upload_is_named(client, tmp_path):
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"lecture notes, not a picture")
    with pytest.raises(AppError, match="training photo 3"):
        _train(client, uploads=[handle_file(str(junk))]).result()


def test_cancel_stops_training_and_the_app_serves_the_next_request(client, served):
    model = served.pool.get("vgg16")
    job = _train(client, steps=1000)
    t0 = time.monotonic()
    while len(job.outputs()) < 2 and time.monotonic() - t0 < 60:
        time.sleep(0.1)
    assert job.outputs(), "the run started streaming"
    # Gradio answers a cancel once the stream reaches its next report (a few steps away); the
    # client may give up waiting for that answer first, which is fine: what matters is the server.
    with contextlib.suppress(httpx.TimeoutException):
        job.cancel()
    # A training step is a small fraction of the quiet 1.5 s asked for.
    assert stays_unchanged(lambda: model.forward_count), "the cancelled training kept running"
    *_, final = list(_train(client, steps=10))
    assert final[4]["data"], "the next run finished with its scores"


@pytest.mark.skipif(
    not rf.tasks(), reason="no reference networks shipped (every task trained ahead was withdrawn)"
)
def test_train_reference_answers_at_once_with_the_networks_trained_ahead(client):
    """``/train_reference``: the reference networks of a task on a held-out bundled photo — no
    training, so quickly — with their pictures, scores, the verdict and the export zip."""
    task = rf.tasks()[0]
    t0 = time.monotonic()
    gallery, crops, info, table, zipped = client.predict(
        task, "camera.png", 0, "vgg16", api_name="/train_reference"
    )
    assert time.monotonic() - t0 < 30
    losses = rf.trained_settings(task).losses
    names = [g["caption"].split(" · ")[0] for g in gallery]
    assert names[1:] == ["ground truth", *(f"{n} network" for n in losses)]
    assert all("PSNR" in g["caption"] and "LPIPS" in g["caption"] for g in gallery[2:])
    steps = rf.trained_settings(task).steps
    assert f"trained for {steps} steps" in info and "best PSNR: " in info and Path(crops).is_file()
    assert [r["image"] for r in _rows(table)][1:] == [f"{n} network" for n in losses]
    record, _ = read_bundle(zipped)
    assert record["kind"] == "train-reference" and record["task"] == task
    with pytest.raises(AppError, match=NOT_A_CHOICE):
        client.predict(task, "cat.png", 0, "vgg16", api_name="/train_reference")


@pytest.mark.skipif(bool(rf.tasks()), reason="reference networks are shipped")
def test_without_reference_networks_there_is_no_train_reference_endpoint(client):
    """Every task trained ahead was withdrawn (its lesson did not hold): the tab says so and
    serves the live run alone."""
    with pytest.raises(Exception, match="train_reference"):
        client.predict("sr4", "camera.png", 0, "vgg16", api_name="/train_reference")
