"""The Compare figure: a clean image against a degraded one, with every score and where they differ."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..compare import (
    PERCEPTUAL_FORMULAS,
    PairScores,
    ScoreSettings,
    dists_unavailable_reason,
    lpips_unavailable_reason,
    ms_ssim_unavailable_reason,
    score_names,
    score_pairs,
)
from ..degrade import degrade, lookup
from ..errors import InputError
from ..features import FeatureCache, image_key
from ..images import to_pil
from ..messages import Joined, Text, msg
from ..metrics import feature_distance_maps, squared_error_map, ssim
from ..options import Criterion
from ..plots import bar_chart
from ..render import channel_grid, heatmap, rank_channels, to_numpy
from ..scales import Scale
from . import Analysis, Figure, Table, match_size
from .features import GRID_TILE, tiles

SOURCES = ("degrade", "upload")
SCORE_COLUMNS: tuple[Text, ...] = (msg("metric"), msg("value"), msg("what it is"))


@dataclass(frozen=True)
class Unavailable:
    """Why a score is missing (``None`` where it is there), or a caveat on one that is."""

    lpips: Text | None = None
    dists: Text | None = None
    ms_ssim: Text | None = None


def score_table(sc: PairScores, why: Unavailable | None = None) -> Table:
    """Every score with what each one is (``why``: why one is missing, or a caveat)."""
    why = why or Unavailable()
    rows: list[tuple[Text, float | None, Text]] = [
        ("MSE", sc.mse, msg("mean (a − b)², lower is closer")),
        (msg("PSNR (dB)"), sc.psnr, msg("10·log10(1/MSE), higher is closer")),
        ("SSIM", sc.ssim, msg("Gaussian 11×11, σ 1.5; 1 = identical")),
        (
            "MS-SSIM",
            sc.ms_ssim,
            why.ms_ssim
            or msg(
                "SSIM's structure at 5 scales (2× smaller each), brightness at the coarsest; 1 = identical"
            ),
        ),
        (msg("perceptual"), sc.perceptual_total, sc.perceptual_label),
        (msg("style"), sc.style_total, sc.style_label),
        ("LPIPS-VGG", sc.lpips, why.lpips or msg("learned weights over unit-normalised VGG16 features")),
        (
            "DISTS",
            sc.dists,
            why.dists
            or msg("1 − learned mix of texture (feature means) and structure (correlations); 0 = identical"),
        ),
    ]

    def shown(v: float | None) -> str:
        return chrome.num(v, 4)

    return Table(list(SCORE_COLUMNS), [[m, shown(v), what] for m, v, what in rows])


def _degraded(
    clean: Analysis, degraded: Analysis | None, degradation: str | None, strength: float | None, seed: int
) -> tuple[Analysis, Text, list[Text], dict[str, object]]:
    """The degraded image, how to describe it, notes, and its settings for the record."""
    spec: dict[str, object]
    if degraded is not None:
        degraded, note = match_size(clean, degraded)
        spec = {"source": "upload", "degradation": None, "strength": None, "seed": None}
        return degraded, msg("uploaded image"), [note] if note else [], spec
    if degradation is None:
        raise InputError(msg("choose a degradation or upload a degraded image"))
    d = lookup(degradation)
    s = d.default if strength is None else float(strength)
    seed = int(seed) if d.seeded else 0  # a seed changes nothing here: recorded as the default
    t = degrade(clean.tensor, degradation, s, seed=seed)
    spec = {"source": "degrade", "degradation": degradation, "strength": s, "seed": seed}
    what = msg(
        "{degradation}, {param} = {strength:g} (seed {seed})",
        degradation=d.label,
        param=d.param,
        strength=s,
        seed=seed,
    )
    return Analysis(t, image_key(t)), what, [], spec


def _map(values: np.ndarray, title: Text, sub: Text, label: Text, vmin: float | None = None) -> Image.Image:
    """One difference map with its colour bar: on a log scale when a few pixels dwarf the rest
    (a sharp edge's error beside a flat region's), which the colour bar's caption says."""
    sc = Scale.auto(values, vmin)
    pic = heatmap(sc.forward(values), cmap="magma", vmin=sc.t_lo, vmax=sc.t_hi)
    caption = Joined((label, sc.said())) if sc.kind == "log" else label
    bar = chrome.with_colour_bar(pic, "magma", sc.lo, sc.hi, caption, ticks=sc.ticks())
    return chrome.titled(bar, title, sub)


