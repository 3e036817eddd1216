"""Equal-MSE gallery: very different degradations with the same MSE, scored side by side.

The classic demonstration that MSE is blind to structure. For one clean image and each
degradation (brightness shift, contrast stretch, Gaussian noise, Gaussian blur, JPEG,
translation, salt & pepper), :func:`match_mse` finds the strength whose MSE against the clean
image equals a target within a relative tolerance, ``|MSE − target| <= tolerance · target``.
:func:`gallery` then scores all matched images (SSIM, perceptual, style, LPIPS) against the clean
one in **one** batched VGG pass (:func:`perceptual_viz.compare.score_pairs`) and ranks them.

Search, per degradation, over a strength ``u`` measured from the mildest setting (see
:data:`SEARCH_INTERVALS`):

* Continuous strengths: MSE is 0 at the mild end and grows monotonically (clamping to [0, 1]
  only slows it). A first guess comes from a cheap model of the clean image (MSE ≈ δ² for a
  brightness shift or noise, (factor − 1)²·variance for a contrast stretch, p·E[½x² + ½(1 − x)²]
  for salt & pepper); later guesses interpolate in log-strength/log-MSE between the bracketing
  evaluations, with bisection as the safeguard. Typically 1–7 evaluations.
* Integer strengths (JPEG quality, shift in pixels): the integers are bisected down to two
  neighbours that straddle the target, and the closer one is returned. If neither is within
  tolerance (consecutive integers are too far apart in MSE) the two outer neighbours are checked
  too, in case MSE is not monotonic there. JPEG brackets the whole quality range 95 → 1. Shift
  grows 1, 2, 4, … px from 0 first, because its MSE saturates (and wiggles) once the shift
  exceeds the image's correlation length: the answer is the closest integer around the *first*
  crossing (the smallest shift that reaches the target). A much larger shift may land closer to
  the target by accident, on the wiggles; it is deliberately not searched for.
* "Closest" means the smallest |log(MSE / target)| (distance in PSNR), preferring settings within
  tolerance; an unchanged image (MSE 0) is therefore never the closest.
* If even the strongest setting stays below the target (or, for JPEG, even quality 95 is above
  it) the nearest setting is returned with an ``"unreachable: …"`` note. Every result that is not
  within tolerance carries a note saying why.

One evaluation is one :func:`perceptual_viz.degrade.degrade` call plus one MSE of a (1, 3, H, W)
image. Noise and salt & pepper use ``seed``; results are deterministic for a given seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .. import metrics
from ..compare import (
    PairScores,
    ScoreSettings,
    dists_unavailable_reason,
    lpips_unavailable_reason,
    ms_ssim_unavailable_reason,
    score_pairs,
)
from ..degrade import DEGRADATIONS, degrade
from ..errors import InputError
from ..export import jsonable
from ..messages import Text, english, msg
from ..options import RANK_METRICS, RankMetric, is_one_of
from ..tables import Table

if TYPE_CHECKING:
    from ..backbone import VGGFeatures
    from ..features import FeatureCache


# Told before each step of a long search: the fraction done and what is being done (see
# perceptual_viz.figures.Progress).
Progress = Callable[[float, Text], None]


def gallery_degradations() -> tuple[str, ...]:
    """The registered degradations the search can match (those declaring a ``search`` range)."""
    return tuple(n for n, d in DEGRADATIONS.items() if d.search is not None)


DEFAULT_TOLERANCE = 0.02  # relative: |MSE − target| <= tolerance · target
MAX_TOLERANCE = 0.5
# Targets above 0.25 (PSNR ≈ 6 dB) are outside what a meaningful comparison needs: the image is
# wrecked by every degradation, and most of them saturate before getting there.
MAX_TARGET_MSE = 0.25
DEFAULT_MAX_EVALS = 40
# The metrics as a reader calls them (LPIPS and SSIM are the same in every language).
METRIC_NAMES: dict[str, Text] = {"perceptual": msg("perceptual"), "style": msg("style")}


def metric_name(metric: str) -> Text:
    """``metric`` (one of :data:`RANK_METRICS`) in a reader's words."""
    return METRIC_NAMES.get(metric, metric)


