"""Feature inversion and texture synthesis (perceptual_viz.lessons.reconstruct), on the untrained VGG16.

Small sizes (48–64 px) and few steps keep the whole file at a few seconds on a 2-core CPU.
"""

from __future__ import annotations

import time

import pytest
import torch

from perceptual_viz.backbone import load_vgg
from perceptual_viz.lessons.reconstruct import (
    DEFAULT_LR,
    DEFAULT_TV,
    RECONSTRUCT_MODES,
    TEXTURE_LAYERS,
    ReconstructSettings,
    ReconstructStep,
    default_steps,
    initial_image,
    limits,
    objective,
    reconstruct,
    resize_target,
    target_features,
    total_variation,
)

from .support import to_tensor


@pytest.fixture(scope="module")
def cat(photos) -> torch.Tensor:
    """Chelsea, (1, 3, 300, 451): not square, so the aspect ratio is tested too."""
    return to_tensor(photos["chelsea"])


def _run(model, target, **kw) -> list[ReconstructStep]:
    opts = {k: kw.pop(k) for k in ("every", "should_stop", "deadline") if k in kw}
    return list(reconstruct(model, target, ReconstructSettings(**kw), **opts))


# --------------------------------------------------------------------------- total variation


def test_total_variation_by_hand():
    x = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]).view(1, 1, 2, 3)
    # right neighbours: (1-0)², (3-1)², 0, 0 → mean 5/4; lower: (2-0)², (2-1)², (2-3)² → mean 2
    assert total_variation(x).tolist() == pytest.approx([3.25])
    flat = torch.full((1, 3, 4, 5), 0.3)
    noisy = torch.rand(1, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    tv = total_variation(torch.cat([flat, noisy]))
    assert tv.shape == (2,)
    assert tv[0].item() == 0.0 and tv[1].item() > 0.0
    # a mean, not a sum: 1-px stripes score 1 whatever the size
    stripes = torch.tensor([0.0, 1.0]).repeat(8).view(1, 1, 1, 16).expand(1, 3, 16, 16)
    assert total_variation(stripes).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="N, C, H, W"):
        total_variation(torch.zeros(3, 4, 4))


# --------------------------------------------------------------------------- the optimisation works


@pytest.mark.parametrize(
    ("mode", "layers", "part"),
    [
        ("content", None, "content"),
        ("content", ("relu1_2", "relu2_2"), "content"),
        ("texture", None, "style"),
    ],
)
def test_optimisation_reduces_the_objective(vgg16, cat, mode, layers, part):
    s = ReconstructSettings(mode=mode, layers=layers, size=48, steps=30)
    items = _run(vgg16, cat, mode=mode, layers=layers, size=48, steps=30)
    first, last = items[0], items[-1]
    tf = target_features(vgg16, cat, s)  # independent of the run's own bookkeeping
    with torch.no_grad():
        l0, p0 = objective(vgg16, first.image, tf, s)
        l1, p1 = objective(vgg16, last.image, tf, s)
    assert l1.item() < 0.5 * l0.item()
    assert p1[part] < 0.5 * p0[part]  # not just the total variation going down
    # each reported loss is the objective at the reported image, and the parts add up to it
    assert first.loss == pytest.approx(l0.item(), rel=1e-4)
    assert last.loss == pytest.approx(l1.item(), rel=1e-4)
    assert sum(last.parts.values()) == pytest.approx(last.loss, rel=1e-5)
    assert set(last.parts) == {part, "tv"}


def test_objective_is_zero_at_the_target_and_scale_free(vgg16, cat):
    s = ReconstructSettings(mode="content", layers=("relu2_2",), size=48, steps=1, tv_weight=0.0)
    tf = target_features(vgg16, cat, s)
    t = resize_target(cat, 48, "cpu")
    loss, _ = objective(vgg16, t, tf, s)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    # relative error: a black image is at distance ~1 whatever the layer's activation scale
    black, _ = objective(vgg16, torch.zeros_like(t), tf, s)
    assert 0.05 < black.item() < 5.0
    with pytest.raises(ValueError, match="size"):
        objective(vgg16, torch.zeros(1, 3, 40, 40), tf, s)
    with pytest.raises(ValueError, match="lacks the layers relu2_2"):
        objective(vgg16, t, {}, s)
    # texture: the target's own Grams give zero
    tex = ReconstructSettings(mode="texture", layers=("relu1_1", "relu2_1"), size=48, steps=1, tv_weight=0.0)
    zero, _ = objective(vgg16, t, target_features(vgg16, cat, tex), tex)
    assert zero.item() == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_same_image_other_seed_other_image(vgg16, cat):
    a = _run(vgg16, cat, size=48, steps=12, seed=3)[-1].image
    b = _run(vgg16, cat, size=48, steps=12, seed=3)[-1].image
    c = _run(vgg16, cat, size=48, steps=12, seed=4)[-1].image
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert (a - c).abs().mean().item() > 1e-3


