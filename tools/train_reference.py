"""Train the reference networks of the "Train with it" lesson, and record how.

    nice -n 19 python tools/train_reference.py --weights /path/to/vgg16_imagenet_features.pth

For each task, one :class:`perceptual_viz.lessons.train.ResidualCNN` per loss (the live
lesson's network: same width and depth), trained side by side with the lesson's own loop
(:func:`perceptual_viz.lessons.train.fit`: same start, same patches, same optimiser; only the
loss differs), but for thousands of steps, on larger patches, on the openly licensed photos of
``assets/train`` (see ``assets/ATTRIBUTION.md``; never a bundled sample). The networks are
written as ``OUT/<task>-<loss>.safetensors`` (fp16) and ``OUT/reference.json`` records the data
(each photo's SHA-256), the seed, the settings, the VGG weights (file SHA-256 and the model's
fingerprint), the date, the library versions, the final training losses (the mean of the last
``--tail`` steps, also in the log) and the scores of every network on every bundled photo (held
out: the networks never saw them), with whether the lesson holds there (the MSE network has the
best PSNR; a network trained with a VGG loss has the best LPIPS, and one the best DISTS).

``--warm-start-steps N`` starts the networks as SRGAN starts its VGG-loss network: the MSE
network is trained alone for N steps, then every network (the MSE one too) starts as a copy of it
and is trained ``--steps`` more with its own loss, at ``--fine-tune-lr`` — the loss is still the
only difference between them, and a short fine-tuning leaves the VGG-loss networks no time to draw
the grid that long training with a feature loss does.

``--tasks`` trains only some tasks: the others' networks and records are kept. ``--eval-only``
re-scores what is there. A task whose lesson does not hold on every held-out photo is withdrawn:
its networks are deleted, its record (and its scores) kept with the reason. Everything is seeded:
the same command, weights and photos give the same networks on the same machine (floating-point
sums may differ across CPUs and builds).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perceptual_viz.assets import PHOTOS, sample  # noqa: E402
from perceptual_viz.backbone import VGGFeatures, load_vgg  # noqa: E402
from perceptual_viz.images import load_image  # noqa: E402
from perceptual_viz.lessons import reference as rf  # noqa: E402
from perceptual_viz.lessons import train as tl  # noqa: E402

PHOTOS_DIR = ROOT / "assets" / "train"
OUT_DIR = ROOT / "assets" / "reference"
# The training photos (assets/train; sources, licences and what was done to them in
# assets/ATTRIBUTION.md). None of them is a bundled sample: those are the evaluation photos.
TRAIN_PHOTOS = (
    "grass.png",
    "gravel.png",
    "hubble_deep_field.png",
    "ihc.png",
    "coins.png",
    "retina.png",
    "text.png",
    "cell.png",
    *(f"dead_leaves_{i}.png" for i in range(4)),
    "face.png",
    "ascent.png",
    "china.png",
    "flower.png",
)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="the ImageNet VGG16 weights (.pth or .safetensors)")
    ap.add_argument("--tasks", default=",".join(tl.TASKS), help="comma-separated (default: all)")
    ap.add_argument("--losses", default=",".join(tl.DEFAULT_LOSSES), help="one network each")
    ap.add_argument("--steps", type=int, default=1500, help="optimisation steps (default 1500)")
    ap.add_argument("--patch", type=int, default=48, help="patch side in px (default 48)")
    ap.add_argument("--batch", type=int, default=16, help="patches per step (default 16)")
    ap.add_argument(
        "--lr",
        type=float,
        default=1e-3,
        help="(default 1e-3; the live lesson's 3e-3 suits its few hundred steps, but over thousands "
        "it left the denoising MSE network at +3 dB, and once kept the sr4 one the identity)",
    )
    ap.add_argument(
        "--warm-start-steps",
        type=int,
        default=0,
        help="warm start (as SRGAN's VGG-loss network starts from its MSE one): first train the MSE "
        "network alone for this many steps at --lr, then every network (MSE included, so they "
        "still differ only in their loss) starts as a copy of it for --steps more at --fine-tune-lr "
        "(default 0: every network from the seed's new one)",
    )
    ap.add_argument("--fine-tune-lr", type=float, help="the lr after a warm start (default: --lr)")
    ap.add_argument(
        "--keep-last-bias",
        action="store_true",
        help="after a warm start, every network keeps the MSE network's last bias: through the "
        "pixel_shuffle that bias is a constant 2-px pattern, the grid a VGG loss otherwise draws",
    )
    ap.add_argument("--pixel-weight", type=float, default=tl.DEFAULT_PIXEL_WEIGHT)
    ap.add_argument("--tv-weight", type=float, default=tl.DEFAULT_TV_WEIGHT)
    ap.add_argument("--layers", default=",".join(tl.DEFAULT_LAYERS), help="of the perceptual loss")
    ap.add_argument(
        "--feature-norm",
        action="store_true",
        help="the perceptual loss compares features unit-normalised over the channels at each "
        "position, summed over the layers (LPIPS's distance without its learned weights) instead "
        "of each layer's relative squared difference",
    )
    ap.add_argument("--noise", type=float, default=tl.DEFAULT_NOISE, help="σ of denoise")
    ap.add_argument("--blur", type=float, default=tl.DEFAULT_BLUR, help="σ in px of deblur")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tail", type=int, default=100, help="steps averaged for the final losses")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a busy machine, at low "
        "priority, one thread does more work than two that wait for each other)",
    )
    ap.add_argument("--photos", type=Path, default=PHOTOS_DIR, help="folder of the training photos")
    ap.add_argument(
        "--scales",
        default="1,0.5",
        help="each photo is also trained on at these scales (antialiased bilinear; default 1,0.5: "
        "finer detail, as in the held-out photos shrunk to the lesson's size)",
    )
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="where the networks go")
    ap.add_argument("--log", type=Path, help="the log (default OUT/train.log, appended)")
    ap.add_argument("--eval-only", action="store_true", help="only re-score the networks in OUT")
    return ap.parse_args(argv)


class Log:
    """Lines to stdout and to the log file, each with the time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.f = path.open("a", encoding="utf-8")

    def __call__(self, line: str) -> None:
        stamped = f"{datetime.datetime.now().isoformat(timespec='seconds')}  {line}"
        print(stamped, flush=True)
        self.f.write(stamped + "\n")
        self.f.flush()


