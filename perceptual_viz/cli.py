"""Command line: ``python -m perceptual_viz compare | features | gram | sweep | equal-mse |
reconstruct | style-transfer | train | weights``.

Every command that draws a figure builds it with the same function as the app
(:mod:`perceptual_viz.figures`), so ``--export`` writes the same bundle as the app's download
button. A user mistake (bad image, bad weights file, unknown layer…) ends with one ``error: …``
line on stderr and exit code 2; a bug ends with one ``error: internal error <id>`` line (exit 1)
and its traceback in ``$TMPDIR/perceptual-viz-errors.log``. Torch is imported only when a
command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback
import uuid
from collections.abc import Sequence
from pathlib import Path

from .archs import ARCHS
from .errors import InputError
from .options import CHANNEL_SORTS, CRITERIA, GRAM_NORMS, RECONSTRUCT_MODES, SCOPES, STYLE_INITS, TASKS

EXIT_USAGE = 2
ERROR_LOG = Path(tempfile.gettempdir()) / "perceptual-viz-errors.log"


# --------------------------------------------------------------------------- the parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", choices=ARCHS, default="vgg16", help="backbone (default vgg16)")
    p.add_argument(
        "--weights",
        default="auto",
        help="auto (default: $PERCEPTUAL_VIZ_WEIGHTS, caches, download, else untrained), "
        "imagenet (fail if none), untrained, or a .pth/.safetensors file",
    )
    p.add_argument("--device", default="auto", help="auto (cuda → mps → cpu), cpu, cuda, cuda:1, mps")


def _size_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--size",
        default="224",
        help="analysis size: N = shorter side N px (default 224), NxN = fixed (224x224 is the "
        "reference), none = as given",
    )


def _output_args(p: argparse.ArgumentParser, json_too: bool = True) -> None:
    if json_too:
        p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument(
        "--export", metavar="ZIP", help="also write the figure: its pictures (PNG) and every score/setting"
    )


def _degradation_help() -> str:
    from .degrade import DEGRADATIONS

    return ", ".join(f"{d.name} ({d.param})" for d in DEGRADATIONS.values())


def _add_compare(c: argparse.ArgumentParser) -> None:
    c.add_argument("clean", help="the reference image")
    c.add_argument("degraded", nargs="?", help="the image to score (e.g. your model's output)")
    c.add_argument(
        "--degrade",
        metavar="NAME=STRENGTH",
        help=f"degrade CLEAN synthetically instead; one of: {_degradation_help()}",
    )
    c.add_argument("--seed", type=int, default=0, help="seed of random degradations (default 0)")
    _size_arg(c)
    c.add_argument("--criterion", choices=CRITERIA, default="l1", help="perceptual distance per layer")
    c.add_argument("--gram-norm", choices=GRAM_NORMS, default="chw", help="Gram normalisation (chw)")
    c.add_argument(
        "--conventions",
        action="store_true",
        help="instead: the pair under the conventions libraries differ on (LPIPS v0.0/v0.1 and input "
        "range, SSIM windows, ImageNet normalisation, Gram scaling), side by side",
    )
    _output_args(c)
    _model_args(c)


def _add_features(f: argparse.ArgumentParser) -> None:
    f.add_argument("image")
    f.add_argument("--layer", default="relu3_3", help="layer name, e.g. conv1_1, relu3_3, pool4")
    f.add_argument("--top", type=int, default=16, help="how many channels (1–64, default 16)")
    f.add_argument("--sort", choices=CHANNEL_SORTS, default="mean", help="channel order")
    f.add_argument("--scope", choices=SCOPES, default="channel", help="colour scaling")
    f.add_argument("--cmap", default="viridis", help="colour map")
    _size_arg(f)
    f.add_argument("--out", required=True, help="output PNG path")
    _model_args(f)


def _add_gram(g: argparse.ArgumentParser) -> None:
    g.add_argument("image_a")
    g.add_argument("image_b", nargs="?", help="a second image: its Gram, the difference, the style distances")
    g.add_argument("--layer", default="relu2_2", help="layer name (default relu2_2)")
    g.add_argument("--norm", choices=GRAM_NORMS, default="chw", help="normalisation (default chw)")
    g.add_argument("--top", type=int, default=32, help="channels shown, by energy G_ii (default 32)")
    g.add_argument("--cmap", default="viridis", help="colour map")
    _size_arg(g)
    _output_args(g)
    _model_args(g)


def _add_sweep(s: argparse.ArgumentParser) -> None:
    s.add_argument("image", help="the clean image")
    s.add_argument(
        "--degradations",
        default="noise,blur,jpeg,brightness",
        help=f"comma-separated; of: {_degradation_help()}",
    )
    s.add_argument("--levels", type=int, default=5, help="severity levels K (2–8, default 5)")
    s.add_argument("--seed", type=int, default=0, help="seed of random degradations (default 0)")
    _size_arg(s)
    _output_args(s)
    _model_args(s)


def _add_equal_mse(e: argparse.ArgumentParser) -> None:
    e.add_argument("image", help="the clean image")
    tgt = e.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--mse", type=float, help="target mean squared error (e.g. 0.005)")
    tgt.add_argument("--psnr", type=float, help="target PSNR in dB (e.g. 23)")
    e.add_argument("--tolerance", type=float, default=0.02, help="relative tolerance of the search (0.02)")
    e.add_argument(
        "--rank-by",
        default="LPIPS",
        help="LPIPS (default), DISTS, perceptual, style, '1 − SSIM' or '1 − MS-SSIM'",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of noise and salt & pepper (default 0)")
    _size_arg(e)
    _output_args(e)
    _model_args(e)


def _add_reconstruct(r: argparse.ArgumentParser) -> None:
    r.add_argument("image", help="the image to reconstruct")
    r.add_argument("--mode", choices=RECONSTRUCT_MODES, default="content", help="features or Grams")
    r.add_argument(
        "--layers", help="comma-separated layers (default: relu3_3 for content, relu1_1…relu4_1 for texture)"
    )
    r.add_argument("--steps", type=int, help="optimisation steps (default depends on the device)")
    r.add_argument("--px", type=int, default=128, help="longest side of the result in px (default 128)")
    r.add_argument("--tv-weight", type=float, help="total-variation weight (default per mode)")
    r.add_argument("--seed", type=int, default=0, help="seed of the starting noise (default 0)")
    r.add_argument("--out", required=True, help="output PNG path")
    _output_args(r, json_too=False)
    r.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _model_args(r)


def _add_style_transfer(s: argparse.ArgumentParser) -> None:
    # Defaults left out (None) are the library's (lessons.style_transfer.StyleSettings), as said here.
    s.add_argument("content", help="the content photo (what is where)")
    s.add_argument("style", help="the style photo (its texture: Gram matrices)")
    s.add_argument("--out", required=True, help="output PNG path")
    s.add_argument("--steps", type=int, help="optimisation steps (default depends on the device)")
    s.add_argument("--px", type=int, help="longest side of the result and of the style photo (default 128)")
    s.add_argument("--seed", type=int, help="seed of the starting noise with --init noise (default 0)")
    s.add_argument("--content-weight", type=float, help="α, the content term's weight (default 1)")
    s.add_argument("--style-weight", type=float, help="β, the style term's weight (default 10)")
    s.add_argument("--tv-weight", type=float, help="γ, the total variation's weight (default 10)")
    s.add_argument(
        "--content-layer", help="the content term's layer (default relu3_3 on vgg16, relu4_2 on vgg19)"
    )
    s.add_argument("--init", choices=STYLE_INITS, help="start from the content photo (default) or noise")
    s.add_argument("--json", action="store_true", help="print one JSON object instead of a line")
    _output_args(s, json_too=False)
    s.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _model_args(s)


def _add_train(t: argparse.ArgumentParser) -> None:
    t.add_argument(
        "train_images", nargs="*", metavar="TRAIN_IMAGE", help="images to cut training patches from"
    )
    t.add_argument(
        "--eval", required=True, metavar="EVAL_IMAGE", help="the held-out image (never trained on)"
    )
    t.add_argument(
        "--reference",
        action="store_true",
        help="train nothing: score the shipped reference networks (trained ahead) on EVAL_IMAGE",
    )
    t.add_argument(
        "--task", default="sr4", help=f"one of {', '.join(TASKS)} (default sr4: ×4 super-resolution)"
    )
    t.add_argument(
        "--losses",
        default="mse,perceptual,perceptual+mse",
        help="comma-separated, one network each; of: mse, l1, perceptual, perceptual+mse, perceptual+style",
    )
    t.add_argument("--steps", type=int, help="optimisation steps (default depends on the device)")
    t.add_argument(
        "--patch", type=int, help="training patch side in px, a multiple of 4 (default per device)"
    )
    t.add_argument("--batch", type=int, help="patches per step (default per device)")
    t.add_argument("--layers", help="VGG layers of the perceptual loss, comma-separated (default relu2_2)")
    t.add_argument("--pixel-weight", type=float, help="weight of MSE in perceptual+mse")
    t.add_argument("--noise", type=float, help="σ of the noise for --task denoise (default 0.1)")
    t.add_argument("--blur", type=float, help="σ in px of the blur for --task deblur")
    t.add_argument(
        "--eval-size", type=int, help="longest side of the evaluation image in px (default per device)"
    )
    t.add_argument("--seed", type=int, default=0, help="seed of the networks, the patches and the noise (0)")
    _output_args(t)
    t.add_argument("--out-dir", metavar="DIR", help="also save every picture of the figure as a PNG in DIR")
    t.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _model_args(t)


def _add_weights(w: argparse.ArgumentParser) -> None:
    w.add_argument("--arch", choices=ARCHS, default="vgg16")
    w.add_argument("--weights", default="auto")


COMMANDS = {
    "compare": ("score a clean image against a degraded one", _add_compare),
    "features": ("save a grid of one layer's strongest channels", _add_features),
    "gram": ("Gram matrices of a layer (and style distances against a second image)", _add_gram),
    "sweep": ("every metric as degradations grow, K levels each", _add_sweep),
    "equal-mse": (
        "the same MSE made every way (brightness, contrast, noise, blur, …), ranked",
        _add_equal_mse,
    ),
    "reconstruct": (
        "optimise noise to match one layer's features (or Gram matrices): what it keeps",
        _add_reconstruct,
    ),
    "style-transfer": (
        "paint a content photo in a style photo's texture (Gatys et al.): content + style + TV loss",
        _add_style_transfer,
    ),
    "train": (
        "train one small network per loss (MSE vs perceptual…) side by side and score them",
        _add_train,
    ),
    "weights": ("say which weights would be loaded, and from where", _add_weights),
}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s own arguments are filled in (some need the degradation
    registry, which imports torch), so ``--help`` and a bad command answer at once."""
    ap = argparse.ArgumentParser(
        prog="python -m perceptual_viz",
        description="Perceptual Loss Lab: compare images with MSE, PSNR, SSIM, perceptual, style "
        "and LPIPS scores, and look at VGG feature maps.",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    for name, (help_text, add) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            add(p)
    return ap


# --------------------------------------------------------------------------- main


def _report_bug(exc: BaseException) -> str:
    eid = uuid.uuid4().hex[:8]
    try:
        with ERROR_LOG.open("a", encoding="utf-8") as f:
            f.write(f"--- internal error {eid}\n")
            f.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass
    return eid


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(command).parse_args(argv)
    from . import commands

    try:
        return commands.run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`: the reader left, nothing to report
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the log
        eid = _report_bug(exc)
        print(
            f"error: internal error {eid} ({type(exc).__name__}); traceback in {ERROR_LOG}", file=sys.stderr
        )
        return 1
