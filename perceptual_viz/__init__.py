"""Perceptual Loss Lab: VGG features, Gram matrices and image-quality metrics you can see.

Data flows one way: image → tensor (:mod:`.images`, :mod:`.features`) → activations
(:mod:`.backbone`) → numbers and maps (:mod:`.metrics`, :mod:`.gram`, :mod:`.compare`) →
pictures (:mod:`.render`) → figures (:mod:`.figures`, shared by the app and the command line).
:class:`PerceptualLoss` packages the loss for training code. The lessons' computations live in
:mod:`.lessons`; the Gradio app in :mod:`.ui` (the only part that needs Gradio).

The names below are imported on first use, so ``import perceptual_viz`` (and the command line's
``--help``) does not load torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "FeatureCache": "features",
    "InputError": "errors",
    "LayerInfo": "layers",
    "PairScores": "compare",
    "PerceptualLoss": "loss",
    "Resize": "features",
    "ScoreSettings": "compare",
    "VGGFeatures": "backbone",
    "WeightsError": "backbone",
    "WeightsStatus": "backbone",
    "block_outputs": "layers",
    "gram": "gram",
    "gram_distance": "gram",
    "image_key": "features",
    "layers": "layers",
    "load_vgg": "backbone",
    "lpips_vgg": "metrics",
    "mse": "metrics",
    "perceptual_distance": "metrics",
    "pick_device": "backbone",
    "prepare": "features",
    "psnr": "metrics",
    "score_pairs": "compare",
    "ssim": "metrics",
}

__all__ = [
    "FeatureCache",
    "InputError",
    "LayerInfo",
    "PairScores",
    "PerceptualLoss",
    "Resize",
    "ScoreSettings",
    "VGGFeatures",
    "WeightsError",
    "WeightsStatus",
    "block_outputs",
    "gram",
    "gram_distance",
    "image_key",
    "layers",
    "load_vgg",
    "lpips_vgg",
    "mse",
    "perceptual_distance",
    "pick_device",
    "prepare",
    "psnr",
    "score_pairs",
    "ssim",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from .backbone import VGGFeatures, WeightsError, WeightsStatus, load_vgg, pick_device
    from .compare import PairScores, ScoreSettings, score_pairs
    from .errors import InputError
    from .features import FeatureCache, Resize, image_key, prepare
    from .gram import gram, gram_distance
    from .layers import LayerInfo, block_outputs, layers
    from .loss import PerceptualLoss
    from .metrics import lpips_vgg, mse, perceptual_distance, psnr, ssim