def _maps(
    clean: Analysis,
    degraded: Analysis,
    res_clean: dict,
    res_degraded: dict,
    names: list[str],
    criterion: Criterion,
) -> dict[str, Image.Image]:
    """Where the two differ: pixel error, 1 − SSIM, and the feature distance of each layer, each
    titled and with its own colour bar (their units differ)."""
    h, w = clean.size
    with torch.inference_mode():
        err = squared_error_map(clean.tensor, degraded.tensor)[0]
        _, smap = ssim(clean.tensor, degraded.tensor, return_map=True)
        fmaps = feature_distance_maps(res_clean, res_degraded, names, (h, w), criterion)
    maps = {
        "squared error": _map(
            to_numpy(err), msg("Squared error (a − b)²"), msg("per pixel, mean over colours"), "(a − b)²", 0.0
        )
    }
    smap_full = np.full((h, w), np.nan, np.float32)
    smap_full[5 : h - 5, 5 : w - 5] = to_numpy(smap[0])
    one_minus = np.nan_to_num(1 - smap_full, nan=0.0)
    lost = msg("local structure lost (11×11 window; border not computed)")
    maps["1 − SSIM"] = _map(one_minus, "1 − SSIM", lost, "1 − SSIM", 0.0)
    what = msg(
        "{distance}, mean over channels", distance="|φ(a) − φ(b)|" if criterion == "l1" else "(φ(a) − φ(b))²"
    )
    for n in names:
        title = msg("Feature distance at {layer}", layer=n)
        maps[f"feature distance {n}"] = _map(
            to_numpy(fmaps[n][0]), title, msg("upsampled from the layer's grid"), what, 0.0
        )
    return maps


def side_by_side(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: Analysis,
    degraded: Analysis,
    layer: str,
    k: int = 8,
    cmap: str = "viridis",
) -> dict[str, Image.Image]:
    """The same top-k channels (ranked on the clean image) of both, on one shared scale, and Δ
    on a symmetric blue–red scale (blue lower, red higher: safe for red–green colour blindness)."""
    both = torch.cat([clean.tensor, degraded.tensor])
    f = cache.features(model, both, [clean.key, degraded.key], [layer])[layer]
    fc, fd = f[0], f[1]
    chans = rank_channels(fc.mean(dim=(1, 2)).view(-1, 1, 1), "mean", int(k))
    a, b = tiles(fc, chans), tiles(fd, chans)
    lo, hi = float(torch.minimum(a.min(), b.min())), float(torch.maximum(a.max(), b.max()))
    diff = b - a
    lim = float(diff.abs().max()) or 1.0

    def grid(t: torch.Tensor, cm: str, vmin: float, vmax: float, title: Text, label: Text) -> Image.Image:
        pic = channel_grid(
            t,
            labels=chans,
            scope="layer",
            cmap=cm,
            vmin=vmin,
            vmax=vmax,
            tile=GRID_TILE,
            columns=min(4, len(chans)),
        )
        sub = msg("{layer} · the clean image's {n} strongest channels", layer=layer, n=len(chans))
        return chrome.titled(chrome.with_colour_bar(pic, cm, vmin, vmax, label), title, sub)

    return {
        f"clean {layer}": grid(a, cmap, lo, hi, msg("Clean"), msg("one scale for clean and degraded")),
        f"degraded {layer}": grid(b, cmap, lo, hi, msg("Degraded"), msg("the same scale")),
        f"difference {layer}": grid(
            diff, "coolwarm", -lim, lim, msg("Degraded − clean"), msg("blue: lower, red: higher")
        ),
    }


