"""The app's one context: models, feature cache, lanes and limits, passed to every endpoint.

Endpoints are module-level functions whose first argument is the :class:`AppContext`;
:meth:`AppContext.endpoint` binds it and adds the error policy, the interactive lane's CPU share
and (on ZeroGPU) ``spaces.GPU``, giving the callable a Gradio event runs. Nothing here, nor
anywhere in the app, keeps per-user data: what a user has open lives in Gradio state, and
shared resources (models, cache) are keyed by content.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..assets import samples
from ..backbone import VGGFeatures, pick_device
from ..features import FeatureCache
from ..figures import SIZES, Analysis, analyse, check_choice, load
from ..messages import Text, msg
from . import i18n
from .errors import ON_CPU, UserError, guarded
from .lanes import LaneLimits, Lanes
from .models import ModelPool, gpu
from .results import ResultCache
from .showcase import Showcase, default_folder

log = logging.getLogger("perceptual_viz.app")

# How long an interactive request waits for a backbone that is still loading before it says so
# (the page's backbone switch waits for the load in the loader lane instead).
LOAD_WAIT_S = 10.0
# Longest a long job may run before it stops with a message.
TIME_LIMIT_S = float(os.environ.get("PERCEPTUAL_VIZ_TIME_LIMIT", "120"))
PREPARED_KEPT = 32  # prepared images kept (a few MB at 224 px)

Upload = str | None  # the path of a file Gradio received (see widgets.upload_path), or nothing


def require(image: Upload, what: Text | None = None) -> str:
    """The path of an uploaded image, or a sentence asking for ``what`` (default: an image)."""
    if image is None or (isinstance(image, str) and not image):
        raise UserError(msg("upload {what} first (or pick a sample)", what=what or msg("an image")))
    return str(image)


@dataclass
class AppContext:
    """Everything the endpoints share: the models, their cache, the lanes, the limits."""

    pool: ModelPool
    lanes: Lanes
    showcase: Showcase
    samples: list[str] = field(default_factory=lambda: [str(p) for p in samples()])
    time_limit_s: float = TIME_LIMIT_S
    results: ResultCache = field(default_factory=ResultCache)
    # (shared endpoint, its arguments): the bundled samples' default views, computed after start
    defaults: list[tuple[Callable[..., Any], tuple[Any, ...]]] = field(default_factory=list)
    # Decoded, resized images by (file, its mtime and size, analysis size, device): a view change
    # re-reads the same upload, and decoding it is a good part of a view change's time. Files
    # are Gradio's content-addressed uploads or the bundled samples, so this holds no user state.
    _prepared: dict[tuple[Any, ...], Analysis] = field(default_factory=dict, repr=False)
    _prepared_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(
        cls, pool: ModelPool, limits: LaneLimits | None = None, showcase_dir: Path | None = None
    ) -> AppContext:
        """``showcase_dir``: where default runs are stored (default :func:`.showcase.default_folder`)."""
        device = pick_device(pool.device).type
        lanes = Lanes(limits or LaneLimits.resolve(device), device)
        return cls(pool, lanes, Showcase(showcase_dir or default_folder(), lanes))

    @property
    def cache(self) -> FeatureCache:
        return self.pool.cache

    def model(self, arch: str) -> VGGFeatures:
        """The model for ``arch`` (its CPU copy while a request is retried after GPU OOM)."""
        return self.pool.get(arch, cpu=ON_CPU.get(), wait=LOAD_WAIT_S)

    def analysis(
        self, image: Upload, arch: str, size: str, what: Text | None = None, which: Text | None = None
    ) -> tuple[VGGFeatures, Analysis]:
        """Model and prepared image; ``which`` names the image in errors when a request has two."""
        check_choice(msg("analysis size"), str(size), SIZES)
        model = self.model(arch)
        path = require(image, what)
        try:
            st = Path(path).stat()
            key: tuple[Any, ...] | None = (path, st.st_mtime_ns, st.st_size, str(size), str(model.device))
        except OSError:
            key = None  # load() says what is wrong with it
        with self._prepared_lock:
            hit = self._prepared.get(key) if key else None
        if hit is not None:
            return model, hit
        a = analyse(model, load(path, which), size)
        if key is not None:
            with self._prepared_lock:
                self._prepared[key] = a
                while len(self._prepared) > PREPARED_KEPT:
                    self._prepared.pop(next(iter(self._prepared)))
        return model, a

    def endpoint(
        self,
        fn: Callable[..., Any],
        *,
        interactive: bool = False,
        gpu_s: int | None = None,
        shared: bool = False,
        normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        defaults: Iterable[tuple[Any, ...]] = (),
    ) -> Callable[..., Any]:
        """``fn(ctx, *inputs)`` as the callable a Gradio event runs (``ctx`` bound).

        ``interactive``: long jobs give way while it runs (see :mod:`.lanes`); ``gpu_s``: its
        ``spaces.GPU`` duration on ZeroGPU (a no-op elsewhere). Its texts come back in the
        language of the page that asked (see :mod:`.i18n`; English for API callers).
        ``shared``: identical calls (same image content, settings, weights) share one result
        (see :mod:`.results`; checked before the lane, so a hit never waits for a compute slot);
        ``normalise`` drops what does not change the result from the key; ``defaults``: inputs
        whose results are computed after start for everyone (the bundled samples' default
        views: see :meth:`precompute`).
        """
        release = self.pool.release_gpu_memory
        computed = guarded(_bind(self, fn, interactive), release)
        on_device = gpu(gpu_s)(computed) if gpu_s else computed
        if shared:  # before the GPU and the lane: a hit asks for neither
            on_device = self.results.shared(_name(fn), on_device, fn, self._model_id, normalise)
            # computed after start without a visitor, so never through ZeroGPU's allocator
            warm = self.results.shared(_name(fn), computed, fn, self._model_id, normalise)
            self.defaults += [(warm, tuple(args)) for args in defaults]
        answered = guarded(i18n.localised(on_device), release)  # in the page's language
        if inspect.isgeneratorfunction(fn):
            return answered  # a long job: the lanes know it while it runs

        @functools.wraps(answered)
        def serve(*args: Any, **kwargs: Any) -> Any:
            with self.lanes.serving():  # background work waits, even for a result cache hit
                return answered(*args, **kwargs)

        return serve

    def _model_id(self, args: dict[str, Any]) -> str:
        """The weights a call's ``arch`` argument names (raises while they are still loading)."""
        model = self.pool.get(str(args.get("arch") or self.pool.arch), wait=0)
        return f"{model.arch}|{model.fingerprint}"

    def precompute(self, stop: threading.Event | None = None) -> int:
        """Compute every registered default view now, each when no request runs; the number
        computed. Their results are pinned: a busy class never evicts them. Nothing is
        computed while the result cache is off (there would be nowhere to keep them)."""
        if not self.results.enabled:
            return 0
        done = 0
        for call, args in list(self.defaults):
            self.lanes.wait_idle(stop)
            if stop is not None and stop.is_set():
                break
            before = self.results.misses
            try:
                with self.results.pinning():
                    call(*args)
            except Exception as exc:  # a failing default must not end the others (nor the app)
                log.warning("precompute of %s failed: %s", getattr(call, "__name__", call), exc)
                continue
            done += self.results.misses - before
        return done


