"""Style transfer (perceptual_viz.lessons.style_transfer, its figure and its tab's endpoint).

The mechanics run on the untrained VGG16 at 48 px with a few steps (a few seconds on a 2-core
CPU); the acceptance test, that the result takes the style photo's Grams while keeping the content
photo's features, needs the real ImageNet weights (skipped without them).
"""

from __future__ import annotations

import time
from pathlib import Path

import gradio as gr
import pytest
import torch

from perceptual_viz.backbone import load_vgg
from perceptual_viz.export import read_bundle
from perceptual_viz.figures import style_transfer as fst
from perceptual_viz.gram import gatys_energy, gram
from perceptual_viz.images import load_image
from perceptual_viz.lessons.reconstruct import initial_image, resize_target
from perceptual_viz.lessons.style_transfer import (
    STYLE_LAYERS,
    StyleSettings,
    StyleStep,
    default_steps,
    distances,
    limits,
    style_transfer,
    targets,
)
from perceptual_viz.ui.context import AppContext
from perceptual_viz.ui.lanes import LaneLimits
from perceptual_viz.ui.models import ModelPool
from perceptual_viz.ui.showcase import FROM_SHOWCASE, Showcase
from perceptual_viz.ui.tabs import style_transfer as tab

from .support import CHELSEA, REAL_WEIGHTS, SAMPLES, needs_real_weights

BRICK = SAMPLES / "brick.png"
SMALL = {"px": 48}


@pytest.fixture(scope="module")
def cat() -> torch.Tensor:
    return load_image(CHELSEA).tensor()  # (1, 3, 300, 451): not square


@pytest.fixture(scope="module")
def brick() -> torch.Tensor:
    return load_image(BRICK).tensor()  # greyscale 512 × 512, repeated to 3 channels


def _run(model, content, style, every: int = 1, should_stop=None, deadline=None, **kw) -> list[StyleStep]:
    s = StyleSettings(**{**SMALL, **kw})
    return list(
        style_transfer(model, content, style, s, every=every, should_stop=should_stop, deadline=deadline)
    )


# --------------------------------------------------------------------------- the objective


def test_gatys_energy_is_the_textbook_formula_and_allows_other_sizes():
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 5, 6, 7, generator=g), torch.rand(1, 5, 6, 7, generator=g)
    n, m = 5, 6 * 7
    ga, gb = gram(a), gram(b)  # raw Grams: E = 1/(4 N² M²) Σ (G_a − G_b)²
    textbook = (ga - gb).pow(2).sum() / (4 * n**2 * m**2)
    assert gatys_energy(gram(a, "chw"), gram(b, "chw")).item() == pytest.approx(textbook.item(), rel=1e-5)
    # The same texture twice as large: the Grams per position agree, so E stays ~0.
    tiled = a.repeat(1, 1, 2, 2)
    assert gatys_energy(gram(tiled, "chw"), gram(a, "chw")).item() == pytest.approx(0.0, abs=1e-9)


def test_the_style_term_is_one_at_the_content_photo(vgg16, cat, brick):
    s = StyleSettings(**SMALL).resolved("vgg16", "cpu")
    t = targets(vgg16, cat, brick, s)
    own = distances(vgg16, t.content, t, s)
    assert own["content"] == pytest.approx(0.0, abs=1e-6)  # the content photo is its own content
    assert t.unit.item() == pytest.approx(own["style"], rel=1e-5) and own["style"] > 0  # the unit
    # Σ_l w_l E_l(c, s) by hand: the mean over the five layers of Gatys' E_l
    fc, fs = vgg16(t.content, STYLE_LAYERS), vgg16(resize_target(brick, 48, "cpu"), STYLE_LAYERS)
    e = [gatys_energy(gram(fc[n], "chw"), gram(fs[n], "chw")).item() for n in STYLE_LAYERS]
    assert own["style"] == pytest.approx(sum(e) / 5, rel=1e-4)
    first = next(style_transfer(vgg16, cat, brick, s))
    assert first.parts["style"] == pytest.approx(s.style_weight, rel=1e-5)  # β × 1 where it starts
    squashed = resize_target(brick, 48, "cpu")[..., : t.content.shape[-2], :]  # brick at the result's size
    assert distances(vgg16, squashed, t, s)["content"] > 0.1


