"""Shared fixtures (helpers are in ``support.py``). Tests never touch the network: offline mode is
forced for the whole session, and every cache a test could write goes to this session's own
folder, never the developer's.

With ``pytest-xdist`` (README's command runs ``-n auto``) each worker is its own session: its own
app, caches and Gradio file folder, and its share of the CPU cores for torch.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ["PERCEPTUAL_VIZ_OFFLINE"] = "1"
os.environ.pop("PERCEPTUAL_VIZ_WEIGHTS", None)
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # no telemetry calls from tests
# The app's showcase cache goes to a folder of this test session, never the developer's.
os.environ["PERCEPTUAL_VIZ_CACHE_DIR"] = _SESSION_CACHE = tempfile.mkdtemp(prefix="pv-test-cache-")
# So does the quiz's database (tests that need their own set PERCEPTUAL_VIZ_DB themselves)…
os.environ["PERCEPTUAL_VIZ_DB"] = _QUIZ_DB = os.path.join(_SESSION_CACHE, "quiz.sqlite3")
# … and Gradio's file cache: an app that closes deletes the files it served, so two sessions
# (xdist workers) must not share one folder.
os.environ["GRADIO_TEMP_DIR"] = os.path.join(_SESSION_CACHE, "gradio")


def _torch_threads() -> int | None:
    """Under xdist, each worker's share of the cores (workers × threads ≤ cores); else None."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // workers)


if (_threads := _torch_threads()) is not None:
    os.environ["OMP_NUM_THREADS"] = str(_threads)  # subprocesses (CLI, app.py) inherit the share

import pytest  # noqa: E402
import torch  # noqa: E402

from perceptual_viz.backbone import load_vgg  # noqa: E402

from .support import Served, photo, reuse_ssl_contexts, serve  # noqa: E402

if _threads is not None:
    torch.set_num_threads(_threads)
reuse_ssl_contexts()  # gradio_client's per-file HTTP clients: see support.reuse_ssl_contexts
atexit.register(shutil.rmtree, _SESSION_CACHE, True)

MAX_AUTO_WORKERS = 4  # each worker serves its own app (~1–2 GB with torch and Gradio)


@pytest.hookimpl(optionalhook=True)  # only xdist defines this hook
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core, at most :data:`MAX_AUTO_WORKERS` (override with
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` or ``-n N``)."""
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_WORKERS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run first (otherwise in their usual order): with xdist's work
    stealing the long ones start early and the many short ones fill the gaps, instead of one
    long test starting last while the other workers idle. Tests marked ``timing`` (a latency
    held to a goal) run last instead, when the other workers have the least left to do."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("timing") is not None,
            item.get_closest_marker("slow") is None,
        )
    )


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """Each test starts with this process's torch thread count: the app's lanes set it for their
    requests, and floating-point sums (a convolution's, say) differ in their last bits between
    thread counts, which "the same search finds the same strength" tests would notice."""
    n = torch.get_num_threads()
    yield
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


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


@pytest.fixture(scope="session")
def photos() -> dict[str, object]:
    """Three real photographs (HxWx3 float32 in [0,1]) that scikit-image ships offline."""
    return {n: photo(n) for n in ("astronaut", "chelsea", "coffee")}


@pytest.fixture(scope="session")
def served() -> Served:
    """The app served exactly as ``app.py`` serves it (untrained VGG16, CPU), on a free local
    port: one per session, shared by the API, browser and security tests. Tests may clear its
    cache and count its forward passes, never change its settings."""
    with serve() as app:
        yield app


@pytest.fixture(scope="module")
def client(served: Served):
    """A ``gradio_client.Client`` of :func:`served`: one Gradio session per test module, so what
    a session keeps (a tab's run history, say) never leaks from one module into another."""
    gradio_client = pytest.importorskip("gradio_client")
    return gradio_client.Client(served.url, verbose=False)


@pytest.fixture(scope="session")
def app_url(served: Served) -> str:
    """The page of :func:`served`, after checking a browser is there to drive (browser tests)."""
    from .browser_support import require_browser

    require_browser()
    return served.url


@pytest.fixture(scope="module")
def chromium(app_url: str):
    """One headless Chromium for a test module (a launch costs about a second of CPU); each test
    opens contexts of its own (storage, viewport, locale), closed after it by :func:`contexts`.
    Module rather than session scope: Playwright's sync API keeps its event loop current in this
    thread while it is open, and other modules' asyncio code must not meet it."""
    from perceptual_viz.ui.pagecheck import CHROMIUM_ARGS

    from .browser_support import CHROMIUM, sync_playwright

    with sync_playwright()() as p:
        # Chromium's fake camera (a test pattern), for the live camera's test; no page sees it
        # unless it asks for the camera.
        fake_camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *fake_camera]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def contexts(chromium):
    """:func:`chromium`, with every context a test opened closed after it."""
    yield chromium
    for context in list(chromium.contexts):
        context.close()


@pytest.fixture(scope="session")
def quiz_db() -> Path:
    """The quiz database of :func:`served` (created on the quiz's first use)."""
    return Path(_QUIZ_DB)
