"""The measuring harness of ``benchmarks/run.py``: how a target is timed, the rows and verdicts it
yields, the tables they print as, and what every benchmark script shares (device, flags, a free
port, stopping an app it started).

Timing is a plain wall clock (``time.perf_counter``, CUDA synchronised around each call), not
``torch.utils.benchmark.Timer``: our ratios come from running ours and the peers **interleaved**,
one call each in turn, so that background load on a shared machine hits all of them alike; some
jobs need a fresh input made outside the timed region for every call (the feature-cache row); and
each number is the median of single calls. ``Timer`` times one statement at a time in blocks
(a block's mean, not a call), sets torch to one thread unless told otherwise, and turns the
garbage collector off while timing: each would change what the tables have always measured.

No torch at import time: ``load.py`` and ``classload.py`` import this module for ``free_port``
and ``stop``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import torch

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
T = TypeVar("T")


# --------------------------------------------------------------------------- sizes of a run


@dataclass(frozen=True)
class Plan:
    """How each measurement is repeated: warm-up runs, then between min and max timed runs."""

    warmup: int
    min_repeats: int
    max_repeats: int
    budget_s: float  # aim for about this much timed work per measurement


@dataclass(frozen=True)
class Mode:
    """How big a run is: the full run, ``--quick`` (fewer targets and repeats) or ``--smoke``
    (every section once at toy sizes, for the test suite: it checks the harness, not the machine,
    and its timings mean nothing). Each section keeps its own sizes, keyed by ``name``."""

    name: str
    plan: Plan


MODES = {
    "full": Mode("full", Plan(warmup=2, min_repeats=5, max_repeats=30, budget_s=2.5)),
    "quick": Mode("quick", Plan(warmup=1, min_repeats=2, max_repeats=3, budget_s=0.3)),
    "smoke": Mode("smoke", Plan(warmup=1, min_repeats=1, max_repeats=1, budget_s=0.0)),
}


# --------------------------------------------------------------------------- what a run yields


@dataclass
class Timing:
    """Median and spread of the timed runs, in milliseconds."""

    median_ms: float
    min_ms: float
    max_ms: float
    n: int


@dataclass
class Row:
    """One line of the results table: our timing vs one peer's, on the same target."""

    section: str
    target: str
    ours: Timing | None
    peer: str
    peer_timing: Timing | None
    note: str = ""  # "not installed", "failed: …" — replaces the peer's timing

    @property
    def ratio(self) -> float | None:
        """ours / peer (< 1: ours is faster), or None when either side has no timing."""
        if self.ours is None or self.peer_timing is None or self.peer_timing.median_ms <= 0:
            return None
        return self.ours.median_ms / self.peer_timing.median_ms


@dataclass
class Value:
    """One implementation's value on the value-check pair, and its distance to the reference."""

    check: str
    implementation: str
    value: float | None
    reference: str
    abs_diff: float | None
    note: str = ""


@dataclass
class Target:
    """One row of the TARGETS table: the goal of the issue and whether this run meets it."""

    target: str
    ours: str
    peer: str
    ratio: str
    goal: str
    verdict: str  # "✓", "✗" or "—" (report only / not measurable)


def mark(ok: bool | None) -> str:
    """The verdict of a goal: ✓ met, ✗ not met, — not measurable."""
    return "—" if ok is None else "✓" if ok else "✗"


# --------------------------------------------------------------------------- timing


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so the clock measures it."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def clock(device: torch.device, fn: Callable[..., T], *args: Any) -> tuple[float, T]:
    """Seconds ``fn(*args)`` took, GPU work included, and what it returned."""
    sync(device)
    t0 = time.perf_counter()
    result = fn(*args)
    sync(device)
    return time.perf_counter() - t0, result


@dataclass
class Job:
    """One thing to time: ``run(make_input())``, the input being made outside the timed region."""

    run: Callable[[Any], object]
    make_input: Callable[[], Any] | None = None


