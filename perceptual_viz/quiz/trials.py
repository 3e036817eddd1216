"""Making a round's trials: one reference photo, two equally damaged versions, all metrics' scores.

A trial asks "which of A and B looks closer to the reference?". To make the metrics disagree
often, both sides have (nearly) the same MSE but different kinds of damage — the Equal-MSE
lesson: for a bundled photo and two different degradations, :func:`~perceptual_viz.lessons.
equal_mse.match_mse` finds each one's strength giving a target MSE drawn from a PSNR range
(20–30 dB by default). MSE can then only split the pair on a difference of a few percent, while
SSIM, the perceptual distance and LPIPS see structure. A pair that misses the tolerance is drawn
again, a few times at most; a side that still misses it keeps ``within=False`` and match_mse's
note.

Pictures are small (a ``size`` × ``size`` centre crop, shorter side resized to ``size``, 128 px
by default) and computed on the CPU, so they are the same whatever device scores them. Both
sides are scored with :func:`~perceptual_viz.compare.score_pairs` in one batched VGG pass per
trial. Everything is drawn from ``random.Random(seed)``: the same seed gives the same trials,
pictures and left/right order. A stored trial keeps only its recipe, and :func:`trial_images`
recomputes the exact pictures that were scored.

A choice the teacher can get wrong (the number of trials, the seed, the kinds of damage, the
photos, the PSNR range) is refused with a message in the reader's language; a display size only
a program asks for is refused in English.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import torch
from PIL import Image

from ..assets import sample, samples
from ..backbone import VGGFeatures
from ..compare import PairScores, ScoreSettings, score_pairs
from ..degrade import degrade
from ..errors import InputError
from ..features import Resize, prepare
from ..images import load_image, to_pil
from ..lessons.equal_mse import gallery_degradations, match_mse, psnr_to_mse
from ..messages import Message, Text, english, msg, msg_n
from .agreement import METRICS
from .store import MAX_SEED, MAX_TRIALS, Distortion, Trial, check_int

DEFAULT_SIZE = 128
MIN_SIZE, MAX_SIZE = 32, 512
DEFAULT_PSNR_RANGE: tuple[float, float] = (20.0, 30.0)
MIN_PSNR, MAX_PSNR = 10.0, 50.0
MAX_ATTEMPTS = 4  # draws per trial before a pair that misses the MSE tolerance is kept anyway
# Told before each trial: the fraction done and what is being done (as figures.Progress).
Progress = Callable[[float, Text], None]


@dataclass(frozen=True)
class TrialTensors:
    """A trial's pictures as (1, 3, size, size) float tensors in [0, 1], on the CPU."""

    reference: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor


# --------------------------------------------------------------------------- validation


def photo_names() -> tuple[str, ...]:
    """File names of the bundled photographs a trial can use."""
    return tuple(p.name for p in samples(photos_only=True))


def _names_error(what: str, problem: str, **v: Any) -> Message:
    """What is wrong with a list of ``what`` ("degradations" or "images"): a whole sentence for each
    kind, so that no translation needs an English noun spliced in."""
    images = what == "images"
    if problem == "list":
        return (
            msg("images must be a list of names, e.g. [{examples}]", **v)
            if images
            else msg("degradations must be a list of names, e.g. [{examples}]", **v)
        )
    if problem == "unknown":
        return (
            msg("unknown image {name!r}; valid names: {valid}", **v)
            if images
            else msg("unknown degradation {name!r}; valid names: {valid}", **v)
        )
    if problem == "repeated":
        return (
            msg("images are listed more than once; give each name once")
            if images
            else msg("degradations are listed more than once; give each name once")
        )
    least = v.pop("least")
    if images:
        return msg_n(
            "a trial needs at least {n} image, got {given}; choose from: {valid}",
            "a trial needs at least {n} images, got {given}; choose from: {valid}",
            least,
            **v,
        )
    return msg_n(
        "a trial needs at least {n} degradation, got {given}; choose from: {valid}",
        "a trial needs at least {n} degradations, got {given}; choose from: {valid}",
        least,
        **v,
    )


