"""Why don't my numbers match: each convention's number is the named library's own result.

References computed here, independently of the app's code: scikit-image's
``structural_similarity``, the ``lpips`` package (v0.1 and v0.0, with our VGG16 weights loaded
into its trunk), ``pytorch_msssim.ssim``, a line-by-line NumPy port of Wang's MATLAB ``ssim.m``,
and torchvision's VGG16 slices for the perceptual and Gram rows. Then the command line (text and
``--json``) and the app's ``/compare_conventions`` endpoint.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import correlate2d
from skimage.metrics import structural_similarity

from perceptual_viz import conventions as cv
from perceptual_viz.backbone import load_vgg
from perceptual_viz.cli import main
from perceptual_viz.compare import ScoreSettings, score_pairs
from perceptual_viz.degrade import degrade
from perceptual_viz.figures import analyse, load

from .support import CHELSEA, REAL_WEIGHTS, needs_real_weights, to_tensor

KEYS = (
    "lpips.v0.1",
    "lpips.v0.1_unit_range",
    "lpips.v0.0",
    "ssim.wang",
    "ssim.skimage_default",
    "ssim.pytorch_msssim_default",
    "ssim.matlab",
    "perceptual.imagenet",
    "perceptual.unnormalised",
    "style.none",
    "style.chw",
    "style.gatys",
)
THIS_APP = ("lpips.v0.1", "ssim.wang", "perceptual.imagenet", "style.chw")
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(scope="module")
def pair(photos) -> tuple[torch.Tensor, torch.Tensor]:
    """A 96 × 128 crop of chelsea (the cat's face) and its JPEG at quality 10."""
    clean = to_tensor(photos["chelsea"])[..., 40:136, 120:248].contiguous()
    return clean, degrade(clean, "jpeg", 10)


@pytest.fixture(scope="module", params=["untrained", "imagenet"])
def model(request, vgg16):
    """The shared untrained VGG16, and the real ImageNet weights where they are present."""
    if request.param == "untrained":
        return vgg16
    if not REAL_WEIGHTS.is_file():
        pytest.skip(f"real VGG16 weights not present ({REAL_WEIGHTS})")
    return load_vgg("vgg16", str(REAL_WEIGHTS), "cpu")


@pytest.fixture(scope="module")
def scored(model, pair) -> cv.ConventionScores:
    return cv.score_conventions(model, *pair)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).double().numpy()


# --------------------------------------------------------------------------- the rows


def test_every_convention_once_with_this_apps_marked(scored):
    assert tuple(r.key for r in scored.rows) == KEYS
    assert tuple(r.key for r in scored.rows if r.this_app) == THIS_APP
    assert all(r.value is not None and np.isfinite(r.value) for r in scored.rows)
    table = scored.table()
    assert [str(c) for c in table.columns] == [str(c) for c in cv.COLUMNS]
    assert table.column("this app") == ["✓" if k in THIS_APP else "" for k in KEYS]
    data = json.loads(json.dumps(scored.as_dict()))  # JSON-ready, texts in English
    assert [r["key"] for r in data["conventions"]] == list(KEYS)
    assert data["size"] == [96, 128] and data["matlab_downsample"] == 1
    row = data["conventions"][KEYS.index("ssim.skimage_default")]
    assert "scikit-image" in row["default_of"] and row["why"]


def test_this_apps_rows_are_the_compare_tables_numbers(model, pair, scored):
    sc = score_pairs(model, *pair, settings=ScoreSettings()).scores[0]
    assert scored.value("lpips.v0.1") == pytest.approx(sc.lpips, rel=1e-6)
    assert scored.value("ssim.wang") == pytest.approx(sc.ssim, abs=1e-7)
    assert scored.value("perceptual.imagenet") == pytest.approx(sc.perceptual_total, rel=1e-6)
    assert scored.value("style.chw") == pytest.approx(sc.style_total, rel=1e-5)


def _lpips_package(model, version: str):
    """The lpips package's LPIPS-VGG of ``version`` ("0.1" or "0.0") with ``model``'s VGG16 trunk."""
    lpips = pytest.importorskip("lpips")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lpips.LPIPS(net="vgg", version=version, pnet_rand=True, verbose=False).eval()
    ours = model.features.state_dict()
    for sl in (ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5):
        sl.load_state_dict({k: ours[k] for k in sl.state_dict()})
    return ref


