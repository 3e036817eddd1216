"""What each command of :mod:`perceptual_viz.cli` does: build the figure, print it, export it.

Kept apart from the parser so that ``--help`` never imports torch.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .backbone import VGGFeatures, load_vgg, resolve_weights
from .compare import (
    ScoreSettings,
    dists_unavailable_reason,
    lpips_unavailable_reason,
    ms_ssim_unavailable_reason,
)
from .conventions import ConventionScores
from .degrade import parse_spec
from .export import write_figure
from .features import FeatureCache
from .figures import Analysis, Figure, analyse, load, resize_policy
from .figures import compare as fc
from .figures import equal_mse as fe
from .figures import features as ff
from .figures import gram as fg
from .figures import reconstruct as fr
from .figures import sweep as fs
from .messages import Text
from .tables import Table
from .terminal import CLIError, dump, fmt

if TYPE_CHECKING:
    from .figures.train import ReferenceFigure, TrainFigure


def _model(args: argparse.Namespace, warn: bool = True) -> VGGFeatures:
    model = load_vgg(args.arch, args.weights, args.device)
    if warn and not model.status.trained:
        print(f"warning: {model.status.message}", file=sys.stderr)
    return model


def _export(args: argparse.Namespace, fig: Figure, model: VGGFeatures) -> None:
    if not getattr(args, "export", None):
        return
    try:
        write_figure(args.export, fig, model, frontend="cli")
    except OSError as exc:
        raise CLIError(f"could not write {args.export}: {exc.strerror or exc}") from None
    print(f"exported: {args.export}", file=sys.stderr)


def _save(picture: Any, path: str) -> None:
    try:
        picture.save(path, format="PNG")
    except (OSError, ValueError) as exc:
        raise CLIError(f"could not write {path}: {exc}") from None


def _print_table(t: Table) -> None:
    """``t`` as aligned columns, its texts in English (``str`` of a message)."""
    cells = [[fmt(v) if isinstance(v, float) else "—" if v is None else str(v) for v in r] for r in t.rows]
    head = [str(c) for c in t.columns]
    widths = [max(len(c) for c in col) for col in zip(head, *cells, strict=True)]
    for row in (head, *cells):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def cmd_compare(args: argparse.Namespace) -> int:
    if (args.degraded is None) == (args.degrade is None):
        raise CLIError("give either a DEGRADED image or --degrade NAME=STRENGTH (exactly one)")
    spec = parse_spec(args.degrade) if args.degrade is not None else None
    # Files are read before the model is resolved: a bad file fails at once, not after the weights.
    clean_image = load(args.clean, "clean image" if args.degraded else None)
    deg_image = load(args.degraded, "degraded image") if args.degraded else None
    model = _model(args, warn=args.json)
    clean = analyse(model, clean_image, args.size)
    deg = analyse(model, deg_image, args.size) if deg_image is not None else None
    name, strength = spec if spec is not None else (None, None)
    if args.conventions:
        return _compare_conventions(args, model, clean, deg, name, strength)
    settings = ScoreSettings(criterion=args.criterion, gram_norm=args.gram_norm)
    t0 = time.perf_counter()
    fig = fc.compare(
        model, FeatureCache(), clean, args.size, deg, name, strength, args.seed, settings=settings
    )
    _export(args, fig, model)
    scores, h, w = fig.record["scores"], *clean.size
    what = "file" if spec is None else f"{spec[0]}={spec[1]:g} (seed {args.seed})"
    notes = _pair_notes(clean, fig.notes)
    if args.json:
        extra: dict[str, Any] = {
            "device": fig.device,
            "size": [h, w],
            "resize": str(resize_policy(args.size)),
        }
        extra["seconds"] = round(time.perf_counter() - t0, 4)
        dump(
            {
                **scores,
                "arch": model.arch,
                "weights": model.status.as_dict(),
                **extra,
                "degradation": what,
                "notes": notes,
            }
        )
        return 0
    _print_pair(notes, model, fig.device, (h, w), args.size, what)
    _print_scores(model, scores, settings, (h, w))
    return 0


def _pair_notes(clean: Analysis, notes: Sequence[Text]) -> list[str]:
    """The clean image's notes (but the analysis size, printed anyway), then ``notes``."""
    said = [f"clean: {n}" for n in map(str, clean.notes) if not n.startswith("analysed at")]
    return said + [str(n) for n in notes]


def _print_pair(
    notes: list[str], model: VGGFeatures, device: str, hw: tuple[int, int], size: str, what: str
) -> None:
    """The notes on stderr; the model, weights, analysis size and degraded image on stdout."""
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"model:       {model.arch} on {device}")
    print(f"weights:     {model.status.message}")
    print(f"size:        {hw[1]}×{hw[0]} px ({resize_policy(size).describe()})")
    print(f"degradation: {what}")


