"""Features: one forward, pre-ReLU capture, resize policy, and the feature cache."""

from __future__ import annotations

import threading

import pytest
import torch
import torch.nn.functional as F

from perceptual_viz.backbone import IMAGENET_MEAN, IMAGENET_STD
from perceptual_viz.features import FeatureCache, Resize, image_key, prepare

from .support import to_tensor


def _img(seed: int = 0, size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, size, size, generator=g)


def test_pre_relu_output_survives_inplace_relu(vgg16):
    x = _img()
    out = vgg16(x, ["conv1_1", "relu1_1", "conv1_2", "relu1_2"])
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    conv = vgg16.features[0]
    expected = F.conv2d((x - mean) / std, conv.weight, conv.bias, padding=1)
    torch.testing.assert_close(out["conv1_1"], expected)
    assert (out["conv1_1"] < 0).any(), "pre-activation must keep its negative values"
    torch.testing.assert_close(out["relu1_1"], expected.clamp_min(0))
    assert (out["conv1_2"] < 0).any()
    torch.testing.assert_close(out["relu1_2"], out["conv1_2"].clamp_min(0))


def test_one_forward_stops_at_deepest_layer(vgg16, monkeypatch):
    calls = []

    def spy(f, i):
        return lambda x: (calls.append(i), f(x))[1]

    for i, m in enumerate(vgg16.features):
        monkeypatch.setattr(m, "forward", spy(m.forward, i))
    before = vgg16.forward_count
    out = vgg16(_img(), ["relu1_2", "relu3_3"])
    assert set(out) == {"relu1_2", "relu3_3"}
    assert calls == list(range(16)), "one pass, modules 0..15 each exactly once"
    assert vgg16.forward_count == before + 1


def test_grey_input_is_repeated(vgg16):
    g = _img()[:, :1]
    a = vgg16(g, ["relu1_1"])["relu1_1"]
    b = vgg16(g.expand(-1, 3, -1, -1), ["relu1_1"])["relu1_1"]
    torch.testing.assert_close(a, b)


def test_layer_shapes(vgg16):
    out = vgg16(_img(size=64), ["relu1_2", "relu3_3", "pool5"])
    assert out["relu1_2"].shape == (1, 64, 64, 64)
    assert out["relu3_3"].shape == (1, 256, 16, 16)
    assert out["pool5"].shape == (1, 512, 2, 2)


# --------------------------------------------------------------------------- resize policy


def test_resize_policy_parse_and_targets():
    assert Resize.parse("224").target(300, 451) == (224, 337)
    assert Resize.parse("224x224").target(300, 451) == (224, 224)
    assert Resize.parse("none").target(300, 451) == (300, 451)
    assert Resize.parse(None).mode == "none"
    assert "reference" in str(Resize.parse("224x224").describe())
    assert str(Resize.parse("256")) == "256"
    for bad in ("abc", "224x100", "10"):
        with pytest.raises(ValueError):
            Resize.parse(bad)


def test_prepare_resizes_and_keeps_range(photos):
    x = prepare(to_tensor(photos["chelsea"]), Resize.parse("128"))
    assert x.shape == (1, 3, 128, 192)
    assert x.min() >= 0 and x.max() <= 1
    same = prepare(to_tensor(photos["chelsea"]), Resize.parse("none"))
    assert same.shape == (1, 3, 300, 451)


# --------------------------------------------------------------------------- cache


def test_cache_reuse_counts_forward_passes(vgg16):
    cache = FeatureCache(max_bytes=64 * 2**20)
    clean, deg1, deg2 = _img(1), _img(2), _img(3)
    names = ["relu1_2", "relu2_2"]
    n0 = vgg16.forward_count
    first = cache.features(vgg16, torch.cat([clean, deg1]), [image_key(clean), image_key(deg1)], names)
    assert vgg16.forward_count == n0 + 1, "clean + degraded share one batched forward"
    # A view change: same image, same layers → no forward at all.
    again = cache.features(vgg16, clean, [image_key(clean)], names)
    assert vgg16.forward_count == n0 + 1
    torch.testing.assert_close(again["relu2_2"], first["relu2_2"][:1])
    # A new strength: only the degraded image is forwarded.
    spy = []
    orig = vgg16.forward
    vgg16.forward = lambda x, n: (spy.append(x.shape[0]), orig(x, n))[1]
    try:
        out = cache.features(vgg16, torch.cat([clean, deg2]), [image_key(clean), image_key(deg2)], names)
    finally:
        del vgg16.forward
    assert spy == [1] and vgg16.forward_count == n0 + 2
    fresh = vgg16(torch.cat([clean, deg2]), names)
    torch.testing.assert_close(out["relu1_2"], fresh["relu1_2"])


