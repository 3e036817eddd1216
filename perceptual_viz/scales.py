"""Colour scales for maps whose values span orders of magnitude (Gram matrices, distance maps).

On a linear scale a handful of bright cells flatten everything else to the scale's first colour:
a Gram matrix whose largest cell is 200× its median shows one bright pixel and a dark square. A
*log* scale colours a value v by ``log(1 + v / s)`` (signed for negative values), with ``s``
half the median size of the non-zero values, so the bulk of the cells spreads over the colours
while the largest stay the brightest. The colour bar under the map still prints values, not logs.

>>> import numpy as np
>>> sc = Scale.fit([np.array([0.0, 1.0, 2.0, 1000.0])], "log")
>>> round(sc.s, 3), sc.kind
(1.0, 'log')
>>> float(sc.forward(np.array([0.0]))[0]), round(sc.inverse(sc.t_hi))
(0.0, 1000)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .chrome import num
from .messages import Text, msg

ScaleKind = Literal["linear", "log"]
HEAVY = 20.0  # max / median above which a map is drawn on a log scale (see Scale.auto)


@dataclass(frozen=True)
class Scale:
    """Values ``lo`` … ``hi`` mapped to colours, linearly or by ``sign(v)·log(1 + |v| / s)``."""

    kind: ScaleKind
    lo: float
    hi: float
    s: float = 1.0

    @classmethod
    def fit(cls, maps: Sequence[np.ndarray], kind: ScaleKind, lo: float | None = None) -> Scale:
        """A scale for ``maps`` together (one scale shared by all): from ``lo`` (default: their
        minimum, or 0 if that is larger) to their maximum."""
        values = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in maps])
        finite = values[np.isfinite(values)]
        low = float(min(0.0, finite.min())) if lo is None and finite.size else float(lo or 0.0)
        high = float(finite.max()) if finite.size else 1.0
        sizes = np.abs(finite[finite != 0])
        s = float(np.median(sizes)) / 2 if sizes.size else 1.0
        return cls(kind, low, max(high, low), s if s > 0 else 1.0)

    @classmethod
    def auto(cls, values: np.ndarray, lo: float | None = None) -> Scale:
        """Log when a few values dwarf the rest (the largest over :data:`HEAVY` times the median
        size), else linear: what a map whose range outliers could take over is drawn on."""
        finite = np.abs(np.asarray(values, dtype=np.float64))
        finite = finite[np.isfinite(finite) & (finite > 0)]
        heavy = finite.size > 0 and float(finite.max()) > HEAVY * float(np.median(finite))
        return cls.fit([values], "log" if heavy else "linear", lo)

    def forward(self, v: np.ndarray) -> np.ndarray:
        """Values → the numbers the colours are spread over."""
        v = np.asarray(v, dtype=np.float64)
        return v if self.kind == "linear" else np.sign(v) * np.log1p(np.abs(v) / self.s)

    def inverse(self, t: float) -> float:
        """The value a colour number stands for (for the colour bar's ticks)."""
        return t if self.kind == "linear" else float(np.sign(t) * self.s * np.expm1(abs(t)))

    @property
    def t_lo(self) -> float:
        return float(self.forward(np.array([self.lo]))[0])

    @property
    def t_hi(self) -> float:
        return float(self.forward(np.array([self.hi]))[0])

    def ticks(self) -> tuple[float, float, float]:
        """The values under the colour bar's left end, middle and right end."""
        return self.lo, self.inverse((self.t_lo + self.t_hi) / 2), self.hi

    def said(self) -> Text:
        """What the colour bar's caption says of the scale."""
        if self.kind == "linear":
            return msg("linear scale")
        return msg("log scale: colour = log(1 + value / {s})", s=_short(self.s))


def _short(v: float) -> str:
    return num(v, 2)
