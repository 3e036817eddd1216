"""The export bundle: PNGs and a JSON record that survive a round trip exactly."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from perceptual_viz import export


def test_bundle_round_trip_is_lossless_and_complete(tmp_path, vgg16):
    rng = np.random.default_rng(0)
    a = Image.fromarray(rng.integers(0, 256, (17, 23, 3), dtype=np.uint8))
    b = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    record = {
        "settings": {"seed": 3, "strength": 0.25, "size_hw": (17, 23)},
        "scores": {"psnr": math.inf, "ssim": np.float32(0.5), "lpips": None, "t": torch.tensor([1.0, 2.0])},
    }
    path = export.write_bundle(
        tmp_path / "fig.zip", {"clean": a, "blur σ=2 · MSE 0.01": b}, record, kind="test", model=vgg16
    )
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert names == ["01_clean.png", "02_blur_2_MSE_0.01.png", export.SCORES_JSON, export.README_TXT]
    got, pics = export.read_bundle(path)
    assert np.array_equal(np.asarray(pics["01_clean.png"]), np.asarray(a))  # lossless
    assert np.array_equal(np.asarray(pics["02_blur_2_MSE_0.01.png"]), np.asarray(b))
    assert got["kind"] == "test"
    assert got["pictures"]["02_blur_2_MSE_0.01.png"] == "blur σ=2 · MSE 0.01"  # the caption survives
    assert got["settings"] == {"seed": 3, "strength": 0.25, "size_hw": [17, 23]}
    # JSON has no NaN/inf (strict parsers reject them): inf → null; numpy/tensors → plain numbers.
    assert got["scores"] == {"psnr": None, "ssim": 0.5, "lpips": None, "t": [1.0, 2.0]}
    assert got["model"]["arch"] == "vgg16" and got["model"]["fingerprint"] == vgg16.fingerprint
    assert got["model"]["weights"]["source"] == "untrained"
    assert set(got["environment"]) == {"perceptual_viz", "torch", "python"}
    with zipfile.ZipFile(path) as z:
        json.loads(z.read(export.SCORES_JSON), parse_constant=pytest.fail)  # no NaN/Infinity tokens


@pytest.mark.parametrize(
    ("caption", "expected"),
    [("../../etc/passwd", "etc_passwd"), ("a/b\\c:d", "a_b_c_d"), ("", "picture"), ("···", "picture")],
)
def test_picture_names_cannot_escape_the_zip(caption, expected):
    assert export.safe_name(caption) == expected


def test_bundle_takes_png_files_as_they_are(tmp_path, vgg16):
    img = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    png = tmp_path / "shown.png"
    img.save(png, compress_level=9)
    path = export.write_bundle(tmp_path / "b.zip", {"shown": png}, {}, kind="test", model=vgg16)
    with zipfile.ZipFile(path) as z:
        assert z.read("01_shown.png") == png.read_bytes()  # the bytes shown, not re-encoded
    jpg = tmp_path / "x.jpg"
    img.save(jpg)
    with pytest.raises(ValueError, match="not a PNG"):
        export.write_bundle(tmp_path / "c.zip", {"x": jpg}, {}, kind="test", model=vgg16)


def test_a_picture_file_interrupted_mid_write_is_never_served(tmp_path, monkeypatch):
    """Shown pictures are content-addressed files: once one exists it is served as is, so a
    write that dies halfway (disk full, a killed worker) must leave no file behind — otherwise
    every later request for the same picture gets the truncated one."""
    import builtins
    import io

    from perceptual_viz.ui import serve

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    real_open = builtins.open

    class DiesHalfway(io.FileIO):
        def write(self, b):
            super().write(bytes(b)[: len(b) // 2])
            raise OSError(28, "No space left on device")

    def failing_open(file, mode="r", *args, **kwargs):
        if "w" in mode and "b" in mode:
            return DiesHalfway(file, "wb")
        return real_open(file, mode, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(builtins, "open", failing_open)
        m.setattr(io, "open", failing_open)
        with pytest.raises(OSError, match="No space"):
            serve.png_file(img)
    path = serve.png_file(img)  # the next request for the same picture
    with Image.open(path) as back:
        assert np.array_equal(np.asarray(back.convert("RGB")), np.asarray(img))
    assert not [p for p in (tmp_path / "gradio").rglob("*") if p.is_file() and p.name != "image.png"]