def _compare_conventions(
    args: argparse.Namespace,
    model: VGGFeatures,
    clean: Analysis,
    deg: Analysis | None,
    name: str | None,
    strength: float | None,
) -> int:
    """``compare --conventions``: the pair under every convention of :mod:`.conventions`."""
    from .figures.conventions import conventions

    if args.export:
        raise CLIError("--export writes the Compare figure; it does not go with --conventions")
    res = conventions(model, FeatureCache(), clean, deg, name, strength, args.seed)
    notes = _pair_notes(clean, res.notes)
    if args.json:
        out = {**res.as_dict(), "arch": model.arch, "weights": model.status.as_dict()}
        dump({**out, "device": str(model.device), "resize": str(resize_policy(args.size)), "notes": notes})
        return 0
    _print_pair(notes, model, str(model.device), res.size, args.size, str(res.pair))
    _print_conventions(res)
    return 0


def _print_conventions(res: ConventionScores) -> None:
    """Each metric's conventions: ✓ marks this app's, then the value, the convention, whose
    default it is, and why it differs (→)."""
    metric = None
    for r in res.rows:
        if str(r.metric) != metric:
            metric = str(r.metric)
            print(f"\n{metric}")
        value = fmt(r.value) if r.value is not None else "—"
        print(f"  {'✓' if r.this_app else ' '} {value:>12}  {r.name}")
        print(f"  {'':>14}  {r.default_of}")
        print(f"  {'':>14}  → {r.why}")


def _or_why(value: float | None, reason: object, digits: int = 4) -> str:
    return fmt(value, digits) if value is not None else str(reason or "—")


def _print_scores(
    model: VGGFeatures, sc: dict[str, Any], settings: ScoreSettings, size: tuple[int, int]
) -> None:
    per, style = sc["perceptual"], sc["style"]
    psnr = math.inf if sc["psnr"] is None else sc["psnr"]  # JSON has no infinity: None means identical
    rows = [("MSE", fmt(sc["mse"], 6)), ("PSNR (dB)", fmt(psnr, 2)), ("SSIM", fmt(sc["ssim"], 4))]
    rows.append(("MS-SSIM", _or_why(sc["ms_ssim"], ms_ssim_unavailable_reason(*size))))
    rows.append((f"perceptual total  [{per['formula']}]", fmt(per["total"])))
    rows += [(f"  {n}", fmt(v)) for n, v in per["layers"].items()]
    rows.append((f"style total  [Gram norm '{settings.gram_norm}']", fmt(style["total"])))
    rows += [(f"  {n}", fmt(v)) for n, v in style["layers"].items()]
    rows.append(("LPIPS-VGG", _or_why(sc["lpips"], lpips_unavailable_reason(model.arch))))
    rows.append(("DISTS", _or_why(sc["dists"], dists_unavailable_reason(model.arch))))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")


def cmd_features(args: argparse.Namespace) -> int:
    image = load(args.image)
    model = _model(args)
    a = analyse(model, image, args.size)
    fig = ff.grid(model, FeatureCache(), a, args.size, args.layer, args.top, args.sort, args.scope, args.cmap)
    _save(next(iter(fig.pictures.values())), args.out)
    print(f"{fig.caption} → {args.out} (channels {', '.join(map(str, fig.channels))})")
    print(model.status.message)
    return 0


def cmd_gram(args: argparse.Namespace) -> int:
    from .figures import match_size

    image_a = load(args.image_a, "image A" if args.image_b else None)
    image_b = load(args.image_b, "image B") if args.image_b else None
    model = _model(args, warn=args.json)
    a = analyse(model, image_a, args.size)
    b = analyse(model, image_b, args.size) if image_b is not None else None
    if b is not None:
        b, _note = match_size(a, b, ("image B", "image A"))
    fig = fg.matrices(model, FeatureCache(), a, b, args.size, args.layer, args.norm, args.top, args.cmap)
    _export(args, fig, model)
    if args.json:
        dump({"arch": model.arch, "weights": model.status.as_dict(), **fig.record})
        return 0
    print(f"{args.layer} · normalisation '{args.norm}': {fig.formula}")
    print(f"channels shown (by energy G_ii): {', '.join(map(str, fig.channels))}")
    if fig.distances is not None:
        _print_table(fig.distances)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.degradations.split(",") if n.strip()]
    image = load(args.image)
    model = _model(args, warn=args.json)
    a = analyse(model, image, args.size)
    fig = fs.sweep(model, a, args.size, names, args.levels, args.seed)
    _export(args, fig, model)
    if args.json:
        dump({"arch": model.arch, "weights": model.status.as_dict(), **fig.record})
        return 0
    _print_table(fig.table)
    return 0


