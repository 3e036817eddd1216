"""Metrics against independent references: scikit-image SSIM, pytorch-msssim, the lpips package,
hand-worked cases."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from skimage.metrics import structural_similarity

from perceptual_viz import metrics
from perceptual_viz.degrade import degrade
from perceptual_viz.errors import InputError
from perceptual_viz.layers import block_outputs

from .support import to_tensor

WANG = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1)


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "coffee"])
@pytest.mark.parametrize(("name", "strength"), [("noise", 0.08), ("blur", 2.0), ("jpeg", 20)])
def test_ssim_matches_scikit_image(photos, photo, name, strength):
    clean = to_tensor(photos[photo])
    deg = degrade(clean, name, strength, seed=1)
    ref = structural_similarity(
        clean[0].permute(1, 2, 0).double().numpy(), deg[0].permute(1, 2, 0).double().numpy(), **WANG
    )
    ours = metrics.ssim(clean, deg).item()
    assert abs(ours - ref) <= 1e-5, (ours, ref)
    assert 0 < ours < 1


def test_ssim_batch_map_identity_and_grey(photos):
    a = to_tensor(photos["coffee"])
    b = degrade(a, "noise", 0.1, seed=0)
    batch = metrics.ssim(torch.cat([a, a]), torch.cat([a, b]))
    assert batch[0].item() == pytest.approx(1.0, abs=1e-6)
    assert batch[1].item() == pytest.approx(metrics.ssim(a, b).item(), abs=1e-7)
    score, smap = metrics.ssim(a, b, return_map=True)
    assert smap.shape == (1, a.shape[2] - 10, a.shape[3] - 10)
    assert smap.mean().item() == pytest.approx(score.item(), abs=1e-6)
    grey_a, grey_b = a[:, :1], b[:, :1]
    ref = structural_similarity(
        grey_a[0, 0].double().numpy(), grey_b[0, 0].double().numpy(), **{**WANG, "channel_axis": None}
    )
    assert metrics.ssim(grey_a, grey_b).item() == pytest.approx(ref, abs=1e-5)


def test_ssim_is_fp32_under_autocast(photos):
    a = to_tensor(photos["chelsea"])
    b = degrade(a, "blur", 1.5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        s = metrics.ssim(a.bfloat16(), b.bfloat16())
    assert s.dtype == torch.float32
    ref = metrics.ssim(a.bfloat16().float(), b.bfloat16().float())
    assert s.item() == pytest.approx(ref.item(), abs=1e-6)


def test_ssim_rejects_bad_shapes():
    with pytest.raises(ValueError, match="same shape"):
        metrics.ssim(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 33))
    with pytest.raises(ValueError, match="at least 11"):
        metrics.ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


def test_mse_psnr_by_hand():
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[0] += 0.1  # every pixel off by 0.1 → MSE 0.01 → PSNR 20 dB
    y[1, 0, 0, 0] = 1.0  # one pixel of 48 off by 1 → MSE 1/48
    m = metrics.mse(x, y)
    assert m[0].item() == pytest.approx(0.01, rel=1e-5)
    assert m[1].item() == pytest.approx(1 / 48, rel=1e-6)
    p = metrics.psnr(x, y)
    assert p[0].item() == pytest.approx(20.0, abs=1e-4)
    assert p[1].item() == pytest.approx(10 * math.log10(48), abs=1e-4)
    assert math.isinf(metrics.psnr(x, x)[0].item())
    emap = metrics.squared_error_map(x, y)
    assert emap.shape == (2, 4, 4) and emap[1, 0, 0].item() == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- perceptual


def test_perceptual_distance_matches_direct_formula(vgg16, photos):
    a = to_tensor(photos["astronaut"])[..., :96, :96]
    b = degrade(a, "noise", 0.1, seed=3)
    names = list(block_outputs("vgg16")[:4])
    fa, fb = vgg16(a, names), vgg16(b, names)
    res = metrics.perceptual_distance(fa, fb, names)
    direct = sum((fa[n] - fb[n]).abs().mean() for n in names)
    assert res.total.item() == pytest.approx(direct.item(), rel=1e-6)
    w = [1.0, 0.75, 0.5, 0.25]
    res2 = metrics.perceptual_distance(fa, fb, names, w, criterion="mse")
    direct2 = sum(wi * (fa[n] - fb[n]).pow(2).sum() / fa[n].numel() for wi, n in zip(w, names, strict=True))
    assert res2.total.item() == pytest.approx(direct2.item(), rel=1e-5)
    assert res2.weights == dict(zip(names, w, strict=True))
    maps = metrics.feature_distance_maps(fa, fb, names, (96, 96))
    assert all(m.shape == (1, 96, 96) for m in maps.values())
    # the map of the deepest layer, averaged, is close to that layer's L1 distance
    assert maps[names[0]].mean().item() == pytest.approx(res.layers[names[0]].item(), rel=1e-5)


# --------------------------------------------------------------------------- LPIPS


@pytest.fixture(scope="module")
def lpips_pkg_with_our_backbone(vgg16):
    lpips = pytest.importorskip("lpips")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False).eval()
    ours = vgg16.features.state_dict()
    net = ref.net
    for sl in (net.slice1, net.slice2, net.slice3, net.slice4, net.slice5):
        sl.load_state_dict({k: ours[k] for k in sl.state_dict()})
    return ref


@pytest.mark.parametrize("size", [64, 160])
def test_lpips_matches_lpips_package(vgg16, photos, lpips_pkg_with_our_backbone, size):
    names = block_outputs("vgg16")
    clean = torch.cat([to_tensor(photos[p])[..., :size, :size] for p in ("astronaut", "chelsea", "coffee")])
    deg = torch.cat([degrade(clean, "noise", 0.05), degrade(clean, "blur", 2.0), degrade(clean, "jpeg", 10)])
    clean3 = clean.repeat(3, 1, 1, 1)
    with torch.no_grad():
        ref = lpips_pkg_with_our_backbone(clean3 * 2 - 1, deg * 2 - 1).flatten()
        ours = metrics.lpips_vgg(vgg16(clean3, names), vgg16(deg, names), names).total
    assert ref.abs().min() > 0
    assert (ours - ref).abs().max().item() <= 1e-6, (ours, ref)


def test_lpips_reported_unavailable_without_package(monkeypatch, vgg16):
    monkeypatch.setattr(metrics.importlib.util, "find_spec", lambda name: None)
    metrics._lpips_lin_cpu.cache_clear()
    try:
        assert not metrics.lpips_available()
        x = torch.rand(1, 3, 32, 32)
        names = block_outputs("vgg16")
        assert metrics.lpips_vgg(vgg16(x, names), vgg16(x, names), names) is None
    finally:
        metrics._lpips_lin_cpu.cache_clear()


def test_ssim_filters_every_layout_as_dense_channels_last(photos, monkeypatch):
    """``torch.from_numpy(hwc).permute(2, 0, 1)[None]`` is channels-last with a batch stride of 3,
    which oneDNN's depthwise convolution runs ~2× slower than canonical strides. Whatever the
    caller's layout, the filters must see canonical channels-last tensors, and the values agree."""
    a = photos["chelsea"]
    b = degrade(to_tensor(a), "noise", 0.1, seed=0)[0].permute(1, 2, 0).numpy()
    layouts = {
        "from_numpy().permute()[None]": lambda z: torch.from_numpy(z).permute(2, 0, 1)[None],
        "contiguous": lambda z: torch.from_numpy(z).permute(2, 0, 1)[None].contiguous(),
        "float64 view": lambda z: torch.from_numpy(z.astype("float64")).permute(2, 0, 1).unsqueeze(0),
    }
    real_conv = metrics.F.conv2d
    seen: list[tuple[int, ...]] = []

    def spy(t, w, *args, **kwargs):
        _, c, h, width = t.shape
        seen.append(t.stride() == (c * h * width, 1, width * c, c))
        return real_conv(t, w, *args, **kwargs)

    monkeypatch.setattr(metrics.F, "conv2d", spy)
    values = {}
    for name, make in layouts.items():
        seen.clear()
        values[name] = float(metrics.ssim(make(a), make(b)))
        assert seen and all(seen), f"{name}: a filter ran on non-canonical strides"
    assert max(values.values()) - min(values.values()) < 1e-6, values