def _name(fn: Callable[..., Any]) -> str:
    inner = inspect.unwrap(fn)
    return f"{inner.__module__}.{inner.__qualname__}"


def _bind(ctx: AppContext, fn: Callable[..., Any], interactive: bool) -> Callable[..., Any]:
    """``fn`` with ``ctx`` as its first argument, and Gradio's view of the remaining signature."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Any:
            yield from fn(ctx, *args, **kwargs)

        call: Callable[..., Any] = stream
    elif interactive:

        @functools.wraps(fn)
        def quick(*args: Any, **kwargs: Any) -> Any:
            with ctx.lanes.interactive():
                return fn(ctx, *args, **kwargs)

        call = quick
    else:

        @functools.wraps(fn)
        def plain(*args: Any, **kwargs: Any) -> Any:
            return fn(ctx, *args, **kwargs)

        call = plain
    params = list(inspect.signature(fn).parameters.values())[1:]
    call.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return call


def quiet_without_image(fn: Callable[..., Any], outputs: int) -> Callable[..., Any]:
    """``fn`` for a page event that redraws a view: with no image yet, it changes nothing instead
    of complaining (an API call of the same endpoint still gets the one-sentence error)."""

    @functools.wraps(fn)
    def redraw(ctx: AppContext, image: Upload, *args: Any, **kwargs: Any) -> Any:
        if image is None or image == "":
            return tuple(gr.skip() for _ in range(outputs)) if outputs > 1 else gr.skip()
        return fn(ctx, image, *args, **kwargs)

    return redraw


def session_of(request: Any) -> str | None:
    """Gradio's session hash: one per browser tab or ``gradio_client.Client``."""
    return getattr(request, "session_hash", None) if request is not None else None


def is_file(path: str) -> bool:
    return Path(path).is_file()