def _progress(log: Log, steps: int, tail: int, every: int = 100) -> tuple[Callable[..., None], dict]:
    """A :func:`fit` progress callback logging the mean losses every ``every`` steps, and the
    dict where it keeps the last ``tail`` steps' losses."""
    kept: dict[str, list[float]] = {}
    t0 = time.monotonic()

    def progress(step: int, losses: dict[str, float]) -> None:
        for n, v in losses.items():
            kept.setdefault(n, []).append(v)
            del kept[n][: -max(tail, every)]
        if step % every == 0 or step == steps:
            means = "  ".join(f"{n} {sum(v[-every:]) / len(v[-every:]):.5g}" for n, v in kept.items())
            log(f"  step {step:6d}/{steps}  {means}  ({time.monotonic() - t0:.0f} s)")

    return progress, kept


def train_task(
    model: VGGFeatures, task: str, a: argparse.Namespace, photos: list, log: Log
) -> dict[str, Any]:
    """Train ``task``'s networks, write them, and return their record."""
    settings = tl.TrainSettings(
        task=task,  # type: ignore[arg-type]
        losses=tuple(a.losses.split(",")),  # type: ignore[arg-type]
        steps=a.steps,
        patch=a.patch,
        batch=a.batch,
        lr=a.lr,
        pixel_weight=a.pixel_weight,
        tv_weight=a.tv_weight,
        layers=tuple(a.layers.split(",")),
        feature_norm=a.feature_norm,
        noise=a.noise,
        blur=a.blur,
        train_size=max(max(p.shape[-2:]) for p in photos),
        seed=a.seed,
    ).resolved(model.arch, "cpu", bounds=tl.OFFLINE_BUDGET)
    t0 = time.monotonic()
    start, warm = _warm_start(model, settings, a, photos, log)
    if start is not None:
        settings = dataclasses.replace(settings, lr=a.fine_tune_lr or a.lr)
    log(f"{task}: {settings}")
    progress, kept = _progress(log, int(settings.steps or 0), a.tail)
    frozen = [_last_bias(start)] if start is not None and a.keep_last_bias else []
    nets = tl.fit(model, photos, settings, progress, start=start, frozen=frozen)
    seconds = time.monotonic() - t0
    from safetensors.torch import save_file

    a.out.mkdir(parents=True, exist_ok=True)
    files = {}
    for loss, net in nets.items():
        path = a.out / rf.file_name(task, loss)
        save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(path))
        files[loss] = {"file": path.name, "sha256": sha256(path)}
    final = {n: sum(v[-a.tail :]) / len(v[-a.tail :]) for n, v in kept.items()}
    log(f"{task}: done in {seconds:.0f} s; final losses (mean of the last {a.tail} steps): {final}")
    record = dataclasses.asdict(settings)
    return {
        "losses": list(settings.losses),
        "settings": record,
        **({"warm_start": {**warm, "frozen": frozen}} if warm else {}),
        "seconds": round(seconds, 1),
        "networks": files,
        "final_loss": final,
        "parameters": tl.parameter_count(next(iter(nets.values()))),
    }