def test_lpips_rows_are_the_lpips_packages_numbers(model, pair, scored):
    x, y = pair
    v01, v00 = _lpips_package(model, "0.1"), _lpips_package(model, "0.0")
    with torch.no_grad():
        want = {
            "lpips.v0.1": float(v01(x, y, normalize=True)),  # [0, 1] → [−1, 1] by the package
            "lpips.v0.1_unit_range": float(v01(x, y)),  # the bug: [0, 1] tensors as they are
            "lpips.v0.0": float(v00(2 * x - 1, 2 * y - 1)),
        }
    for key, value in want.items():
        assert scored.value(key) == pytest.approx(value, rel=1e-5), key
    assert len(set(want.values())) == 3


def test_ssim_rows_are_scikit_image_and_pytorch_msssim(pair, scored):
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    x, y = pair
    a, b = _hwc(x), _hwc(y)
    wang = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1
    )
    assert scored.value("ssim.wang") == pytest.approx(wang, abs=1e-5)
    assert scored.value("ssim.wang") == pytest.approx(
        float(pytorch_msssim.ssim(x, y, data_range=1)), abs=1e-5
    )
    default = structural_similarity(a, b, data_range=1.0, channel_axis=-1)
    assert scored.value("ssim.skimage_default") == pytest.approx(default, abs=1e-5)
    assert scored.value("ssim.pytorch_msssim_default") == pytest.approx(
        float(pytorch_msssim.ssim(x, y)), abs=1e-6
    )
    assert scored.value("ssim.pytorch_msssim_default") > 0.999  # the constants swamp the statistics


# --------------------------------------------------------------------------- ssim.m, ported


def _fspecial_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """MATLAB's fspecial('gaussian', size, sigma)."""
    r = np.arange(size) - (size - 1) / 2
    xx, yy = np.meshgrid(r, r)
    h = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    h[h < np.finfo(float).eps * h.max()] = 0
    return h / h.sum()


def _imfilter_symmetric_same(img: np.ndarray, h: np.ndarray) -> np.ndarray:
    """MATLAB's imfilter(img, h, 'symmetric', 'same'): correlation, h's centre at element
    floor((size + 1)/2), the image mirrored with its edge repeated."""
    kh, kw = h.shape
    ch, cw = (kh + 1) // 2 - 1, (kw + 1) // 2 - 1
    padded = np.pad(img, ((ch, kh - 1 - ch), (cw, kw - 1 - cw)), mode="symmetric")
    out = np.zeros_like(img)
    for i in range(kh):
        for j in range(kw):
            out += h[i, j] * padded[i : i + img.shape[0], j : j + img.shape[1]]
    return out


def _ssim_m(img1: np.ndarray, img2: np.ndarray) -> float:
    """Wang's ssim.m (2009) with its defaults, line by line: K = [0.01 0.03], window =
    fspecial('gaussian', 11, 1.5), L = 255, automatic down-sampling, filter2 'valid', mean2."""
    m, n = img1.shape
    window = _fspecial_gaussian()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    f = max(1, int(np.floor(min(m, n) / 256 + 0.5)))  # round(): halves away from zero
    if f > 1:
        lpf = np.ones((f, f)) / (f * f)
        img1 = _imfilter_symmetric_same(img1, lpf)[::f, ::f]
        img2 = _imfilter_symmetric_same(img2, lpf)[::f, ::f]

    def filter2(a: np.ndarray) -> np.ndarray:
        return correlate2d(a, window, mode="valid")

    mu1, mu2 = filter2(img1), filter2(img2)
    s1 = filter2(img1 * img1) - mu1 * mu1
    s2 = filter2(img2 * img2) - mu2 * mu2
    s12 = filter2(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))
    return float(ssim_map.mean())


def _rgb2gray_255(a: np.ndarray) -> np.ndarray:
    """MATLAB's rgb2gray of a double RGB image, on the 0–255 scale ssim.m's L = 255 expects."""
    return 255 * (a @ np.array([0.298936021293775, 0.587043074451121, 0.114020904255103]))


