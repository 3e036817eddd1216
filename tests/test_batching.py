"""Micro-batching: concurrent requests share one forward pass and each gets exactly its rows."""

from __future__ import annotations

import threading

import pytest
import torch

from perceptual_viz.batching import MicroBatcher
from perceptual_viz.features import FeatureCache, image_key

NAMES = ["relu1_2", "relu2_2"]


def _imgs(n: int, size: int = 32, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, size, size, generator=g) for _ in range(n)]


def _concurrently(fn, args_list):
    results, errors = [None] * len(args_list), []
    barrier = threading.Barrier(len(args_list))

    def run(i, args):
        barrier.wait()
        try:
            results[i] = fn(*args)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results, errors


def test_concurrent_requests_share_one_forward(vgg16):
    batcher = MicroBatcher(window=0.3)
    cache = FeatureCache(batcher=batcher)
    imgs = _imgs(4)
    n0 = vgg16.forward_count
    results, errors = _concurrently(
        lambda x: cache.features(vgg16, x, [image_key(x)], NAMES), [(x,) for x in imgs]
    )
    assert not errors, errors
    assert batcher.batches == 1 and vgg16.forward_count == n0 + 1
    for x, got in zip(imgs, results, strict=True):
        solo = vgg16(x, NAMES)
        for n in NAMES:
            assert got[n].shape == solo[n].shape
            torch.testing.assert_close(got[n], solo[n], rtol=1e-4, atol=1e-5)


def test_cached_rows_of_a_shared_batch_own_their_memory(vgg16):
    """Each request computes one image, but the micro-batch holds four: a row stored as a view
    keeps the whole batch alive. With room for one image's maps, the cache must hold exactly
    one image's bytes, not the four-image batch behind it."""
    one_image = sum(t.numel() * 4 for t in vgg16(_imgs(1)[0], ["conv1_2", "conv2_2"]).values())
    batcher = MicroBatcher(window=0.3)
    cache = FeatureCache(max_bytes=one_image, batcher=batcher)
    imgs = _imgs(4, seed=3)
    _, errors = _concurrently(lambda x: cache.features(vgg16, x, [image_key(x)], NAMES), [(x,) for x in imgs])
    assert not errors, errors
    assert batcher.batches == 1, "the four requests must have shared one batch for this test to mean anything"
    assert cache.nbytes == one_image and len(cache) == len(NAMES)
    assert cache.storage_bytes() == cache.nbytes


def test_batches_are_capped_and_everyone_is_served(vgg16):
    batcher = MicroBatcher(window=0.3, max_images=2)
    imgs = _imgs(5, seed=1)
    results, errors = _concurrently(lambda x: batcher(vgg16, x, NAMES), [(x,) for x in imgs])
    assert not errors and all(r is not None for r in results)
    assert batcher.batches == 3  # 2 + 2 + 1


def test_different_sizes_are_not_mixed(vgg16):
    batcher = MicroBatcher(window=0.3)
    args = [(x,) for x in _imgs(2, 32)] + [(x,) for x in _imgs(2, 48)]
    results, errors = _concurrently(lambda x: batcher(vgg16, x, NAMES), args)
    assert not errors and batcher.batches == 2
    assert [r["relu1_2"].shape[-1] for r in results] == [32, 32, 48, 48]


def test_an_error_reaches_every_caller_and_nobody_hangs(vgg16):
    batcher = MicroBatcher(window=0.3)
    results, errors = _concurrently(lambda x: batcher(vgg16, x, ["relu9_9"]), [(x,) for x in _imgs(3)])
    assert len(errors) == 3 and all(isinstance(e, ValueError) for e in errors)
    assert results == [None, None, None]


def test_pool_enables_batching_only_on_gpu_unless_asked(monkeypatch):
    from perceptual_viz.ui.models import ModelPool

    assert ModelPool("vgg16", "untrained", "cpu").cache.batcher is None
    monkeypatch.setenv("PERCEPTUAL_VIZ_MICROBATCH", "1")
    assert isinstance(ModelPool("vgg16", "untrained", "cpu").cache.batcher, MicroBatcher)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ModelPool("vgg16", "untrained", "cuda")
