"""``PerceptualLoss``: the reference perceptual + style loss, as an ``nn.Module`` for training code.

With its defaults it is the reference loss (Johnson et al. 2016 style, as in the widely used
``VGGPerceptualLoss``): both images ImageNet-normalised, resized bilinearly to 224 × 224, passed
through VGG16 blocks 1–4, and ``loss = Σ_{i ∈ feature_layers} mean|φ_i(x) − φ_i(y)|
+ Σ_{i ∈ style_layers} mean|G_i(x) − G_i(y)|`` with raw Grams G = A Aᵀ.

Everything else is a keyword: layer names instead of block indices, per-layer weights, L1 or
size-normalised MSE, pre-ReLU (conv) features as in ESRGAN, Gram normalisation, style weight.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .archs import Arch
from .backbone import VGGFeatures, WeightsStatus, load_vgg
from .errors import InputError
from .gram import gram_distance
from .layers import resolve_layer
from .metrics import feature_distance
from .options import Criterion, GramNorm


class PerceptualLoss(nn.Module):
    """Perceptual (feature) + style (Gram) loss on a frozen VGG.

    Args:
        feature_layers: block indices 0–4 (→ relu1_2 … relu5_3) or layer names; ``()`` for none.
        style_layers: same, for the Gram (style) term; the reference default is none.
        resize: resize both inputs bilinearly to 224 × 224 first (the reference), or keep size.
        arch, weights, backbone: which VGG (``weights`` as in :func:`load_vgg`), or a ready
            :class:`VGGFeatures` to share between losses.
        layer_weights / style_weights: one weight per layer (default 1 each).
        criterion: ``"l1"`` (reference: mean absolute difference) or ``"mse"`` (1/N_l ‖Δφ‖²).
        pre_relu: block indices map to the last conv of each block instead of its ReLU.
        gram_norm: ``"none"`` (reference), ``"chw"`` or ``"gatys"`` — see :mod:`perceptual_viz.gram`.
        style_weight: multiplier of the whole style term.

    Inputs are (N, 3 or 1, H, W) in [0, 1]. The loss is differentiable with respect to both, runs
    one batched forward for the pair, follows ``.to(device)``, and is safe under ``torch.autocast``
    (distances and Grams are computed in fp32).

    >>> import torch
    >>> loss = PerceptualLoss(weights="untrained", resize=False)  # "auto": ImageNet if found
    >>> loss.feature_layers
    ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3']
    >>> x = torch.rand(1, 3, 32, 32, requires_grad=True)
    >>> value = loss(x, torch.rand(1, 3, 32, 32))
    >>> value.shape, value.item() > 0
    (torch.Size([]), True)
    >>> value.backward()
    >>> x.grad.shape
    torch.Size([1, 3, 32, 32])
    """

    def __init__(
        self,
        feature_layers: Sequence[int | str] = (0, 1, 2, 3),
        style_layers: Sequence[int | str] = (),
        resize: bool = True,
        *,
        arch: Arch = "vgg16",
        weights: str | os.PathLike[str] = "auto",
        backbone: VGGFeatures | None = None,
        layer_weights: Sequence[float] | None = None,
        style_weights: Sequence[float] | None = None,
        criterion: Criterion = "l1",
        pre_relu: bool = False,
        gram_norm: GramNorm = "none",
        style_weight: float = 1.0,
        resize_to: int = 224,
    ) -> None:
        super().__init__()
        self.backbone = backbone if backbone is not None else load_vgg(arch, weights, device="cpu")
        a = self.backbone.arch
        self.feature_layers = [resolve_layer(a, spec, pre_relu) for spec in feature_layers]
        self.style_layers = [resolve_layer(a, spec, pre_relu) for spec in style_layers]
        if not self.feature_layers and not self.style_layers:
            raise InputError("PerceptualLoss needs at least one feature or style layer")
        self.layer_weights = _weights(layer_weights, self.feature_layers, "layer_weights")
        self.style_weights = _weights(style_weights, self.style_layers, "style_weights")
        feature_distance(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), criterion)  # validates
        gram_distance(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1), gram_norm)
        self.criterion = criterion
        self.gram_norm = gram_norm
        self.style_weight = float(style_weight)
        self.resize = resize
        self.resize_to = int(resize_to)

    @property
    def status(self) -> WeightsStatus:
        """Where the backbone's weights came from (see :class:`WeightsStatus`)."""
        return self.backbone.status

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.shape != target.shape:
            raise InputError(f"input {tuple(input.shape)} and target {tuple(target.shape)} differ in shape")
        n = input.shape[0]
        x = torch.cat([input, target])
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if self.resize:
            x = F.interpolate(x, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False)
        feats = self.backbone(x, [*self.feature_layers, *self.style_layers])
        loss = x.new_zeros((), dtype=torch.float32)
        for name, w in zip(self.feature_layers, self.layer_weights, strict=True):
            f = feats[name]
            loss = loss + w * feature_distance(f[:n], f[n:], self.criterion).mean()
        for name, w in zip(self.style_layers, self.style_weights, strict=True):
            f = feats[name]
            loss = loss + self.style_weight * w * gram_distance(f[:n], f[n:], self.gram_norm).mean()
        return loss

    def extra_repr(self) -> str:
        return (
            f"arch={self.backbone.arch}, feature_layers={self.feature_layers}, "
            f"style_layers={self.style_layers}, criterion={self.criterion!r}, "
            f"gram_norm={self.gram_norm!r}, resize={self.resize}, weights={self.status.source}"
        )


def _weights(values: Sequence[float] | None, layers: list[str], what: str) -> list[float]:
    if values is None:
        return [1.0] * len(layers)
    if len(values) != len(layers):
        raise InputError(f"{what}: {len(values)} values for {len(layers)} layers")
    return [float(v) for v in values]
