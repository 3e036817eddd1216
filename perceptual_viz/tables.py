"""A small table of plain values, for front ends to render (a DataFrame, text, JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .messages import Text, english


@dataclass
class Table:
    """Named columns and rows of plain values (numbers, strings, booleans, None). Headers and
    text cells may be messages: a front end words them for its reader."""

    columns: list[Text]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by the English headers, every text in English (for JSON)."""
        names = [str(c) for c in self.columns]
        return [dict(zip(names, english(r), strict=True)) for r in self.rows]

    def column(self, which: str | int) -> list[Any]:
        """The values of one column, by its English header or its position."""
        j = which if isinstance(which, int) else [str(c) for c in self.columns].index(which)
        return [r[j] for r in self.rows]