def _warm_start(
    model: VGGFeatures, settings: tl.TrainSettings, a: argparse.Namespace, photos: list, log: Log
) -> tuple[tl.ResidualCNN | None, dict[str, Any]]:
    """With ``--warm-start-steps``: the MSE network trained alone for that many steps at ``--lr``
    (the same seed, start and patches as without), and its record; else (None, {})."""
    steps = a.warm_start_steps
    if steps <= 0:
        return None, {}
    first = dataclasses.replace(settings, losses=("mse",), steps=steps)
    log(f"{settings.task}: warm start: {first}")
    progress, kept = _progress(log, steps, a.tail)
    t0 = time.monotonic()
    net = tl.fit(model, photos, first, progress)["mse"]
    final = sum(kept["mse"][-a.tail :]) / len(kept["mse"][-a.tail :])
    log(f"{settings.task}: warm start done in {time.monotonic() - t0:.0f} s; final MSE {final:.5g}")
    return net, {"loss": "mse", "steps": steps, "lr": first.lr, "final_loss": final}


def _last_bias(net: torch.nn.Module) -> str:
    """The name of the last convolution's bias of a :class:`ResidualCNN` (e.g. ``body.8.bias``)."""
    return [n for n, _ in net.named_parameters() if n.endswith(".bias")][-1]


def _scaled(x: torch.Tensor, k: float) -> torch.Tensor:
    """``x`` (1, C, H, W) shrunk by ``k`` with the lesson's resize (itself when ``k`` is 1)."""
    from perceptual_viz.features import resize_images

    h, w = x.shape[-2:]
    return x if k == 1 else resize_images(x, (round(h * k), round(w * k)))


LESSON = ("mse_best_psnr", "vgg_best_lpips", "vgg_best_dists")


def holds(scores: dict[str, dict[str, float | None]]) -> dict[str, bool]:
    """Does the lesson hold on one photo: the MSE network the best PSNR, a VGG-loss network the
    best LPIPS and a VGG-loss network the best DISTS (among the networks; the input is not a
    contender)."""
    nets = {n: s for n, s in scores.items() if n != "input"}

    def best(key: str) -> str:
        return min(nets, key=lambda n: v if (v := nets[n].get(key)) is not None else 9.0)

    best_psnr = max(nets, key=lambda n: nets[n]["psnr"] or float("inf"))
    return {
        "mse_best_psnr": best_psnr == "mse",
        "vgg_best_lpips": tl.uses_vgg(best("lpips")),
        "vgg_best_dists": tl.uses_vgg(best("dists")),
    }


