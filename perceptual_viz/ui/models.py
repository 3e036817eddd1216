"""The app's shared, read-only resources: one frozen VGG per architecture and one feature cache.

Both are safe to share between users: models are never modified after loading, and the cache
is keyed by image content, so one user's entries are only ever served for the same pixels.
Nothing per-user lives here. ``gpu`` wraps compute functions in ``spaces.GPU`` on Hugging Face
ZeroGPU Spaces and is a no-op everywhere else.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import gradio as gr
import torch

from ..archs import Arch, is_arch
from ..backbone import VGGFeatures, WeightsError, WeightsStatus, load_vgg, pick_device
from ..batching import MicroBatcher
from ..errors import InputError
from ..features import FeatureCache
from ..messages import msg, said, word
from .errors import UserError

try:  # Hugging Face ZeroGPU: present on Spaces, absent locally.
    import spaces
except ImportError:  # pragma: no cover - depends on the environment
    spaces = None

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("perceptual_viz.app")


# What ZeroGPU's ``spaces`` package says when a visitor's daily GPU quota is spent: it raises a
# plain ``gr.Error`` with this text (there is no exception type to catch); its own constant
# where it exposes one.
QUOTA_MESSAGE = "You have exceeded your GPU quota"
with contextlib.suppress(Exception):  # pragma: no cover - depends on the environment
    QUOTA_MESSAGE = str(importlib.import_module("spaces.zero.client").QUOTA_MESSAGE)
QUOTA_NOTE = msg(
    "This visitor's ZeroGPU quota is used up for now, so this result was computed on the CPU "
    "(slower). Logged-in visitors get their own quota."
)


def quota_refused(exc: BaseException) -> bool:
    """True if ``exc`` is ZeroGPU refusing a request because the visitor's GPU quota is spent."""
    return QUOTA_MESSAGE.lower() in str(exc).lower()


def gpu(duration: int | None) -> Callable[[F], F]:
    """``@spaces.GPU(duration=…)`` on ZeroGPU, identity elsewhere.

    When ZeroGPU refuses a request for quota (a class behind one school address shares one
    anonymous quota), the request is computed on the CPU instead, with a note, not failed.
    """
    if spaces is None:
        return lambda fn: fn
    return lambda fn: on_cpu_when_refused(spaces.GPU(duration=duration)(fn), fn)


def on_cpu_when_refused(on_gpu: F, fn: F) -> F:
    """``on_gpu``, or ``fn`` on the CPU copy of the models when ZeroGPU refuses it for quota."""
    from . import i18n
    from .errors import on_cpu

    def refused(exc: Exception) -> None:
        """Re-raise anything but a quota refusal; for that, say the CPU takes over."""
        if not quota_refused(exc):
            raise exc
        log.warning("ZeroGPU quota refused a request; computing it on the CPU")
        gr.Warning(word(QUOTA_NOTE, i18n.request_language()))

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*a: Any, **kw: Any) -> Any:
            try:
                yield from on_gpu(*a, **kw)
                return
            except Exception as exc:
                refused(exc)
            with on_cpu():
                yield from fn(*a, **kw)

        return streaming  # type: ignore[return-value]

    @functools.wraps(fn)
    def plain(*a: Any, **kw: Any) -> Any:
        try:
            return on_gpu(*a, **kw)
        except Exception as exc:
            refused(exc)
        with on_cpu():
            return fn(*a, **kw)

    return plain  # type: ignore[return-value]


class BackboneLoading(UserError):
    """A backbone is still loading (resolving or reading its weights); try again shortly."""