def _time_once(job: Job, device: torch.device) -> float:
    """Seconds of one call of ``job`` (its input made first, untimed); warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arg = job.make_input() if job.make_input is not None else None
        return clock(device, job.run, arg)[0]


def failed(exc: BaseException) -> str:
    """``failed: Type: first line of the message`` (cut to fit a table cell)."""
    first = str(exc).strip().splitlines()[0][:60] if str(exc).strip() else ""
    return f"failed: {type(exc).__name__}" + (f": {first}" if first else "")


def _warm_up(
    jobs: dict[str, Job | None], plan: Plan, device: torch.device, out: dict[str, Timing | str]
) -> tuple[dict[str, Job], dict[str, float]]:
    """The jobs that ran their warm-up, with the seconds of each one's last warm-up call; the
    missing and the failing are recorded in ``out``."""
    live: dict[str, Job] = {}
    est: dict[str, float] = {}
    for name, job in jobs.items():
        if job is None:
            out[name] = "not installed"
            continue
        try:
            for _ in range(max(plan.warmup, 1)):
                est[name] = _time_once(job, device)
            live[name] = job
        except Exception as exc:
            out[name] = failed(exc)
    return live, est


def _repeats(plan: Plan, round_s: float, n_jobs: int) -> int:
    """Timed rounds: enough for ``plan.budget_s`` of work per job, within the plan's bounds."""
    n = plan.max_repeats if round_s <= 0 else int(plan.budget_s * n_jobs / round_s)
    return max(plan.min_repeats, min(plan.max_repeats, n))


def measure_group(jobs: dict[str, Job | None], plan: Plan, device: torch.device) -> dict[str, Timing | str]:
    """Time several jobs on one target: warm each up, then run them round-robin and take medians.

    Interleaving (ours, peer 1, peer 2, …, rotated each round) makes background load on a shared
    machine hit every implementation alike, so the ratios stay fair even when absolute times
    wobble. A ``None`` job is "not installed"; a job that raises becomes "failed: …", not a crash.
    """
    out: dict[str, Timing | str] = {}
    live, est = _warm_up(jobs, plan, device, out)
    n = _repeats(plan, sum(est[name] for name in live), len(live))
    times: dict[str, list[float]] = {name: [] for name in live}
    names = list(live)
    for r in range(n):
        k = r % len(names) if names else 0
        for name in names[k:] + names[:k]:
            if name not in live:
                continue
            try:
                times[name].append(_time_once(live[name], device) * 1e3)
            except Exception as exc:
                out[name] = failed(exc)
                del live[name]
    for name in live:
        ts = times[name]
        out[name] = Timing(statistics.median(ts), min(ts), max(ts), len(ts))
    return out


def rows_from(
    section: str, target: str, res: dict[str, Timing | str], ours: str, peers: Sequence[str]
) -> list[Row]:
    """Table rows for one target: ``res[ours]`` against each of ``peers``."""
    mine = res[ours]
    if not isinstance(mine, Timing):  # our own code failing is a bug, not a table entry
        raise RuntimeError(f"{target}: ours {mine}")
    rows = []
    for p in peers:
        t = res[p]
        timing, note = (t, "") if isinstance(t, Timing) else (None, t)
        rows.append(Row(section, target, mine, p, timing, note))
    return rows


# --------------------------------------------------------------------------- the machine


class CpuMeter:
    """CPU time other processes used while we ran (from /proc/stat), to flag a noisy machine."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.busy0 = self._busy()
        self.own0 = time.process_time()

    @staticmethod
    def _busy() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        except (OSError, IndexError):
            return None
        ticks = [int(v) for v in fields]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
        return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def others_share(self) -> float | None:
        """Fraction of all cores' time used by other processes since construction, or None."""
        busy = self._busy()
        if busy is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        others = (busy - self.busy0) - (time.process_time() - self.own0)
        return max(0.0, others) / (wall * (os.cpu_count() or 1))


def pick_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu; asking for cuda without it stops the run."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    return torch.device(name)


