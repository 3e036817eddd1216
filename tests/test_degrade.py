"""Tests for perceptual_viz.degrade on real photographs (scikit-image sample data)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from perceptual_viz.degrade import DEGRADATIONS, Degradation, degrade, parse_spec

from .support import photo_tensor

NAMES = list(DEGRADATIONS)
RANDOM = ["noise", "saltpepper"]


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    return photo_tensor("astronaut", 128)


@pytest.fixture(scope="module")
def chelsea() -> torch.Tensor:
    return photo_tensor("chelsea", 128)


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


def test_registry_is_consistent() -> None:
    assert set(NAMES) == {
        "noise",
        "blur",
        "jpeg",
        "downup",
        "shift",
        "brightness",
        "contrast",
        "saltpepper",
        "quantize",
    }
    for name, d in DEGRADATIONS.items():
        assert isinstance(d, Degradation) and d.name == name and d.label and d.param
        assert d.minimum <= d.default <= d.maximum
        assert d.default != d.identity
        if not math.isnan(d.identity):
            assert d.minimum <= d.identity <= d.maximum
        assert all(d.minimum <= v <= d.maximum for v in d.levels(6))
    assert math.isnan(DEGRADATIONS["jpeg"].identity)
    assert DEGRADATIONS["jpeg"].increasing is False
    assert DEGRADATIONS["quantize"].increasing is False
    assert DEGRADATIONS["contrast"].increasing is False
    assert DEGRADATIONS["noise"].increasing is True


@pytest.mark.parametrize("name", NAMES)
def test_levels_strictly_stronger(name: str) -> None:
    d = DEGRADATIONS[name]
    for k in (2, 6):
        lv = d.levels(k)
        assert len(lv) == k
        steps = np.diff(lv)
        assert (steps > 0).all() if d.increasing else (steps < 0).all(), lv
    assert len(d.levels(1)) == 1
    with pytest.raises(ValueError):
        d.levels(0)


def test_contrast_levels_go_from_one_toward_zero() -> None:
    lv = DEGRADATIONS["contrast"].levels(6)
    assert 0 <= lv[-1] < lv[0] < 1


@pytest.mark.parametrize("name", NAMES)
def test_mse_monotone_along_levels(name: str, astronaut: torch.Tensor, chelsea: torch.Tensor):
    for x in (astronaut, chelsea):
        mses = [_mse(degrade(x, name, s), x) for s in DEGRADATIONS[name].levels(6)]
        assert mses[0] > 0
        assert all(b >= a for a, b in itertools.pairwise(mses)), mses
        assert mses[-1] > 2 * mses[0], mses


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_range_and_input_untouched(name: str, astronaut: torch.Tensor) -> None:
    d = DEGRADATIONS[name]
    x = astronaut.clone()
    y = degrade(x, name, d.default)
    assert torch.equal(x, astronaut)
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert _mse(y, x) > 1e-5  # default strength is visible
    y3 = degrade(x[0], name, d.default)
    assert y3.shape == x[0].shape and torch.allclose(y3, y[0], atol=1e-6)
    y64 = degrade(x.double(), name, d.default)
    assert y64.dtype == torch.float64
    grey = x.mean(dim=1, keepdim=True)
    assert degrade(grey, name, d.default).shape == grey.shape


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_single_calls(name: str, astronaut: torch.Tensor, chelsea: torch.Tensor):
    d = DEGRADATIONS[name]
    batch = torch.cat([astronaut, chelsea])
    yb = degrade(batch, name, d.default, seed=3)
    for i, x in enumerate((astronaut, chelsea)):
        assert torch.allclose(yb[i : i + 1], degrade(x, name, d.default, seed=3), atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_seeded(name: str, astronaut: torch.Tensor) -> None:
    """``seeded`` says the truth: a seed changes a seeded degradation and nothing else (the
    app's result cache leaves the seed out of the others' keys)."""
    d = DEGRADATIONS[name]
    assert d.seeded == (name in RANDOM)
    a = degrade(astronaut, name, d.default, seed=1)
    assert torch.equal(a, degrade(astronaut, name, d.default, seed=1))
    b = degrade(astronaut, name, d.default, seed=2)
    if d.seeded:
        assert not torch.equal(a, b)
    else:
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", [n for n in NAMES if not math.isnan(DEGRADATIONS[n].identity)])
def test_identity_strength_is_identity(name: str, astronaut: torch.Tensor) -> None:
    y = degrade(astronaut, name, DEGRADATIONS[name].identity)
    assert (y - astronaut).abs().max() <= 1e-6


def test_quantize_8_bits_is_identity_on_8bit_images(astronaut: torch.Tensor) -> None:
    x = torch.round(astronaut * 255) / 255
    assert (degrade(x, "quantize", 8) - x).abs().max() <= 1e-6


def test_noise_statistics(astronaut: torch.Tensor) -> None:
    x = torch.full_like(astronaut, 0.5)
    diff = degrade(x, "noise", 0.1) - x
    assert abs(float(diff.std()) - 0.1) < 0.005 and abs(float(diff.mean())) < 0.005
    # Noise is independent per channel.
    assert not torch.equal(diff[:, 0], diff[:, 1])


def test_jpeg_differs_and_has_8x8_blocks() -> None:
    x = photo_tensor("astronaut", 256)
    y = degrade(x, "jpeg", 10)
    assert _mse(y, x) > 1e-4
    assert torch.equal(y, torch.round(y * 255) / 255)  # went through uint8

    def boundary_ratio(img: torch.Tensor) -> float:
        g = img.mean(dim=1)[0]
        dx = (g[:, 1:] - g[:, :-1]).abs().mean(dim=0)  # dx[j] = |col j+1 - col j|
        on = (torch.arange(dx.numel()) % 8) == 7  # across an 8-pixel block edge
        return float(dx[on].mean() / dx[~on].mean())

    assert boundary_ratio(y) > 1.3
    assert boundary_ratio(y) > boundary_ratio(x) + 0.2


def test_jpeg_quality_changes_result(astronaut: torch.Tensor) -> None:
    assert not torch.equal(degrade(astronaut, "jpeg", 90), degrade(astronaut, "jpeg", 20))
    assert _mse(degrade(astronaut, "jpeg", 95), astronaut) > 0  # no identity for JPEG


@pytest.mark.parametrize("n", [3, -5])
def test_shift_moves_content_exactly(n: int, astronaut: torch.Tensor) -> None:
    y = degrade(astronaut, "shift", n)
    h, w = astronaut.shape[-2:]
    if n > 0:
        assert torch.equal(y[..., n:, n:], astronaut[..., : h - n, : w - n])
        assert torch.equal(y[..., :n, n:], astronaut[..., :1, : w - n].expand(-1, -1, n, -1))
    else:
        m = -n
        assert torch.equal(y[..., : h - m, : w - m], astronaut[..., m:, m:])
        assert torch.equal(y[..., h - m :, 0], astronaut[..., h - 1 :, m].expand(-1, -1, m))


def test_shift_rounds_non_integers(astronaut: torch.Tensor) -> None:
    assert torch.equal(degrade(astronaut, "shift", 2.6), degrade(astronaut, "shift", 3))


@pytest.mark.parametrize("p", [0.05, 0.2])
def test_saltpepper_fraction_and_values(p: float) -> None:
    x = torch.full((1, 3, 200, 200), 0.5)
    y = degrade(x, "saltpepper", p)
    changed = (y != x).any(dim=1)
    assert abs(float(changed.float().mean()) - p) < 0.01
    assert torch.equal((y != x).all(dim=1), changed)  # same positions in all channels
    vals = y[:, 0][changed]
    assert set(vals.unique().tolist()) == {0.0, 1.0}
    assert abs(float((vals == 1).float().mean()) - 0.5) < 0.05


def test_saltpepper_sets_are_nested(astronaut: torch.Tensor) -> None:
    a = degrade(astronaut, "saltpepper", 0.05)
    b = degrade(astronaut, "saltpepper", 0.2)
    hit_a = (a != astronaut).any(dim=1, keepdim=True).expand_as(a)
    assert torch.equal(a[hit_a], b[hit_a])
    assert int((b != astronaut).sum()) > int((a != astronaut).sum())


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
def test_quantize_distinct_values(bits: int, astronaut: torch.Tensor) -> None:
    y = degrade(astronaut, "quantize", bits)
    for c in range(3):
        assert y[:, c].unique().numel() <= 2**bits


def test_blur_preserves_constant_and_smooths(astronaut: torch.Tensor) -> None:
    c = torch.full((1, 3, 40, 50), 0.3)
    assert torch.allclose(degrade(c, "blur", 3.0), c, atol=1e-6)
    y = degrade(astronaut, "blur", 2.0)
    tv = lambda t: float((t[..., 1:] - t[..., :-1]).abs().mean())  # noqa: E731
    assert tv(y) < 0.6 * tv(astronaut)
    # Radius larger than the image still works (radius is capped at side - 1).
    assert degrade(astronaut[..., :20, :20], "blur", 20).shape == (1, 3, 20, 20)


def test_downup_non_integer_factor_keeps_size(astronaut: torch.Tensor) -> None:
    x = astronaut[..., :101, :77]
    y = degrade(x, "downup", 2.7)
    assert y.shape == x.shape and _mse(y, x) > 0


def test_brightness_and_contrast_values() -> None:
    x = torch.tensor([[[[0.2, 0.4], [0.6, 0.95]]]])
    assert torch.allclose(degrade(x, "brightness", 0.1), (x + 0.1).clamp(0, 1))
    assert torch.allclose(degrade(x, "brightness", -0.3), (x - 0.3).clamp(0, 1))
    m = x.mean()
    assert torch.allclose(degrade(x, "contrast", 0.5), m + 0.5 * (x - m))
    assert torch.allclose(degrade(x, "contrast", 0.0), m.expand_as(x))


def test_errors() -> None:
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="valid names: noise"):
        degrade(x, "sharpen", 1.0)
    with pytest.raises(ValueError, match=r"quality in \[1, 95\]"):
        degrade(x, "jpeg", 100)
    with pytest.raises(ValueError, match=r"σ .*\[0, 1\]"):
        degrade(x, "noise", -0.1)
    with pytest.raises(ValueError, match="out of range"):
        degrade(x, "blur", math.nan)
    with pytest.raises(ValueError, match="C in"):
        degrade(torch.rand(1, 2, 32, 32), "noise", 0.1)
    with pytest.raises(ValueError, match="floating-point"):
        degrade((x * 255).to(torch.uint8), "noise", 0.1)


def test_parse_spec() -> None:
    assert parse_spec("noise=0.1") == ("noise", 0.1)
    assert parse_spec(" JPEG = 30 ") == ("jpeg", 30.0)
    assert parse_spec("shift=-4") == ("shift", -4.0)
    with pytest.raises(ValueError, match="name=strength"):
        parse_spec("noise")
    with pytest.raises(ValueError, match="valid names: noise, blur"):
        parse_spec("foo=1")
    with pytest.raises(ValueError, match="not a number"):
        parse_spec("blur=abc")
    with pytest.raises(ValueError, match=r"bits in \[1, 8\]"):
        parse_spec("quantize=12")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_same_result_on_gpu(name: str, astronaut: torch.Tensor) -> None:
    d = DEGRADATIONS[name]
    cpu = degrade(astronaut, name, d.default, seed=5)
    gpu = degrade(astronaut.cuda(), name, d.default, seed=5)
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)
