"""Perceptual Loss Lab: VGG features, Gram matrices and image-quality metrics you can see.

Data flows one way: image → tensor (:mod:`.images`, :mod:`.features`) → activations
(:mod:`.backbone`) → numbers and maps (:mod:`.metrics`, :mod:`.gram`, :mod:`.compare`) →
pictures (:mod:`.render`). :class:`PerceptualLoss` packages the loss for training code.
"""

from .backbone import VGGFeatures, WeightsError, WeightsStatus, load_vgg, pick_device
from .compare import PairScores, ScoreSettings, score_pairs
from .features import FeatureCache, Resize, image_key, prepare
from .gram import gram, gram_distance
from .layers import LayerInfo, block_outputs, layers
from .loss import PerceptualLoss
from .metrics import lpips_vgg, mse, perceptual_distance, psnr, ssim

__version__ = "0.1.0"

__all__ = [
    "FeatureCache",
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