# --------------------------------------------------------------------------- what is yielded


def test_streams_the_start_progress_and_the_end(vgg16, cat, brick):
    items = _run(vgg16, cat, brick, every=3, steps=7)
    assert [i.step for i in items] == [0, 3, 6, 7]
    assert [i.done for i in items] == [False, False, False, True]
    assert all(i.total == 7 and i.stopped == "" for i in items)
    t = resize_target(cat, 48, "cpu")
    assert torch.equal(items[0].image, t), "it starts from the content photo, as the network saw it"
    for i in items:
        assert i.image.shape == (1, 3, 32, 48) and i.image.device.type == "cpu" and not i.image.requires_grad
        assert i.image.min().item() >= 0.0 and i.image.max().item() <= 1.0
        assert set(i.parts) == {"content", "style", "tv"} and set(i.distances) == {"content", "style"}
        assert sum(i.parts.values()) == pytest.approx(i.loss, rel=1e-5)
        assert i.parts["content"] == pytest.approx(i.distances["content"], rel=1e-6)  # α = 1
    first, last = items[0], items[-1]
    assert first.distances["content"] == pytest.approx(0.0, abs=1e-6)
    assert last.loss < 0.5 * first.loss and last.distances["style"] < first.distances["style"]
    secs = [i.seconds for i in items]
    assert secs == sorted(secs)


def test_noise_start_is_seeded(vgg16, cat, brick):
    a = _run(vgg16, cat, brick, steps=2, init="noise", seed=3)
    b = _run(vgg16, cat, brick, steps=2, init="noise", seed=3)
    c = _run(vgg16, cat, brick, steps=2, init="noise", seed=4)
    assert torch.equal(a[0].image, initial_image((32, 48), 3, "cpu"))
    assert torch.equal(a[-1].image, b[-1].image) and not torch.equal(a[-1].image, c[-1].image)


def test_stops_when_asked_and_at_the_deadline(vgg16, cat, brick):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 3  # False before steps 0..2, True before step 3

    items = _run(vgg16, cat, brick, every=2, should_stop=stop, steps=40)
    assert [i.step for i in items] == [0, 2, 3] and items[-1].done and items[-1].stopped == "cancelled"
    past = _run(vgg16, cat, brick, steps=40, deadline=time.monotonic() - 1)
    assert len(past) == 1 and past[0].step == 0 and past[0].stopped == "time limit"


def test_the_shared_model_is_untouched(vgg16, cat, brick):
    before = {k: v.clone() for k, v in vgg16.state_dict().items()}
    with torch.inference_mode():  # a consumer's grad mode does not stop it, nor leak into it
        for _ in style_transfer(vgg16, cat, brick, StyleSettings(steps=3, **SMALL)):
            assert torch.is_inference_mode_enabled()
    assert not vgg16.training and not any(p.requires_grad or p.grad is not None for p in vgg16.parameters())
    assert all(torch.equal(before[k], v) for k, v in vgg16.state_dict().items())


# --------------------------------------------------------------------------- settings


