"""Hostile files (see :mod:`tests.hostile`) through the served app's API and through the CLI.

For every catalogue entry the app must either answer with the specific, clear error message (no
traceback, no server paths) or succeed with the visible correction note — and keep serving good
requests afterwards. The CLI must do the same with one ``error: …`` line and exit code 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

from perceptual_viz.cli import main  # noqa: E402
from perceptual_viz.images import ImageError, load_image  # noqa: E402

from .hostile import BY_NAME, CATALOGUE, Hostile, encode, photo  # noqa: E402
from .support import CHELSEA, ROOT  # noqa: E402  (CHELSEA: 451×300)

FORBIDDEN = ("Traceback", "/work", "site-packages", ".py")
IDS = [h.name for h in CATALOGUE]


# --------------------------------------------------------------------------- helpers


def _overview(client, path):
    return client.predict(
        None if path is None else handle_file(str(path)), "vgg16", "224", "viridis", api_name="/overview"
    )


def _assert_clean(msg: str, *private: Path) -> None:
    for bad in FORBIDDEN:
        assert bad not in msg, f"{bad!r} leaked into the user message: {msg!r}"
    for p in private:
        assert str(p) not in msg, f"a server path leaked into the user message: {msg!r}"


def _assert_server_alive(client) -> None:
    gallery, notes, _point = _overview(client, CHELSEA)
    assert len(gallery) == 5, "a good request after a hostile one must still succeed"
    assert "analysed at 337×224 px" in notes


def _compare(client, clean, degraded=None, source="degrade"):
    """The seven shown outputs of /compare (without the export zip)."""
    return client.predict(
        None if clean is None else handle_file(str(clean)),
        None if degraded is None else handle_file(str(degraded)),
        source,
        "noise",
        0.1,
        0,
        "vgg16",
        "224",
        "relu2_2",
        api_name="/compare",
    )[:7]


def test_catalogue_is_complete_and_deterministic():
    names = {
        "truncated_png", "random_bytes", "text_file", "svg", "png_1x1", "png_8x8", "declared_bomb",
        "grey16_png", "cmyk_jpeg", "palette_transparent", "la_png", "rgba_partial", "exif_rotated",
        "animated_gif", "oversize", "empty",
    }  # fmt: skip
    assert set(BY_NAME) == names and len(CATALOGUE) == len(names)
    for h in CATALOGUE:
        assert h.make() == h.make(), h.name
        assert Path(h.filename).suffix in {".png", ".jpg", ".gif", ".svg"}
    assert BY_NAME["empty"].make() == b""
    assert len(BY_NAME["declared_bomb"].make()) < 200


@pytest.mark.parametrize("h", CATALOGUE, ids=IDS)
def test_catalogue_matches_the_library(h: Hostile, tmp_path):
    """The catalogue's expectations hold for load_image itself (fast, pinpoints the layer at fault)."""
    p = h.write(tmp_path)
    if h.ok:
        r = load_image(p)
        assert any(h.note in str(n) for n in r.notes), r.notes
    else:
        with pytest.raises(ImageError) as ei:
            load_image(p)
        assert h.error in str(ei.value)
        _assert_clean(str(ei.value), tmp_path)


# --------------------------------------------------------------------------- through the API


@pytest.mark.parametrize("h", CATALOGUE, ids=IDS)
def test_api_overview_hostile_file(client, h: Hostile, tmp_path):
    p = h.write(tmp_path)
    if h.ok:
        gallery, notes, _point = _overview(client, p)
        assert len(gallery) == 5
        assert h.note in notes, notes
        if h.name == "exif_rotated":  # 128×64 stored, shown upright as 64×128
            assert "analysed at 224×448 px" in notes, notes
    else:
        with pytest.raises(Exception) as ei:  # gradio_client raises AppError for gr.Error
            _overview(client, p)
        msg = str(ei.value)
        assert h.error in msg, msg
        _assert_clean(msg, tmp_path)
    _assert_server_alive(client)


@pytest.mark.parametrize("size", [(40, 400), (1000, 100)], ids=["tall_strip", "wide_strip"])
def test_api_compare_very_different_sizes(client, tmp_path, size):
    w, h = size
    p = tmp_path / "strip.png"
    Image.fromarray(photo(h, w, seed=1)).save(p)
    pair, *_, info, scores = _compare(client, CHELSEA, p, source="upload")
    assert scores["size"] == [224, 337]
    assert any("resized" in n for n in scores["notes"]), scores["notes"]
    assert "⚠️" in info
    assert np.isfinite(scores["mse"]) and scores["mse"] > 0
    assert np.isfinite(scores["perceptual"]["total"]) and np.isfinite(scores["style"]["total"])
    for pic in pair:  # clean and degraded are shown at the same analysis size
        with Image.open(pic) as im:
            assert im.size == (337, 224)


def test_api_gram_two_very_different_images(client, tmp_path):
    p = tmp_path / "strip.png"
    Image.fromarray(photo(400, 40, seed=2)).save(p)
    ga, gb, gd, chart, formula, zipped = client.predict(
        handle_file(str(CHELSEA)),
        handle_file(str(p)),
        "vgg16",
        "224",
        "relu2_2",
        "chw",
        32,
        "viridis",
        api_name="/gram",
    )
    for pic in (ga, gb, gd, chart):
        assert pic and Path(pic).is_file()
    assert "chw" in formula
    from perceptual_viz.export import read_bundle

    record, _ = read_bundle(zipped)
    rows = record["style_distances"]
    assert rows and all(np.isfinite(r["style distance"]) and r["style distance"] > 0 for r in rows)


