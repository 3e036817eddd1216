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

# The public names, once, by the module that defines them. ``__all__`` and the lazy lookup below
# derive from it; the TYPE_CHECKING imports at the end repeat it for type checkers and IDEs (which
# need literal imports), and tests/test_exports.py fails when the two differ.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "backbone": ("VGGFeatures", "WeightsError", "WeightsStatus", "load_vgg", "pick_device"),
    "compare": ("PairScores", "ScoreSettings", "score_pairs"),
    "errors": ("InputError",),
    "features": ("FeatureCache", "Resize", "image_key", "prepare"),
    "gram": ("gram", "gram_distance"),
    "layers": ("LayerInfo", "block_outputs", "layers"),
    "loss": ("PerceptualLoss",),
    "metrics": ("lpips_vgg", "ms_ssim", "mse", "perceptual_distance", "psnr", "ssim"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ``name as name`` is an explicit re-export (seen by type checkers in strict mode too); isort would
# put each on a line of its own.
if TYPE_CHECKING:
    from .backbone import VGGFeatures as VGGFeatures, WeightsError as WeightsError  # noqa: I001
    from .backbone import WeightsStatus as WeightsStatus, load_vgg as load_vgg, pick_device as pick_device
    from .compare import PairScores as PairScores, ScoreSettings as ScoreSettings, score_pairs as score_pairs
    from .errors import InputError as InputError
    from .features import FeatureCache as FeatureCache, Resize as Resize, image_key as image_key
    from .features import prepare as prepare
    from .gram import gram as gram, gram_distance as gram_distance
    from .layers import LayerInfo as LayerInfo, block_outputs as block_outputs, layers as layers
    from .loss import PerceptualLoss as PerceptualLoss
    from .metrics import lpips_vgg as lpips_vgg, mse as mse, perceptual_distance as perceptual_distance
    from .metrics import ms_ssim as ms_ssim, psnr as psnr, ssim as ssim