def cmd_equal_mse(args: argparse.Namespace) -> int:
    kind, target = ("PSNR (dB)", args.psnr) if args.psnr is not None else ("MSE", args.mse)
    image = load(args.image)
    model = _model(args, warn=args.json)
    a = analyse(model, image, args.size)
    fig = fe.equal_mse(
        model, FeatureCache(), a, args.size, kind, target, args.rank_by, args.seed, args.tolerance
    )
    _export(args, fig, model)
    data = fig.data
    if args.json:
        dump({"arch": model.arch, "weights": model.status.as_dict(), **fig.record["settings"], **data})
        return 0
    h, w = a.size
    print(f"model:   {model.arch} on {data['device']} · {model.status.message}")
    print(
        f"target:  MSE {data['target_mse']:.6g} (PSNR {data['target_psnr']:.2f} dB) ±{args.tolerance:.0%} · "
        f"{w}×{h} px · ranked by {data['rank_by']}, least damaged first"
    )
    _print_table(fig.table)
    print(f"({fig.seconds * 1000:.0f} ms)")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from .images import load_image
    from .lessons import reconstruct as rc

    image = load_image(args.image)
    model = _model(args)
    target = image.tensor(model.device)
    layers = tuple(n.strip() for n in args.layers.split(",") if n.strip()) if args.layers else None
    settings = rc.ReconstructSettings(
        mode=args.mode,
        layers=layers,
        steps=args.steps,
        size=args.px,
        tv_weight=args.tv_weight,
        seed=args.seed,
    ).resolved(model.arch, model.device)
    last, curve = None, []
    for st, so_far in fr.run(model, target, settings):
        last, curve = st, so_far
        if not args.quiet and (st.done or st.step % max(1, st.total // 10) == 0):
            print(f"step {st.step:4d}/{st.total}  loss {st.loss:.5g}  {st.seconds:6.1f} s", file=sys.stderr)
    assert last is not None
    fig = fr.figure(target, settings, last, curve)
    _save(fig.pictures["reconstruction"], args.out)
    _export(args, fig, model)
    what = str(fr.what(settings))
    print(f"{what}: {last.step} steps, loss {last.loss:.5g}, {last.seconds:.1f} s → {args.out}")
    return 0


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options among ``names`` that were given (one left out keeps the library's default)."""
    return {n: v for n in names if (v := getattr(args, n)) is not None}


def _style_settings(args: argparse.Namespace, model: VGGFeatures) -> Any:
    from .lessons import style_transfer as st

    weights = ("content_weight", "style_weight", "tv_weight")
    given = _given(args, "steps", "px", "seed", *weights, "content_layer", "init")
    return st.StyleSettings(**given).resolved(model.arch, model.device)


def cmd_style_transfer(args: argparse.Namespace) -> int:
    from .figures import style_transfer as fst

    content = load(args.content, "content photo").tensor()
    style = load(args.style, "style photo").tensor()
    model = _model(args, warn=not args.json)
    settings = _style_settings(args, model)
    last, curve = None, []
    for now, so_far in fst.run(model, content, style, settings):
        last, curve = now, so_far
        if not args.quiet and (now.done or now.step % max(1, now.total // 10) == 0):
            d = now.distances
            line = f"content {d['content']:.4g}  style {d['style']:.4g}  {now.seconds:6.1f} s"
            print(f"step {now.step:4d}/{now.total}  loss {now.loss:.5g}  {line}", file=sys.stderr)
    assert last is not None
    fig = fst.figure(content, style, settings, last, curve)
    _save(fig.pictures["result"], args.out)
    _export(args, fig, model)
    if args.json:
        out = {"arch": model.arch, "device": str(model.device), "weights": model.status.as_dict()}
        dump(
            {
                **out,
                **fig.record["result"],
                "seconds": last.seconds,
                "out": args.out,
                "settings": fig.record["settings"],
            }
        )
        return 0
    said = fst.measured(last.distances, fst.start_distances(curve))
    print(f"{fst.what(settings)!s}: {said!s}, {last.seconds:.1f} s → {args.out}")
    return 0


def _train_settings(args: argparse.Namespace, model: VGGFeatures) -> Any:
    from .lessons import train as tl

    given = _given(args, "steps", "patch", "batch", "pixel_weight", "noise", "blur", "eval_size", "layers")
    return tl.TrainSettings(task=args.task, losses=args.losses, seed=args.seed, **given).resolved(
        model.arch, model.device
    )


def _save_pictures(fig: Figure, folder: str) -> None:
    from pathlib import Path

    from .export import safe_name

    out = Path(folder)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"could not create {folder}: {exc.strerror or exc}") from None
    for i, (caption, picture) in enumerate(fig.pictures.items(), start=1):
        _save(picture, str(out / f"{i:02d}_{safe_name(caption)}.png"))
    print(f"pictures: {len(fig.pictures)} PNG files in {folder}", file=sys.stderr)


def _train_json(fig: Figure, model: VGGFeatures) -> dict[str, Any]:
    r = fig.record
    runs = {n: {k: v for k, v in run.items() if k != "curve"} for n, run in r["runs"].items()}
    out = {"task": r["task"], "steps": r["steps"], "seed": r["seed"], "weights": model.status.as_dict()}
    out.update({"arch": model.arch, "device": str(model.device), "runs": runs})
    out.update({"input": r["eval"]["input"], **r["result"], "settings": r["settings"]})
    if "note" in r:
        out["note"] = r["note"]
    return out


def _reference_json(fig: Figure, model: VGGFeatures) -> dict[str, Any]:
    r = fig.record
    made = r["reference"]
    out = {"task": r["task"], "reference": True, "weights": model.status.as_dict()}
    out.update({"arch": model.arch, "device": str(model.device), "input": r["eval"]["input"]})
    out["runs"] = {n: {"eval": sc} for n, sc in r["eval"]["runs"].items()}
    out["trained"] = {k: made.get(k) for k in ("steps", "date", "final_loss") if k in made}
    out["trained"].update(steps=made["settings"]["steps"], photos=len(r["training_photos"].get("photos", [])))
    if not model.status.trained:
        out["note"] = "UNTRAINED VGG weights: LPIPS and DISTS are computed on a random VGG"
    return out


def cmd_train_reference(args: argparse.Namespace) -> int:
    """``train --reference``: the shipped reference networks scored on ``--eval``."""
    from .figures import train as ft
    from .lessons import reference as rf

    if args.train_images:
        raise CLIError("--reference trains nothing: give no TRAIN_IMAGE, only --eval")
    if args.task not in rf.tasks():
        shipped = ", ".join(rf.tasks()) or "none"
        raise CLIError(f"no reference networks for task {args.task!r}; shipped: {shipped}")
    eval_image = load(args.eval, "evaluation image").tensor()
    model = _model(args)
    fig = ft.reference_figure(model, args.task, eval_image, seed=args.seed)
    return _train_output(
        args, fig, model, _reference_json(fig, model), str(ft.verdict(fig.record["eval"]["runs"]))
    )


def _train_output(
    args: argparse.Namespace, fig: TrainFigure | ReferenceFigure, model: VGGFeatures, as_json: Any, last: str
) -> int:
    """A train figure's pictures (``--out-dir``), export, and JSON or table (then ``last``)."""
    if args.out_dir:
        _save_pictures(fig, args.out_dir)
    _export(args, fig, model)
    if args.json:
        dump(as_json)
        return 0
    print(f"{fig.what!s} · {model.arch} on {model.device} · {model.status.message}")
    _print_table(fig.table)
    print(last)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .figures import train as ft

    if args.reference:
        return cmd_train_reference(args)
    if not args.train_images:
        raise CLIError("give at least one TRAIN_IMAGE (or --reference to score the shipped networks)")
    train = [load(p, f"training image {i}").tensor() for i, p in enumerate(args.train_images, start=1)]
    eval_image = load(args.eval, "evaluation image").tensor()
    model = _model(args)
    settings = _train_settings(args, model)
    last, curves = None, {}
    for st, so_far in ft.run(model, train, eval_image, settings):
        last, curves = st, so_far
        if not args.quiet and (st.done or st.step % max(1, st.total // 10) == 0):
            losses = "  ".join(f"{n} {v:.4g}" for n, v in st.losses.items())
            print(f"step {st.step:4d}/{st.total}  {losses}  {st.seconds:6.1f} s", file=sys.stderr)
    assert last is not None
    fig = ft.figure(model, eval_image, settings, last, curves)
    return _train_output(args, fig, model, _train_json(fig, model), f"({last.seconds:.1f} s)")


def cmd_weights(args: argparse.Namespace) -> int:
    _, status = resolve_weights(args.arch, args.weights)
    print(f"{args.arch}: {status.message}")
    trained = "yes" if status.trained else "no"
    print(f"source: {status.source}; trained: {trained}; location: {status.location or '—'}")
    return 0


COMMANDS = {
    "compare": cmd_compare,
    "features": cmd_features,
    "gram": cmd_gram,
    "sweep": cmd_sweep,
    "equal-mse": cmd_equal_mse,
    "reconstruct": cmd_reconstruct,
    "style-transfer": cmd_style_transfer,
    "train": cmd_train,
    "weights": cmd_weights,
}


def run(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
