"""The VGG architectures the package knows: one table, read by everything else.

Each :class:`ArchSpec` holds everything that differs between VGG16 and VGG19: the 3×3
convolutions of each of the five stages (torchvision's cfgs "D" and "E"), where torchvision's
ImageNet weights are downloaded from (and so the file name torch hub caches them under), the
Hugging Face repository and file that mirror the same weights, and whether LPIPS's linear
weights were calibrated on it. Layer names and block outputs (:mod:`.layers`), the modules built
and the weights found (:mod:`.backbone`), the command line's ``--arch`` choices, the app's
backbone radio and LPIPS's availability all derive from :data:`ARCHITECTURES`.

No torch here: the command line reads :data:`ARCHS` before any command runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeGuard

from .errors import InputError

Arch = Literal["vgg16", "vgg19"]

# Output channels of the five stages; the same in every VGG.
STAGE_CHANNELS = (64, 128, 256, 512, 512)


@dataclass(frozen=True)
class ArchSpec:
    """One VGG architecture: its layout and where its ImageNet weights can be found."""

    name: Arch
    convs_per_stage: tuple[int, ...]  # 3×3 convolutions in each of the 5 stages
    torchvision_url: str  # ``VGG16_Weights.IMAGENET1K_V1.url`` … (tests check they agree)
    hf_repo: str  # timm's mirror of torchvision's weights (the same features layout)
    hf_file: str = "model.safetensors"
    lpips: bool = False  # LPIPS-VGG's linear weights were calibrated on this network
    dists: bool = False  # so were DISTS's α and β
    content_layer: str = "relu3_3"  # style transfer's content layer (Gatys et al. used relu4_2 of VGG19)

    @property
    def torchvision_file(self) -> str:
        """The file name of torchvision's weights, as torch hub caches them (hash prefix included)."""
        return self.torchvision_url.rsplit("/", 1)[-1]

    @property
    def conv_count(self) -> int:
        """3×3 convolutions in ``features`` (13 for VGG16, 16 for VGG19)."""
        return sum(self.convs_per_stage)


ARCHITECTURES: dict[Arch, ArchSpec] = {
    "vgg16": ArchSpec(
        "vgg16",
        (2, 2, 3, 3, 3),
        "https://download.pytorch.org/models/vgg16-397923af.pth",
        "timm/vgg16.tv_in1k",
        lpips=True,
        dists=True,
    ),
    "vgg19": ArchSpec(
        "vgg19",
        (2, 2, 4, 4, 4),
        "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        "timm/vgg19.tv_in1k",
        content_layer="relu4_2",
    ),
}
ARCHS: tuple[Arch, ...] = tuple(ARCHITECTURES)  # the same as ``Arch`` (a test checks)


def is_arch(name: object) -> TypeGuard[Arch]:
    """Is ``name`` exactly the name of a known architecture (lower case)?"""
    return isinstance(name, str) and name in ARCHITECTURES


def check_arch(arch: str) -> Arch:
    """The architecture a user named (any case), or :class:`InputError` naming the choices.

    The one run-time check of an architecture name, called where a string comes in: the command
    line, the app, and the library's public functions.

    >>> check_arch("VGG16")
    'vgg16'
    >>> check_arch("resnet50")
    Traceback (most recent call last):
    ...
    perceptual_viz.errors.InputError: unknown architecture 'resnet50'; choose one of vgg16, vgg19
    """
    a = str(arch).lower()
    if not is_arch(a):
        raise InputError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return a


def spec(arch: str) -> ArchSpec:
    """The table entry of ``arch`` (checked with :func:`check_arch`)."""
    return ARCHITECTURES[check_arch(arch)]
