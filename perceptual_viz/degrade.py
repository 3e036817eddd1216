"""Synthetic image degradations with strengths in natural units.

Every degradation maps a float image batch ``(N, C, H, W)`` or ``(C, H, W)`` with values in
[0, 1] (C = 1 or 3, any device, any float dtype) to a new tensor of the same shape, dtype and
device, clamped to [0, 1]. The input is never modified.

Randomness (``noise``, ``saltpepper``) comes from a CPU ``torch.Generator`` seeded with ``seed``
and is then moved to the image's device, so results are identical on every device. The same
random field is used for every image of a batch, so a batch gives exactly what separate calls
give (results never depend on batch composition).

Strength conventions:

* ``noise``: additive Gaussian noise, σ in intensity units of the [0, 1] scale.
* ``blur``: Gaussian blur, σ in pixels; kernel radius ceil(3σ) (at most side − 1), reflect
  padding, separable ``conv2d``.
* ``jpeg``: real JPEG encode/decode with Pillow at ``quality`` (Pillow's default 4:2:0 chroma
  subsampling), via uint8. Even quality 95 changes pixels, so ``identity`` is NaN.
* ``downup``: antialiased bilinear downscale by ``factor`` then bicubic upscale to the original
  size.
* ``shift``: translation right/down by ``pixels`` (rounded; negative = left/up), uncovered
  border filled by repeating the edge. Its MSE grows with the shift on typical photos but
  saturates (and may dip slightly) once the shift exceeds the image's correlation length, so
  ``levels()`` stay within 1–12 px.
* ``brightness``: add ``delta`` then clamp. Negative deltas darken; ``levels()`` brighten
  (``increasing`` refers to positive deltas).
* ``contrast``: scale around each image's per-channel mean by ``factor``. ``increasing`` is
  False: ``levels()`` go from 1 toward 0 (ever lower contrast).
* ``saltpepper``: a fraction ``p`` of pixel positions (same in all channels) set to 0 or 1
  with equal probability; hit sets are nested as ``p`` grows.
* ``quantize``: ``bits`` per channel: round(x·(2^b − 1)) / (2^b − 1). 8 bits is an exact
  identity only for images that came from 8-bit files, so ``identity`` is NaN.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .errors import InputError
from .messages import Text, msg

Degrader = Callable[[torch.Tensor, float, int], torch.Tensor]
# A cheap model of the strength offset that gives a target MSE, from the clean image alone:
# (clean, target MSE) → offset from the search's mild end (equal-MSE's first guess).
Guess = Callable[[torch.Tensor, float], float]


@dataclass(frozen=True)
class Degradation:
    """One degradation, declared once: everything else (the app's menus and sliders, the sweep,
    the equal-MSE search, the command line) reads it from :data:`DEGRADATIONS`.

    ``apply(x, strength, seed)`` gets a float32 batch (N, C, H, W) in [0, 1] and returns the
    degraded batch (clamped by :func:`degrade`).
    """

    name: str  # the key everything else uses (menus' values, the command line, records)
    label: Text  # what a reader calls it: "Gaussian noise"
    param: Text  # what its strength is: "σ (pixels)"
    minimum: float
    maximum: float
    default: float
    identity: float  # strength that changes nothing; NaN if there is none
    increasing: bool  # True if a larger value is a stronger degradation
    apply: Degrader
    mild: float = 0.0  # first value of levels()
    severe: float = 0.0  # last value of levels()
    integer: bool = False  # strengths are rounded to integers
    symbol: Text = ""  # printed before a strength: "σ", "quality", "delta" …
    unit: Text = ""  # printed after a strength: "px", "bits" …
    # Equal MSE: (mildest, strongest) strengths searched, in the direction that raises the MSE;
    # None keeps the degradation out of that lesson.
    search: tuple[float, float] | None = None
    mse_exponent: float = 2.0  # MSE ∝ offset^k near the mild end, for the search's steps
    first_guess: Guess | None = None  # None: one unit of strength
    seeded: bool = False  # True if ``seed`` changes the result (random noise); False: ignored
    short: Text = ""  # its name in a chart's legend or a table's cell; "" → ``name``

    def levels(self, k: int) -> list[float]:
        """``k`` strengths from mild to severe, evenly spread, each strictly stronger."""
        if k < 1:
            raise InputError(msg("levels() needs k >= 1, got {k}", k=k))
        if k > self.max_levels:
            raise InputError(
                msg("{name} has only {n} distinct levels; got k={k}", name=self.name, n=self.max_levels, k=k)
            )
        values = np.linspace(self.mild, self.severe, k)
        if self.integer:
            values = np.round(values)
        return [round(float(v), 6) for v in values]

    @property
    def max_levels(self) -> int:
        """How many distinct strengths :meth:`levels` can give (unbounded: a large number)."""
        return int(abs(self.severe - self.mild)) + 1 if self.integer else 10**6

    @property
    def short_name(self) -> Text:
        """Its name where space is short (a legend, a table cell): ``short``, else ``name``."""
        return self.short or self.name

    def range_text(self) -> Text:
        """One-line description of the valid range, e.g. ``σ in [0, 1]``."""
        return msg(
            "{param} in [{minimum:g}, {maximum:g}]",
            param=self.param,
            minimum=self.minimum,
            maximum=self.maximum,
        )

    def setting(self, strength: float) -> Text:
        """A strength with its symbol and unit, e.g. ``"σ 2.1 px"``, ``"quality 12"``."""
        value = round(strength) if self.integer else float(strength)  # .4g writes these integers whole
        if self.symbol and self.unit:
            return msg("{symbol} {value:.4g} {unit}", symbol=self.symbol, value=value, unit=self.unit)
        if self.unit:
            return msg("{value:.4g} {unit}", value=value, unit=self.unit)
        if self.symbol:
            return msg("{symbol} {value:.4g}", symbol=self.symbol, value=value)
        return f"{value:.4g}"  # a bare number: the same in every language


DEGRADATIONS: dict[str, Degradation] = {}


def register(d: Degradation) -> Degradation:
    """Add ``d`` to :data:`DEGRADATIONS` (its name must be new); returns it."""
    if d.name in DEGRADATIONS:
        raise InputError(msg("a degradation named {name!r} is already registered", name=d.name))
    if not d.minimum <= d.default <= d.maximum:
        raise InputError(
            msg(
                "{name}: default {default} is outside [{minimum}, {maximum}]",
                name=d.name,
                default=d.default,
                minimum=d.minimum,
                maximum=d.maximum,
            )
        )
    DEGRADATIONS[d.name] = d
    return d


def lookup(name: str) -> Degradation:
    """The degradation called ``name``, or an :class:`InputError` listing the valid names."""
    if name not in DEGRADATIONS:
        raise InputError(
            msg(
                "unknown degradation {name!r}; valid names: {names}", name=name, names=", ".join(DEGRADATIONS)
            )
        )
    return DEGRADATIONS[name]


def _generator(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(int(seed))


def _noise(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    z = torch.randn((1, *x.shape[1:]), generator=_generator(seed)).to(x.device)
    return x + sigma * z


def _blur(x: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    if sigma == 0:
        return x.clone()
    n, c, h, w = x.shape
    out = x.reshape(n * c, 1, h, w)
    for dim, size in ((2, h), (3, w)):
        radius = min(math.ceil(3 * sigma), size - 1)
        if radius < 1:
            continue
        t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        k = k / k.sum()
        if dim == 2:
            out = F.conv2d(F.pad(out, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
        else:
            out = F.conv2d(F.pad(out, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    return out.reshape(n, c, h, w)


def _jpeg(x: torch.Tensor, quality: float, seed: int) -> torch.Tensor:
    as_bytes = (x.detach().cpu() * 255).round().clamp(0, 255).to(torch.uint8)
    arrays = as_bytes.permute(0, 2, 3, 1).numpy()
    out = []
    for a in arrays:
        buf = io.BytesIO()
        Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(buf, format="JPEG", quality=int(quality))
        buf.seek(0)
        decoded = np.asarray(Image.open(buf), dtype=np.uint8).reshape(a.shape)
        out.append(torch.from_numpy(decoded.copy()))
    y = torch.stack(out).permute(0, 3, 1, 2).to(torch.float32) / 255
    return y.to(x.device)


def _downup(x: torch.Tensor, factor: float, seed: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    small = (max(1, round(h / factor)), max(1, round(w / factor)))
    if small == (h, w):
        return x.clone()
    y = F.interpolate(x, size=small, mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(y, size=(h, w), mode="bicubic", align_corners=False)


def _shift(x: torch.Tensor, pixels: float, seed: int) -> torch.Tensor:
    n = int(pixels)
    h, w = x.shape[-2:]
    rows = (torch.arange(h, device=x.device) - n).clamp(0, h - 1)
    cols = (torch.arange(w, device=x.device) - n).clamp(0, w - 1)
    return x[..., rows, :][..., cols]


def _brightness(x: torch.Tensor, delta: float, seed: int) -> torch.Tensor:
    return x + delta


def _contrast(x: torch.Tensor, factor: float, seed: int) -> torch.Tensor:
    mean = x.mean(dim=(-2, -1), keepdim=True)
    return mean + factor * (x - mean)


def _saltpepper(x: torch.Tensor, p: float, seed: int) -> torch.Tensor:
    g = _generator(seed)
    shape = (1, 1, *x.shape[-2:])
    u = torch.rand(shape, generator=g).to(x.device)
    salt = (torch.rand(shape, generator=g) < 0.5).to(x.device, x.dtype)
    return torch.where(u < p, salt.expand_as(x), x)


def _quantize(x: torch.Tensor, bits: float, seed: int) -> torch.Tensor:
    levels = 2 ** int(bits) - 1
    return torch.round(x * levels) / levels


def _check_strength(d: Degradation, strength: float) -> float:
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise InputError(
            msg("{name}: strength must be a number ({range})", name=d.name, range=d.range_text())
        ) from None
    if not d.minimum <= s <= d.maximum:  # also rejects NaN
        raise InputError(
            msg(
                "{name}: strength {strength} is out of range; {range}",
                name=d.name,
                strength=str(strength),
                range=d.range_text(),
            )
        )
    return float(round(s)) if d.integer else s


def degrade(images: torch.Tensor, name: str, strength: float, seed: int = 0) -> torch.Tensor:
    """Apply degradation ``name`` at ``strength`` (natural units) to ``images``."""
    d = lookup(name)
    s = _check_strength(d, strength)
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise InputError(msg("images must be a floating-point torch.Tensor with values in [0, 1]"))
    if images.dim() not in (3, 4) or images.shape[-3] not in (1, 3):
        raise InputError(
            msg(
                "images must be (N,C,H,W) or (C,H,W) with C in {{1,3}}, got {shape}",
                shape=str(tuple(images.shape)),
            )
        )
    x = images.detach().unsqueeze(0) if images.dim() == 3 else images.detach()
    y = d.apply(x.to(torch.float32), s, seed).clamp(0, 1).to(images.dtype)
    return y[0] if images.dim() == 3 else y


def parse_spec(spec: str) -> tuple[str, float]:
    """Parse ``"name=strength"`` (e.g. ``"noise=0.1"``) into ``("noise", 0.1)``."""
    name, sep, value = str(spec).partition("=")
    name, value = name.strip().lower(), value.strip()
    if not sep or not name or not value:
        raise InputError(
            msg(
                "degradation spec {spec!r} must look like name=strength, e.g. noise=0.1; "
                "valid names: {names}",
                spec=str(spec),
                names=", ".join(DEGRADATIONS),
            )
        )
    d = lookup(name)
    try:
        s = float(value)
    except ValueError:
        raise InputError(
            msg(
                "{name}: strength {value!r} is not a number ({range})",
                name=name,
                value=value,
                range=d.range_text(),
            )
        ) from None
    _check_strength(d, s)
    return name, s


# --------------------------------------------------------------------------- the registry


def _mean_square_guess(clean: torch.Tensor, target: float) -> float:
    return math.sqrt(target)  # MSE = δ² (brightness) or σ² (noise) before clamping


def _contrast_guess(clean: torch.Tensor, target: float) -> float:
    var = float(clean.float().var(dim=(-2, -1), unbiased=False).mean())
    return math.sqrt(target / var) if var > 0 else math.inf  # MSE = (factor − 1)²·variance


def _saltpepper_guess(clean: torch.Tensor, target: float) -> float:
    x = clean.float()
    e = float((0.5 * x**2 + 0.5 * (1 - x) ** 2).mean())  # MSE = p·E[½x² + ½(1 − x)²]
    return target / e if e > 0 else math.inf


register(
    Degradation(
        "noise",
        msg("Gaussian noise"),
        msg("σ (in [0,1] intensity units)"),
        0.0,
        1.0,
        0.1,
        0.0,
        True,
        _noise,
        short=msg("noise"),
        seeded=True,
        mild=0.02,
        severe=0.3,
        symbol="σ",
        search=(0.0, 1.0),
        first_guess=_mean_square_guess,
    )
)
register(
    Degradation(
        "blur",
        msg("Gaussian blur"),
        msg("σ (pixels)"),
        0.0,
        20.0,
        2.0,
        0.0,
        True,
        _blur,
        short=msg("blur"),
        mild=0.5,
        severe=6.0,
        symbol="σ",
        unit="px",
        search=(0.0, 20.0),
    )
)
register(
    Degradation(
        "jpeg",
        msg("JPEG compression"),
        msg("quality"),
        1.0,
        95.0,
        20.0,
        math.nan,
        False,
        _jpeg,
        short=msg("jpeg"),
        mild=90.0,
        severe=5.0,
        integer=True,
        symbol=msg("quality"),
        search=(95.0, 1.0),
    )
)
register(
    Degradation(
        "downup",
        msg("Down- then up-sampling"),
        msg("factor"),
        1.0,
        16.0,
        4.0,
        1.0,
        True,
        _downup,
        short=msg("downup"),
        mild=1.5,
        severe=8.0,
        symbol=msg("factor"),
    )
)
register(
    Degradation(
        "shift",
        msg("Translation"),
        msg("pixels"),
        -64.0,
        64.0,
        8.0,
        0.0,
        True,
        _shift,
        short=msg("shift"),
        mild=1.0,
        severe=12.0,
        integer=True,
        unit="px",
        search=(0.0, 64.0),
    )
)
register(
    Degradation(
        "brightness",
        msg("Brightness change"),
        msg("delta"),
        -1.0,
        1.0,
        0.2,
        0.0,
        True,
        _brightness,
        short=msg("brightness"),
        mild=0.05,
        severe=0.5,
        symbol=msg("delta"),
        search=(0.0, 1.0),
        first_guess=_mean_square_guess,
    )
)
register(
    Degradation(
        "contrast",
        msg("Contrast change"),
        msg("factor"),
        0.0,
        3.0,
        0.5,
        1.0,
        False,
        _contrast,
        short=msg("contrast"),
        mild=0.85,
        severe=0.1,
        symbol=msg("factor"),
        search=(1.0, 3.0),
        first_guess=_contrast_guess,
    )
)
register(
    Degradation(
        "saltpepper",
        msg("Salt-and-pepper noise"),
        msg("fraction p of pixels"),
        0.0,
        1.0,
        0.05,
        0.0,
        True,
        _saltpepper,
        short=msg("saltpepper"),
        seeded=True,
        mild=0.01,
        severe=0.3,
        symbol="p",
        search=(0.0, 1.0),
        mse_exponent=1.0,
        first_guess=_saltpepper_guess,
    )
)
register(
    Degradation(
        "quantize",
        msg("Colour quantization"),
        msg("bits"),
        1.0,
        8.0,
        3.0,
        math.nan,
        False,
        _quantize,
        short=msg("quantize"),
        mild=7.0,
        severe=1.0,
        integer=True,
        unit=msg("bits"),
    )
)