def mse_to_psnr(mse: float) -> float:
    """PSNR in dB for data range 1: 10·log10(1 / MSE); ``inf`` for MSE 0."""
    m = float(mse)
    if not m >= 0:  # also rejects NaN
        raise InputError(msg("MSE must be >= 0, got {mse}", mse=str(mse)))
    return math.inf if m == 0 else -10.0 * math.log10(m)


def psnr_to_mse(psnr_db: float) -> float:
    """MSE for a PSNR in dB, data range 1: 10^(−PSNR/10); 0 for ``inf``."""
    p = float(psnr_db)
    if math.isnan(p) or p == -math.inf:
        raise InputError(msg("PSNR must be a number of dB (or +inf), got {psnr}", psnr=str(psnr_db)))
    return 10.0 ** (-p / 10.0)


@dataclass
class Match:
    """One degradation tuned to the target MSE."""

    name: str  # degradation key, e.g. "blur"
    label: Text  # human label from DEGRADATIONS
    param: Text  # e.g. "σ (pixels)"
    strength: float  # the strength found
    mse: float  # MSE actually achieved (vs clean)
    target: float
    within: bool  # |mse − target| <= tolerance · target
    evaluations: int  # degrade + MSE evaluations the search used
    note: Text  # "" or an honest sentence about why the result is not within tolerance
    image: torch.Tensor  # (1, 3, H, W) degraded image, same device/dtype as clean

    @property
    def setting(self) -> Text:
        """The strength with its unit, e.g. ``"σ 2.1 px"`` or ``"quality 12"``."""
        return DEGRADATIONS[self.name].setting(self.strength)


# --------------------------------------------------------------------------- validation


def _check_clean(clean: torch.Tensor) -> None:
    if not isinstance(clean, torch.Tensor) or not clean.is_floating_point():
        raise InputError(msg("clean must be a floating-point torch.Tensor with values in [0, 1]"))
    if clean.ndim != 4 or clean.shape[0] != 1 or clean.shape[1] != 3:
        raise InputError(
            msg(
                "clean must be one RGB image of shape (1, 3, H, W), got {shape}",
                shape=str(tuple(clean.shape)),
            )
        )
    if min(clean.shape[-2:]) < 2:
        raise InputError(msg("clean image is too small: {shape}", shape=str(tuple(clean.shape[-2:]))))


def _check_values(clean: torch.Tensor) -> None:
    lo, hi = float(clean.min()), float(clean.max())
    if not (lo >= 0 and hi <= 1):  # also rejects NaN
        raise InputError(msg("clean must have values in [0, 1], got [{lo:g}, {hi:g}]", lo=lo, hi=hi))


def _check_target(target_mse: float) -> float:
    try:
        t = float(target_mse)
    except (TypeError, ValueError):
        raise InputError(msg("target MSE must be a number, got {value}", value=repr(target_mse))) from None
    if not 0 < t <= MAX_TARGET_MSE:  # also rejects NaN
        raise InputError(
            msg(
                "target MSE must be in (0, {top}] (PSNR >= {psnr:.1f} dB), got {value}",
                top=MAX_TARGET_MSE,
                psnr=mse_to_psnr(MAX_TARGET_MSE),
                value=str(target_mse),
            )
        )
    return t


def _check_tolerance(tolerance: float) -> float:
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        raise InputError(msg("tolerance must be a number, got {value}", value=repr(tolerance))) from None
    if not 0 < tol <= MAX_TOLERANCE:
        raise InputError(
            msg(
                "tolerance is relative (|MSE − target| <= tolerance · target) and must be in (0, {top}], "
                "got {value}",
                top=MAX_TOLERANCE,
                value=str(tolerance),
            )
        )
    return tol


def _check_names(names: Sequence[str]) -> list[str]:
    if isinstance(names, str):
        names = [names]
    out = list(names)
    valid = gallery_degradations()
    if not out:
        raise InputError(msg("no degradations given; choose from: {names}", names=", ".join(valid)))
    for n in out:
        if n not in valid:
            raise InputError(
                msg(
                    "unknown degradation {name!r} for an equal-MSE match; valid names: {names}",
                    name=n,
                    names=", ".join(valid),
                )
            )
    dups = sorted({n for n in out if out.count(n) > 1})
    if dups:
        raise InputError(msg("degradations listed more than once: {names}", names=", ".join(dups)))
    return out


