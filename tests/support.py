"""What the tests share besides fixtures: paths, photos, the real weights, the benchmark modules
and serving the app. Fixtures live in ``conftest.py`` and are built from these; test modules
import helpers from here, never from ``conftest``."""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from perceptual_viz.assets import SAMPLES_DIR, sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = SAMPLES_DIR
CHELSEA = sample("chelsea.png")  # 451×300 → analysed at 337×224
COFFEE = sample("coffee.png")  # 600×400 → analysed at 336×224
ASTRONAUT = sample("astronaut.png")  # 512×512 → analysed at 224×224

# Real ImageNet VGG16 conv weights for development (../shared/weights/README.md); never committed.
REAL_WEIGHTS = ROOT.parent / "shared" / "weights" / "vgg16_imagenet_features.pth"
needs_real_weights = pytest.mark.skipif(
    not REAL_WEIGHTS.is_file(), reason=f"real VGG16 weights not present ({REAL_WEIGHTS})"
)

__all__ = [
    "ASTRONAUT",
    "CHELSEA",
    "COFFEE",
    "REAL_WEIGHTS",
    "ROOT",
    "SAMPLES",
    "Served",
    "free_port",
    "import_benchmark",
    "needs_real_weights",
    "photo",
    "photo_tensor",
    "reuse_ssl_contexts",
    "sample",
    "serve",
    "stays_unchanged",
    "to_tensor",
]


# --------------------------------------------------------------------------- photos


def photo(name: str, dtype: Any = np.float32) -> np.ndarray:
    """One of the photographs scikit-image ships offline (``astronaut``, ``chelsea``, ``coffee``…),
    HxWx3: float32 in [0, 1] by default, ``dtype=np.uint8`` for the bytes as stored."""
    import skimage.data

    a = getattr(skimage.data, name)()
    return a if dtype == np.uint8 else a.astype(dtype) / 255.0


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """HxWx3 numpy → (1, 3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()


def photo_tensor(name: str, size: int) -> torch.Tensor:
    """:func:`photo` as a (1, 3, size, size) tensor: the centred square, area-downscaled."""
    a = photo(name)
    h, w = a.shape[:2]
    s = min(h, w)
    a = a[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return torch.nn.functional.interpolate(to_tensor(a), size=(size, size), mode="area")


# --------------------------------------------------------------------------- benchmarks


def import_benchmark(name: str) -> ModuleType:
    """A script of ``benchmarks/`` (``run.py``, ``load.py``, …), imported from its file once, under
    the name ``benchmarks.harness.import_script`` gives it: tests and benchmarks then exercise
    exactly the same workloads."""
    mod_name = f"perceptual_viz_bench_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod  # dataclasses look their module up while the file executes
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------- waiting


def stays_unchanged(read: Any, quiet_s: float = 1.5, timeout_s: float = 60.0) -> bool:
    """Poll ``read()`` until it returns the same value for ``quiet_s`` (True), or ``timeout_s``
    passes while it keeps changing (False): e.g. a model's forward count once a cancelled job
    has really stopped. ``quiet_s`` must be several times the step being watched."""
    t_end = time.monotonic() + timeout_s
    value, since = read(), time.monotonic()
    while time.monotonic() < t_end:
        time.sleep(0.05)
        now = read()
        if now != value:
            value, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
    return False


# --------------------------------------------------------------------------- serving the app


def reuse_ssl_contexts() -> bool:
    """Let every ``httpx`` client of this process share one default SSL context.

    ``gradio_client`` uploads and downloads each file with ``httpx.post``/``httpx.stream``, a
    new ``httpx.Client`` each, and every new client reads the CA bundle into a fresh SSL context
    (~30 ms of CPU), even for the plain-http loopback the tests talk to: a third of a test
    client's time on a /compare with a dozen pictures. The app is untouched (a browser never pays
    this). Returns False, changing nothing, when httpx does not look as expected.
    """
    import functools

    try:
        from httpx._transports import default
    except ImportError:
        return False
    original = getattr(default, "create_ssl_context", None)
    if original is None or getattr(original, "shared", False):
        return original is not None

    @functools.lru_cache(maxsize=4)
    def shared_context(verify: bool, trust_env: bool) -> Any:
        return original(verify=verify, cert=None, trust_env=trust_env)

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if isinstance(verify, bool) and cert is None:
            return shared_context(verify, trust_env)
        return original(verify=verify, cert=cert, trust_env=trust_env)

    create_ssl_context.shared = True  # type: ignore[attr-defined]
    default.create_ssl_context = create_ssl_context
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    """An app served as ``app.py`` serves it: its model pool, its page and its Blocks."""

    pool: Any
    url: str
    demo: Any


@contextmanager
def serve(limits: Any = None, cache_mb: float | None = None) -> Iterator[Served]:
    """The app with untrained VGG16 on the CPU, on a free loopback port, closed on exit."""
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool
    from perceptual_viz.ui.serve import close, launch

    port = free_port()
    pool = ModelPool("vgg16", "untrained", "cpu", cache_mb=cache_mb)
    demo = build_demo(pool, limits)
    launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield Served(pool, f"http://127.0.0.1:{port}/", demo)
    finally:
        close(demo)
