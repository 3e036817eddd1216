"""Timing of perceptual_viz against peer libraries, printed as ratios (ours / peer; < 1 = we are faster).

    python benchmarks/run.py                 # full run (a few minutes on a 2-core CPU)
    python benchmarks/run.py --quick         # reduced targets, few repeats (about a minute)
    python benchmarks/run.py --smoke         # every section once at toy sizes: checks the harness only
    python benchmarks/run.py --device cuda --json results.json
    python benchmarks/run.py --no-load       # skip the app under concurrent users
    python benchmarks/run.py --quick --cold-start   # quick, plus the app's cold start

Sections: (1) SSIM vs pytorch_msssim, piq, kornia and scikit-image, with a value check on a real
photo pair; (2) scoring one pair with ``score_pairs`` (with and without the feature cache) vs the
``lpips`` package scoring LPIPS alone, on the same VGG16 weights; (3) a bare VGG16 forward;
(4) view changes after an upload at 512 (no forward pass, PNG encoding included); (5) a sweep of
K degradation levels vs a bare batched forward of K+1 images; on CUDA, autocast on/off and
MicroBatcher vs sequential; (6) the app under concurrent users (benchmarks/load.py: 20 clients ×
5 requests, 5 × 3 in --quick); (7) the app's cold start offline with empty caches (full run, or
--cold-start). It ends with the TARGETS table: one row per goal, with a ✓/✗ verdict. Each number
is the median of several timed runs after warm-up. See benchmarks/README.md and
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("PERCEPTUAL_VIZ_OFFLINE", "1")

import argparse
import datetime
import importlib
import importlib.metadata
import importlib.util
import json
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perceptual_viz.assets import sample
from perceptual_viz.backbone import VGGFeatures, load_vgg
from perceptual_viz.batching import MicroBatcher
from perceptual_viz.compare import score_pairs
from perceptual_viz.features import FeatureCache
from perceptual_viz.figures import analyse
from perceptual_viz.figures import features as ff
from perceptual_viz.figures import sweep as fsw
from perceptual_viz.images import load_image
from perceptual_viz.layers import block_outputs
from perceptual_viz.metrics import ssim as ours_ssim

ROOT = Path(__file__).resolve().parents[1]
NOISE_SIGMA = 0.1
SEED = 0
# SSIM of Wang et al. (2004) as every implementation below is asked to compute it.
WIN, SIGMA = 11, 1.5
SKIMAGE_KW: dict[str, Any] = {
    "gaussian_weights": True,
    "sigma": SIGMA,
    "use_sample_covariance": False,
    "data_range": 1.0,
    "channel_axis": -1,
}
SK_LABEL = "skimage (CPU, float64)"
LP_LABEL = "lpips.LPIPS vgg (LPIPS only)"
TV_LABEL = "torchvision features[:30]"
LPNET_LABEL = "lpips net (5 slices)"
PEER_DISTS = {
    "pytorch_msssim": "pytorch-msssim",
    "piq": "piq",
    "kornia": "kornia",
    "skimage": "scikit-image",
    "lpips": "lpips",
}


# --------------------------------------------------------------------------- measurement


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
    and its timings mean nothing)."""

    name: str
    plan: Plan
    ssim_cases: tuple[tuple[int, int], ...]  # (side, batch)
    score_sizes: tuple[int, ...]
    forward_size: int
    sweep_k: int
    sweep_size: int
    view_size: str  # an analysis size of the app
    view_steps: str  # "all" or "each kind once"
    view_rounds: int
    load: dict[str, Any]  # benchmarks/load.py run(...)
    classroom: dict[str, Any]  # benchmarks/load.py classroom_run(...)
    train_steps: int | None  # None: the lesson's default


MODES = {
    "full": Mode(
        "full", Plan(warmup=2, min_repeats=5, max_repeats=30, budget_s=2.5),
        ((256, 1), (256, 8), (512, 1), (512, 8)), (224, 512), 224, 8, 224, "512", "all", 3,
        {"clients": 20, "per_client": 5}, {}, None,
    ),
    "quick": Mode(
        "quick", Plan(warmup=1, min_repeats=2, max_repeats=3, budget_s=0.3),
        ((256, 1),), (224,), 224, 4, 224, "512", "each kind once", 1,
        {"clients": 5, "per_client": 3},
        {"n_long": 2, "probes": 2, "steps": 60, "px": 64, "mixed_clients": 0}, 10,
    ),
    "smoke": Mode(
        "smoke", Plan(warmup=1, min_repeats=1, max_repeats=1, budget_s=0.0),
        ((64, 1),), (64,), 64, 2, 64, "224", "each kind once", 1,
        {"clients": 2, "per_client": 2, "image_px": 48, "size": "original"},
        {"n_long": 1, "probes": 1, "steps": 30, "px": 32, "mixed_clients": 0},
        2,
    ),
}  # fmt: skip


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


def sync(device: torch.device) -> None:
    """Wait for queued GPU work so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Job:
    """One thing to time: ``run(make_input())``, the input being made outside the timed region."""

    run: Callable[[Any], object]
    make_input: Callable[[], Any] | None = None


def _time_once(job: Job, device: torch.device) -> float:
    arg = job.make_input() if job.make_input is not None else None
    sync(device)
    t0 = time.perf_counter()
    job.run(arg)
    sync(device)
    return time.perf_counter() - t0


def _failed(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0][:60] if str(exc).strip() else ""
    return f"failed: {type(exc).__name__}" + (f": {first}" if first else "")


def measure_group(jobs: dict[str, Job | None], plan: Plan, device: torch.device) -> dict[str, Timing | str]:
    """Time several jobs on one target: warm each up, then run them round-robin and take medians.

    Interleaving (ours, peer 1, peer 2, …, rotated each round) makes background load on a shared
    machine hit every implementation alike, so the ratios stay fair even when absolute times
    wobble. A ``None`` job is "not installed"; a job that raises becomes "failed: …", not a crash.
    """
    out: dict[str, Timing | str] = {}
    live: dict[str, Job] = {}
    est: dict[str, float] = {}
    for name, job in jobs.items():
        if job is None:
            out[name] = "not installed"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for _ in range(max(plan.warmup, 1)):
                    est[name] = _time_once(job, device)
            live[name] = job
        except Exception as exc:
            out[name] = _failed(exc)
    round_s = sum(est[n] for n in live)
    n = plan.max_repeats if round_s <= 0 else int(plan.budget_s * len(live) / round_s)
    n = max(plan.min_repeats, min(plan.max_repeats, n))
    times: dict[str, list[float]] = {name: [] for name in live}
    names = list(live)
    for r in range(n):
        k = r % len(names) if names else 0
        for name in names[k:] + names[:k]:
            if name not in live:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    times[name].append(_time_once(live[name], device) * 1e3)
            except Exception as exc:
                out[name] = _failed(exc)
                del live[name]
    for name in live:
        ts = times[name]
        out[name] = Timing(statistics.median(ts), min(ts), max(ts), len(ts))
    return out


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


def try_import(name: str) -> ModuleType | None:
    """The peer module, or ``None`` when it is not installed (or does not import)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except ModuleNotFoundError:
        return None
    except Exception as exc:  # installed but broken: say so, then treat it as missing
        print(f"WARNING: {name} is installed but does not import: {_failed(exc)[8:]}", file=sys.stderr)
        return None