# --------------------------------------------------------------------------- search


def _percent(mse: float, target: float) -> str:
    pct = 100.0 * (mse / target - 1.0)
    return f"{pct:+.1f}%" if abs(pct) < 10 else f"{pct:+.0f}%"


class _Evaluator:
    """Degrade at strength offset ``u`` and measure MSE; remembers the closest result so far."""

    def __init__(self, clean: torch.Tensor, name: str, target: float, tolerance: float, seed: int) -> None:
        self.clean, self.name, self.target, self.tolerance, self.seed = clean, name, target, tolerance, seed
        self.degradation = DEGRADATIONS[name]
        assert self.degradation.search is not None  # checked by _check_names
        self.mild, strong = self.degradation.search
        self.sign = 1.0 if strong >= self.mild else -1.0
        self.span = abs(strong - self.mild)
        self.count = 0
        self.values: dict[float, float] = {}
        self.best: tuple[tuple[bool, float], float, float, torch.Tensor] | None = None  # key, u, mse, image

    def strength(self, u: float) -> float:
        return self.mild + self.sign * u

    def within(self, m: float) -> bool:
        return abs(m - self.target) <= self.tolerance * self.target

    def __call__(self, u: float) -> float:
        if u in self.values:
            return self.values[u]
        with torch.no_grad():
            img = degrade(self.clean, self.name, self.strength(u), seed=self.seed)
            m = float(metrics.mse(self.clean, img)[0])
        self.count += 1
        self.values[u] = m
        key = (not self.within(m), abs(math.log(m / self.target)) if m > 0 else math.inf)
        if self.best is None or key < self.best[0]:
            self.best = (key, u, m, img)
        return m

    @property
    def best_within(self) -> bool:
        return self.best is not None and not self.best[0][0]


def _first_guess(ev: _Evaluator, clean: torch.Tensor) -> float:
    """The degradation's cheap model of MSE(offset), from the clean image (no degrade call)."""
    guess = ev.degradation.first_guess
    u = 1.0 if guess is None else guess(clean.detach(), ev.target)  # else: one unit of strength
    return min(max(u, 1e-6 * ev.span), ev.span)


def _search_continuous(ev: _Evaluator, guess: float, max_evals: int) -> str:
    """Log-log secant steps kept inside the bracket, bisection as the fallback. Returns the stop reason."""
    t, span, k0 = ev.target, ev.span, ev.degradation.mse_exponent
    lo = 0.0  # MSE is 0 at the mild end
    hi: float | None = None
    positive: list[tuple[float, float]] = []  # evaluated points with MSE > 0, latest last
    widths: list[float] = []
    u = guess
    while True:
        if ev.count >= max_evals:
            return "budget"
        f = ev(u)
        if ev.within(f):
            return "ok"
        if f < t:
            lo = u
        else:
            hi = u
        if f > 0:
            positive = [*positive[-1:], (u, f)]
        if hi is None and lo >= span:
            return "above"
        if hi is not None and hi - lo <= 1e-4 * hi:  # strength resolved to 4 digits: MSE jumps here
            return "resolution"
        # Proposal: MSE ≈ c·u^k through the last two positive points, else with the model exponent.
        cand = None
        if len(positive) == 2:
            (u1, f1), (u2, f2) = positive
            if u1 != u2 and f1 != f2:
                k = math.log(f2 / f1) / math.log(u2 / u1)
                if k > 0:
                    cand = u2 * (t / f2) ** (1 / min(8.0, max(0.25, k)))
        if cand is None:
            if positive:
                u1, f1 = positive[-1]
                cand = u1 * (t / f1) ** (1 / k0)
            else:
                cand = span if lo == 0 else 8 * lo
        if hi is None:  # no setting above the target yet: extrapolate upward
            u = min(span, max(cand, 1.05 * lo))
            continue
        width = hi - lo
        widths.append(width)
        slow = len(widths) >= 3 and width > 0.5 * widths[-3]
        margin = 0.01 * width
        if lo + margin < cand < hi - margin and not slow:
            u = cand
        else:
            u = math.sqrt(lo * hi) if lo > 0 and hi < 1e3 * lo else 0.5 * (lo + hi)
            widths.clear()


