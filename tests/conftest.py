"""Shared fixtures. Tests never touch the network: offline mode is forced for the whole session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ["PERCEPTUAL_VIZ_OFFLINE"] = "1"
os.environ.pop("PERCEPTUAL_VIZ_WEIGHTS", None)
# The app's showcase cache goes to a folder of this test session, never the developer's.
os.environ["PERCEPTUAL_VIZ_CACHE_DIR"] = _SESSION_CACHE = tempfile.mkdtemp(prefix="pv-test-cache-")
# So does the quiz's database (tests that need their own set PERCEPTUAL_VIZ_DB themselves).
os.environ["PERCEPTUAL_VIZ_DB"] = os.path.join(_SESSION_CACHE, "quiz.sqlite3")

import numpy as np
import pytest
import torch

from perceptual_viz.backbone import load_vgg

atexit.register(shutil.rmtree, _SESSION_CACHE, True)


def import_benchmark(name: str):
    """A module of ``benchmarks/`` (not a package), imported once: tests and benchmarks then
    exercise exactly the same workloads."""
    import importlib.util
    import sys
    from pathlib import Path

    mod_name = f"perceptual_viz_bench_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod  # dataclasses look their module up while the file executes
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """Point torch hub / HF caches at empty folders so a developer's cache never changes a test."""
    root = tmp_path_factory.getbasetemp() / "empty-caches"
    monkeypatch.setenv("TORCH_HOME", str(root / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(root / "hf"))
    monkeypatch.setenv("PERCEPTUAL_VIZ_OFFLINE", "1")
    monkeypatch.delenv("PERCEPTUAL_VIZ_WEIGHTS", raising=False)
    torch.hub.set_dir(str(root / "torch" / "hub"))


@pytest.fixture(scope="session")
def vgg16():
    """Untrained (seeded) VGG16 on CPU, shared: tests must not mutate it."""
    return load_vgg("vgg16", "untrained", "cpu")


def _photo(name: str) -> np.ndarray:
    import skimage.data

    return getattr(skimage.data, name)().astype(np.float32) / 255.0


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Three real photographs (HxWx3 float32 in [0,1]) that scikit-image ships offline."""
    return {n: _photo(n) for n in ("astronaut", "chelsea", "coffee")}


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """HxWx3 numpy → (1, 3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float()


@pytest.fixture(scope="module")
def launched_app():
    """(pool, url): the app served exactly as ``app.py`` serves it, on a free local port.

    Module-scoped: each test module that needs a server gets one, closed after the module.
    """
    import socket

    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool
    from perceptual_viz.ui.serve import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls from tests
        pool = ModelPool("vgg16", "untrained", "cpu")
        demo = build_demo(pool)
        launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
        try:
            yield pool, f"http://127.0.0.1:{port}/"
        finally:
            demo.close()