def test_defaults_and_limits():
    s = StyleSettings().resolved("vgg16", "cpu")
    assert s.content_layer == "relu3_3" and s.style_layers == STYLE_LAYERS == tuple(
        f"relu{i}_1" for i in range(1, 6)
    )
    assert s.steps == default_steps("cpu") and s.init == "content" and s.px == 128
    assert StyleSettings().resolved("vgg19", "cpu").content_layer == "relu4_2"
    assert s.resolved("vgg16", "cpu") == s
    (cpu_steps, cpu_px), (cuda_steps, cuda_px) = limits("cpu"), limits("cuda")
    assert cuda_steps > cpu_steps and cuda_px > cpu_px and limits("mps") == limits("cpu")
    StyleSettings(steps=cpu_steps, px=cpu_px).resolved("vgg16", "cpu")
    with pytest.raises(ValueError, match="on cpu"):
        StyleSettings(px=cpu_px + 1).resolved("vgg16", "cpu")
    assert StyleSettings(px=cpu_px + 1).resolved("vgg16", "cuda").px == cpu_px + 1


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"content_layer": "relu9_9"}, "vgg16 has no layer 'relu9_9'"),
        ({"style_layers": ()}, "at least one style layer"),
        ({"steps": 0}, "steps must be between 1 and"),
        ({"px": 16}, "px must be between 32 and"),
        ({"style_weight": -1}, "style_weight must be a finite number ≥ 0"),
        ({"tv_weight": float("nan")}, "tv_weight must be a finite number ≥ 0"),
        ({"content_weight": 0, "style_weight": 0}, "cannot both be 0"),
        ({"init": "white"}, "start from one of content, noise, not 'white'"),
        ({"lr": 0}, "lr must be a finite number > 0"),
    ],
)
def test_invalid_settings_are_clear_value_errors(kw, message):
    with pytest.raises(ValueError, match=message):
        StyleSettings(**kw).resolved("vgg16", "cpu")


def test_images_are_checked_by_the_call_itself(vgg16, cat):
    with pytest.raises(ValueError, match="NaN"):
        style_transfer(vgg16, cat, torch.full((1, 3, 40, 40), float("nan")), StyleSettings(**SMALL))
    with pytest.raises(ValueError, match=r"shape \(1, 3, H, W\)"):
        style_transfer(vgg16, torch.rand(2, 3, 40, 40), cat, StyleSettings(**SMALL))


# --------------------------------------------------------------------------- the figure


def test_figure_pictures_record_and_words(vgg16, cat, brick):
    s = StyleSettings(steps=4, **SMALL).resolved("vgg16", "cpu")
    fig = fst.run_to_end(vgg16, cat, brick, s)
    assert list(fig.pictures) == ["content", "style", "result", "loss curves"]
    assert fig.pictures["content"].size == (48, 32) and fig.pictures["style"].size == (48, 48)
    r = fig.record
    assert (
        r["settings"]["style_layers"] == list(STYLE_LAYERS) or r["settings"]["style_layers"] == STYLE_LAYERS
    )
    assert r["result"]["steps_done"] == 4 and r["result"]["stopped"] == ""
    assert r["result"]["start_distances"]["content"] == pytest.approx(0.0, abs=1e-6)
    assert [p["step"] for p in r["loss_curve"]] == [0, 1, 2, 3, 4]
    assert {"loss", "content", "style", "tv", "content distance", "style distance"} <= set(r["loss_curve"][0])
    assert str(fig.what).startswith("Content at relu3_3, style at relu1_1 … relu5_1 · α 1, β 10, γ 10")
    assert "style distance" in str(fig.info) and "from the start" in str(fig.info)
    assert str(fig.run_note).startswith("4 steps · loss ")


# --------------------------------------------------------------------------- the endpoint


@pytest.fixture
def ctx(tmp_path):
    c = AppContext.create(ModelPool("vgg16", "untrained", "cpu"), LaneLimits())
    c.showcase = Showcase(tmp_path / "showcase", c.lanes)
    return c


def _endpoint(ctx, content=str(CHELSEA), style=str(BRICK), steps=4, px=48, history=None, **kw):
    weights = {"content_weight": 1.0, "style_weight": 10.0, "tv_weight": 10.0, **kw}
    fn = ctx.endpoint(tab.style_transfer)
    args = (weights["content_weight"], weights["style_weight"], weights["tv_weight"], "relu3_3")
    return list(
        fn(
            content,
            style,
            *args,
            steps,
            px,
            0,
            "content",
            "vgg16",
            history or [],
            progress=lambda *a, **k: None,
        )
    )