def _search_integer(ev: _Evaluator, max_evals: int) -> str:
    """Integer bisection to two neighbours straddling the target. Returns the stop reason."""
    t, span = ev.target, round(ev.span)
    zero_at_mild = ev.degradation.identity == ev.mild  # shift 0 is the clean image; JPEG 95 is not
    lo = 0
    if not zero_at_mild and ev(0) >= t:
        return "below"
    if zero_at_mild:  # MSE saturates / dips at large shifts: grow from 0
        hi = None
        u = 1
        while hi is None:
            if ev.count >= max_evals:
                return "budget"
            if ev(u) >= t:
                hi = u
            elif u >= span:
                return "above"
            else:
                lo, u = u, min(span, 2 * u)
    else:
        hi = span
        if ev(hi) < t:
            if ev.count < max_evals:
                ev(hi - 1)  # JPEG's MSE is not strictly monotonic at the lowest qualities
            return "above"
    while hi - lo > 1:
        if ev.count >= max_evals:
            return "budget"
        mid = (lo + hi) // 2
        if ev(mid) >= t:
            hi = mid
        else:
            lo = mid
    if not ev.best_within:  # consecutive integers straddle the target: check outer neighbours too
        for u in (lo - 1, hi + 1):
            if 0 <= u <= span and not (u == 0 and zero_at_mild) and ev.count < max_evals:
                ev(u)
    return "ok" if ev.best_within else "resolution"


def _note(ev: _Evaluator, reason: str, strength: float, mse: float) -> Text:
    """Why the result is not within tolerance ("" when it is)."""
    if ev.within(mse):
        return ""
    t, d = ev.target, ev.degradation
    at = {"setting": d.setting(strength), "mse": mse, "target": t}
    if reason == "above":
        if abs(strength - ev.strength(ev.span)) < 1e-9:
            return msg(
                "unreachable: even the strongest setting ({setting}) gives MSE {mse:.4g} "
                "< target {target:.4g}",
                **at,
            )
        return msg(
            "unreachable: the largest MSE found is {mse:.4g} at {setting} (< target {target:.4g})", **at
        )
    if reason == "below":
        return msg(
            "unreachable: even the mildest setting ({setting}) gives MSE {mse:.4g} > target {target:.4g}",
            **at,
        )
    off = {"setting": at["setting"], "mse": mse, "off": _percent(mse, t)}
    if reason == "budget":
        return msg(
            "search stopped after {n} evaluations: closest found is {setting} (MSE {mse:.4g}, {off})",
            n=ev.count,
            **off,
        )
    closest = msg("closest achievable is {setting} (MSE {mse:.4g}, {off})", **off)
    if d.integer:
        return msg("integer {param}: {closest}", param=d.param, closest=closest)
    return msg("MSE changes in steps here: {closest}", closest=closest)


def match_mse(
    clean: torch.Tensor,
    name: str,
    target_mse: float,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    max_evals: int = DEFAULT_MAX_EVALS,
) -> Match:
    """Find the strength of degradation ``name`` whose MSE against ``clean`` is ``target_mse``.

    ``clean`` is (1, 3, H, W) in [0, 1]. Returns the closest setting evaluated; ``within`` says
    whether it meets ``|MSE − target| <= tolerance · target`` and ``note`` explains when not.
    """
    _check_clean(clean)
    _check_values(clean)
    target = _check_target(target_mse)
    tol = _check_tolerance(tolerance)
    (name,) = _check_names([name])
    if int(max_evals) < 2:
        raise InputError(msg("max_evals must be >= 2, got {value}", value=str(max_evals)))
    ev = _Evaluator(clean, name, target, tol, int(seed))
    if ev.degradation.integer:
        reason = _search_integer(ev, int(max_evals))
    else:
        reason = _search_continuous(ev, _first_guess(ev, clean), int(max_evals))
    assert ev.best is not None
    _, u, mse, image = ev.best
    strength = ev.strength(u)
    if ev.degradation.integer:
        strength = float(round(strength))
    d = DEGRADATIONS[name]
    return Match(
        name=name,
        label=d.label,
        param=d.param,
        strength=strength,
        mse=mse,
        target=target,
        within=ev.within(mse),
        evaluations=ev.count,
        note=_note(ev, reason, strength, mse),
        image=image,
    )


