"""Every string option of the library, once: a ``Literal`` type for the type checker and the
tuple of its values (derived from it) for run-time checks, menus and ``--help``.

A function that takes an option is typed with its ``Literal``, so a misspelt value in code is a
type error. Strings that come from a person (the command line, the app, a notebook) are still
checked at run time where they come in, with :func:`is_one_of`, and the message names the
choices. No torch here: the command line reads these tuples before any command runs.

Architectures (``"vgg16"``, ``"vgg19"``) have a table of their own: :mod:`.archs`.
"""

from __future__ import annotations

from typing import Literal, TypeGuard, TypeVar, get_args

T = TypeVar("T", bound=str)

# Distance of two feature maps: mean |Δφ| (the reference) or 1/N_l ‖Δφ‖² (size-normalised MSE).
Criterion = Literal["l1", "mse"]
CRITERIA: tuple[Criterion, ...] = get_args(Criterion)

# Gram normalisation (see :mod:`.gram`): raw (the reference), ÷ C·H·W, or Gatys' style distance.
GramNorm = Literal["none", "chw", "gatys"]
GRAM_NORMS: tuple[GramNorm, ...] = get_args(GramNorm)

# How images are resized before the network (see :class:`.features.Resize`).
ResizeMode = Literal["none", "shorter", "fixed"]
RESIZE_MODES: tuple[ResizeMode, ...] = get_args(ResizeMode)

# Order of the channels in a feature grid, and how its tiles are coloured.
ChannelSort = Literal["mean", "max", "index"]
CHANNEL_SORTS: tuple[ChannelSort, ...] = get_args(ChannelSort)
Scope = Literal["channel", "layer"]
SCOPES: tuple[Scope, ...] = get_args(Scope)

# Where a backbone's weights came from (:class:`.backbone.WeightsStatus`).
WeightsSource = Literal["file", "torch-hub-cache", "hf-cache", "download", "untrained"]
WEIGHTS_SOURCES: tuple[WeightsSource, ...] = get_args(WeightsSource)

# The reconstruction lesson: match features (inversion) or Gram matrices (texture).
ReconstructMode = Literal["content", "texture"]
RECONSTRUCT_MODES: tuple[ReconstructMode, ...] = get_args(ReconstructMode)

# Style transfer: where the optimised image starts (the content photo, or faint noise).
StyleInit = Literal["content", "noise"]
STYLE_INITS: tuple[StyleInit, ...] = get_args(StyleInit)

# The training lesson: what the networks learn, and the loss each network is trained with.
Task = Literal["sr4", "denoise", "deblur"]
TASKS: tuple[Task, ...] = get_args(Task)
LossName = Literal["mse", "l1", "perceptual", "perceptual+mse", "perceptual+style"]
LOSSES: tuple[LossName, ...] = get_args(LossName)

# The equal-MSE gallery's ranking metric (lower = less damaged).
RankMetric = Literal["LPIPS", "DISTS", "perceptual", "style", "1 − SSIM", "1 − MS-SSIM"]
RANK_METRICS: tuple[RankMetric, ...] = get_args(RankMetric)

# The quiz: the metrics whose picks are compared with the class's votes.
QuizMetric = Literal["mse", "ssim", "ms_ssim", "perceptual", "lpips", "dists"]
QUIZ_METRICS: tuple[QuizMetric, ...] = get_args(QuizMetric)

# Why a long optimisation stopped before its last step ("" = it did not).
StopReason = Literal["", "cancelled", "time limit"]


def is_one_of(value: object, choices: tuple[T, ...]) -> TypeGuard[T]:
    """Is ``value`` one of ``choices``? Narrows a ``str`` to the option's ``Literal``.

    >>> is_one_of("mse", CRITERIA), is_one_of("L1", CRITERIA)
    (True, False)
    """
    return isinstance(value, str) and value in choices
