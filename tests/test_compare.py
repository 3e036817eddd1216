"""score_pairs: values, one batched forward, and reuse of the clean image's cached features."""

from __future__ import annotations

import json
import math

import pytest
import torch

from perceptual_viz.compare import (
    ScoreSettings,
    lpips_unavailable_reason,
    ms_ssim_unavailable_reason,
    score_pairs,
)
from perceptual_viz.degrade import degrade
from perceptual_viz.features import FeatureCache, Resize, prepare
from perceptual_viz.metrics import ms_ssim, ssim

from .support import to_tensor


@pytest.fixture(scope="module")
def clean(photos):
    return prepare(to_tensor(photos["astronaut"]), Resize.parse("96"))


def test_identical_pair_scores_perfectly(vgg16, clean):
    sc = score_pairs(vgg16, clean, clean.clone()).scores[0]
    assert sc.mse == 0 and math.isinf(sc.psnr) and sc.ssim == pytest.approx(1.0, abs=1e-6)
    assert sc.perceptual_total == 0 and sc.style_total == 0
    assert sc.lpips == pytest.approx(0.0, abs=1e-7)
    assert sc.dists == pytest.approx(0.0, abs=1e-6)
    assert sc.ms_ssim is None  # 96 px: too small for five scales
    d = sc.as_dict()
    assert {"dists", "ms_ssim"} <= set(d) and d["ms_ssim"] is None
    assert d["psnr"] is None  # JSON has no infinity: null means identical images
    json.dumps(d, allow_nan=False)


def test_batch_of_levels_is_one_forward_and_matches_single_calls(vgg16, clean):
    degs = torch.cat([degrade(clean, "noise", s, seed=0) for s in (0.02, 0.1, 0.3)])
    n = vgg16.forward_count
    res = score_pairs(vgg16, clean, degs)
    assert vgg16.forward_count == n + 1
    mses = [s.mse for s in res.scores]
    assert mses == sorted(mses) and mses[0] > 0
    assert [s.ssim for s in res.scores] == sorted((s.ssim for s in res.scores), reverse=True)
    assert [s.perceptual_total for s in res.scores] == sorted(s.perceptual_total for s in res.scores)
    single = score_pairs(vgg16, clean, degs[1:2]).scores[0]
    assert single.mse == pytest.approx(res.scores[1].mse, rel=1e-6)
    assert single.perceptual_total == pytest.approx(res.scores[1].perceptual_total, rel=1e-5)
    assert single.ssim == pytest.approx(ssim(clean, degs[1:2]).item(), abs=1e-7)
    assert sum(single.perceptual.values()) == pytest.approx(single.perceptual_total, rel=1e-6)
    assert set(single.perceptual) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    assert set(single.lpips_layers) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"}


def test_rescoring_a_new_strength_forwards_only_the_degraded_image(vgg16, clean, monkeypatch):
    cache = FeatureCache()
    score_pairs(vgg16, clean, degrade(clean, "blur", 1.0), cache=cache)
    sizes = []
    orig = vgg16.forward
    monkeypatch.setattr(vgg16, "forward", lambda x, names: (sizes.append(x.shape[0]), orig(x, names))[1])
    again = score_pairs(vgg16, clean, degrade(clean, "blur", 3.0), cache=cache).scores[0]
    assert sizes == [1], "only the new degraded image goes through VGG"
    score_pairs(vgg16, clean, degrade(clean, "blur", 3.0), cache=cache)
    assert sizes == [1], "an unchanged request is served from the cache"
    fresh = score_pairs(vgg16, clean, degrade(clean, "blur", 3.0)).scores[0]
    assert sizes == [1, 2], "without a cache both images are forwarded, together"
    assert again.perceptual_total == pytest.approx(fresh.perceptual_total, rel=1e-6)
    assert again.style_total == pytest.approx(fresh.style_total, rel=1e-6)  # memoised clean Grams
    assert again.lpips == pytest.approx(fresh.lpips, rel=1e-6)
    import perceptual_viz.compare as compare_module
    import perceptual_viz.gram as gram_module

    grams: list[int] = []
    real_gram = gram_module.gram

    def counting(f, norm):
        grams.append(f.shape[0])
        return real_gram(f, norm)

    monkeypatch.setattr(compare_module, "gram", counting)
    monkeypatch.setattr(gram_module, "gram", counting)
    score_pairs(vgg16, clean, degrade(clean, "blur", 3.0), cache=cache)
    layers = ScoreSettings().gram_layers(vgg16.arch)
    assert len(grams) == len(layers), "the clean Grams are kept: only the degraded image's are computed"


def test_settings_change_formulas(vgg16, clean):
    deg = degrade(clean, "jpeg", 10)
    l1 = score_pairs(vgg16, clean, deg).scores[0]
    mse = score_pairs(vgg16, clean, deg, settings=ScoreSettings(criterion="mse", gram_norm="gatys")).scores[0]
    assert "L1" in str(l1.perceptual_label) and "MSE" in str(mse.perceptual_label)
    assert "gatys" in str(mse.style_label)
    assert l1.perceptual_total != mse.perceptual_total
    deep = score_pairs(vgg16, clean, deg, settings=ScoreSettings(layers=("relu5_3",), lpips=False)).scores[0]
    assert list(deep.perceptual) == ["relu5_3"] and deep.lpips is None


def test_mismatched_pair_is_refused(vgg16, clean):
    with pytest.raises(ValueError, match="must match"):
        score_pairs(vgg16, clean, clean[..., :64])


def test_lpips_reasons():
    assert lpips_unavailable_reason("vgg16") is None
    assert "VGG16 only" in str(lpips_unavailable_reason("vgg19"))


def test_ms_ssim_is_scored_from_161_px_and_its_absence_explained(vgg16, photos):
    big = prepare(to_tensor(photos["coffee"]), Resize.parse("168"))  # 168 × 252
    degs = torch.cat([degrade(big, "blur", 2.0), degrade(big, "noise", 0.1, seed=0)])
    got = score_pairs(vgg16, big, degs, settings=ScoreSettings(lpips=False, dists=False)).scores
    want = ms_ssim(big.expand(2, -1, -1, -1), degs)
    assert [s.ms_ssim for s in got] == pytest.approx(want.tolist(), abs=1e-7)
    assert [s.ssim for s in got] == pytest.approx(ssim(big.expand(2, -1, -1, -1), degs).tolist(), abs=1e-6)
    assert got[0].as_dict()["ms_ssim"] == got[0].ms_ssim
    off = score_pairs(vgg16, big, degs[:1], settings=ScoreSettings(ms_ssim=False)).scores[0]
    assert off.ms_ssim is None
    assert ms_ssim_unavailable_reason(168, 252) is None
    assert "at least 161 px" in str(ms_ssim_unavailable_reason(160, 300))
