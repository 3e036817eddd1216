"""Making a quiz round's trials: reproducible, equal MSE, one VGG pass each, pictures recomputed exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from perceptual_viz.compare import score_pairs
from perceptual_viz.errors import InputError
from perceptual_viz.images import to_pil
from perceptual_viz.lessons.equal_mse import DEFAULT_TOLERANCE, gallery_degradations, match_mse, mse_to_psnr
from perceptual_viz.messages import Text
from perceptual_viz.quiz.agreement import METRICS
from perceptual_viz.quiz.store import QuizStore
from perceptual_viz.quiz.trials import (
    make_trials,
    photo_names,
    reference,
    round_settings,
    trial_images,
    trial_tensors,
)

SIZE = 64  # small pictures keep each trial well under a second on a 2-core CPU


@pytest.fixture(scope="module")
def trials(vgg16):
    return make_trials(vgg16, 4, seed=11, size=SIZE)


def test_the_same_seed_gives_the_same_trials_pictures_and_order(vgg16, trials):
    again = make_trials(vgg16, 4, seed=11, size=SIZE)
    assert again == trials  # samples, distortions, left/right order and scores
    for t, u in zip(trials, again, strict=True):
        pt, pu = trial_tensors(t), trial_tensors(u)
        assert torch.equal(pt.a, pu.a) and torch.equal(pt.b, pu.b)
    other = make_trials(vgg16, 4, seed=12, size=SIZE)
    assert [(t.sample, t.a, t.b, t.swapped) for t in other] != [
        (t.sample, t.a, t.b, t.swapped) for t in trials
    ]


def test_both_sides_are_different_damage_at_the_same_mse(trials):
    for t in trials:
        assert t.a.degradation != t.b.degradation
        assert {t.a.degradation, t.b.degradation} <= set(gallery_degradations())
        assert t.sample in photo_names() and t.size == SIZE
        assert 20 - 1e-9 <= mse_to_psnr(t.target_mse) <= 30 + 1e-9
        for side, scores in ((t.a, t.scores_a), (t.b, t.scores_b)):
            if side.within:
                assert abs(side.mse - t.target_mse) <= DEFAULT_TOLERANCE * t.target_mse
            else:
                assert side.note  # match_mse says why it missed
            assert scores["mse"] == pytest.approx(side.mse, rel=1e-5)
            assert set(scores) == set(METRICS)
        if t.a.within and t.b.within:
            assert abs(t.a.mse - t.b.mse) <= 2 * DEFAULT_TOLERANCE * t.target_mse


def test_each_trial_is_scored_in_one_vgg_pass(vgg16):
    before = vgg16.forward_count
    made = make_trials(vgg16, 3, seed=5, size=SIZE)
    assert vgg16.forward_count - before == 3
    assert all(isinstance(t.scores_a["perceptual"], float) for t in made)


def test_the_left_right_order_is_random_and_recorded(vgg16):
    made = make_trials(
        vgg16, 8, seed=2, size=32, degradations=["brightness", "noise"], images=["chelsea.png"]
    )
    assert {t.swapped for t in made} == {False, True}
    for t in made:  # the recorded flag says which of the (alphabetical) pair is shown as A
        first, second = sorted((t.a.degradation, t.b.degradation))
        assert (t.a.degradation, t.b.degradation) == ((second, first) if t.swapped else (first, second))


def test_regenerated_pictures_are_the_ones_that_were_scored(vgg16, trials):
    for t in trials:
        pics = trial_tensors(t)
        ref = reference(t.sample, t.size)
        assert torch.equal(pics.reference, ref)
        for side, img in ((t.a, pics.a), (t.b, pics.b)):
            matched = match_mse(ref, side.degradation, t.target_mse, seed=t.seed)  # what make_trials scored
            assert torch.equal(img, matched.image)
            assert matched.strength == side.strength
        rescored = score_pairs(vgg16, pics.reference, torch.cat([pics.a, pics.b])).scores
        for s, stored in zip(rescored, (t.scores_a, t.scores_b), strict=True):
            assert s.perceptual_total == pytest.approx(stored["perceptual"], rel=1e-6)
            assert s.ssim == pytest.approx(stored["ssim"], rel=1e-6)
            assert (s.lpips is None) == (stored["lpips"] is None)
        ref_img, a_img, b_img = trial_images(t)
        assert a_img.size == (SIZE, SIZE)
        assert np.array_equal(np.asarray(a_img), np.asarray(to_pil(pics.a)))
        assert np.array_equal(np.asarray(b_img), np.asarray(to_pil(pics.b)))
        assert np.array_equal(np.asarray(ref_img), np.asarray(to_pil(pics.reference)))


def test_display_enlargement_repeats_pixels(trials):
    t = trials[0]
    _, a_small, _ = trial_images(t)
    _, a_big, _ = trial_images(t, size=2 * SIZE)
    big = np.asarray(a_big)
    assert a_big.size == (2 * SIZE, 2 * SIZE)
    assert np.array_equal(big[::2, ::2], np.asarray(a_small))
    with pytest.raises(InputError, match="multiple"):
        trial_images(t, size=SIZE + 10)


def test_restrictions_are_honoured(vgg16):
    made = make_trials(vgg16, 3, seed=9, size=32, degradations=["blur", "jpeg"], images=["coffee.png"])
    assert all(t.sample == "coffee.png" for t in made)
    assert all({t.a.degradation, t.b.degradation} == {"blur", "jpeg"} for t in made)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"degradations": ["blur", "smudge"]}, "unknown degradation 'smudge'"),
        ({"degradations": ["blur"]}, "at least 2 degradations"),
        ({"degradations": ["blur", "blur", "noise"]}, "more than once"),
        ({"images": ["nope.png"]}, "unknown image 'nope.png'"),
        ({"images": "chelsea.png"}, "list of names"),
        ({"images": []}, "at least 1 image,"),
        ({"size": 16}, "between 32 and 512"),
        ({"psnr_range": (30, 20)}, "PSNR range"),
        ({"n_trials": 0}, "between 1 and 50"),
        ({"n_trials": 10_000}, "between 1 and 50"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_requests_are_refused_before_any_work(vgg16, kwargs, message):
    args = {"n_trials": 2, "seed": 0, "size": SIZE, **kwargs}
    before = vgg16.forward_count
    with pytest.raises(InputError, match=message):
        make_trials(vgg16, args.pop("n_trials"), args.pop("seed"), **args)
    assert vgg16.forward_count == before


def test_progress_is_reported_and_may_stop_the_work(vgg16):
    calls: list[tuple[float, Text]] = []
    make_trials(vgg16, 3, seed=1, size=32, progress=lambda f, desc="": calls.append((f, desc)))
    assert [f for f, _ in calls] == pytest.approx([0, 1 / 3, 2 / 3])
    assert str(calls[0][1]) == "making trial 1 of 3"  # a message, worded where it is shown

    class Stop(Exception):
        pass

    def stop_after_first(fraction: float, desc: str = "") -> None:
        if fraction > 0:
            raise Stop

    before = vgg16.forward_count
    with pytest.raises(Stop):
        make_trials(vgg16, 3, seed=1, size=32, progress=stop_after_first)
    assert vgg16.forward_count - before == 1


def test_a_round_of_made_trials_round_trips_through_the_store(vgg16, trials, tmp_path: Path):
    settings = round_settings(vgg16, size=SIZE)
    json.dumps(settings, allow_nan=False)
    with QuizStore(tmp_path / "quiz.sqlite3") as store:
        code = store.create_round(len(trials), 11, trials, settings)
        stored = store.trials(code)
        assert store.round_info(code).settings == settings
    for given, got in zip(trials, stored, strict=True):
        assert (got.sample, got.size, got.seed, got.a, got.b, got.swapped) == (
            given.sample,
            given.size,
            given.seed,
            given.a,
            given.b,
            given.swapped,
        )
        assert dict(got.scores_a) == dict(given.scores_a) and dict(got.scores_b) == dict(given.scores_b)
        assert got.target_mse == given.target_mse
        assert torch.equal(trial_tensors(got).a, trial_tensors(given).a)