_T_START = time.perf_counter()


def progress(msg: str) -> None:
    print(f"  [{time.perf_counter() - _T_START:5.1f} s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- inputs


ASSET_PHOTO = sample("astronaut.png")


def astronaut() -> np.ndarray:
    """The astronaut photo, 512×512×3 float32 in [0, 1]: scikit-image's copy, else the repo's asset."""
    try:
        import skimage.data

        img = skimage.data.astronaut()
    except ImportError:
        from PIL import Image

        with Image.open(ASSET_PHOTO) as im:
            img = np.asarray(im.convert("RGB"))
    return img.astype(np.float32) / 255.0


def noisy(a: np.ndarray, seed: int) -> np.ndarray:
    """``a`` + N(0, σ²) noise, σ = 0.1, clipped to [0, 1], float32."""
    rng = np.random.default_rng(seed)
    return np.clip(a + NOISE_SIGMA * rng.standard_normal(a.shape), 0.0, 1.0).astype(np.float32)


def to_tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W×3 (or N×H×W×3) numpy → (N, 3, H, W) float32 tensor on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t[None] if t.ndim == 3 else t
    return t.permute(0, 3, 1, 2).contiguous().to(device)


LAYOUTS = ("contiguous", "channels-last")


def to_tensor_as(a: np.ndarray, device: torch.device, layout: str) -> torch.Tensor:
    """Like :func:`to_tensor`, in ``layout``: "channels-last" is what users get from
    ``torch.from_numpy(hwc).permute(2, 0, 1)[None]`` (no copy; batch stride 3 for one image)."""
    if layout == "contiguous":
        return to_tensor(a, device)
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t.permute(2, 0, 1)[None] if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.to(device)


def resized(a: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of an H×W×3 photo to size×size."""
    if a.shape[:2] == (size, size):
        return a
    t = torch.from_numpy(a).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return t.clamp(0, 1)[0].permute(1, 2, 0).contiguous().numpy()


# --------------------------------------------------------------------------- SSIM


def ssim_impls(peers: dict[str, ModuleType | None]) -> dict[str, Callable[..., Any] | None]:
    """Each peer's SSIM on (N, 3, H, W) tensors with the Wang settings, or ``None`` if missing."""
    pm, piq, kornia = peers["pytorch_msssim"], peers["piq"], peers["kornia"]
    return {
        "pytorch_msssim": None
        if pm is None
        else lambda x, y: pm.ssim(x, y, data_range=1, size_average=False, win_size=WIN, win_sigma=SIGMA),
        "piq": None
        if piq is None
        else lambda x, y: piq.ssim(
            x, y, data_range=1.0, downsample=False, reduction="none", kernel_size=WIN, kernel_sigma=SIGMA
        ),
        "kornia": None
        if kornia is None
        else lambda x, y: kornia.metrics.ssim(x, y, window_size=WIN, max_val=1.0, padding="valid").mean(
            dim=(1, 2, 3)
        ),
    }


def skimage_ssim(
    peers: dict[str, ModuleType | None],
) -> Callable[[np.ndarray, np.ndarray], list[float]] | None:
    """scikit-image's SSIM over a batch of H×W×3 float64 arrays (it has no batch axis: a loop)."""
    if peers["skimage"] is None:
        return None
    from skimage.metrics import structural_similarity

    def run(a: np.ndarray, b: np.ndarray) -> list[float]:
        return [float(structural_similarity(a[i], b[i], **SKIMAGE_KW)) for i in range(a.shape[0])]

    return run


def ssim_values(peers: dict[str, ModuleType | None], device: torch.device) -> list[Value]:
    """Every implementation's SSIM on astronaut vs astronaut + noise, next to scikit-image's."""
    clean = astronaut()
    deg = noisy(clean, SEED)
    x, y = to_tensor(clean, device), to_tensor(deg, device)
    sk = skimage_ssim(peers)
    ref = sk(clean[None].astype(np.float64), deg[None].astype(np.float64))[0] if sk else None
    check = f"SSIM astronaut {clean.shape[0]}²"
    out = [
        Value(
            check,
            "skimage (float64)",
            ref,
            "skimage",
            0.0 if ref is not None else None,
            "" if sk else "not installed",
        )
    ]
    impls: dict[str, Callable[..., Any] | None] = {"ours": ours_ssim, **ssim_impls(peers)}
    for name, fn in impls.items():
        if fn is None:
            out.append(Value(check, name, None, "skimage", None, "not installed"))
            continue
        try:
            with torch.inference_mode(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = float(fn(x, y).reshape(-1)[0])
        except Exception as exc:
            out.append(Value(check, name, None, "skimage", None, f"failed: {type(exc).__name__}"))
            continue
        out.append(Value(check, name, v, "skimage", abs(v - ref) if ref is not None else None))
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
        rows.append(
            Row(
                section,
                target,
                mine,
                p,
                t if isinstance(t, Timing) else None,
                t if isinstance(t, str) else "",
            )
        )
    return rows


def bench_ssim(
    peers: dict[str, ModuleType | None], device: torch.device, cases: Sequence[tuple[int, int]], plan: Plan
) -> list[Row]:
    """SSIM timing at each (size, batch): ours vs each peer on the same tensors."""
    rows: list[Row] = []
    photo = astronaut()
    sk = skimage_ssim(peers)
    for size, batch, layout in ((s, b, lay) for s, b in cases for lay in LAYOUTS):
        clean = np.stack([resized(photo, size)] * batch)
        deg = np.stack([noisy(clean[i], SEED + i) for i in range(batch)])
        one = batch == 1
        x = to_tensor_as(clean[0] if one else clean, device, layout)
        y = to_tensor_as(deg[0] if one else deg, device, layout)
        a64, b64 = clean.astype(np.float64), deg.astype(np.float64)
        target = f"SSIM {size}² b{batch} {layout}"
        progress(target)

        def torch_job(fn: Callable[..., Any], x: torch.Tensor = x, y: torch.Tensor = y) -> Job:
            def run(_: object) -> object:
                with torch.inference_mode():
                    return fn(x, y)

            return Job(run)

        jobs: dict[str, Job | None] = {"ours": torch_job(lambda x, y: ours_ssim(x, y, data_range=1.0))}
        for name, fn in ssim_impls(peers).items():
            jobs[name] = None if fn is None else torch_job(fn)
        jobs[SK_LABEL] = None if sk is None else Job(lambda _, a=a64, b=b64: sk(a, b))
        res = measure_group(jobs, plan, device)
        rows += rows_from("SSIM", target, res, "ours", [n for n in jobs if n != "ours"])
    return rows


# --------------------------------------------------------------------------- scoring a pair


def make_lpips(peers: dict[str, ModuleType | None], model: VGGFeatures) -> torch.nn.Module | None:
    """``lpips.LPIPS`` (VGG, v0.1 linear weights) with our backbone's weights copied into its slices."""
    lp_mod = peers["lpips"]
    if lp_mod is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lp = lp_mod.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
    sd = {k: v.detach().cpu() for k, v in model.features.state_dict().items()}
    for i in range(1, 6):
        sl = getattr(lp.net, f"slice{i}")
        sl.load_state_dict({k: sd[k] for k in sl.state_dict()})
    return lp.to(model.device).eval().requires_grad_(False)


def bench_scoring(
    model: VGGFeatures, lp: torch.nn.Module | None, sizes: Sequence[int], plan: Plan
) -> tuple[list[Row], list[Value], dict[str, Any]]:
    """``score_pairs`` (no cache / clean features cached) vs ``lpips.LPIPS`` on the same pair."""
    device = model.device
    rows: list[Row] = []
    values: list[Value] = []
    checks: dict[str, Any] = {}
    photo = astronaut()
    for size in sizes:
        clean_np = resized(photo, size)
        clean = to_tensor(clean_np, device)
        deg = to_tensor(noisy(clean_np, SEED), device)
        target = f"score pair {size}²"
        progress(target)

        def run_nocache(_: object, clean: torch.Tensor = clean, deg: torch.Tensor = deg) -> object:
            with torch.inference_mode():
                return score_pairs(model, clean, deg)

        # Cached: same clean image and FeatureCache, a fresh degraded image per call (made untimed).
        cache = FeatureCache()
        seeds = iter(range(SEED + 1, SEED + 1_000_000))
        score_pairs(model, clean, deg, cache=cache)  # prime the cache with the clean image
        hits0, misses0 = cache.hits, cache.misses

        def fresh(clean_np: np.ndarray = clean_np, seeds: Iterator[int] = seeds) -> torch.Tensor:
            return to_tensor(noisy(clean_np, next(seeds)), device)

        def run_cached(d: torch.Tensor, clean: torch.Tensor = clean, cache: FeatureCache = cache) -> object:
            with torch.inference_mode():
                return score_pairs(model, clean, d, cache=cache)

        a, b = clean * 2 - 1, deg * 2 - 1  # lpips wants [-1, 1]

        def run_lpips(_: object, a: torch.Tensor = a, b: torch.Tensor = b) -> object:
            with torch.inference_mode():
                return lp(a, b) if lp is not None else None

        res = measure_group(
            {
                "no cache": Job(run_nocache),
                "clean cached": Job(run_cached, fresh),
                LP_LABEL: None if lp is None else Job(run_lpips),
            },
            plan,
            device,
        )
        # Proof the cached job did what it says: per call, one hit (clean) and one miss (degraded).
        t_cached = res["clean cached"]
        n_cached = t_cached.n + max(plan.warmup, 1) if isinstance(t_cached, Timing) else 0
        checks[target] = {
            "cached_calls": n_cached,
            "clean_hits": cache.hits - hits0,
            "degraded_misses": cache.misses - misses0,
        }
        if cache.hits - hits0 != n_cached or cache.misses - misses0 != n_cached:
            print(f"WARNING: {target}: the clean image was not always served from the cache", file=sys.stderr)
        for label in ("no cache", "clean cached"):
            rows += rows_from("score", f"{target}, {label}", {**res, "ours": res[label]}, "ours", [LP_LABEL])

        ours_lp = score_pairs(model, clean, deg).scores[0].lpips
        if lp is None:
            values.append(
                Value(f"LPIPS {size}²", "ours (score_pairs)", ours_lp, "lpips", None, "lpips not installed")
            )
            continue
        with torch.inference_mode():
            ref = float(lp(a, b).reshape(-1)[0])
        values.append(Value(f"LPIPS {size}²", "lpips package", ref, "lpips", 0.0))
        diff = abs(ours_lp - ref) if ours_lp is not None else None
        values.append(Value(f"LPIPS {size}²", "ours (score_pairs)", ours_lp, "lpips", diff))
    return rows, values, checks


# --------------------------------------------------------------------------- bare forward


def bench_forward(
    model: VGGFeatures, lp: torch.nn.Module | None, size: int, batch: int, plan: Plan
) -> list[Row]:
    """VGG16 → relu5_3 on a batch: our wrapper vs torchvision's plain ``features[:30]`` and lpips' net."""
    device = model.device
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(SEED)).to(device)
    xn = model.normalize(x)
    target = f"VGG16→relu5_3 {size}² b{batch}"
    progress(target)
    plain = model.features[:30]  # the same modules (same weights), without our wrapper

    def run_ours(_: object) -> object:
        with torch.inference_mode():
            return model(x, ["relu5_3"])

    def run_plain(_: object) -> object:
        with torch.inference_mode():
            return plain(xn)

    def run_lp_net(_: object) -> object:
        with torch.inference_mode():
            return lp.net(xn) if lp is not None else None

    jobs = {
        "ours": Job(run_ours),
        TV_LABEL: Job(run_plain),
        LPNET_LABEL: None if lp is None else Job(run_lp_net),
    }
    res = measure_group(jobs, plan, device)
    return rows_from("forward", target, res, "ours", [TV_LABEL, LPNET_LABEL])


# --------------------------------------------------------------------------- view changes


VIEW_LAYERS = ("conv1_2", "relu1_2", "relu3_3", "pool4", "relu5_3")
VIEW_BUDGET_MS = 100.0


def _png(*pictures: Image.Image) -> int:
    """Encode each picture as PNG exactly as the app's endpoints do (serve.png_file); total bytes."""
    from perceptual_viz.ui.serve import png_file

    return sum(Path(png_file(pic)).stat().st_size for pic in pictures)


def view_changes(quick: bool, size: str = "512") -> list[tuple[str, Callable[..., int]]]:
    """The view changes a user makes after an upload at analysis ``size``: (label,
    fn(model, cache, analysis) → PNG bytes)."""
    steps: list[tuple[str, Callable[..., int]]] = []
    for i, layer in enumerate(VIEW_LAYERS):
        for k in (16, 64):
            sort, scope = ("mean", "max")[i % 2], ("channel", "layer")[(i + k // 16) % 2]
            cmap = ("viridis", "magma", "inferno", "gray")[(i + k) % 4]

            kw = {"layer": layer, "k": k, "sort": sort, "scope": scope, "cmap": cmap}

            def grid(m: Any, c: Any, a: Any, kw: dict[str, Any] = kw) -> int:
                return _png(*ff.grid(m, c, a, size, **kw).pictures.values())

            steps.append((f"grid {layer} k{k} {sort}/{scope}/{cmap}", grid))
    for layer, ch, cmap in (("relu1_2", 5, "viridis"), ("relu3_3", 100, "magma"), ("relu5_3", 300, "gray")):

        def detail(m: Any, c: Any, a: Any, layer: str = layer, ch: int = ch, cm: str = cmap) -> int:
            return _png(*ff.channel(m, c, a, size, layer, ch, cmap=cm).pictures.values())

        steps.append((f"channel {layer}[{ch}] {cmap}", detail))
    if quick:  # fewer steps: every kind of change once
        steps = [steps[0], steps[3], steps[6], steps[9], steps[-1]]
    return steps


@dataclass
class ViewResult:
    size: str
    steps: int
    rounds: int
    median_ms: float
    max_ms: float
    slowest: str
    forward_passes: int
    png_bytes: int


def bench_views(model: VGGFeatures, mode: Mode) -> ViewResult:
    """View changes after an upload (analysis size 512 unless ``mode`` says otherwise): server time
    incl. PNG encoding, no forward."""
    size = mode.view_size
    progress(f"view changes {size}")
    a = analyse(model, load_image(ASSET_PHOTO), size)
    cache = FeatureCache()
    ff.overview(model, cache, a, size)  # the upload: the one forward pass, fills the cache
    steps = view_changes(mode.view_steps != "all", size)
    for _, fn in steps:  # warm-up (allocators, colour maps, PIL)
        fn(model, cache, a)
    before = model.forward_count
    rounds = mode.view_rounds
    times: list[tuple[float, str]] = []
    png = 0
    for _ in range(rounds):
        for label, fn in steps:
            sync(model.device)
            t0 = time.perf_counter()
            png = fn(model, cache, a)
            sync(model.device)
            times.append(((time.perf_counter() - t0) * 1e3, label))
    passes = model.forward_count - before
    worst = max(times)
    return ViewResult(
        "×".join(map(str, a.size[::-1])),
        len(steps),
        rounds,
        statistics.median(t for t, _ in times),
        worst[0],
        worst[1],
        passes,
        png,
    )


# --------------------------------------------------------------------------- sweep


def bench_sweep(model: VGGFeatures, k: int, size: int, plan: Plan) -> tuple[dict[str, Timing | str], int]:
    """``figures.sweep.sweep`` of K noise levels (fresh cache: clean + K images) vs a bare forward of K+1."""
    device = model.device
    progress(f"sweep K={k} {size}²")
    photo = Image.fromarray((resized(astronaut(), size) * 255).round().astype(np.uint8))
    clean = analyse(model, load_image(photo), str(size))
    x = torch.rand(k + 1, 3, *clean.size, generator=torch.Generator().manual_seed(SEED)).to(device)
    names = list(block_outputs(model.arch))
    passes: list[int] = []

    def run_sweep(_: object) -> object:
        n0 = model.forward_count
        with torch.inference_mode():
            r = fsw.sweep(model, clean, str(size), ["noise"], k=k, chunk_images=None)
        passes.append(model.forward_count - n0)
        return r

    def run_bare(_: object) -> object:
        with torch.inference_mode():
            return model(x, names)

    res = measure_group({"sweep": Job(run_sweep), "bare": Job(run_bare)}, plan, device)
    return res, max(passes) if passes else -1


# --------------------------------------------------------------------------- cold start


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh machine: no offline switch, empty torch / HF caches."""
    drop = ("PERCEPTUAL_VIZ_OFFLINE", "HF_HUB_OFFLINE", "PERCEPTUAL_VIZ_WEIGHTS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    for var, sub in (
        ("TORCH_HOME", "torch"),
        ("HF_HOME", "hf"),
        ("HF_HUB_CACHE", "hf/hub"),
        ("HUGGINGFACE_HUB_CACHE", "hf/hub"),
        ("XDG_CACHE_HOME", "xdg"),
    ):
        env[var] = str(tmp / sub)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cold_start(timeout_s: float = 180.0) -> dict[str, Any]:
    """``python app.py`` on a machine without network and with empty caches: seconds to ready
    (GET / answers) and to the first /overview response; separately, how long weight resolution took."""
    progress("cold start")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="pv-cold-") as td:
        tmp = Path(td)
        env = _clean_env(tmp)
        # Weight resolution alone, in a fresh interpreter with the same environment.
        code = (
            "import json, time; from perceptual_viz.backbone import resolve_weights; "
            "t = time.perf_counter(); sd, st = resolve_weights('vgg16', 'auto'); "
            "print(json.dumps([time.perf_counter() - t, st.source, st.message]))"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        if r.returncode == 0 and r.stdout.strip():
            secs, source, message = json.loads(r.stdout.strip().splitlines()[-1])
            out["weights_s"], out["weights_source"], out["weights_message"] = secs, source, message
        else:
            out["error"] = f"resolve_weights failed: {(r.stderr or r.stdout).strip()[-200:]}"
            return out
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        log = (tmp / "app.log").open("w")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            while True:
                if proc.poll() is not None:
                    log.close()
                    tail = (tmp / "app.log").read_text()[-300:]
                    out["error"] = f"app exited with {proc.returncode}: {tail}"
                    return out
                if time.perf_counter() - t0 > timeout_s:
                    out["error"] = f"no answer within {timeout_s:.0f} s"
                    return out
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    time.sleep(0.1)
            out["ready_s"] = time.perf_counter() - t0
            from gradio_client import Client, handle_file

            t1 = time.perf_counter()
            client = Client(url, verbose=False, download_files=str(tmp / "dl"), analytics_enabled=False)
            client.predict(handle_file(str(ASSET_PHOTO)), "vgg16", "224", "viridis", api_name="/overview")
            t2 = time.perf_counter()
            out["overview_s"] = t2 - t1
            out["first_response_s"] = t2 - t0
        except Exception as exc:
            out["error"] = _failed(exc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    return out


# --------------------------------------------------------------------------- CUDA only


def bench_cuda_extras(model: VGGFeatures, plan: Plan) -> list[Row]:
    """GPU path: autocast on vs off for the VGG forward; micro-batched concurrent requests vs sequential."""
    device = model.device
    names = list(block_outputs(model.arch))
    rows: list[Row] = []
    x = torch.rand(8, 3, 224, 224, generator=torch.Generator().manual_seed(SEED)).to(device)
    fp32 = load_vgg("vgg16", "untrained", device, amp=False)
    target = "VGG16 forward 224² b8, autocast"
    progress(target)

    def fwd(m: VGGFeatures) -> Job:
        def run(_: object) -> object:
            with torch.inference_mode():
                return m(x, names)

        return Job(run)

    res = measure_group({"ours": fwd(model), "autocast off (fp32)": fwd(fp32)}, plan, device)
    rows += rows_from("cuda", f"{target} on ({model.amp_dtype})", res, "ours", ["autocast off (fp32)"])
    del fp32

    n_req = 8
    singles = [x[i : i + 1] for i in range(n_req)]
    target = f"{n_req} concurrent requests 224² b1"
    progress(target)
    batcher = MicroBatcher()

    def run_batched(_: object) -> object:
        with ThreadPoolExecutor(n_req) as pool:
            return list(pool.map(lambda im: batcher(model, im, names), singles))

    def run_sequential(_: object) -> object:
        with torch.inference_mode():
            return [model(im, names) for im in singles]

    res = measure_group({"ours": Job(run_batched), "sequential": Job(run_sequential)}, plan, device)
    rows += rows_from("cuda", f"{target}, MicroBatcher", res, "ours", ["sequential"])
    return rows


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    """One row of the TARGETS table: the goal of the issue and whether this run meets it."""

    target: str
    ours: str
    peer: str
    ratio: str
    goal: str
    verdict: str  # "✓", "✗" or "—" (report only / not measurable)


def _mark(ok: bool | None) -> str:
    return "—" if ok is None else "✓" if ok else "✗"


def ssim_targets(rows: list[Row], values: list[Value], goal: float = 0.7) -> list[Target]:
    """Per SSIM case: ours vs the fastest peer measured, and the value check against scikit-image."""
    diffs = [v.abs_diff for v in values if v.check.startswith("SSIM") and v.implementation == "ours"]
    same = bool(diffs) and diffs[0] is not None and diffs[0] <= 1e-5
    out = []
    for target in dict.fromkeys(r.target for r in rows if r.section == "SSIM"):
        rs = [r for r in rows if r.target == target and r.peer_timing is not None]
        if not rs:
            out.append(Target(target, "-", "no peer measured", "-", f"≤ {goal:g}× fastest peer", "—"))
            continue
        best = min(rs, key=lambda r: r.peer_timing.median_ms)  # type: ignore[union-attr]
        ratio = best.ratio
        ok = ratio is not None and ratio <= goal and same
        out.append(
            Target(
                target,
                f"{fmt_ms(best.ours)} ms",
                f"{best.peer} {fmt_ms(best.peer_timing)} ms",
                f"{fmt_ratio(ratio)}×",
                f"≤ {goal:g}× fastest peer; same value as skimage ±1e-5 ({'yes' if same else 'NO'})",
                _mark(ok),
            )
        )
    return out


def score_targets(rows: list[Row]) -> list[Target]:
    out = []
    for r in rows:
        if r.section != "score":
            continue
        goal = 0.6 if r.target.endswith("clean cached") else 1.0
        ok = None if r.ratio is None else r.ratio <= goal
        out.append(
            Target(
                r.target,
                f"{fmt_ms(r.ours)} ms",
                f"lpips (LPIPS only) {r.note or fmt_ms(r.peer_timing) + ' ms'}",
                "-" if r.ratio is None else f"{fmt_ratio(r.ratio)}×",
                f"≤ {goal:g}× lpips",
                _mark(ok),
            )
        )
    return out


def view_target(v: ViewResult) -> Target:
    ok = v.max_ms <= VIEW_BUDGET_MS and v.forward_passes == 0
    return Target(
        f"view change {v.size} ({v.steps} kinds × {v.rounds}, incl. PNG)",
        f"median {v.median_ms:.1f} ms · max {v.max_ms:.1f} ms · forward passes: {v.forward_passes}",
        "—",
        f"{v.max_ms / VIEW_BUDGET_MS:.2f}× budget",
        f"every change ≤ {VIEW_BUDGET_MS:g} ms, 0 forward passes",
        _mark(ok),
    )


def sweep_target(k: int, size: int, res: dict[str, Timing | str], passes: int, goal: float = 1.2) -> Target:
    ours, bare = res["sweep"], res["bare"]
    target = f"sweep K={k} {size}² (noise)"
    if not isinstance(ours, Timing) or not isinstance(bare, Timing):
        return Target(target, str(ours), str(bare), "-", f"≤ {goal:g}× bare forward", "✗")
    ratio = ours.median_ms / bare.median_ms
    return Target(
        target,
        f"{fmt_ms(ours)} ms · forward passes: {passes}",
        f"bare forward b{k + 1} {fmt_ms(bare)} ms",
        f"{fmt_ratio(ratio)}×",
        f"≤ {goal:g}× bare forward, 1 pass",
        _mark(ratio <= goal and passes == 1),
    )


def cold_target(c: dict[str, Any] | None) -> Target:
    target = "app cold start, no network, empty caches"
    if c is None:
        return Target(target, "skipped (pass --cold-start)", "—", "—", "report only", "—")
    if "error" in c and "ready_s" not in c:
        return Target(target, c["error"][:80], "—", "—", "report only", "—")
    ours = f"ready {c['ready_s']:.1f} s · first /overview {c.get('first_response_s', float('nan')):.1f} s"
    return Target(
        target,
        ours + f" · weights {c['weights_s']:.2f} s",
        "—",
        "—",
        "report only; weights resolution ≤ 5 s",
        "—",
    )


def print_targets(targets: list[Target], mode: Mode) -> None:
    print()
    print("TARGETS (issue 'Fast everywhere it matters'; ratio = ours / peer, or / budget):")
    print(
        table(
            ["target", "ours", "peer", "ratio", "goal", "verdict"],
            [[t.target, t.ours, t.peer, t.ratio, t.goal, t.verdict] for t in targets],
            {3},
            [t.target.split()[0] for t in targets],
        )
    )
    n_ok = sum(t.verdict == "✓" for t in targets)
    n_bad = sum(t.verdict == "✗" for t in targets)
    print(f"met {n_ok}, not met {n_bad}, report only {len(targets) - n_ok - n_bad}")
    if mode.name == "smoke":
        print("smoke run: toy sizes, one repeat each — it checks the harness; these verdicts say nothing")


# --------------------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment(
    device: torch.device, args: argparse.Namespace, peers: dict[str, ModuleType | None]
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "device": str(device),
        "mode": args.mode.name,
        "peers": {
            name: (version(dist) or "?") if peers.get(name) is not None else None
            for name, dist in PEER_DISTS.items()
        },
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def fmt_ms(t: Timing | None) -> str:
    if t is None:
        return "-"
    ms = t.median_ms
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 1e3 else f"{ms:.0f}"


def fmt_ratio(r: float | None) -> str:
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


def print_report(env: dict[str, Any], plan: Plan, rows: list[Row], values: list[Value]) -> None:
    print("perceptual_viz benchmarks — ratio = ours / peer (< 1: ours is faster)")
    print(f"date      {env['date']}")
    threads = f"threads {env['torch_threads']} (interop {env['torch_interop_threads']})"
    print(f"torch     {env['torch']} · {threads} · python {env['python']}")
    print(f"cpu       {env['cpu']} ({env['cpu_count']} logical cores)")
    print(f"device    {env['device']}" + (f" ({env['gpu']})" if "gpu" in env else ""))
    peers = ", ".join(f"{k} {v}" if v else f"{k} (not installed)" for k, v in env["peers"].items())
    print(f"peers     {peers}")
    print(
        f"method    {plan.warmup} warm-up run(s) each, then {plan.min_repeats}–{plan.max_repeats} timed runs "
        f"(~{plan.budget_s:g} s per implementation), ours and peers interleaved round-robin; median; "
        f"time.perf_counter, CUDA synchronised; inference_mode; mode {env['mode']}"
    )
    print("weights   untrained seeded VGG16 for ours, copied into lpips' slices (same network both sides)")
    print()
    print("Values on the same photo pair (astronaut + N(0, 0.1²) noise, seed 0, clipped to [0, 1]):")
    vrows = [
        [
            v.check,
            v.implementation,
            "-" if v.value is None else f"{v.value:.8f}",
            v.reference,
            v.note or ("-" if v.abs_diff is None else f"{v.abs_diff:.1e}"),
        ]
        for v in values
    ]
    print(
        table(
            ["check", "implementation", "value", "reference", "|Δ| vs reference"],
            vrows,
            {2, 4},
            [v.check for v in values],
        )
    )
    print()
    print("Timing (ms, median):")
    trows = [
        [r.target, fmt_ms(r.ours), r.peer, r.note or fmt_ms(r.peer_timing), fmt_ratio(r.ratio)] for r in rows
    ]
    print(
        table(
            ["target", "ours (ms)", "peer", "peer (ms)", "ratio (ours/peer)"],
            trows,
            {1, 3, 4},
            [r.target for r in rows],
        )
    )
    print()
    print(
        "score pair = ours: MSE+PSNR+SSIM+perceptual+style+LPIPS (one batched VGG16 pass to relu5_3); "
        "peer: LPIPS only."
    )
    print(
        "clean cached = same clean image and FeatureCache, a fresh degraded image per call "
        "(only it is forwarded)."
    )


# --------------------------------------------------------------------------- load


def load_module() -> ModuleType:
    """benchmarks/load.py, imported as a module."""
    spec = importlib.util.spec_from_file_location(
        "perceptual_viz_bench_load", Path(__file__).with_name("load.py")
    )
    if spec is None or spec.loader is None:
        raise RuntimeError("benchmarks/load.py not found")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file executes
    spec.loader.exec_module(mod)
    return mod


def classroom_section(mode: Mode, device: torch.device, weights: str) -> dict[str, Any]:
    """Interactive latency beside long jobs (benchmarks/load.py ``classroom_run``); prints it."""
    mod = load_module()
    progress("classroom: interactive requests beside long jobs")
    r = mod.classroom_run(weights, device.type, **mode.classroom)
    print()
    print(mod.classroom_report(r))
    return r


def classroom_targets(r: dict[str, Any] | None, goal: float = 3.0) -> list[Target]:
    if r is None:
        return [Target("interactive beside long jobs", "skipped (--no-classroom)", "—", "—", "—", "—")]
    ok = r["ratio"] <= goal and r.get("long_jobs_running_throughout", False)
    out = [
        Target(
            f"fresh /overview beside {r['n_long']} reconstructions",
            f"median {np.median(r['busy_s']):.2f} s",
            f"same idle {np.median(r['idle_s']):.2f} s",
            f"{r['ratio']:.2f}×",
            f"≤ {goal:g}× idle",
            _mark(ok),
        )
    ]
    if "mixed" in r:
        m, a = r["mixed"]["endpoints"]["all"], r["mixed_alone"]["endpoints"]["all"]
        out.append(
            Target(
                f"interactive p95, {r['mixed']['clients']} users + 2 reconstructions",
                f"p95 {m['p95_s']:.2f} s",
                f"same users alone p95 {a['p95_s']:.2f} s",
                f"{m['p95_s'] / a['p95_s']:.2f}×",
                "report only",
                "—",
            )
        )
    return out


def browser_section(weights: str) -> dict[str, Any] | str:
    """benchmarks/browser.py: click → painted in Chromium; prints it (or why it cannot run)."""
    path = Path(__file__).resolve().parent / "browser.py"
    spec = importlib.util.spec_from_file_location("perceptual_viz_bench_browser", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    why = mod.unavailable()
    if why:
        print(f"\nbrowser rows skipped: {why}")
        return why
    progress("browser: layer changes and warmed showcase demos in Chromium")
    r = mod.run(weights)
    print()
    print(mod.report(r))
    return r


def browser_targets(
    r: dict[str, Any] | str | None, view_goal: float = 0.25, demo_goal: float = 1.0
) -> list[Target]:
    if r is None or isinstance(r, str):
        why = "skipped (--no-browser)" if r is None else f"skipped: {r}"
        return [Target("browser: layer change repaint", why, "—", "—", f"median ≤ {view_goal} s", "—")]
    out = [
        Target(
            f"browser: layer change repaint ({r['weights']} weights)",
            f"median {r['view_median_s'] * 1000:.0f} ms (max {r['view_max_s'] * 1000:.0f})",
            "—",
            "—",
            f"median ≤ {view_goal * 1000:.0f} ms",
            _mark(r["view_median_s"] <= view_goal),
        )
    ]
    for kind, secs in r.get("showcase_s", {}).items():
        out.append(
            Target(
                f"browser: warmed showcase {kind}",
                f"{secs:.2f} s",
                "—",
                "—",
                f"≤ {demo_goal:g} s",
                _mark(secs <= demo_goal),
            )
        )
    return out


TRAIN_BUDGET_S = 60.0


def train_section(mode: Mode, device: torch.device, weights: str) -> dict[str, Any]:
    """The default "Train with it" run as a user starts it: ``python -m perceptual_viz train`` on
    the bundled photos (chelsea held out), default settings, timed from launch to the printed JSON
    (interpreter start, weights and the final scoring included). ``--quick``: 10 steps only."""
    from perceptual_viz.lessons import train as tl

    steps = mode.train_steps
    quick = steps is not None
    progress("train: the default run of the Train-with-it lesson" + (f" ({steps} steps)" if quick else ""))
    photos = [str(sample(n)) for n in tl.DEFAULT_TRAIN_SAMPLES]
    cmd = [sys.executable, "-m", "perceptual_viz", "train", *photos]
    cmd += ["--eval", str(sample(tl.DEFAULT_EVAL_SAMPLE)), "--weights", weights, "--device", device.type]
    cmd += ["--json", "--quiet", *(["--steps", str(steps)] if quick else [])]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1], "seconds": seconds}
    d = json.loads(proc.stdout)
    runs = {n: {**r["eval"], "final_loss": r["final_loss"]} for n, r in d["runs"].items()}
    out = {"seconds": seconds, "training_s": d["seconds"], "steps": d["steps"], "quick": quick}
    out.update({"weights": d["weights"]["source"], "trained": d["weights"]["trained"], "runs": runs})
    print()
    print(
        f"Train with it, default run ({d['steps']} steps, {', '.join(runs)}; weights {out['weights']}): "
        f"{seconds:.1f} s from launch to JSON, of which training {d['seconds']:.1f} s"
    )
    for n, r in runs.items():
        lp = "—" if r["lpips"] is None else f"{r['lpips']:.4f}"
        print(f"  {n:16s} PSNR {r['psnr']:.2f} dB · SSIM {r['ssim']:.4f} · LPIPS {lp}")
    return out


def train_target(r: dict[str, Any] | None) -> Target:
    target = "train default run (sr4, default losses)"
    goal = f"≤ {TRAIN_BUDGET_S:g} s"
    if r is None:
        return Target(target, "skipped (--no-train)", "—", "—", goal, "—")
    if "error" in r:
        return Target(target, r["error"][:80], "—", "—", goal, "✗")
    ours = f"{r['seconds']:.1f} s ({r['steps']} steps; training {r['training_s']:.1f} s)"
    if r["quick"]:
        return Target(target + f", {r['steps']} steps", ours, "—", "—", "report only in --quick", "—")
    ratio = f"{r['seconds'] / TRAIN_BUDGET_S:.2f}× budget"
    return Target(target, ours, "—", ratio, goal, _mark(r["seconds"] <= TRAIN_BUDGET_S))


def load_section(mode: Mode, device: torch.device) -> dict[str, Any]:
    """benchmarks/load.py: the app launched in-process, many clients at once; prints its table."""
    mod = load_module()
    progress(f"load: {mode.load['clients']} clients × {mode.load['per_client']} requests")
    summary = mod.run(device=device.type, **mode.load)
    print()
    print(mod.report(summary))
    return summary


# --------------------------------------------------------------------------- main


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but CUDA is not available")
    return torch.device(name)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="reduced targets, few repeats (about a minute)")
    size.add_argument(
        "--smoke",
        action="store_true",
        help="every section once at toy sizes (the test suite's check of the harness; timings mean nothing)",
    )
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")
    p.add_argument(
        "--load",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="end with the app under concurrent users (benchmarks/load.py); --no-load skips it",
    )
    p.add_argument(
        "--classroom",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="interactive latency beside long jobs, vs idle (benchmarks/load.py); --no-classroom skips it",
    )
    p.add_argument(
        "--train",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the default Train-with-it run, timed end to end (--quick: 10 steps); --no-train skips it",
    )
    p.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="click → painted in Chromium (benchmarks/browser.py; default: on in a full run, off in --quick)",
    )
    p.add_argument(
        "--weights",
        default="untrained",
        help="weights of the classroom and train rows: untrained (default) | auto | PATH",
    )
    p.add_argument(
        "--cold-start",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time `python app.py` from launch to first response, offline with empty caches "
        "(default: on in a full run, off in --quick)",
    )
    args = p.parse_args(argv)
    args.mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    args.quick = args.quick or args.smoke  # smoke: quick's defaults for the optional sections
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = pick_device(args.device)
    mode: Mode = args.mode
    plan, sweep_k, sweep_size = mode.plan, mode.sweep_k, mode.sweep_size
    run_cold = (not args.quick) if args.cold_start is None else args.cold_start
    t0 = time.perf_counter()
    meter = CpuMeter()
    peers = {name: try_import(name) for name in PEER_DISTS}
    env = environment(device, args, peers)
    progress("peers imported")
    torch.manual_seed(SEED)

    progress("SSIM values")
    values = ssim_values(peers, device)
    rows = bench_ssim(peers, device, list(mode.ssim_cases), plan)
    model = load_vgg("vgg16", "untrained", device)
    lp = make_lpips(peers, model)
    progress("models ready")
    score_rows, lp_values, checks = bench_scoring(model, lp, mode.score_sizes, plan)
    rows += score_rows
    values += lp_values
    rows += bench_forward(model, lp, mode.forward_size, 2, plan)
    view = bench_views(model, mode)
    sweep_res, sweep_passes = bench_sweep(model, sweep_k, sweep_size, plan)
    cuda_rows = bench_cuda_extras(model, plan) if device.type == "cuda" else []
    rows += cuda_rows
    env["wall_s"] = round(time.perf_counter() - t0, 1)
    share = meter.others_share()
    env["other_processes_cpu_share"] = None if share is None else round(share, 3)

    print_report(env, plan, rows, values)
    print()
    print(
        f"View changes at {view.size} after one upload ({view.steps} kinds × {view.rounds} rounds, "
        f"each incl. PNG encoding): median {view.median_ms:.1f} ms, max {view.max_ms:.1f} ms "
        f"({view.slowest})"
    )
    print(f"forward passes: {view.forward_passes}")
    sw, bare = sweep_res["sweep"], sweep_res["bare"]
    print(
        f"Sweep K={sweep_k} at {sweep_size}² (figures.sweep, fresh cache: degrade + score + thumbnails): "
        f"{fmt_ms(sw) if isinstance(sw, Timing) else sw} ms in {sweep_passes} forward pass(es); "
        f"bare forward of {sweep_k + 1} images: {fmt_ms(bare) if isinstance(bare, Timing) else bare} ms"
    )
    if device.type != "cuda":
        print("CUDA-only rows (autocast on vs off, MicroBatcher vs sequential): not run, device is cpu")
    print(f"total wall time {env['wall_s']} s")
    if share is not None:
        print(
            f"background load: other processes used {share:.0%} of the CPU during the run"
            + (" — absolute times are noisy; ratios are fairer (interleaved)" if share > 0.1 else "")
        )
    load = load_section(mode, device) if args.load else None
    classroom = classroom_section(mode, device, args.weights) if args.classroom else None
    trained = train_section(mode, device, args.weights) if args.train else None
    run_browser = (not args.quick) if args.browser is None else args.browser
    browser = browser_section(args.weights) if run_browser else None
    cold = cold_start() if run_cold else None
    if cold is not None:
        print()
        if "weights_s" in cold:
            slow = cold["weights_s"] > 5
            print(
                f"Cold start: weight resolution took {cold['weights_s']:.3f} s → {cold['weights_source']} — "
                + ("> 5 s: BLOCKS on a timeout" if slow else "≤ 5 s: does not block on timeouts")
            )
            print(f"  status: {cold['weights_message']}")
        if "ready_s" in cold:
            print(
                f"Cold start: GET / answers after {cold['ready_s']:.1f} s; first /overview (224, via "
                f"gradio_client) done after {cold.get('first_response_s', float('nan')):.1f} s "
                f"(the call itself {cold.get('overview_s', float('nan')):.1f} s)"
            )
        if "error" in cold:
            print(f"Cold start: {cold['error']}")
    targets = [
        *ssim_targets(rows, values),
        *score_targets(rows),
        view_target(view),
        sweep_target(sweep_k, sweep_size, sweep_res, sweep_passes),
        *classroom_targets(classroom),
        train_target(trained),
        *browser_targets(browser),
        cold_target(cold),
    ]
    print_targets(targets, mode)
    if args.json is not None:
        data = {
            "environment": env,
            "plan": asdict(plan),
            "values": [asdict(v) for v in values],
            "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
            "cache_checks": checks,
            "views": asdict(view),
            "sweep": {
                "k": sweep_k,
                "forward_passes": sweep_passes,
                **{n: asdict(t) if isinstance(t, Timing) else t for n, t in sweep_res.items()},
            },
            "cold_start": cold,
            "targets": [asdict(t) for t in targets],
            "load": load,
            "classroom": classroom,
            "train": trained,
            "browser": browser,
        }
        args.json.write_text(json.dumps(data, indent=2))
    return 1 if load is not None and load["errors"] else 0  # an error under load is a bug


if __name__ == "__main__":
    raise SystemExit(main())
