"""Gram matrices and style distances on a tensor worked out by hand."""

from __future__ import annotations

import pytest
import torch

from perceptual_viz.gram import gram, gram_distance, style_distances, top_channels_by_energy

# F: 2 channels × (1 × 2) pixels: channel 0 = [1, 2], channel 1 = [3, 4].
FA = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
# F': channel 0 = [0, 1], channel 1 = [1, 0].
FB = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])


def test_gram_by_hand():
    # G = F Fᵀ = [[1·1+2·2, 1·3+2·4], [3·1+4·2, 3·3+4·4]] = [[5, 11], [11, 25]]
    assert gram(FA, "none").tolist() == [[[5.0, 11.0], [11.0, 25.0]]]
    # ÷ C·H·W = 4
    assert gram(FA, "chw").tolist() == [[[1.25, 2.75], [2.75, 6.25]]]
    assert gram(FB).tolist() == [[[1.0, 0.0], [0.0, 1.0]]]


def test_style_distances_by_hand():
    # G_A − G_B = [[4, 11], [11, 24]]
    assert gram_distance(FA, FB, "none").item() == pytest.approx((4 + 11 + 11 + 24) / 4)  # 12.5
    assert gram_distance(FA, FB, "chw").item() == pytest.approx(12.5 / 4)  # 3.125
    # Gatys: Σ d² / (4 N² M²) = (16 + 121 + 121 + 576) / (4 · 2² · 2²) = 834 / 64
    assert gram_distance(FA, FB, "gatys").item() == pytest.approx(834 / 64)


def test_gram_batch_symmetry_and_identity():
    f = torch.randn(3, 5, 4, 6)
    g = gram(f)
    assert g.shape == (3, 5, 5)
    torch.testing.assert_close(g, g.transpose(1, 2))
    torch.testing.assert_close(g[1], f[1].reshape(5, -1) @ f[1].reshape(5, -1).T)
    for norm in ("none", "chw", "gatys"):
        assert torch.all(gram_distance(f, f, norm) == 0)
    d = style_distances({"a": f}, {"a": f.flip(-1)}, ["a"], "none")["a"]
    # Gram ignores layout: a mirrored map has the same Gram
    assert torch.allclose(d, torch.zeros(3), atol=1e-3)


def test_gram_is_fp32_under_autocast():
    f = torch.randn(1, 4, 8, 8).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert gram(f).dtype == torch.float32


def test_energy_order_and_bad_norm():
    f = torch.zeros(1, 3, 2, 2)
    f[0, 1] = 3.0
    f[0, 2] = 1.0
    assert top_channels_by_energy(gram(f), 2).tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="none, chw, gatys"):
        gram(f, "frobenius")


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("shape", [(3, 64, 9, 7), (1, 5, 1, 1), (2, 256, 4, 4)])
def test_fast_cpu_gram_equals_float64_reference(shape, layout):
    # Without autograd the CPU path goes through oneDNN; with it, through bmm. Both must give
    # F Fᵀ to fp32 precision, in either memory layout.
    f = torch.rand(*shape, generator=torch.Generator().manual_seed(3)).contiguous(memory_format=layout)
    a = f.double().reshape(shape[0], shape[1], -1)
    ref = a @ a.mT
    with torch.inference_mode():
        fast = gram(f)
    slow = gram(f.clone().requires_grad_(True))
    for g in (fast, slow):
        assert g.shape == ref.shape and g.dtype == torch.float32
        assert torch.allclose(g.double(), ref, rtol=1e-5, atol=1e-6 * ref.abs().max().item())
    assert slow.requires_grad
