"""DISTS against the dists-pytorch package on the same VGG16 weights, by hand, and its caching."""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch

from perceptual_viz import dists as D
from perceptual_viz.backbone import load_vgg
from perceptual_viz.compare import ScoreSettings, dists_unavailable_reason, score_pairs
from perceptual_viz.degrade import degrade
from perceptual_viz.features import FeatureCache, Resize, image_key, prepare
from perceptual_viz.images import load_image

from .support import ASTRONAUT, CHELSEA, COFFEE, REAL_WEIGHTS

pytestmark = pytest.mark.skipif(not D.dists_available(), reason="the dists-pytorch package is not installed")
# One of each kind: noise, lost detail, blocks, a global change, a moved image.
DEGRADATIONS = {
    "chelsea.png": (("noise", 0.08), ("jpeg", 15)),
    "coffee.png": (("blur", 2.0), ("brightness", 0.2)),
    "astronaut.png": (("shift", 3), ("contrast", 0.6)),
}


@pytest.fixture(scope="module")
def backbone(vgg16):
    """Real ImageNet VGG16 weights when present (DISTS's α, β were learned on them), else ours."""
    return load_vgg("vgg16", str(REAL_WEIGHTS), "cpu") if REAL_WEIGHTS.is_file() else vgg16


@pytest.fixture(scope="module")
def reference(backbone):
    """The package's DISTS, its VGG16 download replaced by a torchvision VGG16 carrying our weights."""
    torchvision = pytest.importorskip("torchvision")
    make = torchvision.models.vgg16
    ours = backbone.features.state_dict()

    def vgg16_with_our_weights(*args, **kwargs):
        net = make(weights=None)
        net.features.load_state_dict(ours)
        return net

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torchvision.models, "vgg16", vgg16_with_our_weights)
        from DISTS_pytorch import DISTS_pt

        # The wheel puts weights.pt in sys.prefix (where the package reads it) and in the package.
        in_prefix = os.path.isfile(os.path.join(sys.prefix, "weights.pt"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = DISTS_pt.DISTS(load_weights=in_prefix).eval()
    if not in_prefix:
        sd = torch.load(D._weights_file(), map_location="cpu", weights_only=True)
        ref.alpha.data, ref.beta.data = sd["alpha"], sd["beta"]
    return ref


def _photo(path, size: str = "224") -> torch.Tensor:
    return prepare(load_image(path).tensor(), Resize.parse(size))


@pytest.mark.slow
@pytest.mark.parametrize("path", [CHELSEA, COFFEE, ASTRONAUT], ids=lambda p: p.stem)
def test_dists_matches_the_package(backbone, reference, path):
    clean = _photo(path)
    degraded = torch.cat([degrade(clean, n, s, seed=1) for n, s in DEGRADATIONS[path.name]])
    with torch.no_grad():
        ref = reference(clean.expand(len(degraded), -1, -1, -1), degraded)
    ours = D.dists(backbone, clean, degraded)
    assert ref.min() > 0
    assert (ours - ref).abs().max().item() <= 1e-4, (ours, ref)
    if path == CHELSEA:  # the cached path of score_pairs gives the same values
        got = score_pairs(backbone, clean, degraded, cache=FeatureCache()).scores
        assert [s.dists for s in got] == pytest.approx(ours.tolist(), abs=1e-6)


def test_identical_images_score_zero_and_the_weights_sum_to_one(vgg16):
    alpha, beta = D.dists_weights()
    assert alpha.shape == beta.shape == (sum(D.STAGE_CHANNELS),)
    assert float(alpha.double().sum() + beta.double().sum()) == pytest.approx(1.0, abs=1e-6)
    assert alpha.min() >= 0 and beta.min() >= 0
    x = _photo(CHELSEA, "96")
    assert D.dists(vgg16, x, x).abs().item() <= 1e-6
    far = D.dists(vgg16, x, torch.cat([degrade(x, "noise", 0.05, seed=0), degrade(x, "noise", 0.3, seed=0)]))
    assert 0 < far[0] < far[1]


def test_stages_follow_vgg16_with_l2_pools(vgg16):
    x = _photo(COFFEE, "64")
    stages = D.dists_stages(vgg16, x)
    assert [s.shape[1] for s in stages] == list(D.STAGE_CHANNELS)
    assert [s.shape[-2] for s in stages] == [64, 64, 32, 16, 8, 4]
    assert torch.equal(stages[0], x)
    assert torch.allclose(stages[1], vgg16(x, ["relu1_2"])["relu1_2"])
    # The L2-pool is a Hanning-weighted root mean square, stride 2: constant in → constant out.
    flat = D.l2_pool(torch.full((1, 3, 8, 8), 2.0))
    assert torch.allclose(flat[..., 1:, 1:], torch.full_like(flat[..., 1:, 1:], 2.0))


def test_the_clean_images_stages_are_kept_and_each_pair_is_scored_once(vgg16, monkeypatch):
    clean = _photo(CHELSEA, "96")
    cache = FeatureCache()
    batches: list[int] = []
    real = D.dists_stages

    def counting(model, x, relu1_2=None):
        batches.append(x.shape[0])
        return real(model, x, relu1_2)

    monkeypatch.setattr(D, "dists_stages", counting)
    first = score_pairs(vgg16, clean, degrade(clean, "blur", 1.0), cache=cache).scores[0]
    assert batches == [2], "clean and degraded go through the L2-pooled stages in one batch"
    second = score_pairs(vgg16, clean, degrade(clean, "blur", 2.0), cache=cache).scores[0]
    assert batches == [2, 1], "the clean image's stages come from the cache"
    score_pairs(vgg16, clean, degrade(clean, "blur", 2.0), cache=cache)
    assert batches == [2, 1], "a pair scored before is not scored again"
    sweep_like = score_pairs(vgg16, clean, degrade(clean, "blur", 2.0), cache=cache, store_degraded=False)
    assert batches == [2, 1, 1] and sweep_like.scores[0].dists == pytest.approx(second.dists, abs=1e-7)
    fresh = score_pairs(vgg16, clean, degrade(clean, "blur", 1.0)).scores[0]
    assert fresh.dists == pytest.approx(first.dists, abs=1e-7)
    assert cache.peek(vgg16, image_key(clean), "dists:5") is not None


def test_dists_unavailable_off_vgg16_without_the_package_or_when_switched_off(vgg16, monkeypatch):
    assert dists_unavailable_reason("vgg16") is None
    assert "VGG16 only" in str(dists_unavailable_reason("vgg19"))
    vgg19 = load_vgg("vgg19", "untrained", "cpu")
    x = _photo(COFFEE, "64")
    assert score_pairs(vgg19, x, x.clone()).scores[0].dists is None
    with pytest.raises(ValueError, match="VGG16 only"):
        D.dists(vgg19, x, x)
    assert score_pairs(vgg16, x, x.clone(), settings=ScoreSettings(dists=False)).scores[0].dists is None
    monkeypatch.setattr(D.importlib.util, "find_spec", lambda name: None)
    D._weights_cpu.cache_clear()
    try:
        assert not D.dists_available()
        assert "dists-pytorch" in str(dists_unavailable_reason("vgg16"))
        assert score_pairs(vgg16, x, x.clone()).scores[0].dists is None
        with pytest.raises(ValueError, match="dists-pytorch"):
            D.dists(vgg16, x, x)
    finally:
        D._weights_cpu.cache_clear()
