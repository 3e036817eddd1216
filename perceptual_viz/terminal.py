"""What the command line prints and how it fails: numbers for a table, JSON, its own errors.

Shared by :mod:`perceptual_viz.cli` (the parser, ``main``) and :mod:`perceptual_viz.commands`
(what each command does), so neither imports the other's module for them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import InputError


class CLIError(InputError):
    """A user-facing failure of the command line itself (bad combination of arguments, unwritable file)."""


def fmt(v: float | None, digits: int = 4) -> str:
    """A number for a table: ∞, —, or ``digits`` significant digits."""
    if v is None:
        return "—"
    if math.isinf(v):
        return "∞"
    return f"{v:.{digits}g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.{digits}f}"


def dump(obj: Any) -> None:
    """``obj`` as indented JSON on stdout (tensors, paths and non-finite numbers made JSON-safe)."""
    from .export import jsonable

    print(json.dumps(jsonable(obj), indent=2, allow_nan=False, ensure_ascii=False))
