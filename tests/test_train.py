"""Train with it (perceptual_viz.lessons.train, figures.train, the ``train`` command).

On the untrained VGG16 with tiny networks, patches and images, so the file takes seconds on a
2-core CPU; one test uses the real ImageNet weights when they are present and checks the
lesson itself.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from perceptual_viz.backbone import load_vgg
from perceptual_viz.cli import main as cli
from perceptual_viz.figures import train as ft
from perceptual_viz.lessons import train as tl

from .support import REAL_WEIGHTS, SAMPLES, needs_real_weights, to_tensor

TINY = {"patch": 16, "batch": 2, "width": 8, "depth": 3, "eval_size": 32}


@pytest.fixture(scope="module")
def images(photos) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Two small training images and a held-out one (tensors (1, 3, H, W) in [0, 1])."""
    train = [to_tensor(photos["astronaut"][100:164, 180:244]), to_tensor(photos["coffee"][:48, :64])]
    return train, to_tensor(photos["chelsea"][40:120, 140:260])


def _run(model, images, every: int = 1, should_stop=None, deadline=None, **kw) -> list[tl.TrainStep]:
    train, ev = images
    s = tl.TrainSettings(**{**TINY, **kw})
    return list(tl.train(model, train, ev, s, every=every, should_stop=should_stop, deadline=deadline))


# --------------------------------------------------------------------------- learning


@pytest.mark.parametrize(
    ("task", "lr", "steps"), [("sr4", 0.01, 40), ("deblur", 0.015, 60), ("denoise", 0.05, 40)]
)
def test_every_loss_decreases(vgg16, photos, task, lr, steps):
    # The training image is one patch: every batch is that crop, flipped or transposed.
    train = [to_tensor(photos["astronaut"][180:196, 200:216])]
    ev = to_tensor(photos["chelsea"][40:100, 140:220])
    s = tl.TrainSettings(task=task, losses=tl.LOSSES, steps=steps, lr=lr, **{**TINY, "batch": 4})
    items = list(tl.train(vgg16, train, ev, s, every=10))
    first, last = items[1], items[-1]  # the mean loss of the first 10 steps, and of the last 10
    assert (first.step, last.step) == (10, steps) and last.done
    for name in tl.LOSSES:
        assert last.losses[name] < 0.9 * first.losses[name], (name, first.losses[name], last.losses[name])


def test_reports_outputs_and_psnr(vgg16, images):
    items = _run(vgg16, images, every=3, steps=7, losses=("mse", "perceptual"))
    assert [i.step for i in items] == [0, 3, 6, 7]
    assert [i.done for i in items] == [False, False, False, True]
    assert items[0].losses == {} and set(items[1].losses) == {"mse", "perceptual"}
    truth = tl.eval_pair(images[1], tl.TrainSettings(**TINY).resolved("vgg16", "cpu"))[1]
    for i in items:
        assert i.total == 7 and i.stopped == ""
        for name, out in i.outputs.items():
            assert out.device.type == "cpu" and out.dtype == torch.float32 and not out.requires_grad
            assert out.shape == truth.shape and out.min() >= 0 and out.max() <= 1
            assert i.psnr[name] == pytest.approx(
                -10 * torch.log10((out - truth).pow(2).mean()).item(), rel=1e-4
            )
    secs = [i.seconds for i in items]
    assert secs == sorted(secs)
    assert not torch.equal(items[0].outputs["mse"], items[-1].outputs["mse"])  # snapshots, not views


def test_networks_start_from_identical_weights(vgg16, images):
    s = tl.TrainSettings(**TINY, losses=tl.LOSSES).resolved("vgg16", "cpu")
    nets = tl.build_networks(s, "cpu")
    assert list(nets) == list(tl.LOSSES)
    first = nets["mse"].state_dict()
    for net in nets.values():
        assert all(torch.equal(first[k], v) for k, v in net.state_dict().items())
    assert len({id(p) for net in nets.values() for p in net.parameters()}) == sum(
        len(list(net.parameters())) for net in nets.values()
    ), "separate parameters, not shared ones"
    default = tl.build_networks(tl.TrainSettings().resolved("vgg16", "cpu"), "cpu")["mse"]
    assert 30_000 <= tl.parameter_count(default) <= 100_000
    # a new network is the identity: at step 0 every output is the degraded input itself
    x, _ = tl.eval_pair(images[1], s)
    step0 = _run(vgg16, images, steps=1, losses=tl.LOSSES)[0]
    for out in step0.outputs.values():
        assert torch.allclose(out, x, atol=1e-6)
    # the caller's random state is left alone
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tl.build_networks(s, "cpu")
    assert torch.equal(torch.rand(3), expected)


