"""Command line: ``python -m perceptual_viz compare | features | equal-mse | reconstruct | weights``.

User mistakes (bad image, bad weights file, unknown layer…) end with one ``error: …`` line on
stderr and exit code 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence

import pandas as pd
import torch

from . import export
from .backbone import WeightsError, load_vgg, pick_device, resolve_weights
from .compare import ScoreSettings, lpips_unavailable_reason, score_pairs
from .degrade import DEGRADATIONS, degrade, parse_spec
from .features import Resize, prepare, resize_images
from .gram import GRAM_NORMS
from .images import ImageError, load_image, to_pil
from .layers import ARCHS

EXIT_USAGE = 2


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit code 2."""


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", choices=ARCHS, default="vgg16", help="backbone (default vgg16)")
    p.add_argument(
        "--weights",
        default="auto",
        help="auto (default: $PERCEPTUAL_VIZ_WEIGHTS, caches, download, else untrained), "
        "imagenet (fail if none), untrained, or a .pth/.safetensors file",
    )
    p.add_argument("--device", default="auto", help="auto (cuda → mps → cpu), cpu, cuda, cuda:1, mps")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m perceptual_viz",
        description="Perceptual Loss Lab: compare images with MSE, PSNR, SSIM, perceptual, style "
        "and LPIPS scores, and look at VGG feature maps.",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", help="score a clean image against a degraded one")
    c.add_argument("clean", help="the reference image")
    c.add_argument("degraded", nargs="?", help="the image to score (e.g. your model's output)")
    names = ", ".join(f"{d.name} ({d.param})" for d in DEGRADATIONS.values())
    c.add_argument(
        "--degrade", metavar="NAME=STRENGTH", help=f"degrade CLEAN synthetically instead; one of: {names}"
    )
    c.add_argument("--seed", type=int, default=0, help="seed of random degradations (default 0)")
    c.add_argument(
        "--size",
        default="224",
        help="analysis size: N = shorter side N px (default 224), NxN = fixed (224x224 is the "
        "reference), none = as given",
    )
    c.add_argument("--criterion", choices=("l1", "mse"), default="l1", help="perceptual distance per layer")
    c.add_argument("--gram-norm", choices=GRAM_NORMS, default="chw", help="Gram normalisation (default chw)")
    c.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    c.add_argument("--export", metavar="ZIP", help="also write the two images (PNG) and every score/setting")
    _model_args(c)

    f = sub.add_parser("features", help="save a grid of one layer's strongest channels")
    f.add_argument("image")
    f.add_argument("--layer", default="relu3_3", help="layer name, e.g. conv1_1, relu3_3, pool4")
    f.add_argument("--top", type=int, default=16, help="how many channels (1–64, default 16)")
    f.add_argument("--sort", choices=("mean", "max", "index"), default="mean", help="channel order")
    f.add_argument("--scope", choices=("channel", "layer"), default="channel", help="colour scaling")
    f.add_argument("--cmap", default="viridis", help="colour map")
    f.add_argument("--size", default="224", help="analysis size (as for compare)")
    f.add_argument("--out", required=True, help="output PNG path")
    _model_args(f)

    e = sub.add_parser(
        "equal-mse", help="the same MSE made seven ways (brightness, contrast, noise, blur, …), ranked"
    )
    e.add_argument("image", help="the clean image")
    tgt = e.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--mse", type=float, help="target mean squared error (e.g. 0.005)")
    tgt.add_argument("--psnr", type=float, help="target PSNR in dB (e.g. 23)")
    e.add_argument("--tolerance", type=float, default=0.02, help="relative tolerance of the search (0.02)")
    e.add_argument("--rank-by", default="LPIPS", help="LPIPS (default), perceptual, style or '1 − SSIM'")
    e.add_argument("--seed", type=int, default=0, help="seed of noise and salt & pepper (default 0)")
    e.add_argument("--size", default="224", help="analysis size (as for compare)")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    e.add_argument("--export", metavar="ZIP", help="also write the pictures (PNG) and every score/setting")
    _model_args(e)

    r = sub.add_parser(
        "reconstruct", help="optimise noise to match one layer's features (or Gram matrices): what it keeps"
    )
    r.add_argument("image", help="the image to reconstruct")
    r.add_argument("--mode", choices=("content", "texture"), default="content", help="features or Grams")
    r.add_argument(
        "--layers", help="comma-separated layers (default: relu3_3 for content, relu1_1…relu4_1 for texture)"
    )
    r.add_argument("--steps", type=int, help="optimisation steps (default depends on the device)")
    r.add_argument("--px", type=int, default=128, help="longest side of the result in px (default 128)")
    r.add_argument("--tv-weight", type=float, help="total-variation weight (default per mode)")
    r.add_argument("--seed", type=int, default=0, help="seed of the starting noise (default 0)")
    r.add_argument("--out", required=True, help="output PNG path")
    r.add_argument("--export", metavar="ZIP", help="also write target + result (PNG) and the settings/loss")
    r.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _model_args(r)

    w = sub.add_parser("weights", help="say which weights would be loaded, and from where")
    w.add_argument("--arch", choices=ARCHS, default="vgg16")
    w.add_argument("--weights", default="auto")
    return ap


