"""Equal-MSE matching and the gallery: tolerance, closest integers, honest notes, one forward pass."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from perceptual_viz.compare import ScoreSettings, score_pairs
from perceptual_viz.degrade import DEGRADATIONS, degrade
from perceptual_viz.features import FeatureCache, Resize, prepare
from perceptual_viz.lessons.equal_mse import (
    DEFAULT_TOLERANCE,
    RANK_METRICS,
    Gallery,
    equal_mse,
    gallery,
    gallery_degradations,
    match_mse,
    mse_to_psnr,
    psnr_to_mse,
)

from .support import to_tensor

GALLERY_DEGRADATIONS = gallery_degradations()

CONTINUOUS = ("brightness", "contrast", "noise", "blur", "saltpepper")
TABLE_COLUMNS = [
    "rank",
    "degradation",
    "strength",
    "MSE",
    "PSNR",
    "SSIM",
    "MS-SSIM",
    "perceptual",
    "style",
    "LPIPS",
    "DISTS",
    "within tolerance",
    "note",
]


@pytest.fixture(scope="module")
def clean(photos):
    return prepare(to_tensor(photos["astronaut"]), Resize.parse("96"))  # (1, 3, 96, 96)


@pytest.fixture(scope="module")
def coffee(photos):
    return prepare(to_tensor(photos["coffee"]), Resize.parse("96"))  # (1, 3, 96, 144)


def np_mse(a: torch.Tensor, b: torch.Tensor) -> float:
    """Independent MSE in float64 numpy (not perceptual_viz.metrics.mse)."""
    x, y = (t.detach().numpy().astype(np.float64) for t in (a, b))
    return float(np.mean((x - y) ** 2))


def closeness(mse: float, target: float, tol: float = DEFAULT_TOLERANCE) -> tuple[bool, float]:
    """The documented order: within tolerance first, then |log(MSE / target)|."""
    return (abs(mse - target) > tol * target, abs(math.log(mse / target)) if mse > 0 else math.inf)


# --------------------------------------------------------------------------- PSNR ↔ MSE


def test_psnr_mse_conversion():
    assert mse_to_psnr(0.01) == pytest.approx(20.0, abs=1e-12)
    assert psnr_to_mse(20.0) == pytest.approx(0.01, rel=1e-12)
    assert mse_to_psnr(1.0) == pytest.approx(0.0, abs=1e-12)
    assert psnr_to_mse(40.0) == pytest.approx(1e-4, rel=1e-12)
    for m in (1e-6, 3.7e-4, 0.002, 0.05, 0.25):
        assert psnr_to_mse(mse_to_psnr(m)) == pytest.approx(m, rel=1e-12)
    assert math.isinf(mse_to_psnr(0.0)) and psnr_to_mse(math.inf) == 0.0
    with pytest.raises(ValueError, match=">= 0"):
        mse_to_psnr(-0.1)
    with pytest.raises(ValueError):
        psnr_to_mse(float("nan"))


# --------------------------------------------------------------------------- continuous search


@pytest.mark.parametrize("name", CONTINUOUS)
@pytest.mark.parametrize("target", [0.002, 0.01])
def test_continuous_degradation_lands_within_tolerance(clean, name, target):
    m = match_mse(clean, name, target)
    achieved = np_mse(m.image, clean)
    assert abs(achieved - target) <= DEFAULT_TOLERANCE * target, (name, m.strength, achieved)
    assert m.within and m.note == ""
    assert m.mse == pytest.approx(achieved, rel=1e-5)
    assert m.target == target and m.name == name
    # The reported strength is exactly what made the returned image.
    assert torch.equal(m.image, degrade(clean, name, m.strength, seed=0))
    lo, hi = sorted(DEGRADATIONS[name].search)
    assert lo < m.strength <= hi
    assert 1 <= m.evaluations <= 15
    assert m.image.shape == clean.shape and m.image.dtype == clean.dtype


def test_continuous_search_on_a_second_photo_and_a_tight_tolerance(coffee):
    for name in CONTINUOUS:
        m = match_mse(coffee, name, 0.005, tolerance=0.005)
        assert abs(np_mse(m.image, coffee) - 0.005) <= 0.005 * 0.005, (name, m.mse)
        assert m.within and m.evaluations <= 20


def test_contrast_is_searched_as_a_stretch(clean):
    m = match_mse(clean, "contrast", 0.005)
    assert m.strength > 1  # factor > 1: stretched, not flattened
    assert m.image.std() > clean.std()


# --------------------------------------------------------------------------- integer search


@pytest.fixture(scope="module")
def brute(clean):
    """MSE of every integer strength in the searched interval (plain torch)."""
    out = {}
    for name in ("jpeg", "shift"):
        lo, hi = sorted(DEGRADATIONS[name].search)
        out[name] = {
            s: float(((degrade(clean, name, float(s)) - clean) ** 2).double().mean())
            for s in range(int(lo), int(hi) + 1)
        }
    return out


@pytest.mark.parametrize(
    ("name", "target"),
    [("jpeg", 0.0005), ("jpeg", 0.002), ("jpeg", 0.005), ("shift", 0.002), ("shift", 0.01), ("shift", 0.05)],
)
def test_integer_degradation_returns_the_closest_achievable(clean, brute, name, target):
    values = brute[name]
    m = match_mse(clean, name, target)
    assert m.strength == int(m.strength)
    best = min(closeness(v, target) for v in values.values())
    # Several integers can tie to float precision; the one returned must be one of the best.
    ties = {s for s, v in values.items() if np.allclose(closeness(v, target), best, rtol=1e-5, atol=1e-9)}
    assert int(m.strength) in ties, (m.strength, ties)
    assert m.mse == pytest.approx(values[int(m.strength)], rel=1e-5)
    assert m.mse == pytest.approx(np_mse(m.image, clean), rel=1e-5)
    within = abs(values[int(m.strength)] - target) <= DEFAULT_TOLERANCE * target
    assert m.within == within
    if within:
        assert m.note == ""
    else:
        unit = "px" if name == "shift" else "quality"
        note = str(m.note)
        assert note.startswith("integer ") and "closest achievable" in note and unit in note
        assert f"{int(m.strength)}" in note
    assert m.evaluations <= 15


def test_shift_far_below_one_pixel_says_so(clean, brute):
    target = 0.002  # one pixel of shift already gives ~0.017 on this image
    m = match_mse(clean, "shift", target)
    assert m.strength == 1 and not m.within
    assert str(m.note).startswith("integer pixels: closest achievable is 1 px") and "+" in str(m.note)


# --------------------------------------------------------------------------- unreachable


@pytest.mark.parametrize(("name", "strongest"), [("contrast", 3.0), ("blur", 20.0), ("jpeg", (1.0, 2.0))])
def test_unreachable_target_returns_strongest_setting_with_note(clean, name, strongest):
    target = 0.2
    m = match_mse(clean, name, target)
    allowed = strongest if isinstance(strongest, tuple) else (strongest,)
    assert m.strength in allowed
    assert not m.within and m.mse < target
    assert str(m.note).startswith("unreachable") and f"{target:.4g}" in str(m.note)
    assert m.mse == pytest.approx(np_mse(degrade(clean, name, m.strength), clean), rel=1e-5)
    assert m.evaluations <= 5


def test_target_below_the_mildest_jpeg(clean):
    mildest = np_mse(degrade(clean, "jpeg", 95), clean)
    m = match_mse(clean, "jpeg", mildest / 10)
    assert m.strength == 95 and not m.within
    assert str(m.note).startswith("unreachable: even the mildest setting (quality 95)")


@pytest.mark.parametrize("name", ["blur", "contrast", "shift", "jpeg"])
def test_flat_image_cannot_reach_target(name):
    flat = torch.full((1, 3, 40, 40), 0.5)
    m = match_mse(flat, name, 0.01)
    assert not m.within and str(m.note).startswith("unreachable")
    assert m.mse < 0.01 and m.evaluations <= 10


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_mse": 0.0}, r"target MSE must be in \(0, 0.25\]"),
        ({"target_mse": -0.01}, "target MSE"),
        ({"target_mse": 0.3}, "target MSE"),
        ({"target_mse": float("nan")}, "target MSE"),
        ({"target_mse": "lots"}, "target MSE must be a number"),
        ({"tolerance": 0.0}, "tolerance"),
        ({"tolerance": 0.6}, r"tolerance .* \(0, 0.5\]"),
        ({"names": ["blur", "downup"]}, "unknown degradation 'downup'.*valid names: noise, blur"),
        ({"names": ["nope"]}, "unknown degradation 'nope'"),
        ({"names": []}, "no degradations"),
        ({"names": ["blur", "blur"]}, "more than once: blur"),
    ],
)
def test_bad_inputs_raise_clear_errors(clean, kwargs, message):
    args = {"target_mse": 0.01, **kwargs}
    with pytest.raises(ValueError, match=message):
        equal_mse(clean, **args)


@pytest.mark.parametrize(
    "bad",
    [
        torch.rand(3, 32, 32),
        torch.rand(2, 3, 32, 32),
        torch.rand(1, 1, 32, 32),
        torch.zeros(1, 3, 32, 32).long(),
    ],
)
def test_bad_clean_image_raises(bad):
    with pytest.raises(ValueError, match="clean must be"):
        match_mse(bad, "noise", 0.01)


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_clean_values_outside_unit_range_raise(clean, value):
    bad = clean.clone()
    bad[0, 0, 0, 0] = value
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        equal_mse(bad, 0.01)


def test_bad_match_arguments(clean):
    with pytest.raises(ValueError, match="unknown degradation 'quantize'"):
        match_mse(clean, "quantize", 0.01)
    with pytest.raises(ValueError, match="max_evals"):
        match_mse(clean, "noise", 0.01, max_evals=1)


def test_gallery_rejects_bad_rank_by_before_any_work(vgg16, clean):
    n = vgg16.forward_count
    with pytest.raises(ValueError, match="rank_by must be one of 'LPIPS'"):
        gallery(vgg16, clean, 0.01, rank_by="MSE")
    assert vgg16.forward_count == n


def test_max_evals_is_respected_and_reported(clean):
    m = match_mse(clean, "blur", 0.0005, max_evals=2)
    assert m.evaluations <= 2
    assert m.within or str(m.note).startswith("search stopped after")


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_results(clean):
    a = equal_mse(clean, 0.005, seed=3)
    b = equal_mse(clean, 0.005, seed=3)
    assert [m.name for m in a] == list(GALLERY_DEGRADATIONS)
    for x, y in zip(a, b, strict=True):
        assert x.strength == y.strength and x.evaluations == y.evaluations and x.note == y.note
        assert torch.equal(x.image, y.image)


@pytest.mark.parametrize("name", ["noise", "saltpepper"])
def test_other_seed_other_image_still_within(clean, name):
    a = match_mse(clean, name, 0.005, seed=0)
    b = match_mse(clean, name, 0.005, seed=1)
    assert not torch.equal(a.image, b.image)
    assert b.within and abs(np_mse(b.image, clean) - 0.005) <= DEFAULT_TOLERANCE * 0.005


# --------------------------------------------------------------------------- gallery


def _ranked_values(g: Gallery, metric: str) -> list[float]:
    get = {
        "LPIPS": lambda s: s.lpips,
        "perceptual": lambda s: s.perceptual_total,
        "style": lambda s: s.style_total,
        "1 − SSIM": lambda s: 1 - s.ssim,
        "DISTS": lambda s: s.dists,
        "1 − MS-SSIM": lambda s: None if s.ms_ssim is None else 1 - s.ms_ssim,
    }[metric]
    return [get(e.scores) for e in g.entries]


def test_gallery_one_forward_ranked_and_serialisable(vgg16, clean):
    calls = []
    n = vgg16.forward_count
    g = gallery(vgg16, clean, 0.005, progress=lambda frac, desc="": calls.append((frac, desc)))
    assert vgg16.forward_count == n + 1

    assert [str(d) for _, d in calls] == [f"matching {name}" for name in GALLERY_DEGRADATIONS]
    fracs = [f for f, _ in calls]
    assert fracs == sorted(fracs) and fracs[0] >= 0 and fracs[-1] < 1

    assert sorted(e.match.name for e in g.entries) == sorted(GALLERY_DEGRADATIONS)
    assert g.target_mse == 0.005 and g.tolerance == DEFAULT_TOLERANCE and g.device == "cpu"
    assert g.rank_by in ("LPIPS", "perceptual")  # perceptual only if the lpips package is missing
    values = _ranked_values(g, g.rank_by)
    assert all(v is not None for v in values) and values == sorted(values)

    # Scores equal a separate score_pairs call on the same images.
    ref = score_pairs(vgg16, clean, torch.cat([e.match.image for e in g.entries])).scores
    for e, r in zip(g.entries, ref, strict=True):
        assert e.scores.mse == pytest.approx(r.mse, rel=1e-5)
        assert e.scores.ssim == pytest.approx(r.ssim, rel=1e-5)
        assert e.scores.perceptual_total == pytest.approx(r.perceptual_total, rel=1e-5)
        assert e.scores.style_total == pytest.approx(r.style_total, rel=1e-5)
        assert (e.scores.lpips is None) == (r.lpips is None)
        if r.lpips is not None:
            assert e.scores.lpips == pytest.approx(r.lpips, rel=1e-5)
        assert e.match.mse == pytest.approx(e.scores.mse, rel=1e-5)

    t = g.table()
    assert [str(c) for c in t.columns] == TABLE_COLUMNS  # the headers in English
    assert len(t.rows) == 7 and all(len(r) == len(TABLE_COLUMNS) for r in t.rows)
    assert t.column("rank") == list(range(1, 8))
    assert t.column("degradation") == [e.match.label for e in g.entries]
    assert t.column("PSNR") == pytest.approx([mse_to_psnr(e.match.mse) for e in g.entries])
    assert t.column("within tolerance") == [e.match.within for e in g.entries]

    d = g.as_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["target_mse"] == 0.005 and back["tolerance"] == DEFAULT_TOLERANCE
    assert back["rank_by"] == g.rank_by and len(back["entries"]) == 7
    first = back["entries"][0]
    assert first["rank"] == 1 and first["name"] == g.entries[0].match.name
    assert {"strength", "mse", "within", "note", "evaluations", "param", "label", "scores"} <= set(first)
    assert first["scores"]["ssim"] == pytest.approx(g.entries[0].scores.ssim)


@pytest.mark.parametrize("metric", ["1 − SSIM", "style", "DISTS"])
def test_gallery_ranks_by_the_chosen_metric(vgg16, clean, metric):
    assert metric in RANK_METRICS
    g = gallery(vgg16, clean, 0.005, names=("noise", "blur", "jpeg", "brightness"), rank_by=metric)
    assert g.rank_by == metric and not g.notes
    values = _ranked_values(g, metric)
    assert values == sorted(values)
    assert len(values) == 4


def test_gallery_without_lpips_falls_back_to_perceptual(vgg16, clean):
    g = gallery(vgg16, clean, 0.005, names=("noise", "blur", "shift"), settings=ScoreSettings(lpips=False))
    assert g.rank_by == "perceptual"
    assert any("perceptual" in str(n) for n in g.notes)
    assert all(e.scores.lpips is None for e in g.entries)
    values = _ranked_values(g, "perceptual")
    assert values == sorted(values)
    assert all(math.isnan(v) for v in g.table().column("LPIPS"))
    json.dumps(g.as_dict(), allow_nan=False)


def test_gallery_by_ms_ssim_of_a_small_image_falls_back_to_ssim(vgg16, clean):
    g = gallery(vgg16, clean, 0.005, names=("noise", "blur"), rank_by="1 − MS-SSIM")
    assert g.rank_by == "1 − SSIM"  # 96 px is too small for MS-SSIM's five scales
    assert any("161 px" in str(n) and "1 − SSIM" in str(n) for n in g.notes)
    assert all(e.scores.ms_ssim is None for e in g.entries)
    assert all(math.isnan(v) for v in g.table().column("MS-SSIM"))
    assert _ranked_values(g, "1 − SSIM") == sorted(_ranked_values(g, "1 − SSIM"))


def test_gallery_with_cache_keeps_only_the_clean_image(vgg16, clean):
    cache = FeatureCache(max_bytes=256 * 2**20)
    n = vgg16.forward_count
    g1 = gallery(vgg16, clean, 0.005, names=("noise", "blur"), cache=cache, clean_key="astro")
    size = len(cache)
    g2 = gallery(vgg16, clean, 0.005, names=("noise", "blur"), cache=cache, clean_key="astro")
    assert vgg16.forward_count == n + 2  # one pass each; the second only forwards the degraded images
    assert len(cache) == size  # degraded one-offs are not stored
    assert [e.scores.perceptual_total for e in g1.entries] == pytest.approx(
        [e.scores.perceptual_total for e in g2.entries], rel=1e-5
    )


def test_gallery_rejects_image_on_another_device(vgg16, clean):
    n = vgg16.forward_count
    with pytest.raises(ValueError, match="clean is on meta but the model is on cpu"):
        gallery(vgg16, clean.to("meta"), 0.01)
    assert vgg16.forward_count == n