def test_fit_can_start_from_a_trained_network_and_keep_parameters_fixed(vgg16, images):
    """The warm start of tools/train_reference.py: every network a copy of ``start``; the
    ``frozen`` parameters stay as they were, the others train."""
    s = tl.TrainSettings(**TINY, steps=3, losses=("mse", "perceptual")).resolved("vgg16", "cpu")
    start = tl.fit(
        vgg16, images[0], tl.TrainSettings(**TINY, steps=3, losses=("mse",)).resolved("vgg16", "cpu")
    )
    start_state = {k: v.clone() for k, v in start["mse"].state_dict().items()}
    nets = tl.fit(vgg16, images[0], s, start=start["mse"], frozen=("body.4.bias",))
    for net in nets.values():
        state = net.state_dict()
        assert torch.equal(state["body.4.bias"], start_state["body.4.bias"]), "frozen"
        assert not torch.equal(state["body.4.weight"], start_state["body.4.weight"]), "trained"
        assert all(p.requires_grad == (n != "body.4.bias") for n, p in net.named_parameters())


def test_feature_norm_loss_is_lpips_unweighted_distance(vgg16, images):
    """``feature_norm`` (tools/train_reference.py --feature-norm): the perceptual loss is LPIPS's
    distance with every linear weight 1 — per layer, Σ_c of the squared difference of the
    channel-normalised features, averaged over positions — summed over the layers; it trains."""
    from perceptual_viz.metrics import normalized_feature_distance

    names = ("relu1_2", "relu3_3")
    s = tl.TrainSettings(**TINY, steps=3, losses=("perceptual",), layers=names, feature_norm=True)
    s = s.resolved("vgg16", "cpu")
    x, t = tl.PatchSampler(tl.training_images(images[0], s), s)()
    y = (x + 0.05 * torch.randn_like(x)).clamp(0, 1).requires_grad_(True)
    loss = tl.step_losses(vgg16, {"perceptual": y}, t, s, shift=(0, 0))["perceptual"]
    h, w = t.shape[-2] - tl.JITTER, t.shape[-1] - tl.JITTER  # what VGG sees: shifted by (0, 0)
    f = vgg16(torch.cat([y, t]).detach()[..., :h, :w], names)
    by_hand = 0.0
    for n in names:
        a, b = f[n][: len(t)].double(), f[n][len(t) :].double()
        a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        by_hand += float((a - b).pow(2).sum(1).mean())
    assert float(loss.detach()) == pytest.approx(by_hand, rel=1e-5) and by_hand > 0
    loss.backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0
    # Features 100× larger (Caffe-like weights) give the same distance.
    fa = {n: f[n][: len(t)] for n in names}
    ft = {n: f[n][len(t) :] for n in names}
    scaled = normalized_feature_distance(
        {n: 100 * v for n, v in fa.items()}, {n: 100 * v for n, v in ft.items()}, names
    )
    assert float(scaled) == pytest.approx(by_hand, rel=1e-4)
    last = tl.fit(vgg16, images[0], s)["perceptual"].body[-1].weight
    assert float(last.detach().abs().sum()) > 0, "it trains: the last convolution left zero"