# --------------------------------------------------------------------------- commands


def _load_model(args: argparse.Namespace, warn: bool = True):
    model = load_vgg(args.arch, args.weights, args.device)
    if warn and not model.status.trained:
        print(f"warning: {model.status.message}", file=sys.stderr)
    return model


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "∞"
    return f"{v:.{digits}g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.{digits}f}"


def _load(path: str, which: str | None):
    """``load_image``; when a command reads two images, the message says which one is bad."""
    try:
        return load_image(path)
    except ImageError as exc:
        raise ImageError(f"{which}: {exc}") if which else exc from None


def cmd_compare(args: argparse.Namespace) -> int:
    if (args.degraded is None) == (args.degrade is None):
        raise CLIError("give either a DEGRADED image or --degrade NAME=STRENGTH (exactly one)")
    resize = Resize.parse(args.size)
    device = pick_device(args.device)
    clean_img = _load(args.clean, "clean image" if args.degraded else None)
    clean = prepare(clean_img.tensor(), resize, device)
    notes = [f"clean: {n}" for n in clean_img.notes]
    if args.degrade is not None:
        name, strength = parse_spec(args.degrade)
        deg = degrade(clean, name, strength, seed=args.seed)
        what = f"{name}={strength:g} (seed {args.seed})"
    else:
        deg_img = _load(args.degraded, "degraded image")
        notes += [f"degraded: {n}" for n in deg_img.notes]
        deg = prepare(deg_img.tensor(), resize, device)
        if deg.shape[-2:] != clean.shape[-2:]:
            notes.append(
                f"degraded resized from {deg.shape[-1]}×{deg.shape[-2]} to "
                f"{clean.shape[-1]}×{clean.shape[-2]} to match the clean image"
            )
            deg = resize_images(deg, tuple(clean.shape[-2:]))
        what = "file"
    model = _load_model(args, warn=args.json)
    settings = ScoreSettings(criterion=args.criterion, gram_norm=args.gram_norm)
    res = score_pairs(model, clean, deg, settings=settings)
    sc = res.scores[0]
    h, w = clean.shape[-2:]
    if args.export:
        record = {
            "settings": {
                "size": args.size,
                "size_hw": [int(h), int(w)],
                "degradation": what,
                "seed": args.seed,
                "score_settings": dataclasses.asdict(settings),
            },
            "scores": sc.as_dict(),
        }
        _write_bundle(
            args.export, {"clean": to_pil(clean), "degraded": to_pil(deg)}, record, "compare", model
        )
    if args.json:
        out = sc.as_dict()
        out.update(
            arch=model.arch,
            weights=model.status.as_dict(),
            device=res.device,
            size=[int(h), int(w)],
            resize=str(resize),
            degradation=what,
            seconds=round(res.seconds, 4),
            notes=notes,
        )
        print(json.dumps(out, indent=2, allow_nan=False, ensure_ascii=False))
        return 0
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"model:       {model.arch} on {res.device}")
    print(f"weights:     {model.status.message}")
    print(f"size:        {w}×{h} px ({resize.describe()})")
    print(f"degradation: {what}")
    rows = [("MSE", _fmt(sc.mse, 6)), ("PSNR (dB)", _fmt(sc.psnr, 2)), ("SSIM", _fmt(sc.ssim, 4))]
    rows.append((f"perceptual total  [{sc.perceptual_label}]", _fmt(sc.perceptual_total)))
    rows += [(f"  {n}", _fmt(v)) for n, v in sc.perceptual.items()]
    rows.append((f"style total  [Gram norm '{settings.gram_norm}']", _fmt(sc.style_total)))
    rows += [(f"  {n}", _fmt(v)) for n, v in sc.style.items()]
    reason = lpips_unavailable_reason(model.arch)
    rows.append(("LPIPS-VGG", _fmt(sc.lpips) if sc.lpips is not None else (reason or "—")))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    print(f"({res.seconds * 1000:.0f} ms)")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from .render import channel_grid, rank_channels

    if not 1 <= args.top <= 64:
        raise CLIError("--top must be between 1 and 64")
    model = _load_model(args)
    info = model.info(args.layer)
    img = load_image(args.image)
    x = prepare(img.tensor(), Resize.parse(args.size), model.device)
    with torch.inference_mode():
        fmap = model(x, [info.name])[info.name][0]
    chans = rank_channels(fmap, by=args.sort, k=args.top)
    pic = channel_grid(fmap, chans, scope=args.scope, cmap=args.cmap)
    try:
        pic.save(args.out, format="PNG")
    except (OSError, ValueError) as exc:
        raise CLIError(f"could not write {args.out}: {exc}") from None
    c, h, w = fmap.shape
    print(
        f"{info.name}: {c} channels × {h}×{w} (receptive field {info.receptive_field} px, stride "
        f"{info.stride}); top {len(chans)} by {args.sort} → {args.out}"
    )
    print(model.status.message)
    return 0


