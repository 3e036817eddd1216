"""The sections of ``benchmarks/run.py``, one module each. A section exposes ``run(ctx) -> Outcome``
and keeps its sizes in a dict keyed by the run's mode ("full", "quick", "smoke"), read with
:meth:`Context.pick`. A skipped section still returns its TARGETS rows, saying why it was skipped.

What a section times is its own; what it hands back (:class:`Outcome`) is all ``run.py`` prints
after the section ran and writes to the JSON file, so sections never print each other's results.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from benchmarks.harness import Mode, Plan, Row, Target, Value

if TYPE_CHECKING:
    import torch

T = TypeVar("T")


@dataclass
class Context:
    """What every section is given: the run's size and device, its flags, the peer libraries that
    imported, and ``shared``: what one section builds for the next (the models)."""

    mode: Mode
    device: torch.device
    args: argparse.Namespace
    peers: dict[str, ModuleType | None]
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def plan(self) -> Plan:
        """How each measurement is repeated in this run."""
        return self.mode.plan

    def pick(self, sizes: Mapping[str, T]) -> T:
        """A section's size for this run's mode."""
        return sizes[self.mode.name]


@dataclass
class Outcome:
    """What one section adds to the report: timing rows, value checks, TARGETS rows, lines printed
    under the timing table (``lines``), and entries of the JSON file (``data``, by key)."""

    rows: list[Row] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
