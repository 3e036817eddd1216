"""The command line: JSON contract, table, feature grid, weights report, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from perceptual_viz.cli import main

from .support import CHELSEA as SAMPLE
from .support import ROOT


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_json_contract(capsys):
    code, out, err = run_cli(
        capsys, "compare", str(SAMPLE), "--degrade", "noise=0.1", "--size", "64", "--json"
    )
    assert code == 0
    d = json.loads(out)
    for key in ("mse", "psnr", "ssim", "perceptual", "style", "lpips", "arch", "weights", "device", "size"):
        assert key in d, key
    assert set(d["perceptual"]) >= {"total", "layers"} and set(d["style"]) >= {"total", "layers"}
    assert d["weights"] == {"source": "untrained", "trained": False, "location": None}
    assert "UNTRAINED" in err, "untrained weights are announced, not hidden"
    assert d["arch"] == "vgg16" and d["device"] == "cpu" and d["size"] == [64, 96]
    assert 0.005 < d["mse"] < 0.015  # σ = 0.1 noise, a little clipped
    assert d["psnr"] == pytest.approx(-10 * np.log10(d["mse"]), abs=1e-3)
    assert 0 < d["ssim"] < 0.9
    assert d["perceptual"]["total"] == pytest.approx(sum(d["perceptual"]["layers"].values()), rel=1e-6)
    assert isinstance(d["lpips"], float) and d["lpips"] > 0
    assert isinstance(d["dists"], float) and d["dists"] > 0
    assert d["ms_ssim"] is None  # 64 px: too small for MS-SSIM's five scales


def test_compare_reports_ms_ssim_and_dists(capsys):
    code, out, _ = run_cli(capsys, "compare", str(SAMPLE), "--degrade", "blur=2", "--size", "176", "--json")
    d = json.loads(out)
    assert code == 0 and 0 < d["ms_ssim"] < 1 and d["dists"] > 0
    code, out, _ = run_cli(capsys, "compare", str(SAMPLE), "--degrade", "blur=2", "--size", "64")
    assert code == 0 and "DISTS" in out
    assert re.search(r"MS-SSIM\s+MS-SSIM unavailable: .* at least 161 px", out), out


def test_compare_two_files_of_different_sizes(tmp_path, capsys):
    img = Image.open(SAMPLE).convert("RGB")
    other = tmp_path / "out.png"
    img.resize((200, 150)).save(other)
    code, out, _err = run_cli(capsys, "compare", str(SAMPLE), str(other), "--size", "64", "--json")
    assert code == 0
    d = json.loads(out)
    assert any("resized" in n for n in d["notes"])
    assert d["ssim"] > 0.5


def test_compare_identical_psnr_is_null_in_json_and_infinite_in_table(capsys):
    code, out, _ = run_cli(capsys, "compare", str(SAMPLE), str(SAMPLE), "--size", "48", "--json")
    d = json.loads(out)
    assert code == 0 and d["psnr"] is None and d["mse"] == 0 and d["ssim"] == pytest.approx(1, abs=1e-6)
    code, out, _ = run_cli(capsys, "compare", str(SAMPLE), str(SAMPLE), "--size", "48")
    assert code == 0 and "∞" in out and "UNTRAINED" in out
    assert "LPIPS-VGG" in out and "perceptual total" in out


def test_vgg19_reports_lpips_unavailable(capsys):
    code, out, _ = run_cli(
        capsys, "compare", str(SAMPLE), "--degrade", "blur=2", "--size", "48", "--arch", "vgg19"
    )
    assert code == 0 and "VGG16 only" in out and "relu3_4" in out
    code, out, _ = run_cli(
        capsys, "compare", str(SAMPLE), "--degrade", "blur=2", "--size", "48", "--arch", "vgg19", "--json"
    )
    assert json.loads(out)["lpips"] is None and json.loads(out)["dists"] is None


def test_features_grid(tmp_path, capsys):
    out_png = tmp_path / "grid.png"
    code, out, _ = run_cli(
        capsys,
        "features",
        str(SAMPLE),
        "--layer",
        "relu3_3",
        "--top",
        "16",
        "--size",
        "64",
        "--out",
        str(out_png),
    )
    assert code == 0, out
    pic = Image.open(out_png)
    assert pic.mode == "RGB" and pic.width > 4 * 16 and pic.height > 4 * 16
    assert "relu3_3 · 256×16×24" in out and "receptive field 40 px" in out


def test_weights_command(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "weights")
    assert code == 0 and "source: untrained" in out and "offline" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "missing.png", "--degrade", "noise=0.1"], "file not found: missing.png"),
        (["compare", str(SAMPLE)], "exactly one"),
        (["compare", str(SAMPLE), str(SAMPLE), "--degrade", "noise=0.1"], "exactly one"),
        (["compare", str(SAMPLE), "--degrade", "wobble=3"], "wobble"),
        (["compare", str(SAMPLE), "--degrade", "blur=99"], "out of range"),
        (["compare", str(SAMPLE), "--degrade", "noise=0.1", "--size", "banana"], "size 'banana'"),
        (["compare", str(SAMPLE), "--degrade", "noise=0.1", "--weights", "nope.pth"], "not found: nope.pth"),
        (["features", str(SAMPLE), "--layer", "relu9_1", "--out", "x.png"], "no layer 'relu9_1'"),
        (["features", str(SAMPLE), "--top", "100", "--out", "x.png"], "between 1 and 64"),
    ],
)
def test_user_errors_are_one_line(capsys, args, message):
    code, _out, err = run_cli(capsys, *args)
    assert code == 2
    lines = [ln for ln in err.splitlines() if not ln.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in err


@pytest.mark.slow
def test_module_entry_point_bad_image_no_traceback(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(os.urandom(256))
    env = {**os.environ, "PERCEPTUAL_VIZ_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "perceptual_viz", "compare", str(bad), "--degrade", "noise=0.1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert str(tmp_path) not in proc.stderr


def test_with_two_images_the_error_says_which_one(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    code, _, err = run_cli(capsys, "compare", str(SAMPLE), str(bad))
    assert code == 2 and err.strip().startswith("error: degraded image: the file is not an image")
    code, _, err = run_cli(capsys, "compare", str(bad), str(SAMPLE))
    assert code == 2 and err.strip().startswith("error: clean image: ")


# --------------------------------------------------------------------------- lessons and export


def test_equal_mse_json_and_export(tmp_path, capsys):
    from perceptual_viz.export import read_bundle

    zipped = tmp_path / "gallery.zip"
    code, out, err = run_cli(
        capsys,
        "equal-mse",
        str(SAMPLE),
        "--psnr",
        "26",
        "--size",
        "64",
        "--seed",
        "3",
        "--json",
        "--export",
        str(zipped),
    )
    assert code == 0, err
    d = json.loads(out)
    target = 10 ** (-26 / 10)
    assert d["target_mse"] == pytest.approx(target)
    names = [e["name"] for e in d["entries"]]
    assert sorted(names) == sorted(["brightness", "contrast", "noise", "blur", "jpeg", "shift", "saltpepper"])
    for e in d["entries"]:
        if e["within"]:
            assert abs(e["mse"] - target) <= d["tolerance"] * target
    assert d["weights"]["source"] == "untrained"
    record, pics = read_bundle(zipped)
    assert record["settings"]["seed"] == 3 and len(pics) == 1 + len(names)
    assert [e["name"] for e in record["gallery"]["entries"]] == names


def test_equal_mse_table_and_errors(capsys):
    code, out, _err = run_cli(capsys, "equal-mse", str(SAMPLE), "--mse", "0.01", "--size", "64")
    assert code == 0
    assert "ranked by LPIPS" in out
    body = out.split("\n", 2)[2].lower()  # the table, after the model and target lines
    for name in ("brightness", "contrast", "noise", "blur", "jpeg", "saltpepper"):
        assert name in body or name.replace("saltpepper", "salt") in body, name
    code, _out, err = run_cli(capsys, "equal-mse", str(SAMPLE), "--mse", "-1", "--size", "64")
    assert code == 2 and err.startswith("error: ") and "target" in err and err.count("\n") == 1


def test_reconstruct_writes_png_and_export(tmp_path, capsys):
    from perceptual_viz.export import read_bundle

    out_png, zipped = tmp_path / "r.png", tmp_path / "r.zip"
    args = ["reconstruct", str(SAMPLE), "--layers", "relu1_2", "--steps", "10", "--px", "40"]
    code, out, err = run_cli(capsys, *args, "--out", str(out_png), "--export", str(zipped), "--seed", "5")
    assert code == 0, err
    assert "step" in err and "relu1_2" in out
    img = Image.open(out_png)
    assert max(img.size) == 40 and img.mode == "RGB"
    record, pics = read_bundle(zipped)
    assert record["settings"]["seed"] == 5 and record["settings"]["layers"] == ["relu1_2"]
    assert np.array_equal(np.asarray(pics["02_reconstruction.png"]), np.asarray(img.convert("RGB")))
    code, _out, err = run_cli(capsys, "reconstruct", str(SAMPLE), "--layers", "nope", "--out", str(out_png))
    assert code == 2 and "nope" in err


def test_style_transfer_writes_png_json_and_export(tmp_path, capsys):
    from perceptual_viz.export import read_bundle

    out_png, zipped = tmp_path / "s.png", tmp_path / "s.zip"
    brick = str(SAMPLE.parent / "brick.png")
    args = ["style-transfer", str(SAMPLE), brick, "--steps", "3", "--px", "40", "--style-weight", "10"]
    code, out, err = run_cli(capsys, *args, "--out", str(out_png), "--export", str(zipped), "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["steps_done"] == 3 and d["settings"]["style_weight"] == 10.0 and d["settings"]["px"] == 40
    assert d["distances"]["style"] < d["start_distances"]["style"] and d["start_distances"]["content"] == 0
    assert d["weights"]["source"] == "untrained" and "step" in err
    img = Image.open(out_png)
    assert img.size == (40, 27) and img.mode == "RGB"
    record, pics = read_bundle(zipped)
    assert record["kind"] == "style-transfer" and record["result"]["distances"] == d["distances"]
    assert np.array_equal(np.asarray(pics["03_result.png"]), np.asarray(img.convert("RGB")))
    code, out, _ = run_cli(
        capsys,
        "style-transfer",
        str(SAMPLE),
        brick,
        "--steps",
        "1",
        "--px",
        "32",
        "--quiet",
        "--out",
        str(out_png),
    )
    assert code == 0 and out.startswith("Content at relu3_3") and "style distance" in out
    code, _out, err = run_cli(
        capsys,
        "style-transfer",
        str(SAMPLE),
        brick,
        "--init",
        "noise",
        "--content-layer",
        "nope",
        "--out",
        str(out_png),
    )
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: ") and "nope" in last


def test_style_transfer_help_says_the_librarys_defaults(capsys):
    from perceptual_viz.lessons.style_transfer import CONTENT_LAYERS, StyleSettings

    with pytest.raises(SystemExit):
        main(["style-transfer", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    d = StyleSettings()
    for default in (d.content_weight, d.style_weight, d.tv_weight, d.px, d.seed):
        assert f"(default {default:g})" in said, default
    assert f"(default {CONTENT_LAYERS['vgg16']} on vgg16, {CONTENT_LAYERS['vgg19']} on vgg19)" in said
    assert "content photo (default)" in said


def test_compare_export(tmp_path, capsys):
    from perceptual_viz.export import read_bundle

    zipped = tmp_path / "c.zip"
    code, out, _err = run_cli(
        capsys,
        "compare",
        str(SAMPLE),
        "--degrade",
        "blur=2",
        "--size",
        "64",
        "--json",
        "--export",
        str(zipped),
    )
    assert code == 0
    d = json.loads(out)
    record, pics = read_bundle(zipped)
    assert record["scores"]["ssim"] == pytest.approx(d["ssim"], rel=1e-12)
    settings = record["settings"]
    assert (settings["source"], settings["degradation"], settings["strength"], settings["seed"]) == (
        "degrade",
        "blur",
        2.0,
        0,
    )
    assert record["frontend"] == "cli"
    assert list(pics)[:2] == ["01_clean.png", "02_degraded.png"]  # then the maps, as the app exports
    assert Image.open(SAMPLE).size != pics["01_clean.png"].size  # the analysed size, as scored