def test_endpoint_streams_and_stops_at_its_time_limit(ctx):
    *updates, final = _endpoint(ctx)
    assert updates and all(u[3] == u[4] == u[5] == gr.skip() for u in updates)  # runs, zip: at the end
    _picture, _curve, info, runs, zipped, _history = final
    assert "step 4/4" in info and "style distance" in info
    assert runs[0][1].startswith("relu3_3 · α 1, β 10, γ 10 · 4 steps · loss ")
    record, pics = read_bundle(zipped)
    assert record["kind"] == "style-transfer" and len(pics) == 4
    ctx.time_limit_s = -1.0  # already past the deadline
    *_, (_p, _c, info, runs, zipped, _h) = _endpoint(ctx, history=runs)
    assert "stopped at step 0 (time limit)" in info.replace("**", "") and len(runs) == 2
    assert Path(zipped).is_file()
    with pytest.raises(gr.Error, match="style photo"):
        _endpoint(ctx, style=None)


def test_an_example_pairs_default_run_is_served_from_the_showcase(ctx, monkeypatch):
    """The endpoint looks a default run of an example pair up under the key the showcase's recipe
    stores it with (checked with a quick figure stored in its place)."""
    shared = type("S", (), {"arch0": "vgg16", "device": "cpu"})()
    for r in tab.recipes(shared):
        ctx.showcase.add(r)
    model = ctx.model("vgg16")
    recipe = ctx.showcase.recipes[0]
    (content,) = recipe.samples
    small = StyleSettings(steps=2, **SMALL).resolved("vgg16", "cpu")
    quick = fst.run_to_end(model, load_image(content).tensor(), load_image(BRICK).tensor(), small)
    assert ctx.showcase.put(recipe.kind, model, recipe.image_key(model, content), recipe.settings, quick)
    d = StyleSettings().resolved("vgg16", "cpu")
    *_, final = _endpoint(ctx, content=content, steps=d.steps, px=d.px)
    assert str(FROM_SHOWCASE) in final[2]
    assert final[3][0][1].startswith("relu3_3 · α 1, β 10, γ 10 · 2 steps"), "the stored run, not a new one"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_and_yields_cpu_images(cat, brick):
    model = load_vgg("vgg16", "untrained", "cuda")
    items = _run(model, cat.cuda(), brick.cuda(), every=5, steps=10, init="noise", seed=2)
    assert all(i.image.device.type == "cpu" for i in items)
    assert items[-1].loss < items[0].loss
    assert torch.equal(items[0].image, initial_image((32, 48), 2, "cpu"))  # the same noise on every device


# --------------------------------------------------------------------------- with real weights


@needs_real_weights
def test_with_real_weights_the_result_takes_the_style_and_keeps_the_content(cat, brick):
    """Chelsea in bricks: the Gram style distance to the brick photo falls by at least half from
    the cat's own, while the result stays closer to the cat's relu3_3 features than the brick
    photo itself is."""
    model = load_vgg("vgg16", str(REAL_WEIGHTS), "cpu")
    s = StyleSettings(px=64, steps=40).resolved("vgg16", "cpu")
    items = list(style_transfer(model, cat, brick, s, every=40))
    first, last = items[0], items[-1]
    t = targets(model, cat, brick, s)
    h, w = t.content.shape[-2:]
    as_content = torch.nn.functional.interpolate(resize_target(brick, 64, "cpu"), size=(h, w), mode="area")
    wall = distances(model, as_content, t, s)
    fell = 1 - last.distances["style"] / first.distances["style"]
    print(
        f"style distance {first.distances['style']:.4g} → {last.distances['style']:.4g} (−{fell:.0%}); "
        f"content distance {last.distances['content']:.3f} (the brick photo's: {wall['content']:.3f}); "
        f"{last.seconds / last.step:.2f} s per step"
    )
    assert fell >= 0.5
    assert last.distances["content"] < wall["content"]