# --------------------------------------------------------------------------- what is yielded


def test_yields_start_progress_and_final_item(vgg16, cat):
    items = _run(vgg16, cat, size=64, steps=20, every=7, seed=1)
    assert [i.step for i in items] == [0, 7, 14, 20]
    assert [i.done for i in items] == [False, False, False, True]
    assert all(i.total == 20 and i.stopped == "" for i in items)
    secs = [i.seconds for i in items]
    assert secs == sorted(secs) and secs[0] >= 0.0
    for i in items:
        assert i.image.device.type == "cpu"
        assert i.image.dtype == torch.float32 and not i.image.requires_grad
        assert i.image.shape == (1, 3, 43, 64)  # 300 × 451 → longest side 64, aspect kept
        assert i.image.min().item() >= 0.0 and i.image.max().item() <= 1.0
    # step 0 is the seeded noise, and later steps did not overwrite it (snapshots, not views)
    assert torch.equal(items[0].image, initial_image((43, 64), 1, "cpu"))
    assert not torch.equal(items[0].image, items[-1].image)
    assert items[0].image.std().item() > 0.05  # noise, not a flat image


def test_portrait_target_keeps_its_aspect(vgg16, cat):
    tall = cat.transpose(-1, -2)  # 451 × 300
    items = _run(vgg16, tall, size=48, steps=2)
    assert items[-1].image.shape == (1, 3, 48, 32)
    grey = _run(vgg16, cat[:, :1], size=48, steps=1)  # a grey target is repeated to 3 channels
    assert grey[-1].image.shape == (1, 3, 32, 48)


# --------------------------------------------------------------------------- stopping


def test_should_stop_cancels_after_n_steps(vgg16, cat):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 5  # False before steps 0..4, True before step 5

    items = _run(vgg16, cat, size=48, steps=40, every=2, should_stop=stop)
    last = items[-1]
    assert last.done and last.stopped == "cancelled"
    assert last.step == 5 and last.total == 40
    assert len(calls) == 6  # checked once before every step, and never again after stopping
    assert [i.step for i in items] == [0, 2, 4, 5]
    assert not any(i.done for i in items[:-1])


def test_cancelled_before_the_first_step(vgg16, cat):
    items = _run(vgg16, cat, size=48, steps=40, should_stop=lambda: True)
    assert len(items) == 1
    assert items[0].step == 0 and items[0].done and items[0].stopped == "cancelled"


def test_deadline(vgg16, cat):
    past = _run(vgg16, cat, size=48, steps=40, deadline=time.monotonic() - 1.0)
    assert len(past) == 1
    assert past[0].step == 0 and past[0].done and past[0].stopped == "time limit"
    future = _run(vgg16, cat, size=48, steps=3, deadline=time.monotonic() + 600.0)
    assert future[-1].step == 3 and future[-1].stopped == ""


# --------------------------------------------------------------------------- the shared model


def test_the_shared_model_is_untouched(vgg16, cat):
    params = dict(vgg16.named_parameters())
    before = {k: v.detach().clone() for k, v in vgg16.state_dict().items()}
    assert params and not any(p.requires_grad for p in params.values())
    assert not vgg16.training
    # consumed under no_grad and under inference_mode: it still optimises, and the consumer's
    # grad mode is never changed between items (no context held across a yield)
    with torch.no_grad():
        steps = []
        for item in reconstruct(vgg16, cat, ReconstructSettings(size=48, steps=6), every=1):
            assert not torch.is_grad_enabled()
            steps.append(item.step)
        assert steps[-1] == 6
    with torch.inference_mode():
        s = ReconstructSettings(mode="texture", size=48, steps=6)
        items = []
        for item in reconstruct(vgg16, cat, s, every=1):
            assert torch.is_inference_mode_enabled()
            items.append(item)
        assert items[-1].step == 6 and items[-1].loss < items[0].loss
    assert torch.is_grad_enabled()
    assert not vgg16.training
    assert not any(p.requires_grad for p in vgg16.parameters())
    assert all(p.grad is None for p in vgg16.parameters())
    after = vgg16.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_target_is_not_modified(vgg16, cat):
    keep = cat.clone()
    _run(vgg16, cat, size=48, steps=3)
    assert torch.equal(cat, keep)


# --------------------------------------------------------------------------- settings