def test_ssim_batch_chunks_give_the_same_values(photos, monkeypatch):
    a = torch.cat([to_tensor(photos[p])[..., :96, :96] for p in ("astronaut", "chelsea", "coffee")])
    b = degrade(a, "noise", 0.1, seed=2)
    whole = metrics.ssim(a, b)
    monkeypatch.setattr(metrics, "SSIM_CHUNK_PIXELS", 2 * 96 * 96)  # chunks of 2 images: 2 + 1
    score, smap = metrics.ssim(a, b, return_map=True)
    torch.testing.assert_close(score, whole, rtol=0, atol=1e-7)
    assert smap.shape == (3, 86, 86)


@pytest.mark.parametrize("criterion", ["l1", "mse"])
def test_chunked_feature_terms_equal_whole_tensor_autograd_path(monkeypatch, criterion):
    # Without autograd the feature distance and LPIPS terms are summed chunk by chunk; with it,
    # over the whole tensor. A tiny chunk (with a ragged last chunk) must give the same values,
    # for a broadcast clean image (batch 1 vs 4) and for equal batches.
    g = torch.Generator().manual_seed(5)
    fa = torch.rand(1, 8, 7, 5, generator=g).contiguous(memory_format=torch.channels_last)
    fb = torch.rand(4, 8, 7, 5, generator=g).contiguous(memory_format=torch.channels_last)
    lin = torch.rand(8, generator=g)
    monkeypatch.setattr(metrics, "ROW_CHUNK_VALUES", 4 * 8 * 3)  # 3 of the 35 pixels per chunk
    for a, b in ((fa, fb), (fa.expand(4, -1, -1, -1).contiguous(), fb), (fb, fa)):
        with torch.inference_mode():
            d, lp = metrics._layer_terms(a, b, criterion, lin)
        ref_d, ref_lp = metrics._layer_terms(a.clone().requires_grad_(True), b, criterion, lin)
        diff = (a.double() - b.double()).abs()
        direct = (diff if criterion == "l1" else diff.pow(2)).mean(dim=(1, 2, 3))
        assert torch.allclose(d.double(), direct, rtol=1e-6)
        assert torch.allclose(d, ref_d, rtol=1e-6) and torch.allclose(lp, ref_lp, rtol=1e-6)
        assert ref_d.requires_grad and not d.requires_grad