def test_api_upload_over_the_size_limit_is_refused(client, tmp_path):
    import httpx

    data = np.random.default_rng(0).bytes(21 * 1024 * 1024)  # 21 MiB > the 20 MB limit
    p = tmp_path / "big.png"
    p.write_bytes(data)
    # gradio_client refuses it before sending (it reads max_file_size from the app's config) …
    with pytest.raises(Exception) as ei:
        _overview(client, p)
    assert "exceeds the maximum file size" in str(ei.value)
    assert "Traceback" not in str(ei.value)
    # … and a client that skips that check is refused by the server itself.
    r = httpx.post(client.upload_url, files=[("files", ("big.png", data, "image/png"))], timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:200])
    _assert_clean(r.text)
    _assert_server_alive(client)


def test_api_empty_overview(client):
    with pytest.raises(Exception) as ei:
        _overview(client, None)
    assert "upload an image first" in str(ei.value)
    _assert_clean(str(ei.value))


def test_api_empty_compare(client):
    with pytest.raises(Exception) as ei:
        _compare(client, None)
    assert "upload a clean image first" in str(ei.value)
    _assert_clean(str(ei.value))


def test_api_sweep_without_degradations(client):
    with pytest.raises(Exception) as ei:
        client.predict(handle_file(str(CHELSEA)), [], 3, 0, "vgg16", "224", api_name="/sweep")
    assert "pick at least one degradation" in str(ei.value)
    _assert_clean(str(ei.value))


# --------------------------------------------------------------------------- NaN / Inf, .npy


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_library_rejects_nan_and_inf_arrays(bad):
    a = np.full((40, 40, 3), 0.5, np.float32)
    a[3, 4, 1] = bad
    with pytest.raises(ImageError, match="NaN or infinite"):
        load_image(a)


def _cli(capsys, path: Path) -> tuple[int, str, list[str]]:
    code = main(["compare", str(path), "--degrade", "noise=0.1", "--size", "64", "--json"])
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if not ln.startswith("warning:")]
    return code, out, lines


def test_cli_npy_file_is_a_one_line_error(tmp_path, capsys):
    a = np.full((40, 40, 3), 0.5, np.float32)
    a[0, 0, 0] = np.nan
    p = tmp_path / "array.npy"
    np.save(p, a)
    code, out, lines = _cli(capsys, p)
    assert code == 2 and out == ""
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "not an image in a supported format" in lines[0]
    _assert_clean(lines[0], tmp_path)


# --------------------------------------------------------------------------- through the CLI


@pytest.mark.parametrize("h", CATALOGUE, ids=IDS)
def test_cli_compare_hostile_file(h: Hostile, tmp_path, capsys):
    p = h.write(tmp_path)
    code, out, lines = _cli(capsys, p)
    assert not any("Traceback" in ln for ln in lines)
    if h.ok:
        assert code == 0, lines
        notes = json.loads(out)["notes"]
        assert any(h.note in n for n in notes), notes
        assert lines == [], lines
    else:
        assert code == 2 and out == ""
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        assert h.error in lines[0]
        _assert_clean(lines[0], tmp_path)


@pytest.mark.slow
def test_cli_subprocess_prints_no_traceback(tmp_path):
    p = BY_NAME["random_bytes"].write(tmp_path)
    env = {**os.environ, "PERCEPTUAL_VIZ_OFFLINE": "1"}
    env.pop("PERCEPTUAL_VIZ_WEIGHTS", None)
    r = subprocess.run(
        [sys.executable, "-m", "perceptual_viz", "compare", str(p), "--degrade", "noise=0.1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("warning:")]
    assert lines == [
        "error: the file is not an image in a supported format (use PNG, JPEG, WebP, BMP, GIF or TIFF)"
    ]


def test_cli_oversize_png_round_trip(tmp_path, capsys):
    """A large lossless PNG (not just JPEG) is resized with a note, and still scored."""
    p = tmp_path / "wide.png"
    p.write_bytes(encode(Image.fromarray(photo(300, 1500)), "PNG"))
    code, out, lines = _cli(capsys, p)
    assert code == 0, lines
    assert "clean: resized from 1500×300 to 1024×205 (max side 1024)" in json.loads(out)["notes"]


def test_image_inputs_stay_guarded_when_gradio_rebuilds_them(tmp_path):
    """An example click makes Gradio rebuild the input from its class for that session; the
    rebuilt input must still hand the undecoded path to our loader (one-sentence errors)."""
    import gradio as gr
    from gradio.data_classes import ImageData

    from perceptual_viz.ui.widgets import image_input

    comp = image_input("Clean image", elem_id="x_clean")
    rebuilt = comp.__class__(**{**comp.constructor_args, "render": False})
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"lecture notes, not a picture")
    payload = ImageData(path=str(junk))
    assert comp.preprocess(payload) == rebuilt.preprocess(payload) == str(junk)
    with pytest.raises(Exception, match="cannot identify"):  # any other image input: Gradio's own
        gr.Image(type="filepath", render=False).preprocess(payload)