def _unavailable(model: VGGFeatures, sc: PairScores, size: tuple[int, int]) -> Unavailable:
    """Why LPIPS, DISTS or MS-SSIM is missing, or that a learned one is uncalibrated here."""
    untrained = not model.status.trained
    lpips = lpips_unavailable_reason(model.arch)
    if lpips is None and untrained:
        lpips = msg("LPIPS's learned weights on an UNTRAINED backbone: computed, but not calibrated")
    if sc.dists is None:
        dists = dists_unavailable_reason(model.arch) or msg("DISTS is switched off in the score settings")
    elif untrained:
        dists = msg("DISTS's learned weights on an UNTRAINED backbone: computed, but not calibrated")
    else:
        dists = None
    ms = None
    if sc.ms_ssim is None:
        ms = ms_ssim_unavailable_reason(*size) or msg("MS-SSIM is switched off in the score settings")
    return Unavailable(lpips, dists, ms)


CHART = "perceptual distance per layer"


def _chart(sc: PairScores, s: ScoreSettings) -> Image.Image:
    """The perceptual distance of each layer, as bars."""
    names = list(sc.perceptual)
    title = msg("Perceptual distance per layer")
    return bar_chart(
        names, [sc.perceptual[n] for n in names], title=title, ylabel=PERCEPTUAL_FORMULAS[s.criterion]
    )


@dataclass(frozen=True)
class CompareFigure(Figure):
    """Clean vs degraded. ``table``: the scores with what each is; ``layers``: the perceptual
    distance per layer; ``what``: the degraded image in words; ``notes``; ``scores``: every score
    as JSON-ready values; ``device``; ``chart``, ``maps`` and ``side``: the names of the
    per-layer chart, the difference maps and the side-by-side channels among the pictures."""

    table: Table
    layers: Table
    what: Text
    notes: list[Text]
    scores: dict[str, Any]
    device: str
    chart: str
    maps: list[str]
    side: list[str]
    kind = "compare"


def compare(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: Analysis,
    size: str,
    degraded: Analysis | None = None,
    degradation: str | None = None,
    strength: float | None = None,
    seed: int = 0,
    *,
    layer: str = "relu2_2",
    k: int = 8,
    cmap: str = "viridis",
    settings: ScoreSettings | None = None,
) -> CompareFigure:
    """Clean vs degraded: an uploaded image, or ``degradation`` of the clean one at ``strength``.
    Pictures: clean, degraded, the difference maps, the side-by-side channels of ``layer``, and
    the perceptual distance per layer as a chart."""
    model.info(layer)
    degraded, what, notes, spec = _degraded(clean, degraded, degradation, strength, int(seed))
    s = settings or ScoreSettings()
    # One batched pass for everything this view shows (scores and the side-by-side layer);
    # the clean image's activations usually come from the cache, so only the degraded one runs.
    both = torch.cat([clean.tensor, degraded.tensor])
    cache.ensure(model, both, [clean.key, degraded.key], [*score_names(s, model.arch), layer])
    res = score_pairs(model, clean.tensor, degraded.tensor, settings=s, cache=cache, clean_key=clean.key)
    sc = res.scores[0]
    names = list(sc.perceptual)
    maps = _maps(clean, degraded, res.clean_features, res.degraded_features, names, s.criterion)
    side = side_by_side(model, cache, clean, degraded, layer, k, cmap)
    pictures = {
        "clean": to_pil(clean.array),
        "degraded": to_pil(degraded.array),
        **maps,
        **side,
        CHART: _chart(sc, s),
    }
    record_settings = {
        "analysis_size": str(size),
        "size_hw": list(clean.size),
        **spec,
        "side_by_side_layer": layer,
        "score_settings": dataclasses.asdict(s),
    }
    scores = {**sc.as_dict(), "notes": [str(n) for n in notes]}
    per_layer = Table([msg("layer"), msg("perceptual distance")], [[n, sc.perceptual[n]] for n in names])
    return CompareFigure(
        pictures,
        {"settings": record_settings, "scores": scores},
        table=score_table(sc, _unavailable(model, sc, clean.size)),
        layers=per_layer,
        what=what,
        notes=notes,
        scores=scores,
        device=res.device,
        chart=CHART,
        maps=list(maps),
        side=list(side),
    )
