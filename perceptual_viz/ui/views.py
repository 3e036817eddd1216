"""What each view of the app computes: images in, pictures / tables / numbers out.

These functions know nothing about Gradio, so they are tested directly and reused by the
endpoints. Every one takes an :class:`Analysis` (one image prepared at the analysis size) and
reads activations through the shared :class:`~perceptual_viz.features.FeatureCache`, so a view
change (layer, channel, colour map, normalisation, k) never runs VGG again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image

from ..backbone import VGGFeatures
from ..compare import ScoreSettings, lpips_unavailable_reason, score_names, score_pairs
from ..degrade import DEGRADATIONS, degrade
from ..features import FeatureCache, Resize, image_key, layer_activations, prepare, resize_images
from ..gram import FORMULAS, gram, style_distances, top_channels_by_energy
from ..images import ImageError, LoadedImage, to_pil
from ..layers import block_outputs
from ..metrics import feature_distance_maps, squared_error_map, ssim
from ..render import (
    channel_grid,
    colorbar,
    grid_cell_at,
    grid_geometry,
    heatmap,
    nearest_index,
    overlay,
    rank_channels,
    to_numpy,
    upsample,
)

SIZES = ("224", "256", "384", "512", "original")
GRID_TILE = 96


def grid_tile(k: int) -> int:
    """Tile side for a grid of ``k`` channels: 96 px up to 16, smaller beyond (64 tiles of 64 px
    make a 530 px picture instead of 786 px: half the pixels to draw and encode on each change)."""
    return GRID_TILE if k <= 16 else 80 if k <= 36 else 64


GRID_PAD = 2
OVERVIEW_CHANNELS = 4


@dataclass
class Analysis:
    """One image at the analysis size, on the model's device, with its cache key."""

    tensor: torch.Tensor  # (1, 3, H, W) in [0, 1]
    key: str
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.tensor.shape[-2]), int(self.tensor.shape[-1])

    @property
    def array(self) -> np.ndarray:
        """HxWx3 float32 in [0, 1] on the CPU (for overlays and display)."""
        return to_numpy(self.tensor[0].permute(1, 2, 0))


def resize_policy(size: str | int) -> Resize:
    """ "224" … "512" → shorter side N; "original" → as loaded (the loader caps it at 1024 px)."""
    s = str(size)
    if s == "original":
        return Resize("none", 0)
    if s not in SIZES:
        raise ValueError(f"analysis size must be one of {', '.join(SIZES)}")
    return Resize("shorter", int(s))


def analyse(model: VGGFeatures, image: LoadedImage, size: str | int) -> Analysis:
    """Prepare a loaded image for ``model`` at the analysis size."""
    policy = resize_policy(size)
    x = prepare(image.tensor(), policy, model.device)
    notes = list(image.notes)
    h, w = x.shape[-2:]
    if policy.mode != "none":
        notes.append(f"analysed at {w}×{h} px ({policy.describe()})")
    return Analysis(x, image_key(x), notes)


def _acts(model: VGGFeatures, cache: FeatureCache, a: Analysis, names: list[str]) -> dict[str, torch.Tensor]:
    return layer_activations(model, cache, a.tensor, a.key, names)


def _tiles(f: torch.Tensor, chans: list[int], tile: int = GRID_TILE) -> torch.Tensor:
    """Channels ``chans`` of a (C, h, w) map, already sampled to the grid's tile size.

    ``channel_grid`` samples with nearest neighbour and scales by the sampled values, so doing
    the sampling here first (on the device, before any copy) gives the identical picture while
    moving a few kilobytes instead of the whole layer.
    """
    _, h, w = f.shape
    th, tw, _, _ = grid_geometry(len(chans), h, w, tile=tile)
    ih = torch.from_numpy(nearest_index(th, h)).to(f.device)
    iw = torch.from_numpy(nearest_index(tw, w)).to(f.device)
    idx = torch.tensor(chans, dtype=torch.long, device=f.device)
    return f.index_select(1, ih).index_select(2, iw).index_select(0, idx)


