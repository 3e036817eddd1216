"""The reference networks of "Train with it" (perceptual_viz.lessons.reference, the figure, the
``train --reference`` command): shipped with their provenance, never trained on a bundled photo,
and — with the real ImageNet weights — teaching the lesson on every bundled photo."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import torch

from perceptual_viz.assets import ASSETS_DIR, PHOTOS, sample
from perceptual_viz.cli import main as cli
from perceptual_viz.figures import train as ft
from perceptual_viz.images import load_image
from perceptual_viz.lessons import reference as rf
from perceptual_viz.lessons import train as tl

from .support import REAL_WEIGHTS, needs_real_weights

SCORES = {"mse", "psnr", "ssim", "lpips", "dists"}


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small_photo() -> torch.Tensor:
    """Chelsea, a quarter of it (the networks are fully convolutional: any size goes)."""
    return load_image(sample("chelsea.png")).tensor()[..., 60:188, 120:248]


# --------------------------------------------------------------------------- what is shipped

NONE_SHIPPED = "no reference networks shipped: every task trained ahead was withdrawn (see reference.json)"
needs_shipped = pytest.mark.skipif(not rf.tasks(), reason=NONE_SHIPPED)


def test_every_task_trained_ahead_is_recorded_and_shipped_only_where_its_lesson_holds():
    made = rf.provenance()
    assert made["tasks"], "no task trained ahead"
    for task, rec in made["tasks"].items():
        s = rec["settings"]
        assert s["losses"] == rec["losses"] and "mse" in s["losses"]
        assert any(tl.uses_vgg(n) for n in s["losses"])
        assert s["steps"] >= 1000 and rec["date"] and rec["command"].startswith("python tools/")
        assert len(rec["eval"]) == len(PHOTOS) >= 5, "scored on every bundled photo"
        assert all(rec["final_loss"][loss] > 0 for loss in rec["networks"])
        holds = rec["lesson_holds_on"] == len(PHOTOS)
        assert (task in rf.tasks()) == holds, "shipped exactly when the lesson holds on every photo"
        assert ("withdrawn" in rec) != holds and ("withdrawn" not in rec or rf.withdrawn()[task])
        for net in rec["networks"].values():
            path = rf.REFERENCE_DIR / net["file"]
            if holds:
                assert _sha256(path) == net["sha256"], "a network differs from its record"
            else:
                assert not path.exists(), "a withdrawn task's networks are not shipped"
    assert len(made["vgg"]["sha256"]) == 64 and made["vgg"]["arch"] == "vgg16"


def test_the_training_photos_are_recorded_attributed_and_not_bundled_samples():
    photos = rf.provenance()["data"]["photos"]
    attribution = (ASSETS_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    bundled = {_sha256(sample(n)) for n in PHOTOS}
    assert len(photos) >= 5
    for p in photos:
        path = ASSETS_DIR / p["file"]
        assert _sha256(path) == p["sha256"], f"{p['file']} differs from the record"
        assert p["sha256"] not in bundled and path.name not in PHOTOS
        assert f"`{p['file']}`" in attribution, f"{p['file']} has no attribution"
        assert path.stat().st_size < 200_000, "training photos are kept small"


@needs_shipped
def test_networks_are_the_live_lessons_network():
    for task in rf.tasks():
        nets = rf.networks(task)
        s = rf.trained_settings(task)
        assert set(nets) == set(s.losses)
        live = tl.build_networks(tl.TrainSettings(losses=("mse",)).resolved("vgg16", "cpu"), "cpu")["mse"]
        for net in nets.values():
            assert [p.shape for p in net.parameters()] == [p.shape for p in live.parameters()]
            assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_unknown_or_unshipped_task_is_one_sentence():
    from perceptual_viz.errors import InputError

    with pytest.raises(InputError, match="unknown task 'sr8'"):
        rf.networks("sr8")


# --------------------------------------------------------------------------- running them


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The shipped networks, or (none shipped) a folder of freshly initialised ones for sr4,
    written the way tools/train_reference.py writes them: the loading and scoring are the same."""
    import dataclasses

    from safetensors.torch import save_file

    if rf.tasks():
        return rf.REFERENCE_DIR
    out = tmp_path_factory.mktemp("reference")
    s = tl.TrainSettings(task="sr4", steps=1000).resolved("vgg16", "cpu")
    nets = tl.build_networks(s, "cpu")
    for loss, net in nets.items():
        save_file(
            {k: v.half().contiguous() for k, v in net.state_dict().items()},
            str(out / rf.file_name("sr4", loss)),
        )
    entry = {"losses": list(s.losses), "settings": dataclasses.asdict(s)}
    (out / rf.PROVENANCE_FILE).write_text(json.dumps({"tasks": {"sr4": entry}}))
    return out