def evaluate(model: VGGFeatures, out: Path, log: Log) -> dict[str, Any]:
    """Every shipped task's networks on every bundled photo (held out), scored; logged."""
    rf.provenance.cache_clear()
    rf._load.cache_clear()
    result: dict[str, Any] = {}
    for task in rf.tasks(out):
        per_photo = {}
        for name in PHOTOS:
            image = load_image(sample(name)).tensor()
            run = rf.run(model, task, image, seed=0, folder=out)
            scores = {n: {k: v for k, v in s.items() if v is not None} for n, s in run.scores.items()}
            ok = holds(run.scores)
            per_photo[name] = {"size_hw": list(run.truth.shape[-2:]), "scores": scores, **ok}
            nan = float("nan")
            row = "  ".join(
                f"{n} {s['psnr']:.2f} dB/{s.get('lpips', nan):.3f}/{s.get('dists', nan):.3f}"
                for n, s in scores.items()
            )
            log(f"eval {task} {name} (PSNR/LPIPS/DISTS): {row}  holds: {all(ok.values())}")
        result[task] = per_photo
    return result


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    torch.set_num_threads(a.threads)
    log = Log(a.log or a.out / "train.log")
    command = "python tools/train_reference.py " + " ".join(sys.argv[1:] if argv is None else argv)
    log(command)
    model = load_vgg("vgg16", weights=a.weights, device="cpu")
    if not model.status.trained:
        raise SystemExit("error: the reference networks need trained VGG16 weights")
    record = (
        json.loads((a.out / rf.PROVENANCE_FILE).read_text()) if (a.out / rf.PROVENANCE_FILE).is_file() else {}
    )
    if not a.eval_only:
        paths = [a.photos / n for n in TRAIN_PHOTOS]
        scales = [float(v) for v in a.scales.split(",")]
        photos = [_scaled(load_image(p).tensor(), k) for k in scales for p in paths]
        small = [i for i, p in enumerate(photos) if min(p.shape[-2:]) < a.patch]
        if small:  # e.g. the text photo shrunk by half, under a large patch
            log(f"{len(small)} scaled photo(s) smaller than a {a.patch}-px patch left out")
            photos = [p for i, p in enumerate(photos) if i not in small]
        record["data"] = {
            "photos": [{"file": f"train/{p.name}", "sha256": sha256(p)} for p in paths],
            "scales": scales,
            "attribution": "assets/ATTRIBUTION.md",
        }
        record["vgg"] = {
            "arch": model.arch,
            "file": Path(a.weights).name,
            "sha256": sha256(Path(a.weights)),
            "fingerprint": model.fingerprint,
            "source": model.status.source,
        }
        record["seed"] = a.seed
        record["software"] = {"torch": torch.__version__, "python": platform.python_version()}
        tasks = record.setdefault("tasks", {})
        for task in a.tasks.split(","):
            made = train_task(model, task, a, photos, log)
            tasks[task] = {**made, "date": datetime.date.today().isoformat(), "command": command}
            (a.out / rf.PROVENANCE_FILE).write_text(json.dumps(record, indent=1) + "\n")  # after each task
    evaluation = evaluate(model, a.out, log)
    for task, per_photo in evaluation.items():
        entry = record["tasks"][task]
        entry["eval"] = per_photo
        entry["lesson_holds_on"] = sum(all(p[k] for k in LESSON) for p in per_photo.values())
        if entry["lesson_holds_on"] < len(per_photo):
            withdraw(entry, a.out, log, task)
    (a.out / rf.PROVENANCE_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return 0


def withdraw(entry: dict[str, Any], out: Path, log: Log, task: str) -> None:
    """A task whose lesson does not hold on every held-out photo is not shipped: its networks are
    deleted, its record stays (with its scores) and says why (``withdrawn``), and
    :func:`perceptual_viz.lessons.reference.tasks` leaves it out."""
    failed = {
        name: [k for k in LESSON if not p[k]]
        for name, p in entry["eval"].items()
        if not all(p[k] for k in LESSON)
    }
    entry["withdrawn"] = "the lesson does not hold on " + "; ".join(
        f"{name} ({', '.join(ks)} is false)" for name, ks in failed.items()
    )
    for net in entry["networks"].values():
        (out / net["file"]).unlink(missing_ok=True)
    log(f"{task}: withdrawn, networks deleted: {entry['withdrawn']}")


if __name__ == "__main__":
    raise SystemExit(main())
