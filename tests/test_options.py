"""Every string option is declared once (perceptual_viz.options) and read from there: by the
library's run-time checks (same messages as before), the command line's choices and the app."""

from __future__ import annotations

import argparse
import importlib
from typing import get_args

import pytest

from perceptual_viz import cli, options
from perceptual_viz.errors import InputError


def _choices(command: str) -> dict[str, tuple[str, ...]]:
    ap = cli._parser(command)
    (sub,) = [a for a in ap._actions if isinstance(a, argparse._SubParsersAction)]
    return {a.dest: tuple(a.choices) for a in sub.choices[command]._actions if a.choices}


def test_each_tuple_is_its_literal():
    pairs = [
        (options.Criterion, options.CRITERIA),
        (options.GramNorm, options.GRAM_NORMS),
        (options.ResizeMode, options.RESIZE_MODES),
        (options.ChannelSort, options.CHANNEL_SORTS),
        (options.Scope, options.SCOPES),
        (options.WeightsSource, options.WEIGHTS_SOURCES),
        (options.ReconstructMode, options.RECONSTRUCT_MODES),
        (options.Task, options.TASKS),
        (options.LossName, options.LOSSES),
        (options.RankMetric, options.RANK_METRICS),
        (options.QuizMetric, options.QUIZ_METRICS),
    ]
    for literal, values in pairs:
        assert get_args(literal) == values


def test_the_modules_and_the_command_line_read_the_one_declaration():
    from perceptual_viz.figures import features as ff
    from perceptual_viz.lessons import equal_mse, reconstruct, train
    from perceptual_viz.quiz import agreement

    gram = importlib.import_module("perceptual_viz.gram")
    assert gram.GRAM_NORMS is options.GRAM_NORMS and set(gram.FORMULAS) == set(options.GRAM_NORMS)
    assert (ff.SORTS, ff.SCOPES) == (options.CHANNEL_SORTS, options.SCOPES)
    assert reconstruct.RECONSTRUCT_MODES is options.RECONSTRUCT_MODES
    assert (train.TASKS, train.LOSSES) == (options.TASKS, options.LOSSES)
    assert set(options.LOSSES) > train.VGG_LOSSES and set(train.DEFAULT_LOSSES) < set(options.LOSSES)
    assert equal_mse.RANK_METRICS is options.RANK_METRICS and agreement.METRICS is options.QUIZ_METRICS
    assert _choices("compare")["criterion"] == options.CRITERIA
    assert _choices("compare")["gram_norm"] == _choices("gram")["norm"] == options.GRAM_NORMS
    features = _choices("features")
    assert (features["sort"], features["scope"]) == (options.CHANNEL_SORTS, options.SCOPES)
    assert _choices("reconstruct")["mode"] == options.RECONSTRUCT_MODES


def test_user_strings_are_still_checked_at_run_time_with_the_same_messages():
    import torch

    from perceptual_viz.features import Resize
    from perceptual_viz.gram import gram
    from perceptual_viz.lessons.reconstruct import ReconstructSettings
    from perceptual_viz.lessons.train import TrainSettings
    from perceptual_viz.metrics import feature_distance
    from perceptual_viz.render import channel_grid

    f = torch.zeros(1, 2, 3, 3)
    with pytest.raises(InputError, match=r"^criterion must be 'l1' or 'mse', not 'L2'$"):
        feature_distance(f, f, "L2")
    with pytest.raises(InputError, match=r"^gram normalisation must be one of none, chw, gatys, not 'x'$"):
        gram(f, "x")
    with pytest.raises(InputError, match=r"^resize mode must be none, shorter or fixed, not 'crop'$"):
        Resize("crop")
    with pytest.raises(InputError, match=r"^scope must be 'channel' or 'layer', got 'all'$"):
        channel_grid(f[0], scope="all")
    modes = r"^unknown reconstruction mode 'style'; choose one of content, texture$"
    with pytest.raises(InputError, match=modes):
        ReconstructSettings(mode="style").resolved("vgg16", "cpu")
    with pytest.raises(InputError, match=r"^unknown task 'sr2'; choose one of sr4, denoise, deblur$"):
        TrainSettings(task="sr2").resolved("vgg16", "cpu")
    with pytest.raises(InputError, match=r"^unknown loss 'ssim'; choose from mse, l1, perceptual"):
        TrainSettings(losses="mse,ssim").resolved("vgg16", "cpu")
    with pytest.raises(InputError, match=r"^choose at least one loss of mse, l1"):
        TrainSettings(losses=()).resolved("vgg16", "cpu")