def _layer_caption(model: VGGFeatures, name: str, shape: tuple[int, ...]) -> str:
    info = model.info(name)
    c, h, w = shape[-3:]
    return f"{name} · {c}×{h}×{w} · receptive field {info.receptive_field} px · stride {info.stride}"


# --------------------------------------------------------------------------- feature maps


def overview(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, cmap: str = "viridis"
) -> list[tuple[Image.Image, str]]:
    """Shallow → deep: the strongest channels of each block output, with shape and receptive field."""
    names = list(block_outputs(model.arch))
    acts = _acts(model, cache, a, names)
    out = []
    for block, n in enumerate(names, start=1):
        f = acts[n][0]
        chans = rank_channels(f.mean(dim=(1, 2)).view(-1, 1, 1), "mean", OVERVIEW_CHANNELS)
        pic = channel_grid(_tiles(f, chans), labels=chans, cmap=cmap, tile=GRID_TILE, columns=2)
        info = model.info(n)
        c, h, w = f.shape
        out.append((pic, f"{block}: {n} · {c}×{h}×{w} · RF {info.receptive_field} px"))
    return out


@dataclass
class GridView:
    picture: Image.Image
    colorbar: Image.Image
    caption: str
    channels: list[int]  # tile j shows channel channels[j]
    fmap_hw: tuple[int, int]


def layer_grid(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    layer: str,
    k: int = 16,
    sort: str = "mean",
    scope: str = "channel",
    cmap: str = "viridis",
) -> GridView:
    """The top-``k`` channels of ``layer`` as one picture, with a colour bar saying the scope."""
    if not 1 <= int(k) <= 64:
        raise ValueError("k must be between 1 and 64")
    f = _acts(model, cache, a, [layer])[layer][0]
    if sort == "index":
        chans = list(range(min(int(k), f.shape[0])))
    else:
        stat = f.mean(dim=(1, 2)) if sort == "mean" else f.amax(dim=(1, 2))
        chans = rank_channels(stat.view(-1, 1, 1), "mean", int(k))
    tile = grid_tile(len(chans))
    sel = _tiles(f, chans, tile)
    pic = channel_grid(sel, labels=chans, scope=scope, cmap=cmap, tile=tile, pad=GRID_PAD)
    if scope == "layer":
        lo, hi = float(sel.min()), float(sel.max())
        bar = colorbar(cmap, lo, hi, label="shared scale: one min..max for every tile shown")
    else:
        bar = colorbar(cmap, 0.0, 1.0, label="per channel: each tile from its own min (0) to max (1)")
    caption = _layer_caption(model, layer, tuple(f.shape)) + f" · top {len(chans)} by {sort}"
    return GridView(pic, bar, caption, chans, (int(f.shape[1]), int(f.shape[2])))


def channel_at_click(view_channels: list[int], fmap_hw: tuple[int, int], x: float, y: float) -> int | None:
    """The channel under pixel (x, y) of a :func:`layer_grid` picture, or ``None`` (padding)."""
    h, w = fmap_hw
    j = grid_cell_at(x, y, len(view_channels), h, w, tile=grid_tile(len(view_channels)), pad=GRID_PAD)
    return None if j is None else view_channels[j]


@dataclass
class ChannelView:
    picture: Image.Image
    colorbar: Image.Image
    stats: dict[str, object]


