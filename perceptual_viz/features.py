"""Images → named VGG activations: the resize policy, and a byte-bounded LRU feature cache.

The cache is what makes the UI instant when only the view changes: activations are keyed by
(image content, arch, weights, analysis size, layer), so asking again for a layer that was
computed before costs no forward pass, and scoring a new degradation against the same clean
image forwards only the degraded one.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .backbone import VGGFeatures
from .errors import InputError
from .messages import Message, msg
from .options import RESIZE_MODES, ResizeMode, is_one_of

# --------------------------------------------------------------------------- resize policy


@dataclass(frozen=True)
class Resize:
    """How images are resized before the network sees them.

    ``mode``: ``"none"`` (as given), ``"shorter"`` (shorter side → ``size``, aspect kept), or
    ``"fixed"`` (exactly ``size`` × ``size``, as the reference loss's ``resize=True`` → 224 × 224).

    >>> Resize.parse("224")
    Resize(mode='shorter', size=224)
    >>> Resize.parse("224").target(300, 400), Resize.parse("224x224").target(300, 400)
    ((224, 299), (224, 224))
    >>> Resize.parse("none"), str(Resize.parse("224x224"))
    (Resize(mode='none', size=0), '224x224')
    """

    mode: ResizeMode = "shorter"
    size: int = 224

    def __post_init__(self) -> None:
        if not is_one_of(self.mode, RESIZE_MODES):
            raise InputError(f"resize mode must be none, shorter or fixed, not {self.mode!r}")
        if self.mode != "none" and not 32 <= int(self.size) <= 4096:
            raise InputError(f"resize size must be between 32 and 4096 px, not {self.size}")

    @classmethod
    def parse(cls, spec: str | int | None) -> Resize:
        """``None``/"none"/"original" → none; ``224`` or "224" → shorter side 224; "224x224" → fixed."""
        if spec is None:
            return cls("none", 0)
        s = str(spec).strip().lower()
        if s in ("none", "original", "0"):
            return cls("none", 0)
        try:
            if "x" in s:
                h, w = (int(v) for v in s.split("x"))
                if h != w:
                    raise ValueError
                return cls("fixed", h)
            return cls("shorter", int(s))
        except ValueError:
            raise InputError(
                f"size {spec!r} not understood: use N (shorter side N px), NxN (fixed, e.g. 224x224) or none"
            ) from None

    def target(self, height: int, width: int) -> tuple[int, int]:
        """Output (H, W) for an input of (height, width)."""
        if self.mode == "none":
            return height, width
        if self.mode == "fixed":
            return self.size, self.size
        scale = self.size / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    def describe(self) -> Message:
        return {
            "none": msg("original size"),
            "shorter": msg("shorter side resized to {size} px", size=self.size),
            "fixed": msg("resized to {size}×{size} (reference)", size=self.size),
        }[self.mode]

    def __str__(self) -> str:
        return {"none": "none", "shorter": str(self.size), "fixed": f"{self.size}x{self.size}"}[self.mode]


def resize_images(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``size`` (antialiased when shrinking); no-op if equal."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink).clamp_(0, 1)


def prepare(x: torch.Tensor, resize: Resize, device: torch.device | None = None) -> torch.Tensor:
    """(C,H,W)/(N,C,H,W) [0,1] float, grey or RGB → (N,3,H',W') float32 on ``device``, resized.

    >>> import torch
    >>> prepare(torch.rand(3, 64, 48), Resize.parse("32")).shape  # shorter side → 32 px
    torch.Size([1, 3, 43, 32])
    >>> prepare(torch.rand(2, 1, 40, 40), Resize("fixed", 32)).shape  # grey → RGB
    torch.Size([2, 3, 32, 32])
    """
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InputError(f"expected (N, 3, H, W) or (N, 1, H, W) images, got {tuple(x.shape)}")
    x = x.to(device=device or x.device, dtype=torch.float32)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return resize_images(x, resize.target(x.shape[-2], x.shape[-1]))


def image_key(x: torch.Tensor | np.ndarray) -> str:
    """A content hash of one image (shape, dtype and bytes), used as a cache key."""
    arr = x.detach().to("cpu").numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim == 4 and arr.shape[0] == 1:  # (1, C, H, W) and (C, H, W) are the same image
        arr = arr[0]
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{arr.shape}|{arr.dtype}|".encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- every layer, cheaply


def source_conv(model: VGGFeatures, name: str) -> str:
    """The conv layer a layer is computed from: itself, the conv before a ReLU, or the last conv
    of the stage a pool closes."""
    info = model.info(name)
    if info.kind != "pool":
        return f"conv{name[4:]}" if info.kind == "relu" else name
    return model.layers[info.index - 2].name  # pool_k follows relu_k_last, which follows conv_k_last


def derive(model: VGGFeatures, name: str, conv: torch.Tensor) -> torch.Tensor:
    """Activation ``name`` from the output of :func:`source_conv` — exact, no network pass.

    ReLU is ``clamp_min(0)`` and pool is a 2 × 2 max-pool of that, so caching only the 13 (or 16)
    conv outputs lets a viewer switch between all 31 (37) layers without running VGG again.
    """
    kind = model.info(name).kind
    if kind == "conv":
        return conv
    relu = conv.clamp_min(0)
    return relu if kind == "relu" else F.max_pool2d(relu, kernel_size=2, stride=2)


# --------------------------------------------------------------------------- cache


def _default_budget() -> int:
    return int(float(os.environ.get("PERCEPTUAL_VIZ_CACHE_MB", "512")) * 2**20)


class FeatureCache:
    """A thread-safe LRU of activations, bounded in bytes.

    Entries are keyed by (model id, image key, layer). The model id names arch and weights,
    the image key names content and size (see :func:`image_key`), so different users' images
    never collide and a change of weights never serves stale maps. Cached tensors are shared:
    treat them as read-only.
    """

    def __init__(
        self, max_bytes: int | None = None, batcher: Callable[..., dict[str, torch.Tensor]] | None = None
    ) -> None:
        self.max_bytes = _default_budget() if max_bytes is None else int(max_bytes)
        # Optional: a MicroBatcher, so concurrent requests share forward passes (the GPU path).
        self.batcher = batcher
        self._data: OrderedDict[tuple[str, str, str], torch.Tensor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def _get(self, key: tuple[str, str, str]) -> torch.Tensor | None:
        t = self._data.get(key)
        if t is not None:
            self._data.move_to_end(key)
        return t

    def storage_bytes(self) -> int:
        """Bytes of memory the cached tensors really keep alive (each storage counted once).

        Equal to :attr:`nbytes` when every entry owns exactly its own data, which :meth:`_put`
        ensures; a view into a larger batch would keep the whole batch alive unaccounted.
        """
        with self._lock:
            storages = {
                t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in self._data.values()
            }
        return sum(storages.values())

    def _put(self, key: tuple[str, str, str], t: torch.Tensor) -> None:
        t = _owned(t)
        size = t.numel() * t.element_size()
        if size > self.max_bytes:
            return
        old = self._data.pop(key, None)
        if old is not None:
            self._bytes -= old.numel() * old.element_size()
        self._data[key] = t
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, ev = self._data.popitem(last=False)
            self._bytes -= ev.numel() * ev.element_size()

    def features(
        self,
        model: VGGFeatures,
        images: torch.Tensor,
        keys: Sequence[str],
        names: Sequence[str],
        store: bool | Sequence[bool] = True,
    ) -> dict[str, torch.Tensor]:
        """Activations ``names`` of ``images`` (N, 3, H, W, all the same size), using the cache.

        ``keys[i]`` identifies image i (content + size). Only conv outputs are stored; ReLU and
        pool layers are derived from them exactly (:func:`derive`). Images whose convs are all
        cached cost nothing; the others go through **one** batched forward pass together.
        ``store`` (per image, or for all) says whether fresh activations are kept: a sweep keeps
        the clean image and lets its many one-off degraded images pass through.
        """
        if len(keys) != images.shape[0]:
            raise InputError("one key per image is required")
        keep = [store] * len(keys) if isinstance(store, bool) else list(store)
        wanted = list(dict.fromkeys(names))
        src = {n: source_conv(model, n) for n in wanted}
        convs = self._convs(model, images, keys, list(dict.fromkeys(src.values())), keep)
        return {n: derive(model, n, convs[src[n]]) for n in wanted}

    def ensure(
        self, model: VGGFeatures, images: torch.Tensor, keys: Sequence[str], names: Sequence[str]
    ) -> None:
        """Make sure the activations ``names`` of ``images`` are cached, in **one** forward pass
        for whatever is missing, without handing anything back (no batch is gathered, no ReLU or
        pool derived): for a view that then reads its images' activations one by one."""
        if len(keys) != images.shape[0]:
            raise InputError("one key per image is required")
        convs = list(dict.fromkeys(source_conv(model, n) for n in names))
        self._convs(model, images, keys, convs, [True] * len(keys), gather=False)

    def memo(
        self, model: VGGFeatures, key: str, tag: str, compute: Callable[[], torch.Tensor]
    ) -> torch.Tensor:
        """A tensor derived from image ``key`` (e.g. its Gram matrix at a layer), computed once
        and kept under the same byte budget and LRU order as the activations."""
        k = (model_id(model), key, tag)
        with self._lock:
            t = self._get(k)
        if t is None:
            t = compute()
            with self._lock:
                self._put(k, t)
        return t

    def peek(self, model: VGGFeatures, key: str, tag: str) -> torch.Tensor | None:
        """The tensor kept for image ``key`` under ``tag`` (see :meth:`memo`), or ``None``."""
        with self._lock:
            return self._get((model_id(model), key, tag))

    def keep(self, model: VGGFeatures, key: str, tag: str, t: torch.Tensor) -> None:
        """Keep ``t``, derived from image ``key``, under ``tag`` (a view is stored as a copy)."""
        with self._lock:
            self._put((model_id(model), key, tag), t)

    def pair(
        self,
        model: VGGFeatures,
        clean: torch.Tensor,
        clean_key: str,
        others: torch.Tensor,
        other_keys: Sequence[str],
        names: Sequence[str],
        store_others: bool = True,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Activations of one clean image (1, …) and of K others (K, …), kept apart.

        One forward pass covers whatever is missing; when the clean image is cached (the usual
        case when re-scoring) its activations come back as stored and only the others run, with
        no concatenation of large tensors either way.
        """
        mid = model_id(model)
        srcs = {source_conv(model, n) for n in names}
        with self._lock:
            clean_cached = all((mid, clean_key, n) in self._data for n in srcs)
        if clean_cached:
            fc = self.features(model, clean, [clean_key], names)
            fd = self.features(model, others, other_keys, names, store=store_others)
            return fc, fd
        both = self.features(
            model,
            torch.cat([clean, others]),
            [clean_key, *other_keys],
            names,
            store=[True] + [store_others] * len(other_keys),
        )
        return {n: t[:1] for n, t in both.items()}, {n: t[1:] for n, t in both.items()}

    def _convs(
        self,
        model: VGGFeatures,
        images: torch.Tensor,
        keys: Sequence[str],
        names: list[str],
        keep: list[bool],
        gather: bool = True,
    ) -> dict[str, torch.Tensor]:
        mid = model_id(model)
        found: list[dict[str, torch.Tensor]] = []
        todo: list[int] = []
        with self._lock:
            for i, k in enumerate(keys):
                got = {n: t for n in names if (t := self._get((mid, k, n))) is not None}
                found.append(got)
                if len(got) < len(names):
                    todo.append(i)
            self.hits += len(keys) - len(todo)
            self.misses += len(todo)
        if todo:
            batch = images if len(todo) == len(keys) else images[todo]
            with torch.inference_mode():
                fresh = self.batcher(model, batch, names) if self.batcher else model(batch, names)
            with self._lock:
                for j, i in enumerate(todo):
                    for n in names:
                        t = fresh[n][j : j + 1]
                        found[i][n] = t
                        if keep[i]:
                            self._put((mid, keys[i], n), t)
        if not gather:
            return {}
        if len(found) == 1:
            return found[0]
        if len(todo) == len(keys):
            return fresh
        return {n: torch.cat([f[n] for f in found]) for n in names}


def _owned(t: torch.Tensor) -> torch.Tensor:
    """``t``, or a copy of it when it is a view into a larger buffer (a row of a batch, or of a
    micro-batch shared with other requests): stored as a view, the whole buffer would stay
    alive and escape the cache's byte budget."""
    if t.untyped_storage().nbytes() > t.numel() * t.element_size():
        return t.clone()
    return t


def model_id(model: VGGFeatures) -> str:
    """Names arch + weights for cache keys (two models with the same weights share entries)."""
    return f"{model.arch}|{model.fingerprint}|{model.device}"


def all_convs(model: VGGFeatures) -> list[str]:
    return [i.name for i in model.layers if i.kind == "conv"]


def layer_activations(
    model: VGGFeatures, cache: FeatureCache, x: torch.Tensor, key: str, names: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Activations ``names`` of one image (1, 3, H, W) for a viewer.

    The first call caches every conv output of the image (one forward pass); any later request
    for any layer of the same image is derived from the cache without a forward pass.
    """
    cache.features(model, x, [key], all_convs(model))
    return cache.features(model, x, [key], names)