def test_same_seed_same_networks_other_seed_other(vgg16, images):
    a = _run(vgg16, images, steps=6, seed=2, task="denoise")[-1]
    b = _run(vgg16, images, steps=6, seed=2, task="denoise")[-1]
    c = _run(vgg16, images, steps=6, seed=3, task="denoise")[-1]
    for name in a.outputs:
        assert torch.equal(a.outputs[name], b.outputs[name])
        assert not torch.equal(a.outputs[name], c.outputs[name])
    assert a.losses == b.losses
    s = tl.TrainSettings(**TINY, seed=5).resolved("vgg16", "cpu")
    train = tl.training_images(images[0], s)
    x1, t1 = tl.PatchSampler(train, s)()
    x2, t2 = tl.PatchSampler(train, s)()
    assert torch.equal(x1, x2) and torch.equal(t1, t2)


# --------------------------------------------------------------------------- the shared VGG


def test_the_shared_vgg_is_untouched(vgg16, images):
    before = {k: v.detach().clone() for k, v in vgg16.state_dict().items()}
    with torch.no_grad():  # the consumer's grad mode never changes between items
        for _ in tl.train(vgg16, *images, tl.TrainSettings(**TINY, steps=3, losses=tl.LOSSES)):
            assert not torch.is_grad_enabled()
    with torch.inference_mode():
        items = []
        for item in tl.train(vgg16, *images, tl.TrainSettings(**TINY, steps=3)):
            assert torch.is_inference_mode_enabled()
            items.append(item)
        assert items[-1].step == 3
    assert not vgg16.training
    assert not any(p.requires_grad for p in vgg16.parameters())
    assert all(p.grad is None for p in vgg16.parameters())
    after = vgg16.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_one_batched_vgg_forward_per_step(images):
    model = load_vgg("vgg16", "untrained", "cpu")  # its own: a hook is added to it
    batches: list[int] = []
    model.register_forward_pre_hook(lambda m, args: batches.append(int(args[0].shape[0])))
    _run(model, images, every=100, steps=5, losses=("mse", "perceptual", "l1", "perceptual+style"))
    # two networks need VGG: their outputs and the targets, 3 × batch images, once per step
    assert batches == [3 * TINY["batch"]] * 5
    assert model.forward_count == 5
    batches.clear()
    _run(model, images, every=100, steps=5, losses=("mse", "l1"))
    assert batches == [], "pixel losses never run VGG"


# --------------------------------------------------------------------------- stopping


def test_should_stop_cancels_after_n_steps(vgg16, images):
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 5

    items = _run(vgg16, images, every=2, steps=40, should_stop=stop)
    last = items[-1]
    assert last.done and last.stopped == "cancelled" and last.step == 5 and last.total == 40
    assert [i.step for i in items] == [0, 2, 4, 5] and len(calls) == 6
    first = _run(vgg16, images, steps=40, should_stop=lambda: True)
    assert len(first) == 1 and first[0].step == 0 and first[0].stopped == "cancelled"


def test_deadline_stops_the_run(vgg16, images):
    past = _run(vgg16, images, steps=40, deadline=time.monotonic() - 1.0)
    assert len(past) == 1 and past[0].done and past[0].stopped == "time limit"
    future = _run(vgg16, images, steps=3, deadline=time.monotonic() + 600.0)
    assert future[-1].step == 3 and future[-1].stopped == ""


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"task": "sr8"}, "unknown task 'sr8'; choose one of sr4, denoise, deblur"),
        ({"losses": ("mse", "ssim")}, "unknown loss 'ssim'; choose from mse, l1, perceptual"),
        ({"losses": ()}, "choose at least one loss"),
        ({"layers": ("relu9_9",)}, "vgg16 has no layer 'relu9_9'"),
        ({"steps": 0}, "steps must be between 1 and 1000 on cpu, not 0"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"patch": 4096}, "patch must be between 16 and 96 px on cpu, not 4096"),
        ({"patch": 30}, "patch must be a multiple of 4 px"),
        ({"batch": 0}, "batch must be between 1 and"),
        ({"noise": 0.9}, "noise must be between 0.01 and 0.5"),
        ({"noise": float("nan")}, "noise must be a finite number > 0"),
        ({"blur": 0.0}, "blur must be a finite number > 0"),
        ({"lr": -1.0}, "lr must be a finite number > 0"),
        ({"pixel_weight": -1.0}, "pixel_weight must be a finite number ≥ 0"),
        ({"eval_size": 8}, "eval_size must be between 32 and"),
    ],
)
def test_bad_settings_are_one_sentence(kw, message):
    with pytest.raises(tl.InputError) as err:
        tl.TrainSettings(**kw).resolved("vgg16", "cpu")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_images_are_one_sentence(vgg16, images):
    train, ev = images
    s = tl.TrainSettings(**TINY, steps=2)
    cases = [
        ([], ev, "give at least one training image"),
        (train[0], ev, "give at least one training image"),
        (
            [torch.rand(1, 3, 12, 40)],
            ev,
            "training image 1 is 40×12 px after resizing, smaller than the 16-px patch",
        ),
        ([*train, torch.full((1, 3, 40, 40), float("nan"))], ev, "training image 3 contains NaN"),
        (train, torch.rand(2, 3, 40, 40), "the evaluation image must be one image"),
        ("not a list", ev, "give at least one training image"),
    ]
    for tr_images, eval_image, message in cases:
        with pytest.raises(tl.InputError) as err:
            tl.train(vgg16, tr_images, eval_image, s)  # raised by the call, not by next()
        assert message in str(err.value) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(tl.InputError, match="training image 3 is the evaluation image; hold"):
        tl.train(vgg16, [*train, ev.clone()], ev, s)
    with pytest.raises(tl.InputError, match="every must be at least 1"):
        tl.train(vgg16, train, ev, s, every=0)