def test_defaults_resolve_per_mode_and_device():
    c = ReconstructSettings().resolved("vgg16", "cpu")
    assert c.layers == ("relu3_3",) and c.steps == default_steps("cpu")
    assert c.tv_weight == DEFAULT_TV["content"] and c.lr == DEFAULT_LR["content"]
    t = ReconstructSettings(mode="texture").resolved("vgg16", torch.device("cpu"))
    assert t.layers == TEXTURE_LAYERS and t.tv_weight == DEFAULT_TV["texture"]
    assert ReconstructSettings().resolved("vgg19", "cpu").layers == ("relu3_4",)
    assert ReconstructSettings(layers="relu1_2").resolved("vgg16", "cpu").layers == ("relu1_2",)
    assert ReconstructSettings(layers=["relu1_2", "relu1_2"]).resolved("vgg16", "cpu").layers == ("relu1_2",)
    assert c.resolved("vgg16", "cpu") == c  # idempotent
    assert RECONSTRUCT_MODES == ("content", "texture")


def test_limits_are_small_on_cpu_and_larger_on_cuda():
    cpu_steps, cpu_size = limits("cpu")
    cuda_steps, cuda_size = limits(torch.device("cuda"))
    assert limits("mps") == (cpu_steps, cpu_size)
    assert cuda_steps > cpu_steps and cuda_size > cpu_size
    assert default_steps("cpu") <= cpu_steps and default_steps("cuda") <= cuda_steps
    assert ReconstructSettings().size <= cpu_size
    # the bounds are accepted, one beyond is not
    ReconstructSettings(steps=cpu_steps, size=cpu_size).resolved("vgg16", "cpu")
    ReconstructSettings(steps=cuda_steps, size=cuda_size).resolved("vgg16", "cuda")


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"mode": "style"}, "unknown reconstruction mode 'style'; choose one of content, texture"),
        ({"layers": ("relu9_9",)}, "vgg16 has no layer 'relu9_9'; valid names: conv1_1"),
        ({"layers": ()}, "at least one layer"),
        ({"steps": 10_000}, "steps must be between 1 and"),
        ({"steps": 0}, "steps must be between 1 and"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"size": 5000}, "size must be between 32 and"),
        ({"size": 16}, "size must be between 32 and"),
        ({"tv_weight": -1.0}, "tv_weight must be a finite number ≥ 0"),
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"lr": float("nan")}, "lr must be a finite number > 0"),
    ],
)
def test_invalid_settings_are_clear_value_errors(kw, message):
    with pytest.raises(ValueError) as err:
        ReconstructSettings(**kw).resolved("vgg16", "cpu")
    assert message in str(err.value)


def test_too_large_for_cpu_is_fine_on_cuda():
    s = ReconstructSettings(steps=limits("cpu")[0] + 1, size=limits("cpu")[1] + 1)
    with pytest.raises(ValueError, match="on cpu"):
        s.resolved("vgg16", "cpu")
    assert s.resolved("vgg16", "cuda").steps == limits("cpu")[0] + 1


def test_reconstruct_validates_before_the_first_item(vgg16, cat):
    # errors are raised by the call itself, not later by next()
    with pytest.raises(ValueError, match="unknown reconstruction mode"):
        reconstruct(vgg16, cat, ReconstructSettings(mode="nope"))
    with pytest.raises(ValueError, match="every must be at least 1"):
        reconstruct(vgg16, cat, ReconstructSettings(size=48, steps=2), every=0)
    with pytest.raises(ValueError, match=r"shape \(1, 3, H, W\)"):
        reconstruct(vgg16, torch.rand(2, 3, 40, 40), ReconstructSettings(size=48, steps=2))
    with pytest.raises(ValueError, match="NaN"):
        reconstruct(vgg16, torch.full((1, 3, 40, 40), float("nan")), ReconstructSettings(size=48, steps=2))


# --------------------------------------------------------------------------- other backbones, devices


def test_vgg19_layer_names_work(cat):
    vgg19 = load_vgg("vgg19", "untrained", "cpu")
    s = ReconstructSettings(size=48, steps=20)  # default content layer: relu3_4
    items = list(reconstruct(vgg19, cat, s))
    assert s.resolved("vgg19", "cpu").layers == ("relu3_4",)
    assert items[-1].loss < 0.5 * items[0].loss
    t = _run(vgg19, cat, mode="texture", layers=("relu1_1", "relu4_4"), size=48, steps=20)
    assert t[-1].loss < 0.5 * t[0].loss


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_and_yields_cpu_images(cat):
    model = load_vgg("vgg16", "untrained", "cuda")
    items = list(reconstruct(model, cat.cuda(), ReconstructSettings(size=48, steps=20)))
    assert all(i.image.device.type == "cpu" for i in items)
    assert items[-1].loss < 0.5 * items[0].loss
    cpu = _run(load_vgg("vgg16", "untrained", "cpu"), cat, size=48, steps=1)
    assert torch.allclose(cpu[0].image, items[0].image)  # same seeded noise on every device
