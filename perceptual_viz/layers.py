"""Standard names for every layer of torchvision's VGG16/VGG19 ``features``.

Each layer gets the name used in the literature (conv1_1, relu1_1, …, pool5), its index in
``torchvision.models.vgg16().features``, its channel count, its block (1–5), and its receptive
field and stride in input pixels. Blocks are sliced as in the reference perceptual loss:
block 1 = ``features[:4]`` (→ relu1_2), block 2 = ``features[4:9]`` (→ relu2_2), … so a pool
layer belongs to the block that follows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .archs import ARCHITECTURES, ARCHS, STAGE_CHANNELS, Arch, check_arch
from .errors import InputError

Kind = Literal["conv", "relu", "pool"]


@dataclass(frozen=True)
class LayerInfo:
    """One module of ``vgg.features`` with its standard name."""

    name: str  # e.g. "relu3_3"
    index: int  # position in torchvision's ``features`` Sequential
    kind: Kind
    block: int  # 1..5, reference slicing (pool_k belongs to block k+1; pool5 to block 5)
    channels: int
    receptive_field: int  # side of the input square that influences one output pixel
    stride: int  # input pixels between neighbouring output pixels

    @property
    def downsample(self) -> int:
        """Alias of ``stride``: a map of this layer is ``H / downsample`` pixels high."""
        return self.stride

    def centre(self, i: int) -> float:
        """Input coordinate of the centre of unit ``i`` along one axis.

        3×3 convolutions (padding 1) keep centres; a 2×2 pool's unit i covers units 2i and
        2i+1 below it. So unit i of a layer with stride s owns input pixels s·i … s·i + s − 1
        and is centred at s·i + (s − 1) / 2.
        """
        return self.stride * i + (self.stride - 1) / 2

    def cell_of(self, x: float, y: float, map_hw: tuple[int, int]) -> tuple[int, int]:
        """(row, column) of the unit of a ``map_hw`` map whose own stride × stride block of
        input pixels holds pixel (x, y) (clipped to the map: pools drop a trailing odd pixel)."""
        h, w = map_hw
        return min(max(int(y) // self.stride, 0), h - 1), min(max(int(x) // self.stride, 0), w - 1)

    def rf_box(self, row: int, col: int, image_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """The receptive field of unit (row, col) as an (x0, y0, x1, y1) box of input pixels,
        inclusive, clipped to an image of ``image_hw``."""
        r = (self.receptive_field - 1) / 2
        cy, cx = self.centre(row), self.centre(col)
        h, w = image_hw
        return (
            max(0, math.floor(cx - r)),
            max(0, math.floor(cy - r)),
            min(w - 1, math.ceil(cx + r)),
            min(h - 1, math.ceil(cy + r)),
        )


def _build(arch: Arch) -> tuple[LayerInfo, ...]:
    layers: list[LayerInfo] = []
    rf, jump, index = 1, 1, 0
    stages = zip(ARCHITECTURES[arch].convs_per_stage, STAGE_CHANNELS, strict=True)
    for stage, (n_conv, ch) in enumerate(stages, start=1):
        for i in range(1, n_conv + 1):
            rf += 2 * jump  # 3×3 conv, stride 1
            layers.append(LayerInfo(f"conv{stage}_{i}", index, "conv", stage, ch, rf, jump))
            layers.append(LayerInfo(f"relu{stage}_{i}", index + 1, "relu", stage, ch, rf, jump))
            index += 2
        rf += jump  # 2×2 max-pool, stride 2
        jump *= 2
        block = min(stage + 1, 5)
        layers.append(LayerInfo(f"pool{stage}", index, "pool", block, ch, rf, jump))
        index += 1
    return tuple(layers)


_LAYERS: dict[Arch, tuple[LayerInfo, ...]] = {a: _build(a) for a in ARCHS}


def layers(arch: Arch = "vgg16") -> tuple[LayerInfo, ...]:
    """All named layers of ``arch`` in forward order."""
    return _LAYERS[check_arch(arch)]


def layer(arch: Arch, name: str) -> LayerInfo:
    """The layer called ``name`` (e.g. ``"relu3_3"``); ``ValueError`` with the valid names.

    >>> info = layer("vgg16", "relu3_3")
    >>> info.index, info.channels, info.receptive_field, info.stride
    (15, 256, 40, 4)
    """
    for info in layers(arch):
        if info.name == name:
            return info
    valid = ", ".join(i.name for i in layers(arch))
    raise InputError(f"{arch} has no layer {name!r}; valid names: {valid}")


def block_outputs(arch: Arch = "vgg16", pre_relu: bool = False) -> tuple[str, ...]:
    """The last ReLU (or, with ``pre_relu``, the last conv) of each of the 5 blocks.

    vgg16 → relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (the reference slicing);
    vgg19 → relu1_2, relu2_2, relu3_4, relu4_4, relu5_4.

    >>> block_outputs("vgg16")
    ('relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3')
    >>> block_outputs("vgg16", pre_relu=True)[2]
    'conv3_3'
    """
    out = []
    for stage, n_conv in enumerate(ARCHITECTURES[check_arch(arch)].convs_per_stage, start=1):
        out.append(f"{'conv' if pre_relu else 'relu'}{stage}_{n_conv}")
    return tuple(out)


def resolve_layer(arch: Arch, spec: int | str, pre_relu: bool = False) -> str:
    """A layer name from a block index (0–4, as ``feature_layers`` in the reference) or a name."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        outs = block_outputs(arch, pre_relu=pre_relu)
        if not 0 <= spec < len(outs):
            raise InputError(f"block index {spec} out of range 0..{len(outs) - 1}")
        return outs[spec]
    return layer(arch, str(spec)).name