def test_limits_grow_on_cuda():
    assert tl.limits("mps") == tl.limits("cpu")
    cpu, cuda = tl.budget("cpu"), tl.budget(torch.device("cuda"))
    assert cuda.max_steps > cpu.max_steps and cuda.max_patch > cpu.max_patch and cuda.width >= cpu.width
    s = tl.TrainSettings(steps=cpu.max_steps + 1, patch=cpu.max_patch + 4)
    with pytest.raises(tl.InputError, match="on cpu"):
        s.resolved("vgg16", "cpu")
    assert s.resolved("vgg16", "cuda").steps == cpu.max_steps + 1
    d = tl.TrainSettings().resolved("vgg16", "cpu")
    assert (d.task, d.losses, d.layers) == ("sr4", tl.DEFAULT_LOSSES, ("relu2_2",))
    assert d.resolved("vgg16", "cpu") == d  # idempotent
    assert tl.TrainSettings(losses="mse, perceptual").resolved("vgg16", "cpu").losses == ("mse", "perceptual")


# --------------------------------------------------------------------------- figure and command line


def test_figure_pictures_record_and_table(vgg16, images):
    train, ev = images
    s = tl.TrainSettings(**TINY, steps=4, losses=("mse", "perceptual")).resolved("vgg16", "cpu")
    fig = ft.run_to_end(vgg16, train, ev, s)
    assert fig.kind == "train"
    assert list(fig.pictures) == [
        "input (bicubic ×4)",
        "ground truth",
        "mse network",
        "perceptual network",
        "zoomed crops",
        "loss curves",
    ]
    r = fig.record
    assert set(r["runs"]) == {"mse", "perceptual"}
    for run in r["runs"].values():
        assert set(run["eval"]) == {"mse", "psnr", "ssim", "lpips"} and run["final_loss"] > 0
        assert [p["step"] for p in run["curve"]] == [1, 2, 3, 4]
    assert r["weights"]["trained"] is False and "UNTRAINED" in r["note"]
    assert "Untrained weights" in str(fig.info)
    table = fig.table
    names = [str(c) for c in table.column("image")]
    assert names == ["input (bicubic ×4)", "mse network", "perceptual network"]
    assert table.column("final training loss")[0] is None
    top, left, side = (r["zoom"][k] for k in ("top", "left", "side"))
    h, w = r["eval"]["size_hw"]
    assert 0 <= top <= h - side and 0 <= left <= w - side


def test_zoom_box_finds_the_texture():
    x = torch.full((1, 3, 60, 90), 0.5)
    x[..., 30:50, 60:80] = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    top, left, side = ft.zoom_box(x)
    assert side == 20
    assert abs(top - 30) <= 3 and abs(left - 60) <= 3


