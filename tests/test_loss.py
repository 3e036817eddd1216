"""PerceptualLoss against the brief's reference formulation, written out independently here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from perceptual_viz.loss import PerceptualLoss


class ReferenceVGGPerceptualLoss(nn.Module):
    """The reference loss of the brief, as it is usually written (VGG16 blocks, L1, Gram L1)."""

    def __init__(self, features: nn.Sequential, resize: bool = True) -> None:
        super().__init__()
        blocks = [features[:4].eval(), features[4:9].eval(), features[9:16].eval(), features[16:23].eval()]
        for bl in blocks:
            for p in bl.parameters():
                p.requires_grad = False
        self.blocks = nn.ModuleList(blocks)
        self.resize = resize
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, input, target, feature_layers=(0, 1, 2, 3), style_layers=()):
        if input.shape[1] != 3:
            input = input.repeat(1, 3, 1, 1)
            target = target.repeat(1, 3, 1, 1)
        input = (input - self.mean) / self.std
        target = (target - self.mean) / self.std
        if self.resize:
            input = F.interpolate(input, mode="bilinear", size=(224, 224), align_corners=False)
            target = F.interpolate(target, mode="bilinear", size=(224, 224), align_corners=False)
        loss = 0.0
        x, y = input, target
        for i, block in enumerate(self.blocks):
            x = block(x)
            y = block(y)
            if i in feature_layers:
                loss += F.l1_loss(x, y)
            if i in style_layers:
                act_x = x.reshape(x.shape[0], x.shape[1], -1)
                act_y = y.reshape(y.shape[0], y.shape[1], -1)
                gram_x = act_x @ act_x.permute(0, 2, 1)
                gram_y = act_y @ act_y.permute(0, 2, 1)
                loss += F.l1_loss(gram_x, gram_y)
        return loss


@pytest.fixture(scope="module")
def reference(vgg16):
    feats = make_layers(cfgs["D"])  # torchvision's vgg16().features
    feats.load_state_dict(vgg16.features.state_dict())
    return ReferenceVGGPerceptualLoss(feats)


def _pair(seed=0, n=2, c=3, h=80, w=96):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, h, w, generator=g)
    return x, (x + 0.1 * torch.randn(n, c, h, w, generator=g)).clamp(0, 1)


def test_default_equals_reference(vgg16, reference):
    x, y = _pair()
    ours = PerceptualLoss(backbone=vgg16)(x, y)
    ref = reference(x, y)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)


def test_style_layers_equal_reference(vgg16, reference):
    x, y = _pair(1)
    ours = PerceptualLoss([0, 2], [1, 3], backbone=vgg16)(x, y)
    ref = reference(x, y, feature_layers=[0, 2], style_layers=[1, 3])
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)


def test_grey_and_no_resize_equal_reference(vgg16):
    feats = make_layers(cfgs["D"])  # torchvision's vgg16().features
    feats.load_state_dict(vgg16.features.state_dict())
    ref = ReferenceVGGPerceptualLoss(feats, resize=False)
    x, y = _pair(2, c=1, h=64, w=64)
    ours = PerceptualLoss(resize=False, backbone=vgg16)(x, y)
    assert ours.item() == pytest.approx(ref(x, y).item(), rel=1e-5)


def test_layer_names_weights_mse_and_pre_relu(vgg16):
    x, y = _pair(3)
    names = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    by_name = PerceptualLoss(names, backbone=vgg16)(x, y)
    by_index = PerceptualLoss([0, 1, 2, 3], backbone=vgg16)(x, y)
    assert by_name.item() == pytest.approx(by_index.item(), rel=1e-6)
    w = [1.0, 0.75, 0.5, 0.25]
    mse_loss = PerceptualLoss(names, layer_weights=w, criterion="mse", resize=False, backbone=vgg16)(x, y)
    f = vgg16(torch.cat([x, y]), names)
    direct = sum(wi * F.mse_loss(f[n][:2], f[n][2:]) for wi, n in zip(w, names, strict=True))
    assert mse_loss.item() == pytest.approx(direct.item(), rel=1e-5)
    pre = PerceptualLoss([4], pre_relu=True, resize=False, backbone=vgg16)
    assert pre.feature_layers == ["conv5_3"]
    f = vgg16(torch.cat([x, y]), ["conv5_3"])["conv5_3"]
    assert pre(x, y).item() == pytest.approx(F.l1_loss(f[:2], f[2:]).item(), rel=1e-5)


def test_gradients_flow_to_input_not_to_vgg(vgg16):
    x, y = _pair(4)
    x = x.clone().requires_grad_(True)
    loss = PerceptualLoss([0, 1], [2], gram_norm="chw", backbone=vgg16)(x, y)
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg16.parameters())


def test_optimising_the_input_lowers_the_loss(vgg16):
    x, y = _pair(5, n=1, h=48, w=48)
    x = x.clone().requires_grad_(True)
    crit = PerceptualLoss([0, 1], resize=False, backbone=vgg16)
    opt = torch.optim.Adam([x], lr=0.02)
    first = crit(x, y).item()
    for _ in range(10):
        opt.zero_grad()
        crit(x, y).backward()
        opt.step()
    assert crit(x, y).item() < 0.8 * first


def test_autocast_and_to_device(vgg16):
    x, y = _pair(6)
    crit = PerceptualLoss([0, 1], [1], backbone=vgg16).to("cpu")
    full = crit(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = crit(x, y)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    assert half.item() == pytest.approx(full.item(), rel=0.1)
    assert crit.backbone.mean.device.type == "cpu"


def test_bad_arguments(vgg16):
    with pytest.raises(ValueError, match="at least one"):
        PerceptualLoss([], [], backbone=vgg16)
    with pytest.raises(ValueError, match="out of range"):
        PerceptualLoss([7], backbone=vgg16)
    with pytest.raises(ValueError, match="criterion"):
        PerceptualLoss(criterion="l3", backbone=vgg16)
    with pytest.raises(ValueError, match="3 values for 4 layers"):
        PerceptualLoss(layer_weights=[1, 2, 3], backbone=vgg16)
    with pytest.raises(ValueError, match="differ in shape"):
        PerceptualLoss(backbone=vgg16)(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40))
    assert "untrained" in repr(PerceptualLoss(backbone=vgg16))
