"""How one number of a feature map is made: the arithmetic of one unit, as CNN Explainer shows it.

A unit of a conv layer is ``bias + Σ_c Σ_{3×3} kernel[c] · input[c]`` over every input channel c
and the 3×3 window around it (zero outside the map: the convolutions pad by 1); its ReLU keeps
that sum when positive and makes it 0 otherwise. For conv1_1 the input is the image itself,
ImageNet-normalised, so its three channels are R, G and B. A pool unit is the largest of the 2×2
units under it. :func:`unit_sum` gives every term of that arithmetic, read from the model's own
weights and the image's cached activations, so the terms add up to the value the layer shows.

>>> import torch
>>> from perceptual_viz.backbone import load_vgg
>>> from perceptual_viz.features import FeatureCache, image_key
>>> model, x = load_vgg("vgg16", weights="untrained", device="cpu"), torch.rand(1, 3, 32, 32)
>>> u = unit_sum(model, FeatureCache(), x, image_key(x), "relu1_1", channel=5, row=4, col=7)
>>> u.source, len(u.terms)
('image', 3)
>>> abs(u.bias + sum(t.value for t in u.terms) - u.pre_activation) < 1e-5
True
>>> u.value == max(u.pre_activation, 0.0)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .backbone import VGGFeatures
from .errors import InputError
from .features import FeatureCache, layer_activations
from .layers import LayerInfo
from .messages import msg

IMAGE = "image"  # the source of conv1_1: the ImageNet-normalised RGB image


@dataclass(frozen=True)
class Term:
    """What one input channel adds to a conv unit: its 3×3 patch times the kernel's slice."""

    channel: int  # input channel (for conv1_1: 0 = R, 1 = G, 2 = B)
    patch: np.ndarray  # (3, 3) input values around the unit, zero outside the map
    kernel: np.ndarray  # (3, 3) weights of this input channel for this output channel
    value: float  # Σ patch · kernel

    @property
    def products(self) -> np.ndarray:
        """The nine products whose sum is :attr:`value`."""
        return self.patch * self.kernel


@dataclass(frozen=True)
class UnitSum:
    """The arithmetic of unit (``row``, ``col``) of ``channel`` of ``layer``.

    ``conv``: the conv layer that computes it; ``source``: that conv's input (:data:`IMAGE` or a
    layer name); ``terms``: one per input channel, largest contribution (by size) first;
    ``pre_activation`` = ``bias`` + Σ terms = the conv's output; ``value``: the unit as the layer
    shows it (after the ReLU for a relu layer; for a pool layer, the largest of ``window``)."""

    layer: str
    channel: int
    row: int
    col: int
    conv: str
    source: str
    bias: float
    terms: tuple[Term, ...]
    pre_activation: float
    value: float
    window: tuple[float, ...] = ()  # a pool unit: the 2×2 values it takes the largest of
    kept: tuple[int, int] | None = None  # a pool unit: (row, col) of the relu unit it keeps

    def top(self, k: int) -> tuple[tuple[Term, ...], float]:
        """The ``k`` largest terms, and the sum of all the others."""
        return self.terms[:k], float(sum(t.value for t in self.terms[k:]))


def unit_sum(
    model: VGGFeatures,
    cache: FeatureCache,
    x: torch.Tensor,
    key: str,
    layer: str,
    channel: int,
    row: int,
    col: int,
) -> UnitSum:
    """Every term of unit (``row``, ``col``) of ``channel`` of ``layer`` for image ``x`` (1, 3, H, W
    in [0, 1], cache key ``key``); a pool unit is explained through the relu unit it keeps."""
    info = model.info(layer)
    if info.kind == "pool":
        return _pool_unit(model, cache, x, key, info, channel, row, col)
    conv = _conv_of(model, info)
    out = layer_activations(model, cache, x, key, [info.name])[info.name][0]
    _check_unit(info.name, out, channel, row, col)
    terms, bias = _terms(model, cache, x, key, conv, channel, row, col)
    pre = bias + float(sum(t.value for t in terms))
    value = max(pre, 0.0) if info.kind == "relu" else pre
    ordered = tuple(sorted(terms, key=lambda t: -abs(t.value)))
    return UnitSum(info.name, channel, row, col, conv.name, _source(model, conv), bias, ordered, pre, value)


def _conv_of(model: VGGFeatures, info: LayerInfo) -> LayerInfo:
    """The conv layer that computes ``info`` (itself, or the conv under its ReLU)."""
    return info if info.kind == "conv" else model.layers[info.index - 1]


def _source(model: VGGFeatures, conv: LayerInfo) -> str:
    return IMAGE if conv.index == 0 else model.layers[conv.index - 1].name


def _check_unit(layer: str, out: torch.Tensor, channel: int, row: int, col: int) -> None:
    c, h, w = out.shape
    if not 0 <= channel < c:
        raise InputError(
            msg("{layer} has channels 0..{last}; got {index}", layer=layer, last=c - 1, index=channel)
        )
    if not (0 <= row < h and 0 <= col < w):
        raise InputError(
            msg(
                "unit ({x}, {y}) is outside the {w}×{h} map of {layer}",
                x=col,
                y=row,
                w=w,
                h=h,
                layer=layer,
            )
        )


def _terms(
    model: VGGFeatures,
    cache: FeatureCache,
    x: torch.Tensor,
    key: str,
    conv: LayerInfo,
    ch: int,
    row: int,
    col: int,
) -> tuple[list[Term], float]:
    """One term per input channel of ``conv``'s unit, and its bias (fp64 sums of fp32 values)."""
    module = model.features[conv.index]
    assert isinstance(module, nn.Conv2d)
    if conv.index == 0:
        source = model.normalize(x.to(model.device))[0]
    else:
        name = model.layers[conv.index - 1].name
        source = layer_activations(model, cache, x, key, [name])[name][0]
    padded = torch.nn.functional.pad(source.float(), (1, 1, 1, 1))
    patches = padded[:, row : row + 3, col : col + 3].detach().to("cpu", torch.float64).numpy()
    kernels = module.weight[ch].detach().to("cpu", torch.float64).numpy()
    bias = float(module.bias[ch]) if module.bias is not None else 0.0
    terms = [
        Term(c, patches[c], kernels[c], float((patches[c] * kernels[c]).sum()))
        for c in range(patches.shape[0])
    ]
    return terms, bias


def _pool_unit(
    model: VGGFeatures,
    cache: FeatureCache,
    x: torch.Tensor,
    key: str,
    info: LayerInfo,
    ch: int,
    row: int,
    col: int,
) -> UnitSum:
    """A pool unit: the largest of the 2×2 relu units under it, and that unit's own arithmetic."""
    out = layer_activations(model, cache, x, key, [info.name])[info.name][0]
    _check_unit(info.name, out, ch, row, col)
    below = model.layers[info.index - 1].name
    relu = layer_activations(model, cache, x, key, [below])[below][0, ch]
    window = relu[2 * row : 2 * row + 2, 2 * col : 2 * col + 2]
    flat = window.reshape(-1)
    best = int(flat.argmax())
    r, c = 2 * row + best // window.shape[1], 2 * col + best % window.shape[1]
    inner = unit_sum(model, cache, x, key, below, ch, r, c)
    values = tuple(float(v) for v in flat)
    return UnitSum(
        info.name,
        ch,
        row,
        col,
        inner.conv,
        inner.source,
        inner.bias,
        inner.terms,
        inner.pre_activation,
        inner.value,
        values,
        (r, c),
    )