def test_run_scores_every_network_on_the_live_lessons_input(vgg16, small_photo, folder):
    task = rf.tasks(folder)[0]
    run = rf.run(vgg16, task, small_photo, seed=0, eval_size=128, folder=folder)
    live = tl.TrainSettings(task=task, eval_size=128, noise=run.settings.noise, blur=run.settings.blur)
    x, truth = tl.eval_pair(small_photo, live.resolved("vgg16", "cpu"))
    assert torch.equal(run.x, x) and torch.equal(run.truth, truth), "the live lesson's input and truth"
    assert set(run.outputs) == set(rf.trained_settings(task, folder).losses)
    for out in run.outputs.values():
        assert out.shape == truth.shape and 0 <= float(out.min()) <= float(out.max()) <= 1
    assert set(run.scores) == {"input", *run.outputs}
    assert all(set(sc) >= SCORES for sc in run.scores.values())
    again = rf.run(vgg16, task, small_photo, seed=0, eval_size=128, folder=folder)
    assert all(torch.equal(again.outputs[n], o) for n, o in run.outputs.items()), "deterministic"


@needs_shipped
def test_figure_says_how_they_were_trained_and_who_won(vgg16, small_photo):
    task = rf.tasks()[0]
    fig = ft.reference_figure(vgg16, task, small_photo)
    steps = rf.trained_settings(task).steps
    assert list(fig.pictures)[:2] == [str(ft.input_name(rf.trained_settings(task))), "ground truth"]
    assert "zoomed crops" in fig.pictures and fig.kind == "train-reference"
    info = str(fig.info)
    assert f"trained for {steps} steps" in info and "best PSNR: " in info and "Untrained weights" in info
    rows = [str(r[0]) for r in fig.table.rows]
    assert rows[1:] == [f"{n} network" for n in rf.trained_settings(task).losses]
    assert fig.record["reference"]["settings"]["steps"] == steps
    assert set(fig.record["eval"]["runs"]) == set(rf.trained_settings(task).losses)


def test_verdict_names_the_winners():
    scores = {
        "input": {"psnr": 30.0, "lpips": 0.1},
        "mse": {"psnr": 28.0, "lpips": 0.3},
        "perceptual": {"psnr": 27.0, "lpips": 0.2},
    }
    assert str(ft.verdict(scores)) == (
        "best PSNR: mse network (28.00 dB) · best LPIPS: perceptual network (0.200)"
    )