@pytest.mark.parametrize(
    ("photo", "hw", "f"),
    [("chelsea", (224, 337), 1), ("astronaut", (512, 512), 2), ("coffee", (383, 700), 1),
     ("coffee", (515, 771), 2), ("astronaut", (640, 645), 3)],
)  # fmt: skip
def test_matlab_row_is_a_port_of_ssim_m(photos, photo, hw, f):
    clean = torch.nn.functional.interpolate(to_tensor(photos[photo]), size=hw, mode="bilinear")
    clean = clean.clamp(0, 1)
    deg = degrade(clean, "noise", 0.05, seed=2)
    assert cv.matlab_factor(*hw) == f
    ours = float(cv.ssim_matlab(clean, deg)[0])
    want = _ssim_m(_rgb2gray_255(_hwc(clean)), _rgb2gray_255(_hwc(deg)))
    assert ours == pytest.approx(want, abs=1e-5)
    # grey and down-sampled: not the RGB number
    assert abs(ours - float(cv.metrics.ssim_with_window(clean, deg)[0])) > 1e-3


def test_matlab_round_is_halves_away_from_zero():
    assert [cv.matlab_factor(s, 1000) for s in (100, 383, 384, 639, 640, 896)] == [1, 1, 2, 2, 3, 4]


# --------------------------------------------------------------------------- VGG, torchvision's


def _torchvision_blocks(model):
    """torchvision's VGG16 ``features`` with ``model``'s weights, cut as the reference cuts it."""
    tv = pytest.importorskip("torchvision")
    net = tv.models.vgg16(weights=None).features.eval()
    net.load_state_dict(model.features.state_dict())
    return [net[a:b] for a, b in ((0, 4), (4, 9), (9, 16), (16, 23))]


def _block_outputs(blocks, x: torch.Tensor) -> list[torch.Tensor]:
    out = []
    with torch.no_grad():
        for block in blocks:
            x = block(x)
            out.append(x.double())
    return out


def test_perceptual_rows_with_and_without_imagenet_normalisation(model, pair, scored):
    blocks = _torchvision_blocks(model)
    x, y = pair

    def distance(a: torch.Tensor, b: torch.Tensor) -> float:
        fa, fb = _block_outputs(blocks, a), _block_outputs(blocks, b)
        return sum(float((p - q).abs().mean()) for p, q in zip(fa, fb, strict=True))

    normalised = distance((x - MEAN) / STD, (y - MEAN) / STD)
    raw = distance(x, y)
    assert scored.value("perceptual.imagenet") == pytest.approx(normalised, rel=1e-5)
    assert scored.value("perceptual.unnormalised") == pytest.approx(raw, rel=1e-5)
    assert raw != pytest.approx(normalised, rel=0.05)


def test_style_rows_under_the_three_gram_normalisations(model, pair, scored):
    blocks = _torchvision_blocks(model)
    x, y = pair
    fa, fb = _block_outputs(blocks, (x - MEAN) / STD), _block_outputs(blocks, (y - MEAN) / STD)
    want = {"none": 0.0, "chw": 0.0, "gatys": 0.0}
    for a, b in zip(fa, fb, strict=True):
        _, c, h, w = a.shape
        ga, gb = (t.reshape(c, h * w) @ t.reshape(c, h * w).T for t in (a, b))
        want["none"] += float((ga - gb).abs().mean())
        want["chw"] += float((ga - gb).abs().mean()) / (c * h * w)
        want["gatys"] += float(((ga - gb) ** 2).sum()) / (4 * c**2 * (h * w) ** 2)
    for norm, value in want.items():
        assert scored.value(f"style.{norm}") == pytest.approx(value, rel=1e-4), norm


def test_vgg19_has_no_lpips_rows_but_every_other(pair):
    model = load_vgg("vgg19", "untrained", "cpu")
    x, y = (t[..., :48, :48] for t in pair)
    res = cv.score_conventions(model, x, y)
    lp = [r for r in res.rows if r.key.startswith("lpips.")]
    assert len(lp) == 3 and all(r.value is None and "VGG16 only" in str(r.why) for r in lp)
    assert all(r.value is not None for r in res.rows if not r.key.startswith("lpips."))


@needs_real_weights
def test_real_weights_on_the_bundled_pair_show_each_mix_up():
    """Chelsea at 224 px vs its JPEG at quality 10, as the Compare tab's first example shows it."""
    model = load_vgg("vgg16", str(REAL_WEIGHTS), "cpu")
    clean = analyse(model, load(str(CHELSEA)), "224")
    res = cv.score_conventions(model, clean.tensor, degrade(clean.tensor, "jpeg", 10))
    v = res.value
    assert v("lpips.v0.1_unit_range") < v("lpips.v0.1")  # squeezed into [0.5, 1]: looks closer
    assert v("ssim.pytorch_msssim_default") > 0.999 > v("ssim.wang")
    assert v("perceptual.unnormalised") < v("perceptual.imagenet") / 2
    assert v("style.none") > 1e6 * v("style.chw")


