"""One relative perceptual distance (metrics.relative_l2 / relative_perceptual_distance) behind
the reconstruction and training lessons, and one PSNR (metrics.psnr) behind training.

The lessons each had their own copy of ‖φ(x) − φ(t)‖² / ‖φ(t)‖² (and training its own PSNR);
the copies are written out here as they were, and the shared functions must give the very same
numbers, bit for bit.
"""

from __future__ import annotations

import math

import pytest
import torch

from perceptual_viz.gram import gram
from perceptual_viz.lessons import reconstruct as rc
from perceptual_viz.lessons import train as tl
from perceptual_viz.metrics import psnr, relative_l2, relative_perceptual_distance

from .support import to_tensor


def _old_relative(a: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """lessons/train.py's ``_relative`` and lessons/reconstruct.py's inline term, as they were."""
    return (a - t).pow(2).sum() / (t.pow(2).sum() + 1e-12 * t.numel())


def _old_psnr(y: torch.Tensor, t: torch.Tensor) -> float:
    """lessons/train.py's ``_psnr``, as it was."""
    m = float((y - t).pow(2).mean())
    return math.inf if m == 0 else 10 * math.log10(1.0 / m)


def test_relative_l2_is_the_old_formula_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    a, t = torch.randn(2, 8, 5, 7, generator=g), torch.randn(2, 8, 5, 7, generator=g) * 100
    assert torch.equal(relative_l2(a, t), _old_relative(a, t))
    assert relative_l2(t, t) == 0 and relative_l2(1e3 * a, 1e3 * t) == pytest.approx(float(relative_l2(a, t)))
    assert math.isfinite(float(relative_l2(a, torch.zeros_like(a))))  # an all-zero target
    fa, ft = {"x": a, "y": a[:, :3]}, {"x": t, "y": t[:, :3]}
    expected = torch.stack([_old_relative(a, t), _old_relative(a[:, :3], t[:, :3])]).mean()
    assert torch.equal(relative_perceptual_distance(fa, ft, ["x", "y"]), expected)
    x = a.clone().requires_grad_(True)
    relative_perceptual_distance({"x": x}, ft, ["x"]).backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)


@pytest.mark.parametrize("mode", ["content", "texture"])
def test_the_reconstruction_objective_is_unchanged(vgg16, photos, mode):
    s = rc.ReconstructSettings(mode=mode, size=48, layers=("relu1_2", "relu2_2")).resolved("vgg16", "cpu")
    target = to_tensor(photos["chelsea"][:80, :120])
    tf = rc.target_features(vgg16, target, s)
    image = rc.initial_image(tuple(tf["relu1_2"].shape[-2:]) if mode == "content" else (32, 48), 0, "cpu")
    loss, parts = rc.objective(vgg16, image, tf, s)
    with torch.no_grad():
        feats = vgg16(image, s.layers)
    terms = []
    for n in s.layers or ():
        f = feats[n].float()
        terms.append(_old_relative(gram(f, "chw") if mode == "texture" else f, tf[n]))
    main = torch.stack(terms).mean()
    tv = float(s.tv_weight or 0.0) * rc.total_variation(image).sum()
    assert torch.equal(loss.detach(), (main + tv).detach())
    assert parts[mode if mode == "content" else "style"] == float(main)


def test_the_training_losses_and_psnr_are_unchanged(vgg16, photos):
    s = tl.TrainSettings(
        losses=("perceptual", "perceptual+style"), patch=16, batch=2, width=8, depth=3, eval_size=32
    ).resolved("vgg16", "cpu")
    g = torch.Generator().manual_seed(1)
    target = torch.rand(2, 3, 20, 20, generator=g)
    outputs = {n: torch.rand(2, 3, 20, 20, generator=g) for n in s.losses}
    got = tl.step_losses(vgg16, outputs, target, s, (1, 2))
    # the same one batched forward as a training step: the outputs, then the target, cropped
    batch = torch.cat([*outputs.values(), target])[:, :, 1:17, 2:18]
    feats = {k: v.float() for k, v in vgg16(batch, tl.vgg_layers(s)).items()}
    ft = {k: v[-2:] for k, v in feats.items()}
    for i, loss in enumerate(s.losses):
        fy = {k: v[2 * i : 2 * i + 2] for k, v in feats.items()}
        expected = torch.stack([_old_relative(fy[n], ft[n]) for n in s.layers or ()]).mean()
        if loss == "perceptual+style":
            style = [_old_relative(gram(fy[n], "chw"), gram(ft[n], "chw")) for n in tl.STYLE_LAYERS]
            expected = expected + float(s.style_weight) * torch.stack(style).mean()
        assert torch.equal(got[loss].detach(), expected), loss

    truth = to_tensor(photos["coffee"][:32, :32])
    out = (truth + 0.05 * torch.randn(truth.shape, generator=g)).clamp(0, 1)
    first = next(iter(tl.train(vgg16, [to_tensor(photos["astronaut"][:48, :48])], truth, s)))
    for name, o in first.outputs.items():
        assert first.psnr[name] == float(psnr(o, tl.eval_pair(truth, s)[1])[0])
    # metrics.psnr (fp32) and the old float64 copy agree to float32 precision
    assert float(psnr(out, truth)[0]) == pytest.approx(_old_psnr(out, truth), rel=1e-6)
    assert math.isinf(float(psnr(truth, truth)[0])) and math.isinf(_old_psnr(truth, truth))