# --------------------------------------------------------------------------- MS-SSIM


@pytest.mark.parametrize("photo", ["astronaut", "chelsea", "coffee"])
def test_ms_ssim_matches_pytorch_msssim(photos, photo):
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    clean = to_tensor(photos[photo])  # 512², 300 × 451 (odd sides: padded pools), 400 × 600
    deg = torch.cat(
        [
            degrade(clean, n, s, seed=1)
            for n, s in (("noise", 0.08), ("blur", 2.0), ("jpeg", 20), ("contrast", 0.6))
        ]
    )
    both = clean.expand(len(deg), -1, -1, -1)
    ref = pytorch_msssim.ms_ssim(both, deg, data_range=1, size_average=False)
    ours = metrics.ms_ssim(both, deg)
    assert ours.shape == (4,) and ours.dtype == torch.float32
    assert (ours - ref).abs().max().item() <= 1e-4, (ours, ref)
    assert ((ours > 0) & (ours < 1)).all()
    # SSIM from the same pass equals the SSIM of its own.
    ssim, ms = metrics.ssim_and_ms_ssim(both, deg)
    torch.testing.assert_close(ms, ours, rtol=0, atol=1e-7)
    torch.testing.assert_close(ssim, metrics.ssim(both, deg), rtol=0, atol=1e-6)


def test_ms_ssim_identity_smallest_size_chunks_and_autocast(photos, monkeypatch):
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    a = torch.cat([to_tensor(photos[p])[..., :161, :175] for p in ("astronaut", "chelsea", "coffee")])
    b = degrade(a, "noise", 0.1, seed=2)
    assert metrics.ms_ssim(a, a).tolist() == pytest.approx([1.0] * 3, abs=1e-6)
    whole = metrics.ms_ssim(a, b)
    ref = pytorch_msssim.ms_ssim(a, b, data_range=1, size_average=False)
    assert (whole - ref).abs().max().item() <= 1e-4
    monkeypatch.setattr(metrics, "SSIM_CHUNK_PIXELS", 2 * 161 * 175)  # chunks of 2 images: 2 + 1
    torch.testing.assert_close(metrics.ms_ssim(a, b), whole, rtol=0, atol=1e-7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        s = metrics.ms_ssim(a.bfloat16(), b.bfloat16())
    assert s.dtype == torch.float32
    torch.testing.assert_close(s, metrics.ms_ssim(a.bfloat16().float(), b.bfloat16().float()))


def test_ms_ssim_refuses_images_too_small_for_five_scales():
    assert metrics.MS_SSIM_MIN_SIDE == 161  # pytorch-msssim: the shorter side must exceed 160
    assert metrics.ms_ssim_fits(161, 400) and not metrics.ms_ssim_fits(400, 160)
    x = torch.rand(1, 3, 160, 300)
    with pytest.raises(InputError, match="at least 161 px"):
        metrics.ms_ssim(x, x)
    with pytest.raises(InputError, match="same shape"):
        metrics.ms_ssim(torch.rand(1, 3, 200, 200), torch.rand(1, 3, 200, 201))