def _check_names(given: Sequence[str] | None, valid: Sequence[str], what: str, least: int) -> list[str]:
    if given is None:
        names = list(valid)
    elif isinstance(given, str) or not isinstance(given, Sequence):
        raise InputError(_names_error(what, "list", examples=", ".join(map(repr, valid[:2]))))
    else:
        names = list(given)
    for n in names:
        if n not in valid:
            raise InputError(_names_error(what, "unknown", name=n, valid=", ".join(valid)))
    if len(set(names)) != len(names):
        raise InputError(_names_error(what, "repeated"))
    if len(names) < least:
        raise InputError(_names_error(what, "few", least=least, given=len(names), valid=", ".join(valid)))
    return names


def _check_psnr_range(psnr_range: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in psnr_range)
    except (TypeError, ValueError):
        raise InputError(
            msg(
                "the PSNR range must be two numbers of dB, e.g. (20, 30), got {value}", value=repr(psnr_range)
            )
        ) from None
    if not MIN_PSNR <= lo <= hi <= MAX_PSNR:  # also rejects NaN
        raise InputError(
            msg(
                "the PSNR range must satisfy {min:g} <= low <= high <= {max:g} dB, got ({low}, {high})",
                min=MIN_PSNR,
                max=MAX_PSNR,
                low=lo,
                high=hi,
            )
        )
    return lo, hi


@dataclass(frozen=True)
class _Plan:
    """The validated choices a round is drawn from."""

    degradations: tuple[str, ...]
    images: tuple[str, ...]
    size: int
    psnr_range: tuple[float, float]


def _plan(
    degradations: Sequence[str] | None, images: Sequence[str] | None, size: int, psnr_range: Sequence[float]
) -> _Plan:
    return _Plan(
        tuple(_check_names(degradations, gallery_degradations(), "degradations", 2)),
        tuple(_check_names(images, photo_names(), "images", 1)),
        check_int(size, msg("the picture size"), MIN_SIZE, MAX_SIZE),
        _check_psnr_range(psnr_range),
    )


def check_choices(
    *,
    degradations: Sequence[str] | None = None,
    images: Sequence[str] | None = None,
    size: int = DEFAULT_SIZE,
    psnr_range: Sequence[float] = DEFAULT_PSNR_RANGE,
) -> None:
    """Raise :class:`InputError` for choices :func:`make_trials` would refuse (without any work)."""
    _plan(degradations, images, size, psnr_range)


# --------------------------------------------------------------------------- pictures


@lru_cache(maxsize=16)
def _reference(name: str, size: int) -> torch.Tensor:
    x = prepare(load_image(sample(name)).tensor(), Resize("shorter", size))
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size].contiguous()


def reference(name: str, size: int = DEFAULT_SIZE) -> torch.Tensor:
    """Bundled photo ``name`` as a (1, 3, size, size) CPU tensor: shorter side → size, centre crop."""
    (n,) = _check_names([name], photo_names(), "images", 1)
    return _reference(n, check_int(size, msg("the picture size"), MIN_SIZE, MAX_SIZE)).clone()


def trial_tensors(trial: Trial) -> TrialTensors:
    """Recompute a trial's pictures from its recipe, exactly as they were scored."""
    ref = reference(trial.sample, trial.size)
    a = degrade(ref, trial.a.degradation, trial.a.strength, seed=trial.seed)
    b = degrade(ref, trial.b.degradation, trial.b.strength, seed=trial.seed)
    return TrialTensors(ref, a, b)


def trial_images(trial: Trial, size: int | None = None) -> tuple[Image.Image, Image.Image, Image.Image]:
    """(reference, A, B) as RGB pictures, recomputed exactly from the trial's recipe.

    The degradations are deterministic given the stored strength and seed, so these are the very
    pixels the metrics scored (up to the 8-bit rounding of display). ``size`` (a multiple of
    ``trial.size``) enlarges them for display by repeating pixels, which adds no smoothing that
    could hide the damage; ``None`` keeps the scored size.
    """
    t = trial_tensors(trial)
    pics = (to_pil(t.reference), to_pil(t.a), to_pil(t.b))
    if size is None or size == trial.size:
        return pics
    n = check_int(size, "the display size", trial.size, 16 * trial.size)
    if n % trial.size:
        raise InputError(f"the display size must be a multiple of the trial's size {trial.size}, got {n}")
    big = tuple(p.resize((n, n), Image.Resampling.NEAREST) for p in pics)
    return big[0], big[1], big[2]


