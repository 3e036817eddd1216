"""Perceptual Loss Lab — the web app. ``python app.py --help`` for options.

Runs unchanged as a Hugging Face Space (``app_file: app.py``): the models load at start, before
the server, compute functions are wrapped in ``spaces.GPU`` on ZeroGPU, and the Space's
``GRADIO_SERVER_NAME`` / ``PORT`` are honoured. Locally it binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from perceptual_viz.archs import ARCHS

log = logging.getLogger("perceptual_viz.app")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description="Perceptual Loss Lab: see why perceptual loss works.")
    p.add_argument("--arch", default=env("PERCEPTUAL_VIZ_ARCH", "vgg16"), choices=ARCHS)
    p.add_argument(
        "--weights",
        default=env("PERCEPTUAL_VIZ_WEIGHTS", "auto"),
        help="auto | imagenet | untrained | PATH (env PERCEPTUAL_VIZ_WEIGHTS)",
    )
    p.add_argument("--device", default=env("PERCEPTUAL_VIZ_DEVICE", "auto"), help="auto | cpu | cuda | mps")
    p.add_argument(
        "--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"), help="bind address (env GRADIO_SERVER_NAME)"
    )
    port = int(env("GRADIO_SERVER_PORT", env("PORT", "7860")))
    p.add_argument("--port", type=int, default=port, help="port (env GRADIO_SERVER_PORT)")
    p.add_argument(
        "--concurrency",
        default="auto",
        help="interactive requests running at once: auto = 2 on CPU, 8 on CUDA "
        "(env PERCEPTUAL_VIZ_CONCURRENCY)",
    )
    p.add_argument(
        "--long-jobs",
        default="auto",
        help="long jobs (sweep, equal-MSE, reconstruction) running at once: auto = 1 on CPU, 2 on CUDA "
        "(env PERCEPTUAL_VIZ_LONG_JOBS)",
    )
    p.add_argument(
        "--long-threads",
        default="auto",
        help="torch threads per long job on a CPU: auto = half the cores (env PERCEPTUAL_VIZ_LONG_THREADS)",
    )
    p.add_argument(
        "--no-showcase",
        action="store_true",
        default=env("PERCEPTUAL_VIZ_SHOWCASE", "on").strip().lower() in ("0", "off", "false", "no"),
        help="do not compute the bundled samples' default demos in the background "
        "(env PERCEPTUAL_VIZ_SHOWCASE=off; results go to PERCEPTUAL_VIZ_CACHE_DIR)",
    )
    return p.parse_args(argv)


def lane_limits(args: argparse.Namespace):
    """The lanes' limits for the device (flags win over the environment; see ui/lanes.py)."""
    from perceptual_viz.backbone import pick_device
    from perceptual_viz.ui.lanes import LaneLimits

    return LaneLimits.resolve(
        pick_device(args.device).type, args.concurrency, args.long_jobs, args.long_threads
    )


def create(args: argparse.Namespace):
    """Build the pool (the models load here, at start, as ZeroGPU wants) and the Blocks."""
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool

    log.info("resolving and loading the %s weights (%s)…", args.arch, args.weights)
    pool = ModelPool(args.arch, args.weights, args.device)
    pool.get(args.arch)  # load now: the first request should not wait for weight resolution
    for other in ARCHS:
        if other != args.arch:
            pool.load(other)  # in the background: a switch is then instant, and never blocks anyone
    return build_demo(pool, lane_limits(args), warm=not args.no_showcase, precompute=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("perceptual_viz").setLevel(logging.INFO)
    from perceptual_viz.errors import InputError

    try:
        demo = create(args)
    except InputError as exc:  # a bad --weights file etc.: one clear line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from perceptual_viz.ui.serve import launch

    log.info("serving at http://%s:%s/ (Ctrl+C stops)", args.host, args.port)
    launch(demo, args.host, args.port, quiet=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
