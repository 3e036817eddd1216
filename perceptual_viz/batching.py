"""Micro-batching: concurrent requests share one VGG forward pass (the GPU path).

On a GPU one pass over 8 images costs little more than over 1, so when a classroom's requests
arrive together, the first waits a few milliseconds for others (same model, same image size)
and runs them all as one batch; each request gets back its own rows. On a CPU the
forward is compute-bound and batching gains nothing, so the app enables this on CUDA only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .backbone import VGGFeatures


@dataclass
class _Request:
    images: torch.Tensor
    names: Sequence[str]
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, torch.Tensor] | None = None
    error: BaseException | None = None


class MicroBatcher:
    """Runs ``model(images, names)`` for concurrent callers as one batched pass.

    A caller that finds no batch being gathered becomes the leader: it waits ``window`` seconds,
    takes every queued request with the same model and image size (up to ``max_images``), runs
    one forward with the union of their layers, and hands each caller its slice.
    """

    def __init__(self, window: float = 0.01, max_images: int = 16) -> None:
        self.window = window
        self.max_images = max_images
        self._lock = threading.Lock()
        self._queues: dict[tuple[int, tuple[int, ...]], list[_Request]] = {}
        self.batches = 0  # forward passes run, for tests and benchmarks

    def __call__(
        self, model: VGGFeatures, images: torch.Tensor, names: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        key = (id(model), tuple(images.shape[1:]))
        req = _Request(images, list(names))
        with self._lock:
            leader = key not in self._queues
            self._queues.setdefault(key, []).append(req)
        if leader:
            time.sleep(self.window)  # let the other requests of this moment arrive
            while True:  # serve the queue batch by batch; later arrivals join the next batch
                with self._lock:
                    group, rest = self._take(self._queues[key])
                    if rest:
                        self._queues[key] = rest
                    else:
                        del self._queues[key]  # from now on a newcomer leads its own batch
                self._run(model, group)
                if not rest:
                    break
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _take(self, queue: list[_Request]) -> tuple[list[_Request], list[_Request]]:
        group: list[_Request] = []
        n = 0
        for i, r in enumerate(queue):
            if group and n + r.images.shape[0] > self.max_images:
                return group, queue[i:]
            group.append(r)
            n += r.images.shape[0]
        return group, []

    def _run(self, model: VGGFeatures, group: list[_Request]) -> None:
        names = list(dict.fromkeys(n for r in group for n in r.names))
        try:
            with torch.inference_mode():
                out = model(torch.cat([r.images for r in group]), names)
            self.batches += 1
            start = 0
            for r in group:
                end = start + r.images.shape[0]
                r.result = {n: out[n][start:end] for n in r.names}
                start = end
        except BaseException as exc:  # every waiting caller gets the error, not a hang
            for r in group:
                r.error = exc
        finally:
            for r in group:
                r.done.set()
