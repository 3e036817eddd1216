"""The app's shared, read-only resources: one frozen VGG per architecture and one feature cache.

Both are safe to share between users: models are never modified after loading, and the cache
is keyed by image content, so one user's entries are only ever served for the same pixels.
Nothing per-user lives here. ``gpu`` wraps compute functions in ``spaces.GPU`` on Hugging Face
ZeroGPU Spaces and is a no-op everywhere else.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from ..backbone import VGGFeatures, WeightsError, WeightsStatus, load_vgg, pick_device
from ..batching import MicroBatcher
from ..features import FeatureCache
from ..layers import ARCHS

try:  # Hugging Face ZeroGPU: present on Spaces, absent locally.
    import spaces  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    spaces = None

F = TypeVar("F", bound=Callable[..., Any])


def gpu(duration: int) -> Callable[[F], F]:
    """``@spaces.GPU(duration=…)`` on ZeroGPU, identity elsewhere."""
    if spaces is None:
        return lambda fn: fn
    return spaces.GPU(duration=duration)  # pragma: no cover


class ModelPool:
    """Lazily loaded models per architecture, plus the shared byte-bounded feature cache.

    ``weights`` (a path, "auto", "imagenet" or "untrained") applies to ``arch``; the other
    architecture resolves "auto". If an explicit file does not fit the other architecture, that
    one falls back to untrained weights and its status says why.
    """

    def __init__(
        self,
        arch: str = "vgg16",
        weights: str | os.PathLike[str] = "auto",
        device: str = "auto",
        cache_mb: float | None = None,
    ) -> None:
        self.arch = arch
        self.weights = weights
        self.device = device
        # On a GPU, concurrent requests share forward passes (on a 2-core CPU that gains nothing).
        batch = os.environ.get("PERCEPTUAL_VIZ_MICROBATCH", "auto")
        on_gpu = pick_device(device).type == "cuda"
        batcher = MicroBatcher() if batch == "1" or (batch == "auto" and on_gpu) else None
        self.cache = FeatureCache(None if cache_mb is None else int(cache_mb * 2**20), batcher=batcher)
        self._models: dict[tuple[str, str], VGGFeatures] = {}
        self._lock = threading.Lock()

    def get(self, arch: str | None = None, cpu: bool = False) -> VGGFeatures:
        """The model for ``arch``; with ``cpu`` a CPU copy (the fallback after a GPU OOM)."""
        arch = arch or self.arch
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r}")
        key = (arch, "cpu" if cpu else self.device)
        with self._lock:
            if key not in self._models:
                self._models[key] = self._load(arch, key[1])
            return self._models[key]

    def release_gpu_memory(self) -> None:
        """After a CUDA out-of-memory error: drop cached activations and CUDA's cached blocks."""
        self.cache.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _load(self, arch: str, device: str) -> VGGFeatures:
        spec = self.weights if arch == self.arch else "auto"
        try:
            return load_vgg(arch, spec, device)
        except WeightsError as exc:
            if arch == self.arch:
                raise
            model = load_vgg(arch, "untrained", device)
            model.status = WeightsStatus(
                "untrained",
                False,
                None,
                f"UNTRAINED {arch} weights: the weights given do not fit {arch} ({exc})",
            )
            return model
