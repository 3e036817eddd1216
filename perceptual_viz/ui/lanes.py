"""Lanes: a classroom's quick views never wait behind anyone's long job.

Gradio's queue runs each event in a *concurrency group* with its own limit, and groups do not
wait for each other. The app uses three:

- ``interactive`` — overview, feature grid, channel, Gram, compare: a second or less each.
  Limit :attr:`LaneLimits.interactive` (2 on a CPU, where VGG is compute-bound; 8 on CUDA,
  where concurrent requests share micro-batched forward passes).
- ``long`` — sweep, equal-MSE search, reconstruction and the other optimisations: seconds to
  minutes each. Limit :attr:`LaneLimits.long` (1 on a CPU, 2 on CUDA); the rest wait in line
  and Gradio shows each its position and an estimate.
- ``loader`` — waiting for a backbone's weights to load (no limit: it only waits, and loading
  never holds a lock other requests need).

Inside the process, :class:`Lanes` adds what a queue cannot:

- **One long job per person.** A session that starts a long job while its previous one still
  runs *replaces* it: the older job stops at its next step and says so.
- **CPU share.** Between its steps a long job checks for interactive requests: while any runs,
  it pauses (at most :attr:`LaneLimits.max_pause_s` per step, so it is slowed, never starved)
  and then carries on with :attr:`LaneLimits.long_threads` torch threads (half the cores);
  while none runs, it uses every core. An interactive request therefore shares the CPU with
  at most the rest of one step of a long job. (Two OpenMP teams on the same cores slow each
  other down far more than their thread counts suggest, which is why pausing beats merely
  sharing.) Torch's thread count is per OS thread (OpenMP and MKL keep it per thread), so
  every request sets its own at each step and never changes another request's.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch

from ..errors import InputError
from ..messages import Message, Text, msg, word
from .errors import UserError

Lane = Literal["interactive", "long", "loader"]  # Gradio concurrency groups
LANE_NAMES: tuple[Lane, ...] = get_args(Lane)
REPLACED = "replaced by your newer request (one long job per person)"
STOPPED = "stopped by you"
# Why a long job ended early, and what each kind of long job is called, in words for its reader
# (the reasons and kinds themselves are identifiers: Stop names the kind it ends).
REASONS: dict[str, Message] = {
    STOPPED: msg("stopped by you"),
    REPLACED: msg("replaced by your newer request (one long job per person)"),
}
KIND_NAMES: dict[str, Message] = {
    "sweep": msg("sweep"),
    "reconstruction": msg("reconstruction"),
    "style transfer": msg("style transfer"),
    "training": msg("training"),
    "quiz round": msg("quiz round"),
    "patch search": msg("patch search"),
    "visualisation": msg("visualisation"),
    "equal-MSE gallery": msg("equal-MSE gallery"),
}


def _setting(value: str | int | None, env: str) -> str:
    if value is None or str(value) == "auto":
        return os.environ.get(env, "auto").strip() or "auto"
    return str(value)


def _positive(name: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise InputError(f"{name} must be a whole number or 'auto', not {value!r}") from None
    if n < 1:
        raise InputError(f"{name} must be at least 1, not {n}")
    return n


@dataclass(frozen=True)
class LaneLimits:
    """How many requests run at once in each lane, and how long jobs share a CPU."""

    interactive: int = 2
    long: int = 1
    long_threads: int = 1  # torch threads of a long job on a CPU
    interactive_threads: int = 2  # torch threads of an interactive request on a CPU
    max_pause_s: float = 1.0  # longest a long job waits for interactive work, per step

    @classmethod
    def resolve(
        cls,
        device_type: str,
        interactive: str | int | None = "auto",
        long: str | int | None = "auto",
        long_threads: str | int | None = "auto",
    ) -> LaneLimits:
        """Limits for a device: ``"auto"`` (or an unset env var) picks the defaults above.

        Environment: ``PERCEPTUAL_VIZ_CONCURRENCY`` (interactive), ``PERCEPTUAL_VIZ_LONG_JOBS``,
        ``PERCEPTUAL_VIZ_LONG_THREADS``; explicit arguments win over them.
        """
        gpu = device_type == "cuda"
        cores = max(1, torch.get_num_threads())
        i = _setting(interactive, "PERCEPTUAL_VIZ_CONCURRENCY")
        lj = _setting(long, "PERCEPTUAL_VIZ_LONG_JOBS")
        lt = _setting(long_threads, "PERCEPTUAL_VIZ_LONG_THREADS")
        return cls(
            interactive=(8 if gpu else 2) if i == "auto" else _positive("interactive concurrency", i),
            long=(2 if gpu else 1) if lj == "auto" else _positive("long-job concurrency", lj),
            long_threads=max(1, cores // 2) if lt == "auto" else _positive("long-job threads", lt),
            interactive_threads=cores,
        )

    def describe(self) -> str:
        return (
            f"interactive lane {self.interactive} at once, long-job lane {self.long} at once "
            f"({self.long_threads} torch thread(s) each on a CPU)"
        )


class JobStopped(UserError):
    """Raised inside a long job when it must end early (the user stopped it, or replaced it)."""

    def __init__(self, said: Text) -> None:
        super().__init__(said)
        self.said = said


class LongJob:
    """The handle a running long job uses: :meth:`checkpoint` between steps."""

    def __init__(self, lanes: Lanes, session: str, kind: str) -> None:
        self._lanes = lanes
        self.session = session
        self.kind = kind
        self._stop = threading.Event()
        self.reason: str | None = None

    def stop(self, reason: str = STOPPED) -> None:
        if self.reason is None:
            self.reason = reason
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def should_stop(self) -> bool:
        """Between two steps: give way to interactive work, then say whether to end now."""
        self._lanes.give_way(self._stop)
        self._lanes.set_long_threads()
        return self._stop.is_set()

    def checkpoint(self) -> None:
        """:meth:`should_stop` for code without a stop hook: raises :class:`JobStopped`."""
        if self.should_stop():
            why = self.reason or STOPPED
            job = KIND_NAMES.get(self.kind, self.kind)
            raise JobStopped(msg("The {job} ended early: {reason}.", job=job, reason=REASONS.get(why, why)))


class FairSlots:
    """At most ``n`` holders at once, granted strictly in the order they asked: first come, first
    served, so under a class's load nobody's request is overtaken again and again (a plain
    semaphore lets a newcomer take a slot just released ahead of those already waiting)."""

    def __init__(self, n: int) -> None:
        self._free = n
        self._cond = threading.Condition()
        self._line: collections.deque[object] = collections.deque()

    def __enter__(self) -> None:
        me = object()
        with self._cond:
            self._line.append(me)
            while self._line[0] is not me or self._free == 0:
                self._cond.wait()
            self._line.popleft()
            self._free -= 1
            self._cond.notify_all()  # the next in line may find a slot free too

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._free += 1
            self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Requests in line for a slot now."""
        return len(self._line)


