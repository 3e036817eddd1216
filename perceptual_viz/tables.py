"""A small table of plain values, for front ends to render (a DataFrame, text, JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Table:
    """Named columns and rows of plain values (numbers, strings, booleans, None)."""

    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def column(self, name: str) -> list[Any]:
        j = self.columns.index(name)
        return [r[j] for r in self.rows]