def channel_detail(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    layer: str,
    channel: int,
    cmap: str = "viridis",
    alpha: float = 0.6,
) -> ChannelView:
    """One channel enlarged to the image size over the input, with colour bar and statistics."""
    f = _acts(model, cache, a, [layer])[layer][0]
    c, h, w = f.shape
    if not 0 <= int(channel) < c:
        raise ValueError(f"{layer} has channels 0..{c - 1}; got {channel}")
    m = to_numpy(f[int(channel)])
    lo, hi = float(m.min()), float(m.max())
    pic = overlay(a.array, m, cmap=cmap, alpha=alpha, vmin=lo, vmax=hi)
    iy, ix = np.unravel_index(int(np.argmax(m)), m.shape)
    stride = model.info(layer).stride
    stats = {
        "layer": layer,
        "channel": int(channel),
        "map size": f"{w}×{h}",
        "min": lo,
        "max": hi,
        "mean": float(m.mean()),
        "fraction of zeros": float((m == 0).mean()),
        "max at (x, y) in the map": f"({ix}, {iy})",
        "max at ≈ (x, y) in the image": f"({int((ix + 0.5) * stride)}, {int((iy + 0.5) * stride)})",
    }
    return ChannelView(pic, colorbar(cmap, lo, hi, label=f"{layer} channel {channel}"), stats)


# --------------------------------------------------------------------------- Gram matrices


@dataclass
class GramView:
    pictures: list[tuple[Image.Image, str]]
    colorbar: Image.Image
    channels: list[int]
    formula: str
    distances: pd.DataFrame | None