# --------------------------------------------------------------------------- the command line


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--weights", "untrained", "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_is_the_librarys_result(capsys):
    code, out, err = _cli(
        capsys, "compare", str(CHELSEA), "--degrade", "jpeg=10", "--size", "64", "--conventions", "--json"
    )
    assert code == 0, err
    d = json.loads(out)
    assert [r["key"] for r in d["conventions"]] == list(KEYS)
    assert d["arch"] == "vgg16" and d["weights"]["trained"] is False and d["size"] == [64, 96]
    assert d["pair"].startswith("JPEG compression, quality = 10")
    assert any("UNTRAINED" in n for n in d["notes"])
    model = load_vgg("vgg16", "untrained", "cpu")
    clean = analyse(model, load(str(CHELSEA)), "64")
    res = cv.score_conventions(model, clean.tensor, degrade(clean.tensor, "jpeg", 10))
    for row in d["conventions"]:
        assert row["value"] == pytest.approx(res.value(row["key"]), rel=1e-5), row["key"]
        assert row["this_app"] == (row["key"] in THIS_APP)


def test_cli_text_names_every_convention(tmp_path, capsys):
    deg = tmp_path / "blurred.png"
    Image.open(CHELSEA).convert("RGB").resize((96, 64)).save(deg)
    code, out, _err = _cli(capsys, "compare", str(CHELSEA), str(deg), "--size", "48", "--conventions")
    assert code == 0
    for words in (
        "LPIPS-VGG",
        "SSIM",
        "perceptual",
        "style",
        "v0.0",
        "MATLAB ssim.m",
        "Gatys et al. 2016",
        "scikit-image structural_similarity default",
        "pytorch-msssim ssim(X, Y)",
        "→ ",
    ):
        assert words in out, words  # fmt: skip
    assert out.count("✓") == 4
    assert "uploaded image" in out


def test_cli_conventions_do_not_export(tmp_path, capsys):
    code, _, err = _cli(
        capsys,
        "compare",
        str(CHELSEA),
        "--degrade",
        "blur=2",
        "--conventions",
        "--export",
        str(tmp_path / "x.zip"),
    )
    assert code == 2 and "--conventions" in err


# --------------------------------------------------------------------------- the app


def test_endpoint_scores_the_pair_compare_shows(served, client):
    from gradio_client import handle_file

    args = (handle_file(str(CHELSEA)), None, "degrade", "jpeg", 10, 0, "vgg16", "224")
    scores = client.predict(*args, "relu2_2", api_name="/compare")[6]
    table, info, data = client.predict(*args, api_name="/compare_conventions")
    assert table["headers"] == [str(c) for c in cv.COLUMNS]
    assert [r[3] for r in table["data"]].count("✓") == 4 and len(table["data"]) == len(KEYS)
    assert "JPEG compression" in info and "ms" in info
    rows = {r["key"]: r["value"] for r in data["conventions"]}
    assert rows["lpips.v0.1"] == pytest.approx(scores["lpips"], rel=1e-5)
    assert rows["ssim.wang"] == pytest.approx(scores["ssim"], abs=1e-6)
    assert rows["perceptual.imagenet"] == pytest.approx(scores["perceptual"]["total"], rel=1e-5)
    assert rows["style.chw"] == pytest.approx(scores["style"]["total"], rel=1e-4)
    # the library's numbers for the same pair, computed apart from the app
    model = load_vgg("vgg16", "untrained", "cpu")
    clean = analyse(model, load(str(CHELSEA)), "224")
    res = cv.score_conventions(model, clean.tensor, degrade(clean.tensor, "jpeg", 10))
    for key in KEYS:
        assert rows[key] == pytest.approx(res.value(key), rel=1e-4), key
    lanes = {fn.api_name: fn.concurrency_id for fn in served.demo.fns.values()}
    assert lanes["compare_conventions"] == "interactive"


def test_endpoint_upload_without_a_degraded_image_is_a_user_error(client):
    from gradio_client import handle_file

    with pytest.raises(Exception, match="upload the degraded image first"):
        client.predict(
            handle_file(str(CHELSEA)),
            None,
            "upload",
            "jpeg",
            10,
            0,
            "vgg16",
            "224",
            api_name="/compare_conventions",
        )