class ModelPool:
    """Lazily loaded models per architecture, plus the shared byte-bounded feature cache.

    ``weights`` (a path, "auto", "imagenet" or "untrained") applies to ``arch``; the other
    architecture resolves "auto". If an explicit file does not fit the other architecture, that
    one falls back to untrained weights and its status says why.

    Loading never holds a lock that other requests need: the pool's lock guards only its two
    dicts, and a model being loaded is a :class:`~concurrent.futures.Future` that requests for
    *that* architecture wait on (for at most ``wait`` seconds), while requests for a loaded one
    return at once.
    """

    def __init__(
        self,
        arch: str = "vgg16",
        weights: str | os.PathLike[str] = "auto",
        device: str = "auto",
        cache_mb: float | None = None,
    ) -> None:
        self.arch: Arch = self._checked(arch)
        self.weights = weights
        self.device = device
        # On a GPU, concurrent requests share forward passes (on a CPU, VGG is compute-bound and
        # batching gains nothing).
        batch = os.environ.get("PERCEPTUAL_VIZ_MICROBATCH", "auto")
        on_gpu = pick_device(device).type == "cuda"
        batcher = MicroBatcher() if batch == "1" or (batch == "auto" and on_gpu) else None
        self.cache = FeatureCache(None if cache_mb is None else int(cache_mb * 2**20), batcher=batcher)
        self._models: dict[tuple[Arch, str], VGGFeatures] = {}
        self._loading: dict[tuple[Arch, str], Future[VGGFeatures]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _checked(arch: str) -> Arch:
        if not is_arch(arch):
            raise InputError(msg("unknown architecture {arch!r}", arch=arch))
        return arch

    def _key(self, arch: str | None, cpu: bool) -> tuple[Arch, str]:
        return self._checked(arch or self.arch), "cpu" if cpu else self.device

    def get(self, arch: str | None = None, cpu: bool = False, wait: float | None = None) -> VGGFeatures:
        """The model for ``arch``; with ``cpu`` a CPU copy (the fallback after a GPU OOM).

        Loads it if needed. ``wait`` bounds how long to wait for a model that is loading
        (``None``: until it is loaded); past it, :class:`BackboneLoading` is raised and the load
        goes on in the background.
        """
        key = self._key(arch, cpu)
        model = self._models.get(key)  # a plain dict read: no lock on the hot path
        if model is not None:
            return model
        future = self.load(key[0], cpu)
        try:
            return future.result(timeout=wait)
        except FutureTimeout:
            raise BackboneLoading(
                msg(
                    "the {arch} backbone is still loading (finding and reading its weights); "
                    "it will be ready in a few seconds, please try again",
                    arch=key[0],
                )
            ) from None

    def load(self, arch: str | None = None, cpu: bool = False) -> Future[VGGFeatures]:
        """Start loading ``arch`` in a background thread (if it is not loaded or loading)."""
        key = self._key(arch, cpu)
        with self._lock:
            if key in self._models:
                done: Future[VGGFeatures] = Future()
                done.set_result(self._models[key])
                return done
            future = self._loading.get(key)
            if future is not None:
                return future
            future = self._loading[key] = Future()
        threading.Thread(
            target=self._load_into, args=(key, future), name=f"load-{key[0]}", daemon=True
        ).start()
        return future

    def is_ready(self, arch: str | None = None) -> bool:
        return self._key(arch, False) in self._models

    def _load_into(self, key: tuple[Arch, str], future: Future[VGGFeatures]) -> None:
        try:
            model = self._load(*key)
        except BaseException as exc:  # the waiting requests get the error; a later one retries
            with self._lock:
                self._loading.pop(key, None)
            future.set_exception(exc)
            return
        with self._lock:
            self._models[key] = model
            self._loading.pop(key, None)
        future.set_result(model)

    def release_gpu_memory(self) -> None:
        """After a CUDA out-of-memory error: drop cached activations and CUDA's cached blocks."""
        self.cache.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _load(self, arch: Arch, device: str) -> VGGFeatures:
        spec = self.weights if arch == self.arch else "auto"
        log.info("loading the %s backbone (weights: %s) on %s", arch, spec, device)
        try:
            model = load_vgg(arch, spec, device)
        except WeightsError as exc:
            if arch == self.arch:
                raise
            model = load_vgg(arch, "untrained", device)
            model.status = WeightsStatus(
                "untrained",
                False,
                None,
                msg(
                    "UNTRAINED {arch} weights: the weights given do not fit {arch} ({error})",
                    arch=arch,
                    error=said(exc),
                ),
            )
        log.info("%s ready: %s", arch, model.status.message)
        if not model.status.trained:
            log.warning("%s runs on UNTRAINED weights: feature maps show random filters", arch)
        return model