def _write_bundle(path: str, pictures: dict, record: dict, kind: str, model) -> None:
    try:
        export.write_bundle(path, pictures, record, kind=kind, model=model)
    except OSError as exc:
        raise CLIError(f"could not write {path}: {exc.strerror or exc}") from None
    print(f"exported: {path}", file=sys.stderr)


def cmd_equal_mse(args: argparse.Namespace) -> int:
    from . import equal_mse as em

    target = em.psnr_to_mse(args.psnr) if args.psnr is not None else float(args.mse)
    model = _load_model(args, warn=args.json)
    img = load_image(args.image)
    clean = prepare(img.tensor(), Resize.parse(args.size), model.device)
    g = em.gallery(model, clean, target, tolerance=args.tolerance, seed=args.seed, rank_by=args.rank_by)
    h, w = clean.shape[-2:]
    settings = {
        "size": args.size,
        "size_hw": [int(h), int(w)],
        "target_mse": target,
        "target_psnr": em.mse_to_psnr(target),
        "tolerance": args.tolerance,
        "rank_by": g.rank_by,
        "seed": args.seed,
    }
    if args.export:
        pics = {"clean": to_pil(clean)}
        for i, e in enumerate(g.entries, start=1):
            pics[f"{i} {e.match.name} {e.match.strength:.4g}"] = to_pil(e.match.image)
        record = {"settings": settings, "gallery": g.as_dict()}
        _write_bundle(args.export, pics, record, "equal-mse", model)
    if args.json:
        out = {"arch": model.arch, "weights": model.status.as_dict(), **settings, **g.as_dict()}
        print(json.dumps(export.jsonable(out), indent=2, allow_nan=False, ensure_ascii=False))
        return 0
    print(f"model:   {model.arch} on {g.device} · {model.status.message}")
    print(
        f"target:  MSE {target:.6g} (PSNR {em.mse_to_psnr(target):.2f} dB) ±{args.tolerance:.0%} · "
        f"{w}×{h} px · ranked by {g.rank_by}, least damaged first"
    )
    table = g.table()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"({g.seconds * 1000:.0f} ms)")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    from . import reconstruct as rc

    model = _load_model(args)
    target = load_image(args.image).tensor(model.device)
    layers = tuple(n.strip() for n in args.layers.split(",") if n.strip()) if args.layers else None
    settings = rc.ReconstructSettings(
        mode=args.mode,
        layers=layers,
        steps=args.steps,
        size=args.px,
        tv_weight=args.tv_weight,
        seed=args.seed,
    ).resolved(model.arch, model.device)
    last = None
    for st in rc.reconstruct(model, target, settings, every=max(1, settings.steps // 10)):
        last = st
        if not args.quiet:
            print(f"step {st.step:4d}/{st.total}  loss {st.loss:.5g}  {st.seconds:6.1f} s", file=sys.stderr)
    assert last is not None
    result = to_pil(last.image)
    try:
        result.save(args.out, format="PNG")
    except (OSError, ValueError) as exc:
        raise CLIError(f"could not write {args.out}: {exc}") from None
    if args.export:
        record = {
            "settings": {k: v for k, v in dataclasses.asdict(settings).items()},
            "result": {
                "steps_done": last.step,
                "loss": last.loss,
                "parts": last.parts,
                "seconds": last.seconds,
            },
        }
        target_small = to_pil(rc.resize_target(target, settings.size, "cpu"))
        _write_bundle(
            args.export, {"target": target_small, "reconstruction": result}, record, "reconstruct", model
        )
    print(
        f"{settings.mode} from {', '.join(settings.layers or ())}: {last.step} steps, loss {last.loss:.5g}, "
        f"{last.seconds:.1f} s → {args.out}"
    )
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    _, status = resolve_weights(args.arch, args.weights)
    print(f"{args.arch}: {status.message}")
    print(
        f"source: {status.source}; trained: {'yes' if status.trained else 'no'}; "
        f"location: {status.location or '—'}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {
        "compare": cmd_compare,
        "features": cmd_features,
        "equal-mse": cmd_equal_mse,
        "reconstruct": cmd_reconstruct,
        "weights": cmd_weights,
    }[args.command]
    try:
        return command(args)
    except (CLIError, ImageError, WeightsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, but still one line for the user
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
