"""One computation per distinct request, for the whole class.

A class asks the same things at once ("click the cat", "now relu4_3"): the same image, the same
settings, the same weights. :class:`ResultCache` keeps an endpoint's finished result (its
encoded PNG files, tables and texts, before they are worded in the reader's language) under a
key made of the content of every image argument, every other argument, and the weights'
fingerprint, so a second student's identical request costs a lookup. Requests that arrive while
the first identical one is still computing wait for it and share its result (*single flight*);
an error is shared the same way and never kept.

Bounded by bytes (the PNG files a result names plus its texts and tables), least recently used
first out; entries the app precomputes for the bundled samples are *pinned* and never evicted.
``hits``, ``misses`` (computations), ``joined`` (single-flight waits) are counted for tests and
the benchmarks. Holds no per-user data: keys are content, and identical inputs are identical
results whoever asks. ``PERCEPTUAL_VIZ_RESULT_CACHE_MB=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..messages import language

ENV_MB = "PERCEPTUAL_VIZ_RESULT_CACHE_MB"
DEFAULT_MB = 256.0
IMAGE_ANNOTATIONS = ("Upload", "Upload | None")  # how endpoints annotate an image argument


def _default_budget() -> int:
    return int(float(os.environ.get(ENV_MB, str(DEFAULT_MB))) * 2**20)


# --------------------------------------------------------------------------- content keys


class FileDigests:
    """Content digests of files, each file read once (memoised by path, mtime and size)."""

    def __init__(self, kept: int = 4096) -> None:
        self._memo: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._lock = threading.Lock()
        self._kept = kept

    def __call__(self, path: str) -> str:
        st = os.stat(path)
        k = (path, st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._memo.get(k)
        if hit is not None:
            return hit
        h = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        with self._lock:
            self._memo[k] = digest
            while len(self._memo) > self._kept:
                self._memo.popitem(last=False)
        return digest


def image_params(fn: Callable[..., Any]) -> set[str]:
    """Names of ``fn``'s parameters that are images (annotated ``Upload``)."""
    return {
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.annotation in IMAGE_ANNOTATIONS or getattr(p.annotation, "__name__", "") == "Upload"
    }


# --------------------------------------------------------------------------- sizes