def test_ensure_caches_in_one_pass_what_is_missing_and_gathers_nothing(vgg16):
    cache = FeatureCache(max_bytes=64 * 2**20)
    clean, deg = _img(5), _img(6)
    keys = [image_key(clean), image_key(deg)]
    cache.features(vgg16, clean, keys[:1], ["relu2_2"])
    n0 = vgg16.forward_count
    assert cache.ensure(vgg16, torch.cat([clean, deg]), keys, ["relu1_2", "relu2_2"]) is None
    assert vgg16.forward_count == n0 + 1  # only what was missing, in one pass
    both = cache.features(vgg16, torch.cat([clean, deg]), keys, ["relu1_2", "relu2_2"])
    assert vgg16.forward_count == n0 + 1  # everything is there now
    torch.testing.assert_close(both["relu2_2"], vgg16(torch.cat([clean, deg]), ["relu2_2"])["relu2_2"])


def test_cache_misses_when_a_new_layer_is_asked(vgg16):
    cache = FeatureCache()
    x = _img(4)
    cache.features(vgg16, x, [image_key(x)], ["relu1_2"])
    n = vgg16.forward_count
    cache.features(vgg16, x, [image_key(x)], ["relu1_2", "relu4_3"])
    assert vgg16.forward_count == n + 1
    cache.features(vgg16, x, [image_key(x)], ["relu4_3"])
    assert vgg16.forward_count == n + 1


def test_cache_keys_separate_images_and_weights(vgg16):
    from perceptual_viz.backbone import load_vgg

    other = load_vgg("vgg16", "untrained", "cpu")
    with torch.no_grad():
        other.features[0].weight.mul_(2)
    other.fingerprint = "different-weights"
    cache = FeatureCache()
    x = _img(5)
    a = cache.features(vgg16, x, [image_key(x)], ["relu1_1"])["relu1_1"]
    b = cache.features(other, x, [image_key(x)], ["relu1_1"])["relu1_1"]
    assert not torch.allclose(a, b)
    assert image_key(_img(5)) == image_key(x) and image_key(_img(6)) != image_key(x)
    assert image_key(_img(5, 32)) != image_key(_img(5, 64))


def test_cache_is_bounded_in_bytes_with_lru_eviction(vgg16):
    one = 64 * 32 * 32 * 4  # relu1_2 of a 32×32 image, fp32
    cache = FeatureCache(max_bytes=3 * one)
    imgs = [_img(10 + i, 32) for i in range(5)]
    keys = [image_key(x) for x in imgs]
    for x, k in zip(imgs, keys, strict=True):
        cache.features(vgg16, x, [k], ["relu1_2"])
        assert cache.nbytes <= cache.max_bytes
    assert len(cache) == 3
    n = vgg16.forward_count
    cache.features(vgg16, imgs[4], [keys[4]], ["relu1_2"])  # most recent: still there
    assert vgg16.forward_count == n
    cache.features(vgg16, imgs[0], [keys[0]], ["relu1_2"])  # oldest: evicted
    assert vgg16.forward_count == n + 1


def test_cache_is_safe_under_concurrent_use(vgg16):
    cache = FeatureCache(max_bytes=4 * 64 * 32 * 32 * 4)
    imgs = [_img(100 + i, 32) for i in range(8)]
    expected = [vgg16(x, ["relu1_2"])["relu1_2"] for x in imgs]
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for r in range(6):
                i = (t + r) % len(imgs)
                got = cache.features(vgg16, imgs[i], [image_key(imgs[i])], ["relu1_2"])["relu1_2"]
                torch.testing.assert_close(got, expected[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[0]
    assert cache.nbytes <= cache.max_bytes