@needs_shipped
def test_cli_reference_json(capsys, tmp_path):
    task = rf.tasks()[0]
    zipped = tmp_path / "r.zip"
    args = [
        "train",
        "--reference",
        "--task",
        task,
        "--eval",
        str(sample("camera.png")),
        "--weights",
        "untrained",
    ]
    code = cli([*args, "--device", "cpu", "--json", "--export", str(zipped)])
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    assert d["task"] == task and d["reference"] is True and "UNTRAINED" in d["note"]
    assert set(d["runs"]) == set(rf.trained_settings(task).losses)
    assert all(set(r["eval"]) >= SCORES for r in d["runs"].values()) and set(d["input"]) >= SCORES
    assert d["trained"]["steps"] == rf.trained_settings(task).steps and d["trained"]["photos"] >= 5
    from perceptual_viz.export import read_bundle

    record, pics = read_bundle(zipped)
    assert record["kind"] == "train-reference" and len(pics) == 3 + len(d["runs"])
    code = cli([*args, "--device", "cpu"])
    out, _ = capsys.readouterr()
    assert code == 0 and "mse network" in out and "best PSNR: " in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "sr8"], "no reference networks for task 'sr8'"),
        *((["--task", t], f"no reference networks for task {t!r}") for t in rf.withdrawn()),
        ([str(sample("coffee.png"))], "--reference trains nothing"),
    ],
)
def test_cli_reference_bad_arguments_exit_2(capsys, extra, message):
    code = cli(
        ["train", "--reference", "--eval", str(sample("camera.png")), "--weights", "untrained", *extra]
    )
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if not ln.startswith("warning:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_cli_train_without_images_or_reference_is_refused(capsys):
    code = cli(["train", "--eval", str(sample("camera.png"))])
    _, err = capsys.readouterr()
    assert code == 2 and "give at least one TRAIN_IMAGE" in err


# --------------------------------------------------------------------------- the lesson, real weights


@pytest.fixture(scope="module")
def imagenet_vgg():
    from perceptual_viz.backbone import load_vgg
    from perceptual_viz.dists import dists_available
    from perceptual_viz.metrics import lpips_available

    if not lpips_available():
        pytest.skip("the lpips package (LPIPS's linear weights) is not installed")
    if not dists_available():
        pytest.skip("the dists-pytorch package (DISTS's weights) is not installed")
    return load_vgg("vgg16", weights=str(REAL_WEIGHTS), device="cpu")


def _lesson(scores: dict[str, dict[str, float | None]]) -> list[str]:
    """What is wrong with the lesson on one photo: [] when the MSE network has the best PSNR and
    a VGG-loss network the best LPIPS, and one the best DISTS."""
    nets = {n: s for n, s in scores.items() if n != "input"}
    wrong = []
    best_psnr = max(nets, key=lambda n: nets[n]["psnr"] or float("inf"))
    if best_psnr != "mse":
        wrong.append(f"best PSNR: {best_psnr}")
    for key in ("lpips", "dists"):
        assert all(s.get(key) is not None for s in nets.values()), f"{key} is scored"
        best = min(nets, key=lambda n: nets[n][key])
        if not tl.uses_vgg(best):
            wrong.append(f"best {key}: {best}")
    return wrong


@needs_real_weights
@pytest.mark.parametrize(
    "task", rf.tasks() or [pytest.param(None, marks=pytest.mark.skip(reason=NONE_SHIPPED))]
)
def test_with_imagenet_weights_the_lesson_holds_on_every_bundled_photo(imagenet_vgg, task):
    """For each task the tab offers, on each bundled photo (openly licensed, never trained on),
    at the tab's size: the MSE network has the best PSNR, a VGG-loss network the best LPIPS and
    one the best DISTS."""
    t0 = time.monotonic()
    recorded = rf.provenance()["tasks"][task]["eval"]
    failures = {}
    for name in PHOTOS:
        run = rf.run(imagenet_vgg, task, load_image(sample(name)).tensor(), seed=0)
        assert max(run.truth.shape[-2:]) > 240, "at the tab's evaluation size"
        if wrong := _lesson(run.scores):
            failures[name] = (wrong, run.scores)
        for n, sc in recorded[name]["scores"].items():  # the record (and the docs) say what it does
            assert run.scores[n]["psnr"] == pytest.approx(sc["psnr"], abs=0.01), (name, n)
            assert run.scores[n]["lpips"] == pytest.approx(sc["lpips"], abs=0.001), (name, n)
            assert run.scores[n]["dists"] == pytest.approx(sc["dists"], abs=0.001), (name, n)
    assert not failures, failures
    assert time.monotonic() - t0 < 60