def enlarged(trial: Trial, pics: Sequence[Image.Image], px: int) -> list[Image.Image]:
    """A trial's pictures (at its scored size) about ``px`` wide, each pixel repeated a whole
    number of times, so no smoothing hides the damage (never made smaller than scored)."""
    factor = max(1, px // trial.size)
    if factor == 1:
        return list(pics)
    n = trial.size * factor
    return [p.resize((n, n), Image.Resampling.NEAREST) for p in pics]


# --------------------------------------------------------------------------- trials


def _scores(s: PairScores) -> dict[str, float | None]:
    values = {
        "mse": s.mse,
        "ssim": s.ssim,
        "ms_ssim": s.ms_ssim,
        "perceptual": s.perceptual_total,
        "lpips": s.lpips,
        "dists": s.dists,
    }
    return {m: v if v is not None and math.isfinite(v) else None for m, v in values.items() if m in METRICS}


def _make_trial(
    model: VGGFeatures, index: int, rng: random.Random, plan: _Plan, settings: ScoreSettings | None
) -> Trial:
    """Draw and match until both sides meet the tolerance (or attempts run out), then score them."""
    for _ in range(MAX_ATTEMPTS):
        name = rng.choice(plan.images)
        first, second = sorted(rng.sample(plan.degradations, 2))
        target = psnr_to_mse(rng.uniform(*plan.psnr_range))
        seed = rng.randrange(2**31)
        ref = _reference(name, plan.size)
        matches = [match_mse(ref, d, target, seed=seed) for d in (first, second)]
        if all(m.within for m in matches):
            break
    swapped = rng.random() < 0.5
    ma, mb = reversed(matches) if swapped else matches
    batch = torch.cat([ma.image, mb.image]).to(model.device)
    sa, sb = score_pairs(model, ref.to(model.device), batch, settings=settings).scores
    return Trial(
        index=index,
        sample=name,
        size=plan.size,
        seed=seed,
        target_mse=target,
        # A stored recipe is data: a note is kept in English whatever made it (text or message).
        a=Distortion(ma.name, ma.strength, ma.mse, ma.within, english(ma.note)),
        b=Distortion(mb.name, mb.strength, mb.mse, mb.within, english(mb.note)),
        swapped=swapped,
        scores_a=_scores(sa),
        scores_b=_scores(sb),
    )


def make_trials(
    model: VGGFeatures,
    n_trials: int,
    seed: int,
    *,
    degradations: Sequence[str] | None = None,
    images: Sequence[str] | None = None,
    size: int = DEFAULT_SIZE,
    psnr_range: Sequence[float] = DEFAULT_PSNR_RANGE,
    settings: ScoreSettings | None = None,
    progress: Progress | None = None,
) -> list[Trial]:
    """``n_trials`` equal-MSE trials drawn reproducibly from ``seed`` (see the module docstring).

    ``degradations`` (at least two, from ``gallery_degradations()``) and ``images`` (file names of
    bundled photos, see :func:`photo_names`) restrict the draw; ``None`` allows all. ``progress``,
    if given, is called as ``progress(fraction, what)`` before each trial (``what``: a message,
    "making trial 2 of 10"; see :data:`perceptual_viz.figures.Progress`); an exception it raises
    stops the work and propagates.
    """
    n = check_int(n_trials, msg("the number of trials"), 1, MAX_TRIALS)
    s = check_int(seed, msg("the seed"), 0, MAX_SEED)
    plan = _plan(degradations, images, size, psnr_range)
    rng = random.Random(s)
    out = []
    for i in range(n):
        if progress is not None:
            progress(i / n, msg("making trial {i} of {n}", i=i + 1, n=n))
        out.append(_make_trial(model, i, rng, plan, settings))
    return out


def round_settings(
    model: VGGFeatures,
    *,
    degradations: Sequence[str] | None = None,
    images: Sequence[str] | None = None,
    size: int = DEFAULT_SIZE,
    psnr_range: Sequence[float] = DEFAULT_PSNR_RANGE,
    settings: ScoreSettings | None = None,
) -> dict[str, Any]:
    """JSON-ready description of how a round's trials were made (for ``QuizStore.create_round``).

    Takes the same keyword arguments as :func:`make_trials` and validates them the same way.
    """
    plan = _plan(degradations, images, size, psnr_range)
    return {
        "arch": model.arch,
        "weights": model.status.as_dict(),
        "degradations": list(plan.degradations),
        "images": list(plan.images),
        "size": plan.size,
        "psnr_range": list(plan.psnr_range),
        "score_settings": asdict(settings or ScoreSettings()),
        "metrics": list(METRICS),
    }
