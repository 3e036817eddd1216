"""Command line: ``python -m perceptual_viz compare | features | weights``.

User mistakes (bad image, bad weights file, unknown layer…) end with one ``error: …`` line on
stderr and exit code 2; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

import torch

from .backbone import WeightsError, load_vgg, pick_device, resolve_weights
from .compare import ScoreSettings, lpips_unavailable_reason, score_pairs
from .degrade import DEGRADATIONS, degrade, parse_spec
from .features import Resize, prepare, resize_images
from .gram import GRAM_NORMS
from .images import ImageError, load_image
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
    command = {"compare": cmd_compare, "features": cmd_features, "weights": cmd_weights}[args.command]
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