def equal_mse(
    clean: torch.Tensor,
    target_mse: float,
    names: Sequence[str] | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[Match]:
    """:func:`match_mse` for each of ``names`` (in that order). Inputs are validated first.

    ``progress``, if given, is called as ``progress(fraction, what)`` before each degradation
    (what: "matching blur", a message); fractions leave room for a scoring step.
    """
    _check_clean(clean)
    _check_values(clean)
    target = _check_target(target_mse)
    tol = _check_tolerance(tolerance)
    todo = _check_names(gallery_degradations() if names is None else names)
    out = []
    for i, n in enumerate(todo):
        if progress is not None:
            progress(
                i / (len(todo) + 1), msg("matching {degradation}", degradation=DEGRADATIONS[n].short_name)
            )
        out.append(match_mse(clean, n, target, tolerance=tol, seed=seed))
    return out


# --------------------------------------------------------------------------- gallery


TABLE_COLUMNS: tuple[Text, ...] = (
    msg("rank"),
    msg("degradation"),
    msg("strength"),
    "MSE",
    "PSNR",
    "SSIM",
    "MS-SSIM",
    msg("perceptual"),
    msg("style"),
    "LPIPS",
    "DISTS",
    msg("within tolerance"),
    msg("note"),
)


@dataclass
class GalleryEntry:
    """A matched degradation and its scores against the clean image."""

    match: Match
    scores: PairScores


def _metric_value(scores: PairScores, metric: RankMetric) -> float | None:
    if metric == "1 − MS-SSIM":
        return None if scores.ms_ssim is None else 1.0 - scores.ms_ssim
    values: dict[str, float | None] = {
        "LPIPS": scores.lpips,
        "DISTS": scores.dists,
        "perceptual": scores.perceptual_total,
        "style": scores.style_total,
    }
    return values.get(metric, 1.0 - scores.ssim)  # "1 − SSIM"


def _rank_key(value: float | None) -> tuple[bool, float]:
    missing = value is None or math.isnan(value)
    return (missing, 0.0 if missing else float(value))  # type: ignore[arg-type]


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _ranking(
    model: VGGFeatures, rank_by: RankMetric, scores: list[PairScores], size: tuple[int, int]
) -> tuple[RankMetric, list[Text]]:
    """The metric to rank by: ``rank_by``, or a stand-in (and a note why) when it is missing:
    "perceptual" for LPIPS and DISTS, "1 − SSIM" for MS-SSIM (images too small)."""
    if not any(_metric_value(s, rank_by) is None for s in scores):
        return rank_by, []
    if rank_by == "1 − MS-SSIM":
        reason = ms_ssim_unavailable_reason(*size) or msg("MS-SSIM is switched off in the score settings")
        return "1 − SSIM", [msg("{reason}; ranked by 1 − SSIM instead", reason=reason)]
    if rank_by == "DISTS":
        reason = dists_unavailable_reason(model.arch) or msg("DISTS is switched off in the score settings")
    else:
        reason = lpips_unavailable_reason(model.arch) or msg("LPIPS is switched off in the score settings")
    return "perceptual", [msg("{reason}; ranked by perceptual instead", reason=reason)]


@dataclass
class Gallery:
    """Equal-MSE matches scored in one pass, ranked least damaged first by ``rank_by``."""

    target_mse: float
    tolerance: float
    entries: list[GalleryEntry]  # ranked: least damaged first by `rank_by` (NaN/None last)
    rank_by: RankMetric  # the metric actually used (LPIPS falls back to "perceptual" when unavailable)
    seconds: float
    device: str
    notes: list[Text] = field(default_factory=list)

    def table(self) -> Table:
        """One row per entry, in rank order."""
        rows = [
            [
                i + 1,
                e.match.label,
                e.match.strength,
                e.match.mse,
                mse_to_psnr(e.match.mse),
                e.scores.ssim,
                _or_nan(e.scores.ms_ssim),
                e.scores.perceptual_total,
                e.scores.style_total,
                _or_nan(e.scores.lpips),
                _or_nan(e.scores.dists),
                e.match.within,
                e.match.note,
            ]
            for i, e in enumerate(self.entries)
        ]
        return Table(list(TABLE_COLUMNS), rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (plain floats/str/bool/None; NaN and inf become None; texts in English)."""
        entries = [
            {
                "rank": i + 1,
                "name": e.match.name,
                "label": e.match.label,
                "param": e.match.param,
                "strength": e.match.strength,
                "setting": e.match.setting,
                "mse": e.match.mse,
                "psnr": mse_to_psnr(e.match.mse),
                "within": e.match.within,
                "evaluations": e.match.evaluations,
                "note": e.match.note,
                "scores": e.scores.as_dict(),
            }
            for i, e in enumerate(self.entries)
        ]
        return jsonable(
            english(
                {
                    "target_mse": self.target_mse,
                    "target_psnr": mse_to_psnr(self.target_mse),
                    "tolerance": self.tolerance,
                    "rank_by": self.rank_by,
                    "device": self.device,
                    "notes": list(self.notes),
                    "entries": entries,
                }
            )
        )


def _check_gallery(model: VGGFeatures, clean: torch.Tensor, rank_by: str) -> RankMetric:
    """A gallery's inputs checked before any work: the ranking metric, the image and its device."""
    if not is_one_of(rank_by, RANK_METRICS):
        raise InputError(
            msg(
                "rank_by must be one of {choices}, got {value!r}",
                choices=", ".join(map(repr, RANK_METRICS)),
                value=rank_by,
            )
        )
    _check_clean(clean)
    if clean.device != model.device:
        raise InputError(
            msg(
                "clean is on {device} but the model is on {model}; "
                "prepare the image on the model's device first",
                device=str(clean.device),
                model=str(model.device),
            )
        )
    return rank_by


def gallery(
    model: VGGFeatures,
    clean: torch.Tensor,
    target_mse: float,
    *,
    names: Sequence[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    rank_by: str = "LPIPS",
    settings: ScoreSettings | None = None,
    cache: FeatureCache | None = None,
    clean_key: str | None = None,
    progress: Progress | None = None,
    chunk_images: int | None = None,
) -> Gallery:
    """Match every degradation to ``target_mse``, score them all in one VGG pass and rank them.

    ``clean`` is (1, 3, H, W) in [0, 1] on ``model.device``, already prepared to the analysis
    size. ``chunk_images`` splits the scoring into passes of that many images, with a
    ``progress`` call between them (a long job on a CPU gives way to others there; give a
    ``cache`` so the clean image is forwarded once). Ranking is least damaged first by
    ``rank_by`` (one of :data:`RANK_METRICS`); when LPIPS is asked for but not available, the
    ranking uses "perceptual" and ``notes`` says so.
    """
    rank = _check_gallery(model, clean, rank_by)
    t0 = time.perf_counter()
    matches = equal_mse(clean, target_mse, names, tolerance=tolerance, seed=seed, progress=progress)
    images = torch.cat([m.image for m in matches])
    step = len(matches) if chunk_images is None else max(1, int(chunk_images))
    scores = []
    for i in range(0, len(matches), step):
        if progress is not None and i:
            done = msg("scoring: {done} of {total} images", done=i, total=len(matches))
            progress(len(matches) / (len(matches) + 1), done)
        part = images[i : i + step]
        scores += score_pairs(
            model, clean, part, settings=settings, cache=cache, clean_key=clean_key, store_degraded=False
        ).scores
    used, notes = _ranking(model, rank, scores, (clean.shape[-2], clean.shape[-1]))
    entries = [GalleryEntry(m, s) for m, s in zip(matches, scores, strict=True)]
    entries.sort(key=lambda e: _rank_key(_metric_value(e.scores, used)))
    return Gallery(
        target_mse=float(target_mse),
        tolerance=float(tolerance),
        entries=entries,
        rank_by=used,
        seconds=time.perf_counter() - t0,
        device=str(model.device),
        notes=notes,
    )
