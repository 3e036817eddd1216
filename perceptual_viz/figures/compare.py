"""The Compare figure: a clean image against a degraded one, with every score and where they differ."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from PIL import Image

from .. import chrome
from ..backbone import VGGFeatures
from ..compare import PairScores, ScoreSettings, lpips_unavailable_reason, score_names, score_pairs
from ..degrade import degrade, lookup
from ..errors import InputError
from ..features import FeatureCache, image_key
from ..images import to_pil
from ..metrics import feature_distance_maps, squared_error_map, ssim
from ..options import Criterion
from ..plots import bar_chart
from ..render import channel_grid, heatmap, rank_channels, to_numpy
from . import Analysis, Figure, Table, match_size
from .features import GRID_TILE, tiles

SOURCES = ("degrade", "upload")
SCORE_COLUMNS = ("metric", "value", "what it is")


def score_table(sc: PairScores, lpips_note: str | None) -> Table:
    """The six scores with what each one is."""
    rows = [
        ("MSE", sc.mse, "mean (a − b)², lower is closer"),
        ("PSNR (dB)", sc.psnr, "10·log10(1/MSE), higher is closer"),
        ("SSIM", sc.ssim, "Gaussian 11×11, σ 1.5; 1 = identical"),
        ("perceptual", sc.perceptual_total, sc.perceptual_label),
        ("style", sc.style_total, sc.style_label),
        ("LPIPS-VGG", sc.lpips, lpips_note or "learned weights over unit-normalised VGG16 features"),
    ]

    def shown(v: float | None) -> str:
        return chrome.num(v, 4)

    return Table(list(SCORE_COLUMNS), [[m, shown(v), what] for m, v, what in rows])


def _degraded(
    clean: Analysis, degraded: Analysis | None, degradation: str | None, strength: float | None, seed: int
) -> tuple[Analysis, str, list[str], dict[str, object]]:
    """The degraded image, how to describe it, notes, and its settings for the record."""
    spec: dict[str, object]
    if degraded is not None:
        degraded, note = match_size(clean, degraded)
        spec = {"source": "upload", "degradation": None, "strength": None, "seed": None}
        return degraded, "uploaded image", [note] if note else [], spec
    if degradation is None:
        raise InputError("choose a degradation or upload a degraded image")
    d = lookup(degradation)
    s = d.default if strength is None else float(strength)
    seed = int(seed) if d.seeded else 0  # a seed changes nothing here: recorded as the default
    t = degrade(clean.tensor, degradation, s, seed=seed)
    spec = {"source": "degrade", "degradation": degradation, "strength": s, "seed": seed}
    return Analysis(t, image_key(t)), f"{d.label}, {d.param} = {s:g} (seed {seed})", [], spec


def _map(values: np.ndarray, title: str, sub: str, label: str, vmin: float | None = None) -> Image.Image:
    lo = float(np.nanmin(values)) if vmin is None else vmin
    hi = float(np.nanmax(values))
    pic = heatmap(values, cmap="magma", vmin=lo, vmax=hi)
    return chrome.titled(chrome.with_colour_bar(pic, "magma", lo, hi, label), title, sub)


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
            to_numpy(err), "Squared error (a − b)²", "per pixel, mean over colours", "(a − b)²", 0.0
        )
    }
    smap_full = np.full((h, w), np.nan, np.float32)
    smap_full[5 : h - 5, 5 : w - 5] = to_numpy(smap[0])
    one_minus = np.nan_to_num(1 - smap_full, nan=0.0)
    maps["1 − SSIM"] = _map(
        one_minus, "1 − SSIM", "local structure lost (11×11 window; border not computed)", "1 − SSIM", 0.0
    )
    what = "|φ(a) − φ(b)|, mean over channels" if criterion == "l1" else "(φ(a) − φ(b))², mean over channels"
    for n in names:
        maps[f"feature distance {n}"] = _map(
            to_numpy(fmaps[n][0]), f"Feature distance at {n}", "upsampled from the layer's grid", what, 0.0
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

    def grid(t: torch.Tensor, cm: str, vmin: float, vmax: float, title: str, label: str) -> Image.Image:
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
        return chrome.titled(
            chrome.with_colour_bar(pic, cm, vmin, vmax, label),
            title,
            f"{layer} · the clean image's {len(chans)} strongest channels",
        )

    return {
        f"clean {layer}": grid(a, cmap, lo, hi, "Clean", "one scale for clean and degraded"),
        f"degraded {layer}": grid(b, cmap, lo, hi, "Degraded", "the same scale"),
        f"difference {layer}": grid(
            diff, "coolwarm", -lim, lim, "Degraded − clean", "blue: lower, red: higher"
        ),
    }


def _lpips_note(model: VGGFeatures) -> str | None:
    reason = lpips_unavailable_reason(model.arch)
    if reason is None and not model.status.trained:
        reason = "LPIPS's learned weights on an UNTRAINED backbone: computed, but not calibrated"
    return reason


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
) -> Figure:
    """Clean vs degraded: an uploaded image, or ``degradation`` of the clean one at ``strength``.

    Pictures: clean, degraded, the difference maps, the side-by-side channels of ``layer``.
    Extras: ``table`` (scores), ``layers`` (perceptual distance per layer), ``what``, ``notes``,
    ``scores`` (every score as JSON-ready values), ``device``, ``maps`` and ``side`` (captions).
    """
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
    chart = bar_chart(
        names,
        [sc.perceptual[n] for n in names],
        title="Perceptual distance per layer",
        ylabel=sc.perceptual_label.split(" (")[0][:40],
    )
    pictures = {
        "clean": to_pil(clean.array),
        "degraded": to_pil(degraded.array),
        **maps,
        **side,
        "perceptual distance per layer": chart,
    }
    record_settings = {
        "analysis_size": str(size),
        "size_hw": list(clean.size),
        **spec,
        "side_by_side_layer": layer,
        "score_settings": dataclasses.asdict(s),
    }
    scores = {**sc.as_dict(), "notes": notes}
    extras = {
        "table": score_table(sc, _lpips_note(model)),
        "layers": Table(["layer", "perceptual distance"], [[n, sc.perceptual[n]] for n in names]),
        "chart": "perceptual distance per layer",
        "what": what,
        "notes": notes,
        "scores": scores,
        "device": res.device,
        "maps": list(maps),
        "side": list(side),
    }
    return Figure("compare", pictures, {"settings": record_settings, "scores": scores}, extras)