def free_port() -> int:
    """A loopback port nobody listens on right now, for an app a benchmark serves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """End an app a benchmark started: terminate it, and kill it if it is still there after
    ``grace_s``."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def try_import(name: str) -> ModuleType | None:
    """The peer module, or ``None`` when it is not installed (or does not import)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except ModuleNotFoundError:
        return None
    except Exception as exc:  # installed but broken: say so, then treat it as missing
        print(f"WARNING: {name} is installed but does not import: {failed(exc)[8:]}", file=sys.stderr)
        return None


def import_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` (a script, not part of the package), imported from its file once,
    under the name the tests import it by, so both run the same module."""
    mod_name = f"perceptual_viz_bench_{name}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, BENCHMARKS / f"{name}.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"benchmarks/{name}.py not found")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = mod  # dataclasses look their module up while the file executes
    spec.loader.exec_module(mod)
    return mod


_T_START = time.perf_counter()


def progress(msg: str) -> None:
    """A timestamped line on stderr, so a long run shows where it is."""
    print(f"  [{time.perf_counter() - _T_START:5.1f} s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- command line


def mode_flags(p: argparse.ArgumentParser) -> None:
    """``--device``, ``--quick`` / ``--smoke`` and ``--json``: what picks the run's size and device."""
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="reduced targets, few repeats (about a minute)")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="every section once at toy sizes (the test suite's check of the harness; timings mean nothing)",
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")


def toggle(p: argparse.ArgumentParser, name: str, help: str, default: bool | None = True) -> None:
    """``--name`` / ``--no-name`` for a section; ``None``: the run's size decides."""
    p.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=default, help=help)


def mode_of(args: argparse.Namespace) -> Mode:
    """The run's size from ``--quick`` / ``--smoke``."""
    return MODES["smoke" if args.smoke else "quick" if args.quick else "full"]


# --------------------------------------------------------------------------- tables


def fmt_ms(t: Timing | None) -> str:
    """A median in ms, with as many decimals as its size needs."""
    if t is None:
        return "-"
    ms = t.median_ms
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 1e3 else f"{ms:.0f}"


def fmt_ratio(r: float | None) -> str:
    """A ratio to 2 decimals (3 below 0.1), or ``-``."""
    return "-" if r is None else f"{r:.2f}" if r >= 0.1 else f"{r:.3f}"


def table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int], groups: Sequence[str]
) -> str:
    """A plain aligned text table; a rule between rows of different ``groups``."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        cw = enumerate(zip(cells, widths, strict=True))
        parts = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in cw]
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    out = [line(header), rule]
    for i, r in enumerate(rows):
        if i and groups[i] != groups[i - 1]:
            out.append(rule)
        out.append(line(r))
    return "\n".join(out)


def values_table(values: Sequence[Value]) -> str:
    """Each implementation's value next to its reference's, grouped by check."""
    rows = [
        [
            v.check,
            v.implementation,
            "-" if v.value is None else f"{v.value:.8f}",
            v.reference,
            v.note or ("-" if v.abs_diff is None else f"{v.abs_diff:.1e}"),
        ]
        for v in values
    ]
    header = ["check", "implementation", "value", "reference", "|Δ| vs reference"]
    return table(header, rows, {2, 4}, [v.check for v in values])


def timing_table(rows: Sequence[Row]) -> str:
    """Ours vs each peer, one line per (target, peer), with the ratio ours / peer."""
    cells = [
        [r.target, fmt_ms(r.ours), r.peer, r.note or fmt_ms(r.peer_timing), fmt_ratio(r.ratio)] for r in rows
    ]
    header = ["target", "ours (ms)", "peer", "peer (ms)", "ratio (ours/peer)"]
    return table(header, cells, {1, 3, 4}, [r.target for r in rows])


def targets_table(targets: Sequence[Target]) -> str:
    """One line per goal with its verdict, grouped by the target's first word."""
    cells = [[t.target, t.ours, t.peer, t.ratio, t.goal, t.verdict] for t in targets]
    header = ["target", "ours", "peer", "ratio", "goal", "verdict"]
    return table(header, cells, {3}, [t.target.split()[0] for t in targets])