def result_bytes(value: Any, _seen: set[str] | None = None) -> int:
    """What a result keeps: its files' bytes (each counted once), texts and tables."""
    seen = set() if _seen is None else _seen
    if isinstance(value, str):
        if len(value) < 4096 and value not in seen and os.path.isabs(value):
            try:
                size = os.stat(value).st_size
            except OSError:
                size = 0
            else:
                seen.add(value)
                return size + len(value)
        return len(value)
    if isinstance(value, dict):
        return sum(result_bytes(k, seen) + result_bytes(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 16 + sum(result_bytes(v, seen) for v in value)
    usage = getattr(value, "memory_usage", None)  # a pandas DataFrame
    if callable(usage):
        return int(usage(deep=True).sum())
    return 64


def files_of(value: Any) -> Iterable[str]:
    """Absolute file paths a result names (they must still exist for a hit to be served)."""
    if isinstance(value, str):
        if len(value) < 4096 and os.path.isabs(value) and Path(value).suffix:
            yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from files_of(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from files_of(v)


# --------------------------------------------------------------------------- the cache


@dataclass
class _Entry:
    value: Any
    nbytes: int
    pinned: bool = False


class ResultCache:
    """Finished results by content key, single flight, bounded in bytes (module docstring)."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = _default_budget() if max_bytes is None else int(max_bytes)
        self._data: OrderedDict[str, _Entry] = OrderedDict()
        self._flying: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._bytes = 0
        self.hits = 0
        self.misses = 0
        self.joined = 0
        self.digests = FileDigests()
        self._local = threading.local()

    @contextlib.contextmanager
    def pinning(self) -> Iterator[None]:
        """Results computed or found by this thread inside the block are pinned."""
        self._local.pin = True
        try:
            yield
        finally:
            self._local.pin = False

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def stats(self) -> dict[str, int]:
        with self._lock:
            pinned = sum(e.pinned for e in self._data.values())
            return {
                "hits": self.hits,
                "misses": self.misses,
                "joined": self.joined,
                "entries": len(self._data),
                "pinned": pinned,
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
            }

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def _lookup(self, key: str) -> _Entry | None:
        e = self._data.get(key)
        if e is None:
            return None
        try:  # handed out again: touched, so Gradio's delete_cache (it ages files by ctime) keeps it
            for p in files_of(e.value):
                os.utime(p)
        except OSError:  # a file was cleaned up already: compute the result again
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return e

    def _drop(self, key: str) -> None:
        e = self._data.pop(key, None)
        if e is not None:
            self._bytes -= e.nbytes

    def _store(self, key: str, value: Any, pinned: bool) -> None:
        n = result_bytes(value)
        if n > self.max_bytes and not pinned:
            return
        self._drop(key)
        self._data[key] = _Entry(value, n, pinned)
        self._bytes += n
        if self._bytes <= self.max_bytes:
            return
        for k in [k for k, e in self._data.items() if not e.pinned]:  # oldest first
            if self._bytes <= self.max_bytes:
                break
            self._drop(k)

    def get_or_compute(self, key: str, compute: Callable[[], Any], pin: bool = False) -> Any:
        """The result for ``key``: stored, being computed (wait for it), or computed now."""
        pin = pin or getattr(self._local, "pin", False)
        with self._lock:
            e = self._lookup(key)
            if e is not None:
                self.hits += 1
                if pin:
                    e.pinned = True
                return e.value
            flying = self._flying.get(key)
            if flying is None:
                mine: Future[Any] = Future()
                self._flying[key] = mine
                self.misses += 1
            else:
                self.joined += 1
        if flying is not None:
            return flying.result()
        try:
            value = compute()
        except BaseException as exc:
            with self._lock:
                self._flying.pop(key, None)
            mine.set_exception(exc)
            raise
        with self._lock:
            self._store(key, value, pin)
            self._flying.pop(key, None)
        mine.set_result(value)
        return value

    # ------------------------------------------------------------------ endpoints

    def key(self, name: str, model_id: str, args: dict[str, Any], images: set[str]) -> str | None:
        """The content key of one call, or None when it cannot be shared (an image missing)."""
        parts: list[Any] = [name, model_id]
        for k in sorted(args):
            v = args[k]
            if k in images and v is not None and v != "":
                try:
                    v = "file:" + self.digests(str(v))
                except OSError:
                    return None  # let the endpoint say what is wrong with it
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                v = float(v)  # a slider's 16 and 16.0 are the same setting
            parts.append((k, repr(v)))
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def shared(
        self,
        name: str,
        fn: Callable[..., Any],
        signature_of: Callable[..., Any],
        model_id: Callable[[dict[str, Any]], str],
        normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> Callable[..., Any]:
        """``fn`` with its results shared by content.

        ``signature_of``: the function whose parameters name ``fn``'s arguments (its images are
        the parameters annotated ``Upload``); ``model_id(args)``: the weights those arguments
        use; ``normalise(args)``: the arguments as far as they change the result (e.g. a seed a
        degradation ignores dropped).
        """
        sig = inspect.signature(fn)
        images = image_params(signature_of)

        @functools.wraps(fn)
        def call(*a: Any, **kw: Any) -> Any:
            if not self.enabled:
                return fn(*a, **kw)
            try:
                bound = sig.bind(*a, **kw)
            except TypeError:
                return fn(*a, **kw)  # Gradio's own error for a wrong call
            bound.apply_defaults()
            args = dict(bound.arguments)
            try:
                mid = model_id(args)
                key_args = normalise(args) if normalise else args
            except Exception:
                return fn(*a, **kw)
            # Pictures carry words: a result is the same only in the same language.
            k = self.key(name, f"{mid}|{language()}", key_args, images)
            if k is None:
                return fn(*a, **kw)
            return self.get_or_compute(k, lambda: fn(*a, **kw))

        return call
