"""An independent recount of a round's agreement from its CSV alone, shared by the store's and the
API's concurrency tests (what the teacher downloads must add up to what the dashboard says)."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict

from perceptual_viz.quiz.agreement import METRICS


def recount(csv_text: str) -> dict[str, tuple[int, int, int, int]]:
    """Per metric, from the CSV alone: (votes agreeing, votes counted, majorities agreeing, counted)."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    by_trial: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by_trial[r["trial_id"]].append(r)
    out = {}
    for m in METRICS:
        col = f"pick_{m}"
        counted = [r for r in rows if r[col]]
        majority_agree = majority_counted = 0
        for trial_rows in by_trial.values():
            c = Counter(r["choice"] for r in trial_rows)
            if c["A"] != c["B"] and trial_rows[0][col]:
                majority_counted += 1
                majority_agree += ("A" if c["A"] > c["B"] else "B") == trial_rows[0][col]
        out[m] = (sum(r["choice"] == r[col] for r in counted), len(counted), majority_agree, majority_counted)
    return out