class Lanes:
    """Per-process coordination of the two lanes (see the module docstring).

    Holds no per-user data beyond the set of long jobs running right now, keyed by Gradio's
    session hash; entries leave when their job ends.
    """

    def __init__(self, limits: LaneLimits, device_type: str = "cpu") -> None:
        self.limits = limits
        self.cpu = device_type == "cpu"
        self._lock = threading.Condition()
        self._interactive = 0  # interactive requests computing now
        self._serving = 0  # requests of any kind being answered now (results shared ones too)
        self._slots = FairSlots(limits.interactive)
        self._jobs: dict[str, LongJob] = {}

    def events(self, lane: Lane | Literal["view"]) -> dict[str, Any]:
        """Keyword arguments that put a Gradio event in ``lane`` (its group and limit)."""
        if lane == "view":  # off the queue; :meth:`interactive` bounds how many run at once
            return {"queue": False}
        limit = {"interactive": self.limits.interactive, "long": self.limits.long, "loader": None}
        if lane not in limit:
            raise InputError(f"unknown lane {lane!r}; lanes: {', '.join(LANE_NAMES)}")
        return {"concurrency_id": lane, "concurrency_limit": limit[lane]}

    # ------------------------------------------------------------------ interactive

    @contextlib.contextmanager
    def interactive(self) -> Iterator[None]:
        """Around an interactive request: long jobs pause while it runs; all cores for it."""
        # At most ``limits.interactive`` at once, queued or not (view changes skip the queue).
        with self._slots:
            with self._lock:
                self._interactive += 1
            try:
                with self._threads(self.limits.interactive_threads):
                    yield
            finally:
                with self._lock:
                    self._interactive -= 1
                    self._lock.notify_all()

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around every request the app answers, even one served from the result cache:
        background work (:meth:`wait_idle`) waits while any is in flight."""
        with self._lock:
            self._serving += 1
        try:
            yield
        finally:
            with self._lock:
                self._serving -= 1
                self._lock.notify_all()

    @property
    def interactive_running(self) -> int:
        return self._interactive

    def give_way(self, stop: threading.Event | None = None) -> float:
        """Wait while interactive requests run (at most ``max_pause_s``); the seconds waited."""
        t0 = time.monotonic()
        end = t0 + self.limits.max_pause_s
        with self._lock:
            while self._interactive > 0 and not (stop is not None and stop.is_set()):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(min(left, 0.05))
        return time.monotonic() - t0

    # ------------------------------------------------------------------ long jobs

    @contextlib.contextmanager
    def long_job(self, session: str | None, kind: str) -> Iterator[LongJob]:
        """Around a long job: replaces the session's running one, bounds its CPU threads.

        ``session`` is Gradio's session hash (one per browser tab or API client); ``None``
        (a direct call) is never replaced.
        """
        key = session or f"anonymous-{threading.get_ident()}-{time.monotonic_ns()}"
        job = LongJob(self, key, kind)
        with self._lock:
            old = self._jobs.get(key)
            self._jobs[key] = job
        if old is not None:
            old.stop(REPLACED)
        try:
            with self._threads(self.limits.long_threads):
                self.set_long_threads()
                yield job
        finally:
            with self._lock:
                if self._jobs.get(key) is job:
                    del self._jobs[key]
                self._lock.notify_all()

    @contextlib.contextmanager
    def streamed_frame(self) -> Iterator[None]:
        """Around one frame of a stream (the live camera): it waits while interactive requests
        run, like a long job's step, and uses a long job's threads on a CPU."""
        with self._threads(self.limits.long_threads):
            self.give_way()
            self.set_long_threads()
            yield

    def wait_idle(self, stop: threading.Event | None = None) -> None:
        """Block until no request is being answered and no long job runs (background work's turn)."""
        with self._lock:
            while (self._interactive > 0 or self._serving > 0 or self._jobs) and not (
                stop is not None and stop.is_set()
            ):
                self._lock.wait(0.1)

    def stop(self, session: str | None, kind: str | None = None) -> bool:
        """Stop the session's running long job (of ``kind``, if given); False if it has none."""
        with self._lock:
            job = self._jobs.get(session or "")
        if job is None or (kind is not None and job.kind != kind):
            return False
        job.stop(STOPPED)
        return True

    def running(self) -> dict[str, str]:
        """Session → kind of the long jobs running now (for status and tests)."""
        with self._lock:
            return {k: j.kind for k, j in self._jobs.items()}

    # ------------------------------------------------------------------ threads

    def set_long_threads(self) -> None:
        """The calling thread's torch threads for the next step of a long job: every core while
        no interactive request runs, :attr:`LaneLimits.long_threads` while one does."""
        if self.cpu:
            busy = self._interactive > 0
            torch.set_num_threads(self.limits.long_threads if busy else self.limits.interactive_threads)

    @contextlib.contextmanager
    def _threads(self, n: int) -> Iterator[None]:
        """This OS thread's torch thread count set to ``n`` on a CPU, restored afterwards."""
        if not self.cpu:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def progress_checkpoint(job: LongJob, progress: Callable[..., Any] | None) -> Callable[[float, Text], None]:
    """A library ``progress(fraction, what)`` callback (see :data:`perceptual_viz.figures.Progress`)
    that also gives way and obeys Stop, and shows ``what`` in the page's language on Gradio's bar.

    Library code that reports progress between its steps (equal-MSE search, sweep) thereby
    becomes a well-behaved long job without knowing about lanes.
    """

    def report(fraction: float, what: Text = "") -> None:
        job.checkpoint()
        if progress is not None:
            progress(fraction, desc=word(what) or None)

    return report
