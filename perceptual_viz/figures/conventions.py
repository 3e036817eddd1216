"""The Compare view's pair scored under the conventions people mix up ("why don't my numbers match?").

The app's panel under the Compare scores and ``compare --conventions`` of the command line both
call :func:`conventions` with the Compare view's own inputs, so they score the same pair.
"""

from __future__ import annotations

import dataclasses

from ..backbone import VGGFeatures
from ..conventions import ConventionScores, score_conventions
from ..features import FeatureCache
from . import Analysis
from .compare import _degraded


def conventions(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: Analysis,
    degraded: Analysis | None = None,
    degradation: str | None = None,
    strength: float | None = None,
    seed: int = 0,
) -> ConventionScores:
    """Clean vs degraded, as :func:`perceptual_viz.figures.compare.compare` makes the pair (an
    upload resized to the clean image, or ``degradation`` at ``strength``), under every
    convention of :mod:`perceptual_viz.conventions`; ``pair`` says what the degraded image is."""
    d, what, notes, _spec = _degraded(clean, degraded, degradation, strength, int(seed))
    res = score_conventions(model, clean.tensor, d.tensor, cache=cache, keys=(clean.key, d.key))
    return dataclasses.replace(res, pair=what, notes=(*notes, *res.notes))
