"""The real app, launched in-process and driven through its public API with ``gradio_client``.

Every public endpoint (``/status``, ``/overview``, ``/feature_grid``, ``/channel``, ``/gram``,
``/gram_pair``, ``/compare``, ``/sweep``) is called over HTTP exactly as an API user would, and
the returned VALUES are checked: shapes in captions, picture sizes, statistics recomputed
independently with a fresh untrained VGG16, metric orderings, error messages, and that view
changes are served from the feature cache without running VGG again.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from perceptual_viz.degrade import DEGRADATIONS, degrade  # noqa: E402
from perceptual_viz.export import read_bundle  # noqa: E402
from perceptual_viz.features import Resize, prepare  # noqa: E402
from perceptual_viz.figures import features as ff  # noqa: E402
from perceptual_viz.figures.sweep import METRICS as SWEEP_METRICS  # noqa: E402
from perceptual_viz.gram import FORMULAS, gram  # noqa: E402
from perceptual_viz.images import load_image  # noqa: E402
from perceptual_viz.render import grid_geometry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "perceptual_viz" / "assets" / "samples"
CHELSEA = SAMPLES / "chelsea.png"  # 451×300 → analysed at 337×224
COFFEE = SAMPLES / "coffee.png"  # 600×400 → analysed at 336×224
ASTRONAUT = SAMPLES / "astronaut.png"  # 512×512 → analysed at 224×224
CHELSEA_HW = (224, 337)
BLOCKS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
BLOCK_CHANNELS = (64, 128, 256, 512, 512)
SCORE_KEYS = {"mse", "psnr", "ssim", "perceptual", "style", "lpips", "device", "size", "seconds", "notes"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def app(launched_app):
    """(pool, client) against the app served as app.py serves it."""
    pool, url = launched_app
    return pool, gradio_client.Client(url, verbose=False)


@pytest.fixture(scope="module")
def pool(app):
    return app[0]


@pytest.fixture(scope="module")
def client(app):
    return app[1]


@pytest.fixture(scope="module")
def reference(vgg16):
    """Activations computed independently of the app: load → prepare(shorter 224) → VGG16."""
    memo: dict[tuple[Path, str], torch.Tensor] = {}

    def acts(path: Path, layer: str) -> torch.Tensor:
        if (path, layer) not in memo:
            x = prepare(load_image(path).tensor(), Resize("shorter", 224))
            with torch.inference_mode():
                memo[path, layer] = vgg16(x, [layer])[layer][0].clone()
        return memo[path, layer]

    return acts


def _img(path: Path | str):
    return handle_file(str(path))


def _size(path: str) -> tuple[int, int]:
    """(width, height) of a picture the app returned."""
    assert path and Path(path).is_file(), path
    with Image.open(path) as im:
        return im.size


def _grid_size(n: int, h: int, w: int, *, columns: int | None = None, pad: int = 2) -> tuple[int, int]:
    th, tw, cols, rows = grid_geometry(n, h, w, tile=ff.grid_tile(n), columns=columns)
    return cols * tw + (cols + 1) * pad, rows * th + (rows + 1) * pad


def _rows(frame: dict) -> list[dict]:
    """A Dataframe / plot value from gradio_client as a list of {column: value} rows."""
    cols = frame.get("headers") or frame.get("columns")
    return [dict(zip(cols, r, strict=True)) for r in frame["data"]]


def _error(excinfo: pytest.ExceptionInfo) -> str:
    return str(excinfo.value)


def _assert_clean_error(msg: str) -> None:
    """A user-facing error: no traceback, no server paths."""
    assert "Traceback" not in msg
    assert str(ROOT) not in msg and "/work/main" not in msg
    assert "site-packages" not in msg and ".py" not in msg


# --------------------------------------------------------------------------- /status


def test_status_shows_untrained_banner_arch_and_device(client):
    md = client.predict("vgg16", api_name="/status")
    assert isinstance(md, str)
    assert "UNTRAINED" in md
    assert "**vgg16**" in md and "device: **cpu**" in md


# --------------------------------------------------------------------------- /overview


def test_overview_five_blocks_with_shapes_that_halve(client):
    gallery, notes = client.predict(_img(CHELSEA), "vgg16", "224", "viridis", api_name="/overview")
    assert len(gallery) == 5
    shapes = []
    for block, (item, name, chans) in enumerate(zip(gallery, BLOCKS, BLOCK_CHANNELS, strict=True), start=1):
        m = re.fullmatch(r"(\d): (\w+) · (\d+)×(\d+)×(\d+) · RF (\d+) px", item["caption"])
        assert m, item["caption"]
        assert int(m[1]) == block and m[2] == name and int(m[3]) == chans
        h, w = int(m[4]), int(m[5])
        shapes.append((h, w))
        # four strongest channels, two columns of 96-px tiles
        assert _size(item["image"]) == _grid_size(4, h, w, columns=2)
    assert shapes[0] == CHELSEA_HW
    for (h0, w0), (h1, w1) in itertools.pairwise(shapes):
        assert (h1, w1) == (h0 // 2, w0 // 2)
    assert [int(re.search(r"RF (\d+) px", g["caption"])[1]) for g in gallery] == [5, 14, 40, 92, 196]
    assert "analysed at 337×224 px" in notes and "shorter side resized to 224 px" in notes


def test_overview_notes_name_corrections_of_a_small_grey_upload(client, tmp_path):
    p = tmp_path / "grey.png"
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    Image.fromarray(ramp, "L").save(p)
    gallery, notes = client.predict(_img(p), "vgg16", "224", "gray", api_name="/overview")
    assert len(gallery) == 5
    assert "greyscale repeated to 3 channels" in notes
    assert "analysed at 299×224 px" in notes  # 64×48 scaled so the shorter side is 224
    assert gallery[0]["caption"].startswith("1: relu1_2 · 64×224×299 ")


def test_overview_without_an_image_is_a_clean_user_error(client):
    with pytest.raises(AppError) as ei:
        client.predict(None, "vgg16", "224", "viridis", api_name="/overview")
    msg = _error(ei)
    assert "upload an image first" in msg
    _assert_clean_error(msg)


def test_too_small_image_is_a_clean_user_error(client, tmp_path):
    p = tmp_path / "tiny.png"
    Image.new("RGB", (20, 40), (200, 30, 30)).save(p)
    with pytest.raises(AppError) as ei:
        client.predict(_img(p), "vgg16", "224", "viridis", api_name="/overview")
    msg = _error(ei)
    assert "20×40" in msg and "at least 32×32" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- /feature_grid


def _grid(client, path, layer, k=16, sort="mean", scope="channel", cmap="viridis"):
    return client.predict(_img(path), "vgg16", "224", layer, k, sort, scope, cmap, api_name="/feature_grid")


def test_feature_grid_caption_size_and_strongest_channel_first(client, reference):
    pic, bar, caption, first = _grid(client, CHELSEA, "relu3_3", k=16)
    assert caption == "relu3_3 · 256×56×84 · receptive field 40 px · stride 4 · top 16 by mean"
    assert _size(pic) == _grid_size(16, 56, 84)
    assert Path(bar).is_file()
    f = reference(CHELSEA, "relu3_3")
    assert first == int(f.mean(dim=(1, 2)).argmax())


@pytest.mark.parametrize(
    ("layer", "k", "shape"), [("relu1_2", 1, (64, 224, 337)), ("conv4_3", 64, (512, 28, 42))]
)
def test_feature_grid_k_extremes(client, layer, k, shape):
    pic, _, caption, _ = _grid(client, CHELSEA, layer, k=k, sort="max", scope="layer", cmap="magma")
    c, h, w = shape
    assert caption.startswith(f"{layer} · {c}×{h}×{w} · receptive field ")
    assert caption.endswith(f" · top {k} by max")
    assert _size(pic) == _grid_size(k, h, w)


def test_feature_grid_sort_by_index_starts_at_channel_zero(client):
    pic, _, caption, first = _grid(client, CHELSEA, "pool4", k=9, sort="index")
    assert first == 0
    assert caption == "pool4 · 512×14×21 · receptive field 100 px · stride 16 · top 9 by index"
    assert _size(pic) == _grid_size(9, 14, 21)


def test_feature_grid_unknown_layer_error_names_the_layer(client):
    with pytest.raises(AppError) as ei:
        _grid(client, CHELSEA, "relu9_9")
    msg = _error(ei)
    assert "relu9_9" in msg
    assert "Traceback" not in msg


# --------------------------------------------------------------------------- /channel


@pytest.mark.parametrize(("layer", "ch"), [("relu3_3", 5), ("conv2_1", 17)])
def test_channel_stats_match_an_independent_forward(client, reference, layer, ch):
    pic, bar, stats = client.predict(
        _img(CHELSEA), "vgg16", "224", layer, ch, "inferno", 0.6, api_name="/channel"
    )
    m = reference(CHELSEA, layer)[ch].numpy()
    assert stats["layer"] == layer and stats["channel"] == ch
    assert stats["map size"] == f"{m.shape[1]}×{m.shape[0]}"
    assert stats["min"] == pytest.approx(float(m.min()), rel=1e-4, abs=1e-7)
    assert stats["max"] == pytest.approx(float(m.max()), rel=1e-4)
    assert stats["mean"] == pytest.approx(float(m.mean()), rel=1e-4)
    assert stats["fraction of zeros"] == pytest.approx(float((m == 0).mean()), rel=1e-4, abs=1e-9)
    iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
    assert stats["max at (x, y) in the map"] == f"({ix}, {iy})"
    assert _size(pic) == (CHELSEA_HW[1], CHELSEA_HW[0])
    assert Path(bar).is_file()
    if layer.startswith("relu"):
        assert stats["min"] >= 0.0


def test_channel_out_of_range_is_a_clean_user_error(client):
    with pytest.raises(AppError) as ei:
        client.predict(_img(CHELSEA), "vgg16", "224", "relu1_2", 64, "viridis", 0.5, api_name="/channel")
    msg = _error(ei)
    assert "relu1_2 has channels 0..63" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- /gram


def _gram(client, a, b, layer="relu2_2", norm="chw", top=32):
    """The six shown outputs of /gram (the export zip is checked on its own)."""
    return _gram_all(client, a, b, layer, norm, top)[:6]


def _gram_all(client, a, b, layer="relu2_2", norm="chw", top=32):
    return client.predict(
        _img(a), None if b is None else _img(b), "vgg16", "224", layer, norm, top, "viridis", api_name="/gram"
    )


def test_gram_export_holds_the_matrices_and_settings(client):
    ga, _gb, _gd, _bar, _formula, dist, zipped = _gram_all(client, CHELSEA, COFFEE, layer="relu3_3", top=16)
    record, pics = read_bundle(zipped)
    assert record["kind"] == "gram"
    assert record["settings"]["layer"] == "relu3_3" and record["settings"]["top_channels"] == 16
    assert len(record["settings"]["channels_shown"]) == 16 and record["settings"]["image_b"]
    got = {r["layer"]: r["style distance"] for r in record["style_distances"]}
    shown = {r["layer"]: r["style distance"] for r in _rows(dist)}
    assert got == pytest.approx(shown, rel=1e-5)  # the table shows 6 significant digits
    captions = list(record["pictures"].values())
    assert captions[:2] == ["image A", "image B"] and captions[-1] == "colour bar"
    by_caption = {c: pics[n] for n, c in record["pictures"].items()}
    assert by_caption[captions[2]].size == Image.open(ga).convert("RGB").size  # G_A as shown
    assert np.array_equal(np.asarray(by_caption[captions[2]]), np.asarray(Image.open(ga).convert("RGB")))


def test_gram_single_image_sets_only_g_a(client):
    ga, gb, gd, bar, formula, dist = _gram(client, CHELSEA, None, norm="chw", top=32)
    assert _size(ga) == (384, 384)  # 32 channels × 12 px
    assert gb is None and gd is None
    assert Path(bar).is_file()
    assert "'chw'" in formula and FORMULAS["chw"] in formula
    assert dist is None  # no bar chart with one image (an empty table would break its axis)


def test_gram_same_image_twice_has_zero_style_distance(client):
    ga, gb, gd, _, formula, dist = _gram(client, CHELSEA, CHELSEA, layer="relu1_2", norm="gatys", top=128)
    assert _size(ga) == _size(gb) == _size(gd) == (384, 384)  # top clamped to relu1_2's 64 channels × 6 px
    assert "'gatys'" in formula and FORMULAS["gatys"] in formula
    rows = _rows(dist)
    assert [r["layer"] for r in rows] == list(BLOCKS)
    assert all(r["style distance"] == pytest.approx(0.0, abs=1e-12) for r in rows)


def test_gram_two_photos_have_positive_style_distances(client):
    ga, gb, gd, _, formula, dist = _gram(client, CHELSEA, COFFEE, norm="none", top=16)
    assert all(p is not None for p in (ga, gb, gd))
    assert _size(ga) == (384, 384)  # 16 channels × 24 px
    assert "'none'" in formula and FORMULAS["none"] in formula
    rows = _rows(dist)
    assert [r["layer"] for r in rows] == list(BLOCKS)
    assert all(r["style distance"] > 0 for r in rows)


# --------------------------------------------------------------------------- /gram_pair


def _shown_tolerance(shown: str) -> float:
    """Half a unit in the last of the 4 significant digits printed (``.4g``)."""
    v = abs(float(shown))
    return 0.0 if v == 0 else 0.5 * 10 ** (math.floor(math.log10(v)) - 3) * 1.001


def test_gram_pair_value_is_the_raw_gram_entry(client, reference):
    layer = "relu2_2"
    f = reference(CHELSEA, layer)
    g = gram(f[None], "none")[0]
    i, j = (int(v) for v in torch.argsort(torch.diagonal(g), descending=True)[:2])  # non-zero entries
    gallery, txt = client.predict(
        _img(CHELSEA), "vgg16", "224", layer, i, j, "viridis", api_name="/gram_pair"
    )
    assert [it["caption"] for it in gallery] == [f"F_{i}", f"F_{j}", f"F_{i} ⊙ F_{j}"]
    assert all(_size(it["image"]) == (CHELSEA_HW[1], CHELSEA_HW[0]) for it in gallery)
    m = re.fullmatch(rf"G\[{i}, {j}\] = Σ F_{i} · F_{j} = (\S+)\s+\(÷ C·H·W = (\S+)\)", txt)
    assert m, txt
    expect = float(g[i, j])
    c, h, w = f.shape
    assert expect > 0
    assert abs(float(m[1]) - expect) <= _shown_tolerance(m[1]) + 1e-4 * expect
    assert abs(float(m[2]) - expect / (c * h * w)) <= _shown_tolerance(m[2]) + 1e-4 * expect / (c * h * w)


# --------------------------------------------------------------------------- /compare


def _compare(
    client, clean, degraded=None, source="degrade", deg="blur", strength=2.0, seed=0, layer="relu2_2"
):
    """The seven shown outputs of /compare (the eighth, the export zip, is tested on its own)."""
    return _compare_all(client, clean, degraded, source, deg, strength, seed, layer)[:7]


def _compare_all(
    client, clean, degraded=None, source="degrade", deg="blur", strength=2.0, seed=0, layer="relu2_2"
):
    return client.predict(
        _img(clean),
        None if degraded is None else _img(degraded),
        source,
        deg,
        strength,
        seed,
        "vgg16",
        "224",
        layer,
        api_name="/compare",
    )


def test_compare_export_bundle_reproduces_the_figure(client, pool):
    *_, scores, zipped = _compare_all(client, CHELSEA, deg="jpeg", strength=25, seed=4, layer="relu3_3")
    record, pics = read_bundle(zipped)
    assert record["kind"] == "compare"
    assert record["scores"]["ssim"] == pytest.approx(scores["ssim"], rel=1e-9)
    assert record["scores"]["lpips"] == pytest.approx(scores["lpips"], rel=1e-9)
    st = record["settings"]
    assert (st["degradation"], st["strength"], st["seed"], st["side_by_side_layer"]) == (
        "jpeg",
        25,
        4,
        "relu3_3",
    )
    assert st["analysis_size"] == "224" and st["size_hw"] == list(CHELSEA_HW)
    model = pool.get("vgg16")
    assert record["model"]["arch"] == "vgg16" and record["model"]["fingerprint"] == model.fingerprint
    assert record["model"]["weights"]["source"] == model.status.source
    assert record["environment"]["torch"] == torch.__version__
    # Every picture shown is in the zip, as PNG: the pair, the difference maps, the channel grids.
    names = list(record["pictures"])
    assert names[:2] == ["01_clean.png", "02_degraded.png"] and set(names) == set(pics)
    assert any("SSIM" in c for c in record["pictures"].values())
    assert sum("relu3_3" in c for c in record["pictures"].values()) >= 3
    clean = pics["01_clean.png"]
    assert clean.size == (CHELSEA_HW[1], CHELSEA_HW[0])
    # The degraded picture is exactly what the settings reproduce.
    x = prepare(load_image(CHELSEA).tensor(), Resize.parse("224"), torch.device("cpu"))
    again = degrade(x, "jpeg", 25, seed=4)[0].permute(1, 2, 0).numpy()
    got = np.asarray(pics["02_degraded.png"], dtype=np.float32) / 255
    assert np.abs(got - again).max() <= 1 / 255 + 1e-6


def test_compare_identical_upload_scores_perfectly(client):
    pair, table, bars, maps, side, info, scores = _compare(client, CHELSEA, CHELSEA, source="upload")
    assert set(scores) == SCORE_KEYS
    assert scores["mse"] == 0
    assert scores["psnr"] is None
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert scores["perceptual"]["total"] == 0 and scores["style"]["total"] == 0
    assert scores["device"] == "cpu" and scores["size"] == list(CHELSEA_HW) and scores["notes"] == []
    values = {r["metric"]: r["value"] for r in _rows(table)}
    assert list(values) == ["MSE", "PSNR (dB)", "SSIM", "perceptual", "style", "LPIPS-VGG"]
    assert values["MSE"] == "0" and values["PSNR (dB)"] == "∞"
    assert info.startswith("uploaded image · scored at 337×224 px on cpu in ")
    assert re.search(r" in \d+ ms", info)
    assert [_size(p) for p in pair] == [(337, 224)] * 2
    assert [r["perceptual distance"] for r in _rows(bars)] == [0, 0, 0, 0]
    assert len(maps) == 6 and len(side) == 3


def test_compare_degradation_outputs_are_consistent(client):
    pair, table, bars, maps, side, info, scores = _compare(
        client, CHELSEA, deg="jpeg", strength=20, layer="relu3_3"
    )
    assert set(scores) == SCORE_KEYS
    assert scores["mse"] > 0 and scores["psnr"] == pytest.approx(10 * math.log10(1 / scores["mse"]), rel=1e-4)
    assert 0 < scores["ssim"] < 1
    layers = scores["perceptual"]["layers"]
    assert list(layers) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    bar_rows = _rows(bars)
    assert [r["layer"] for r in bar_rows] == list(layers)
    assert [r["perceptual distance"] for r in bar_rows] == pytest.approx(list(layers.values()), rel=1e-6)
    assert scores["perceptual"]["total"] == pytest.approx(sum(layers.values()), rel=1e-6)
    values = {r["metric"]: r["value"] for r in _rows(table)}
    assert values["MSE"] == f"{scores['mse']:.6g}" and values["SSIM"] == f"{scores['ssim']:.6g}"
    assert info.startswith("JPEG compression, quality = 20 (seed 0) · scored at 337×224 px on cpu in ")
    assert " ms" in info
    assert [m["caption"] for m in maps] == [
        "squared error (a − b)²",
        "1 − SSIM map",
        *(f"feature distance at {n}" for n in layers),
    ]
    assert all(_size(m["image"]) == (337, 224) for m in maps)
    assert [s["caption"].split(" · ")[:2] for s in side[:2]] == [
        ["clean", "relu3_3"],
        ["degraded", "relu3_3"],
    ]
    assert [_size(p) for p in pair] == [(337, 224)] * 2


def test_compare_blur_strengths_order_the_scores(client):
    runs = [_compare(client, CHELSEA, deg="blur", strength=s)[-1] for s in (1.0, 2.0, 4.0)]
    mse = [r["mse"] for r in runs]
    ssim = [r["ssim"] for r in runs]
    perc = [r["perceptual"]["total"] for r in runs]
    assert 0 < mse[0] < mse[1] < mse[2]
    assert 1 > ssim[0] > ssim[1] > ssim[2]
    assert perc[0] < perc[1] < perc[2]


def test_compare_noise_strengths_order_the_scores(client):
    # Strengths below jpeg's 1..95 must reach degrade(): the slider's bounds cover every degradation.
    runs = [_compare(client, CHELSEA, deg="noise", strength=s, seed=3)[-1] for s in (0.02, 0.1, 0.3)]
    mse = [r["mse"] for r in runs]
    ssim = [r["ssim"] for r in runs]
    assert 0 < mse[0] < mse[1] < mse[2]
    assert 1 > ssim[0] > ssim[1] > ssim[2]


def test_compare_out_of_range_strength_is_a_clear_error(client):
    with pytest.raises(AppError, match="out of range"):
        _compare(client, CHELSEA, deg="noise", strength=5.0)


def test_compare_upload_of_another_size_is_resized_with_a_notice(client, tmp_path):
    p = tmp_path / "square.png"
    Image.open(CHELSEA).convert("RGB").crop((0, 0, 300, 300)).save(p)
    pair, *_, info, scores = _compare(client, CHELSEA, p, source="upload")
    assert scores["size"] == list(CHELSEA_HW)
    assert len(scores["notes"]) == 1
    note = scores["notes"][0]
    assert "resized" in note and "(224×224)" in note and "337×224" in note
    assert "⚠️" in info and note in info
    assert scores["mse"] > 0 and scores["ssim"] < 1
    assert [_size(x) for x in pair] == [(337, 224)] * 2


def test_compare_upload_without_a_degraded_image_is_a_user_error(client):
    with pytest.raises(AppError) as ei:
        _compare(client, CHELSEA, None, source="upload")
    msg = _error(ei)
    assert "upload the degraded image" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- /sweep


def test_sweep_table_plots_thumbnails_and_info(client):
    names, k = ["noise", "blur"], 3
    *plots, table, thumbs, info, zipped = client.predict(
        _img(CHELSEA), names, k, 0, "vgg16", "224", api_name="/sweep"
    )
    record, pics = read_bundle(zipped)
    assert record["kind"] == "sweep" and len(pics) == 1 + len(names) * k  # the clean + thumbnails
    assert record["settings"]["degradations"] == names and record["settings"]["levels"] == k
    # the export keeps full precision; the table shown is rounded to 6 decimals
    assert [r["MSE"] for r in _rows(table)] == pytest.approx([r["MSE"] for r in record["table"]], abs=5e-7)
    assert len(plots) == 5
    rows = _rows(table)
    assert len(rows) == len(names) * k
    for n in names:
        mine = [r for r in rows if r["degradation"] == n]
        assert [r["level"] for r in mine] == [1, 2, 3]
        assert [r["strength"] for r in mine] == pytest.approx(DEGRADATIONS[n].levels(k))
        mse = [r["MSE"] for r in mine]
        assert mse == sorted(mse) and mse[0] > 0
        assert all(r["1 − SSIM"] == pytest.approx(1 - r["SSIM"], abs=2e-6) for r in mine)
    for metric, plot in zip(SWEEP_METRICS, plots, strict=True):
        prow = _rows(plot)
        assert len(prow) == len(names) * k
        assert {r["metric"] for r in prow} == {metric}
        assert max(r["relative value"] for r in prow) == pytest.approx(1.0)
    assert len(thumbs) == len(names) * k
    assert thumbs[0]["caption"] == "noise L1 (0.02)" and thumbs[-1]["caption"] == "blur L3 (6)"
    assert max(_size(thumbs[0]["image"])) <= 128
    # On a CPU a sweep is a long job that scores in short passes (it gives way to quick views).
    assert info.startswith("6 degraded images + the clean one scored in 3 passes of ≤ 2 on cpu")


def test_sweep_without_degradations_is_a_user_error(client):
    with pytest.raises(AppError) as ei:
        client.predict(_img(CHELSEA), [], 3, 0, "vgg16", "224", api_name="/sweep")
    msg = _error(ei)
    assert "pick at least one degradation" in msg
    _assert_clean_error(msg)


# --------------------------------------------------------------------------- cache reuse


def test_view_changes_do_not_run_vgg_again(client, pool):
    img = _img(ASTRONAUT)
    gallery, _ = client.predict(img, "vgg16", "224", "viridis", api_name="/overview")
    assert gallery[0]["caption"].startswith("1: relu1_2 · 64×224×224 ")
    model = pool.get("vgg16")
    before = model.forward_count
    assert before >= 1
    for layer in ("conv1_1", "relu3_3", "pool4", "relu5_3"):
        _, _, caption, _ = client.predict(
            img, "vgg16", "224", layer, 8, "mean", "channel", "viridis", api_name="/feature_grid"
        )
        assert caption.startswith(f"{layer} · ")
    for k, sort, scope, cmap in ((1, "max", "layer", "magma"), (64, "index", "channel", "gray")):
        client.predict(img, "vgg16", "224", "relu4_3", k, sort, scope, cmap, api_name="/feature_grid")
    for layer, ch in (("relu2_2", 3), ("pool5", 511)):
        _, _, stats = client.predict(img, "vgg16", "224", layer, ch, "viridis", 0.3, api_name="/channel")
        assert stats["channel"] == ch
    client.predict(img, None, "vgg16", "224", "relu3_3", "chw", 16, "viridis", api_name="/gram")
    client.predict(img, "vgg16", "224", "relu4_3", 0, 1, "viridis", api_name="/gram_pair")
    assert model.forward_count == before, "a view change ran VGG again"


def test_compare_new_strength_runs_vgg_once(client, pool):
    img = _img(COFFEE)
    client.predict(img, "vgg16", "224", "viridis", api_name="/overview")  # the clean image is cached
    model = pool.get("vgg16")
    n0 = model.forward_count
    first = _compare(client, COFFEE, deg="jpeg", strength=30)[-1]
    n = model.forward_count
    assert n == n0 + 1, f"{n - n0} forward passes for the first degraded image"
    second = _compare(client, COFFEE, deg="jpeg", strength=70)[-1]
    assert second["mse"] < first["mse"]
    assert model.forward_count == n + 1, f"{model.forward_count - n} forward passes for one new image"


def test_vgg19_layers_are_accepted_through_the_api(client):
    out = client.predict(
        handle_file(str(CHELSEA)),
        "vgg19",
        "224",
        "conv5_4",
        4,
        "mean",
        "channel",
        "viridis",
        api_name="/feature_grid",
    )
    assert out[2].startswith("conv5_4 · 512×14×21")


def test_events_run_in_their_lanes(app):
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.lanes import LaneLimits

    demo = build_demo(app[0], LaneLimits(interactive=3, long=1))  # the launched app is unaffected
    lane = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values()}
    for api in ("overview", "feature_grid", "channel", "gram", "gram_pair", "compare"):
        assert lane[api] == ("interactive", 3), api
    for api in ("ui_grid", "ui_channel", "ui_pair", "ui_overview"):
        assert lane[api] == ("interactive", 3), api
    for api in ("sweep", "equal_mse", "reconstruct"):
        assert lane[api] == ("long", 1), api
    assert lane["status"] == ("loader", None)  # waiting for a backbone holds no compute slot