def _sample_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "train",
        str(SAMPLES / "astronaut.png"),
        str(SAMPLES / "coffee.png"),
        "--eval",
        str(SAMPLES / "chelsea.png"),
        *extra,
    ]


def test_cli_json_export_and_pictures(tmp_path, capsys):
    zipped, folder = tmp_path / "t.zip", tmp_path / "pics"
    args = [
        "--steps",
        "3",
        "--patch",
        "16",
        "--batch",
        "2",
        "--eval-size",
        "40",
        "--losses",
        "mse,perceptual",
    ]
    code = cli([*_sample_args(tmp_path, *args), "--json", "--export", str(zipped), "--out-dir", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)  # exactly one JSON object on stdout
    assert {"task", "steps", "seed", "weights", "runs"} <= set(d)
    assert (d["task"], d["steps"], d["seed"]) == ("sr4", 3, 0)
    assert d["weights"] == {"source": "untrained", "trained": False, "location": None}
    assert "UNTRAINED" in d["note"] and "UNTRAINED" in err
    assert set(d["runs"]) == {"mse", "perceptual"}
    for run in d["runs"].values():
        assert set(run["eval"]) == {"mse", "psnr", "ssim", "lpips"}
        assert run["seconds"] > 0 and run["final_loss"] > 0
    from perceptual_viz.export import read_bundle

    record, pics = read_bundle(zipped)
    assert record["kind"] == "train" and record["frontend"] == "cli" and len(pics) == 6
    assert sorted(p.name for p in folder.iterdir()) == sorted(pics)
    code = cli(_sample_args(tmp_path, "--steps", "2", "--patch", "16", "--batch", "1", "--eval-size", "32"))
    out, _ = capsys.readouterr()
    assert code == 0 and "LPIPS" in out and "mse network" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "sr8"], "unknown task 'sr8'"),
        (["--losses", "mse,wobble"], "unknown loss 'wobble'"),
        (["--steps", "0"], "steps must be between 1 and"),
        (["--patch", "4000"], "patch must be between 16 and"),
        (["--task", "denoise", "--noise", "2"], "noise must be between"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, extra, message):
    code = cli(_sample_args(tmp_path, *extra))
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if not ln.startswith("warning:")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_cli_eval_image_among_training_images_is_refused(capsys):
    chelsea = str(SAMPLES / "chelsea.png")
    code = cli(["train", chelsea, "--eval", chelsea, "--steps", "1"])
    _, err = capsys.readouterr()
    assert code == 2 and "hold the evaluation image out" in err


# --------------------------------------------------------------------------- the lesson, real weights


# The lesson's claim on real weights. The default run, as a student starts it (250 steps, ~45 s on
# a 2-core CPU), is the soak's; the suite trains the same networks on the same photos for 100
# steps, where the claim already holds for seeds 0-2 by >= 1 dB of PSNR and >= 0.007 of LPIPS.
LESSON_RUNS = [
    pytest.param(["--steps", "100"], id="100-steps"),
    pytest.param([], id="default-run", marks=pytest.mark.soak),
]


@pytest.mark.slow
@needs_real_weights
@pytest.mark.parametrize("steps", LESSON_RUNS)
def test_with_imagenet_weights_mse_wins_psnr_and_perceptual_wins_lpips(capsys, steps):
    from perceptual_viz.metrics import lpips_available

    if not lpips_available():
        pytest.skip("the lpips package (LPIPS's linear weights) is not installed")
    train = [str(SAMPLES / n) for n in tl.DEFAULT_TRAIN_SAMPLES]
    args = [
        "train",
        *train,
        "--eval",
        str(SAMPLES / tl.DEFAULT_EVAL_SAMPLE),
        "--weights",
        str(REAL_WEIGHTS),
        *steps,
    ]
    code = cli([*args, "--device", "cpu", "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    assert d["weights"]["trained"] is True and "note" not in d
    runs = d["runs"]
    assert runs["mse"]["eval"]["psnr"] > runs["perceptual"]["eval"]["psnr"], runs
    assert runs["perceptual"]["eval"]["lpips"] < runs["mse"]["eval"]["lpips"], runs