def gram_view(
    model: VGGFeatures,
    cache: FeatureCache,
    a: Analysis,
    b: Analysis | None,
    layer: str,
    norm: str = "chw",
    top: int = 32,
    cmap: str = "viridis",
) -> GramView:
    """G_A (and G_B, |G_A − G_B| on one shared scale) over A's top-``top`` channels by energy."""
    fa = _acts(model, cache, a, [layer])[layer]
    g_norm = "none" if norm == "gatys" else norm
    ga = gram(fa, g_norm)[0]
    top = max(2, min(int(top), ga.shape[0]))
    idx = top_channels_by_energy(ga, top)
    sub = lambda g: g[idx][:, idx]  # noqa: E731
    scale = max(1, 384 // top)
    mats = [("G_A", sub(ga))]
    distances = None
    if b is not None:
        if b.size != a.size:
            raise ValueError("both images must be analysed at the same size")
        fb = _acts(model, cache, b, [layer])[layer]
        gb = gram(fb, g_norm)[0]
        mats += [("G_B", sub(gb)), ("|G_A − G_B|", (sub(ga) - sub(gb)).abs())]
        names = list(block_outputs(model.arch))
        fa_all = _acts(model, cache, a, names)
        fb_all = _acts(model, cache, b, names)
        d = style_distances(fa_all, fb_all, names, norm)
        distances = pd.DataFrame({"layer": names, "style distance": [float(d[n][0]) for n in names]})
    hi = max(float(m.max()) for _, m in mats)
    lo = min(0.0, min(float(m.min()) for _, m in mats))
    pics = [(heatmap(m, cmap=cmap, vmin=lo, vmax=hi, scale=scale), t) for t, m in mats]
    bar = colorbar(cmap, lo, hi, label=f"one shared scale, Gram normalisation '{norm}'")
    return GramView(pics, bar, [int(i) for i in idx], FORMULAS[norm], distances)


def gram_pair(
    model: VGGFeatures, cache: FeatureCache, a: Analysis, layer: str, i: int, j: int, cmap: str = "viridis"
) -> tuple[list[tuple[Image.Image, str]], str]:
    """Channels i and j of ``layer`` and their product: the Gram entry G_ij is the sum of the product."""
    f = _acts(model, cache, a, [layer])[layer][0]
    c = f.shape[0]
    if not (0 <= i < c and 0 <= j < c):
        raise ValueError(f"{layer} has channels 0..{c - 1}")
    fi, fj = f[i], f[j]
    prod = fi * fj
    size = a.size
    pics = []
    for m, title in ((fi, f"F_{i}"), (fj, f"F_{j}"), (prod, f"F_{i} ⊙ F_{j}")):
        up = upsample(to_numpy(m), size, nearest=True)
        pics.append((heatmap(up, cmap=cmap), title))
    g = float(prod.sum())
    chw = g / (c * f.shape[1] * f.shape[2])
    text = f"G[{i}, {j}] = Σ F_{i} · F_{j} = {g:.4g}   (÷ C·H·W = {chw:.4g})"
    return pics, text


# --------------------------------------------------------------------------- compare


def match_size(clean: Analysis, other: Analysis) -> tuple[Analysis, str | None]:
    """``other`` resized to ``clean``'s analysis size, with a visible notice when it was needed."""
    if other.size == clean.size:
        return other, None
    (h, w), (oh, ow) = clean.size, other.size
    t = resize_images(other.tensor, (h, w))
    note = f"the degraded image ({ow}×{oh}) was resized to the clean image's {w}×{h} to compare them"
    return Analysis(t, image_key(t), [*other.notes, note]), note


@dataclass
class CompareResult:
    degraded: Image.Image
    table: pd.DataFrame
    layers: pd.DataFrame
    maps: list[tuple[Image.Image, str]]
    side_by_side: list[tuple[Image.Image, str]]
    info: str
    scores: dict[str, object]


def _score_table(sc, lpips_note: str | None) -> pd.DataFrame:
    rows = [
        ("MSE", sc.mse, "mean (a − b)², lower is closer"),
        ("PSNR (dB)", sc.psnr, "10·log10(1/MSE), higher is closer"),
        ("SSIM", sc.ssim, "Gaussian 11×11, σ 1.5; 1 = identical"),
        ("perceptual", sc.perceptual_total, sc.perceptual_label),
        ("style", sc.style_total, sc.style_label),
        ("LPIPS-VGG", sc.lpips, lpips_note or "learned weights over unit-normalised VGG16 features"),
    ]
    return pd.DataFrame(
        {
            "metric": [r[0] for r in rows],
            "value": [
                "∞" if isinstance(v, float) and math.isinf(v) else ("—" if v is None else f"{v:.6g}")
                for _, v, _ in rows
            ],
            "what it is": [r[2] for r in rows],
        }
    )


def compare(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: Analysis,
    degraded: Analysis | None = None,
    degradation: str | None = None,
    strength: float | None = None,
    seed: int = 0,
    *,
    layer: str = "relu2_2",
    k: int = 8,
    cmap: str = "viridis",
    settings: ScoreSettings | None = None,
) -> CompareResult:
    """Clean vs degraded (an uploaded image, or a degradation of the clean one)."""
    t0 = time.perf_counter()
    notes = []
    if degraded is None:
        if degradation is None:
            raise ValueError("choose a degradation or upload a degraded image")
        d = DEGRADATIONS[degradation]
        s = d.default if strength is None else float(strength)
        t = degrade(clean.tensor, degradation, s, seed=int(seed))
        degraded = Analysis(t, image_key(t))
        what = f"{d.label}, {d.param} = {s:g} (seed {seed})"
    else:
        degraded, note = match_size(clean, degraded)
        if note:
            notes.append(note)
        what = "uploaded image"
    s = settings or ScoreSettings()
    # One batched pass for everything this view shows (scores and the side-by-side layer);
    # the clean image's activations usually come from the cache, so only the degraded one runs.
    both = torch.cat([clean.tensor, degraded.tensor])
    cache.features(model, both, [clean.key, degraded.key], [*score_names(s, model.arch), layer])
    res = score_pairs(model, clean.tensor, degraded.tensor, settings=s, cache=cache, clean_key=clean.key)
    sc = res.scores[0]
    reason = lpips_unavailable_reason(model.arch)
    if reason is None and not model.status.trained:
        reason = "LPIPS's learned weights on an UNTRAINED backbone: computed, but not calibrated"
    table = _score_table(sc, reason)
    names = list(sc.perceptual)
    layers = pd.DataFrame({"layer": names, "perceptual distance": [sc.perceptual[n] for n in names]})
    h, w = clean.size
    with torch.inference_mode():
        err = squared_error_map(clean.tensor, degraded.tensor)[0]
        _, smap = ssim(clean.tensor, degraded.tensor, return_map=True)
        fmaps = feature_distance_maps(res.clean_features, res.degraded_features, names, (h, w), s.criterion)
    maps = [(heatmap(to_numpy(err), cmap="magma"), "squared error (a − b)²")]
    smap_full = np.full((h, w), np.nan, np.float32)
    smap_full[5 : h - 5, 5 : w - 5] = to_numpy(smap[0])
    maps.append((heatmap(np.nan_to_num(1 - smap_full, nan=0.0), cmap="magma", vmin=0.0), "1 − SSIM map"))
    for n in names:
        maps.append((heatmap(to_numpy(fmaps[n][0]), cmap="magma"), f"feature distance at {n}"))
    side = side_by_side(model, cache, clean, degraded, layer, k, cmap)
    seconds = time.perf_counter() - t0
    info = f"{what} · scored at {w}×{h} px on {res.device} in {seconds * 1000:.0f} ms" + (
        "".join(f"\n\n⚠️ {n}" for n in notes)
    )
    scores = {
        **sc.as_dict(),
        "device": res.device,
        "size": [h, w],
        "seconds": round(seconds, 4),
        "notes": notes,
    }
    return CompareResult(to_pil(degraded.array), table, layers, maps, side, info, scores)


def side_by_side(
    model: VGGFeatures,
    cache: FeatureCache,
    clean: Analysis,
    degraded: Analysis,
    layer: str,
    k: int = 8,
    cmap: str = "viridis",
) -> list[tuple[Image.Image, str]]:
    """The same top-k channels (ranked on the clean image) of both, on one shared scale, and Δ."""
    both = torch.cat([clean.tensor, degraded.tensor])
    f = cache.features(model, both, [clean.key, degraded.key], [layer])[layer]
    fc, fd = f[0], f[1]
    chans = rank_channels(fc.mean(dim=(1, 2)).view(-1, 1, 1), "mean", int(k))
    a, b = _tiles(fc, chans), _tiles(fd, chans)
    lo, hi = float(torch.minimum(a.min(), b.min())), float(torch.maximum(a.max(), b.max()))
    diff = b - a
    lim = float(diff.abs().max()) or 1.0

    def grid(t: torch.Tensor, cm: str, vmin: float, vmax: float) -> Image.Image:
        return channel_grid(
            t,
            labels=chans,
            scope="layer",
            cmap=cm,
            vmin=vmin,
            vmax=vmax,
            tile=GRID_TILE,
            columns=min(4, len(chans)),
        )

    return [
        (grid(a, cmap, lo, hi), f"clean · {layer} · shared scale {lo:.3g}…{hi:.3g}"),
        (grid(b, cmap, lo, hi), f"degraded · {layer} · same scale"),
        (grid(diff, "coolwarm", -lim, lim), f"degraded − clean · ±{lim:.3g} (blue lower, red higher)"),
    ]


# --------------------------------------------------------------------------- sweep


SWEEP_METRICS = ("MSE", "1 − SSIM", "perceptual", "style", "LPIPS")
# Pixels per VGG batch in a sweep: 72 images at 224² (all of 9 degradations × 8 levels) go
# through in one pass; at 512² the batch is split so activations stay near 2 GB (and a time
# limit can stop a sweep between batches).
SWEEP_PIXELS = 72 * 224 * 224


@dataclass
class SweepResult:
    table: pd.DataFrame  # one row per (degradation, level), raw values
    plot: pd.DataFrame  # long format for plots: degradation, level, metric, normalised value
    thumbnails: list[tuple[Image.Image, str]]
    info: str


def sweep(
    model: VGGFeatures,
    clean: Analysis,
    names: list[str],
    k: int = 5,
    seed: int = 0,
    progress=None,
    deadline: float | None = None,
    chunk_images: int | None = None,
) -> SweepResult:
    """Every chosen degradation at ``k`` severity levels, scored in one batched VGG pass.

    ``chunk_images`` caps the images per pass (a long job on a CPU scores in short passes, with
    a ``progress`` call between them); by default one pass, split only when very large.
    """
    if not names:
        raise ValueError("pick at least one degradation")
    if not 2 <= int(k) <= 8:
        raise ValueError("levels must be between 2 and 8")
    t0 = time.perf_counter()
    batch, meta = [], []
    for i, n in enumerate(names):
        if progress is not None:
            progress((i + 1) / (len(names) + 1), desc=f"degrading: {n}")
        d = DEGRADATIONS[n]
        for lvl, s in enumerate(d.levels(int(k)), start=1):
            batch.append(degrade(clean.tensor, n, s, seed=int(seed)))
            meta.append((n, lvl, s))
    if progress is not None:
        progress(len(names) / (len(names) + 1), desc=f"scoring {len(batch)} images in one VGG pass")
    # One batched pass, split only when the activations would not fit in SWEEP_PIXELS.
    per = max(1, SWEEP_PIXELS // (clean.size[0] * clean.size[1]))
    if chunk_images is not None:
        per = max(1, min(per, int(chunk_images)))
    scores = []
    for i in range(0, len(batch), per):
        if progress is not None and i:
            progress(
                (len(names) + i / len(batch)) / (len(names) + 1),
                desc=f"scoring: {i} of {len(batch)} images",
            )
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(
                f"the sweep hit the time limit after {i} of {len(batch)} images; "
                "try fewer degradations, fewer levels or a smaller analysis size"
            )
        part = torch.cat(batch[i : i + per])
        # No cache: one-off images are not worth storing, and a plain forward of clean + K (ReLU
        # outputs only) costs no more than the K alone plus the copies the cache's layout needs.
        res = score_pairs(model, clean.tensor, part)
        scores += res.scores
    rows = []
    for (n, lvl, s), sc in zip(meta, scores, strict=True):
        rows.append(
            {
                "degradation": n,
                "level": lvl,
                "strength": s,
                "MSE": sc.mse,
                "PSNR": sc.psnr if not math.isinf(sc.psnr) else float("nan"),
                "SSIM": sc.ssim,
                "1 − SSIM": 1 - sc.ssim,
                "perceptual": sc.perceptual_total,
                "style": sc.style_total,
                "LPIPS": sc.lpips if sc.lpips is not None else float("nan"),
            }
        )
    table = pd.DataFrame(rows)
    long = []
    for m in SWEEP_METRICS:
        top = table[m].max()
        for r in rows:
            v = r[m]
            long.append(
                {
                    "degradation": r["degradation"],
                    "level": r["level"],
                    "metric": m,
                    "relative value": float(v / top) if top and not math.isnan(v) else float("nan"),
                }
            )
    thumbs = []
    for (n, lvl, s), t in zip(meta, batch, strict=True):
        small = F.interpolate(t, scale_factor=min(1.0, 128 / max(t.shape[-2:])), mode="area")
        thumbs.append((to_pil(small), f"{n} L{lvl} ({s:g})"))
    info = (
        f"{len(batch)} degraded images + the clean one scored in "
        f"{'one batched pass' if per >= len(batch) else f'{math.ceil(len(batch) / per)} passes of ≤ {per}'} "
        f"on {res.device} "
        f"in {time.perf_counter() - t0:.2f} s. Plots: each metric divided by its largest value in this "
        "sweep, so all share a 0–1 scale (MSE, 1 − SSIM, perceptual, style and LPIPS all grow with damage)."
    )
    return SweepResult(table.round(6), pd.DataFrame(long), thumbs, info)


def require(image: LoadedImage | None, what: str = "an image") -> LoadedImage:
    if image is None:
        raise ImageError(f"upload {what} first (or pick a sample)")
    return image
