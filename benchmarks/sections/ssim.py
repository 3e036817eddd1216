"""SSIM: ours vs pytorch_msssim, piq, kornia and scikit-image on the same tensors, every case in
both memory layouts, plus each implementation's value on the real photo pair next to
scikit-image's (the settings really match). Goal: ≤ 0.7× the fastest peer, same value ±1e-5."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import torch

from benchmarks.harness import (
    Job,
    Row,
    Target,
    Value,
    fmt_ms,
    fmt_ratio,
    mark,
    measure_group,
    progress,
    rows_from,
)
from benchmarks.sections import Context, Outcome
from benchmarks.sections.inputs import LAYOUTS, SEED, astronaut, noisy, resized, to_tensor, to_tensor_as
from perceptual_viz.metrics import ssim as ours_ssim

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
CASES = {  # (side, batch)
    "full": ((256, 1), (256, 8), (512, 1), (512, 8)),
    "quick": ((256, 1),),
    "smoke": ((64, 1),),
}
GOAL = 0.7  # ours / the fastest peer


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


def _torch_job(fn: Callable[..., Any], x: torch.Tensor, y: torch.Tensor) -> Job:
    """``fn(x, y)`` under inference mode, as a job."""

    def run(_: object) -> object:
        with torch.inference_mode():
            return fn(x, y)

    return Job(run)


def bench_ssim(ctx: Context, cases: Sequence[tuple[int, int]]) -> list[Row]:
    """SSIM timing at each (size, batch): ours vs each peer on the same tensors."""
    rows: list[Row] = []
    photo = astronaut()
    sk = skimage_ssim(ctx.peers)
    for size, batch, layout in ((s, b, lay) for s, b in cases for lay in LAYOUTS):
        clean = np.stack([resized(photo, size)] * batch)
        deg = np.stack([noisy(clean[i], SEED + i) for i in range(batch)])
        one = batch == 1
        x = to_tensor_as(clean[0] if one else clean, ctx.device, layout)
        y = to_tensor_as(deg[0] if one else deg, ctx.device, layout)
        a64, b64 = clean.astype(np.float64), deg.astype(np.float64)
        target = f"SSIM {size}² b{batch} {layout}"
        progress(target)
        jobs: dict[str, Job | None] = {"ours": _torch_job(lambda x, y: ours_ssim(x, y, data_range=1.0), x, y)}
        for name, fn in ssim_impls(ctx.peers).items():
            jobs[name] = None if fn is None else _torch_job(fn, x, y)
        jobs[SK_LABEL] = None if sk is None else Job(lambda _, a=a64, b=b64: sk(a, b))
        res = measure_group(jobs, ctx.plan, ctx.device)
        rows += rows_from("SSIM", target, res, "ours", [n for n in jobs if n != "ours"])
    return rows


def ssim_targets(rows: list[Row], values: list[Value], goal: float = GOAL) -> list[Target]:
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
                mark(ok),
            )
        )
    return out


def run(ctx: Context) -> Outcome:
    """The value check, then the timings of every case of this run's size."""
    progress("SSIM values")
    values = ssim_values(ctx.peers, ctx.device)
    rows = bench_ssim(ctx, ctx.pick(CASES))
    return Outcome(rows=rows, values=values, targets=ssim_targets(rows, values))
