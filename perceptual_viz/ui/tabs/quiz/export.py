"""The round's downloads from the teacher's dashboard: every vote (CSV) and the summary (JSON).

Written to Gradio's cache content-addressed (:func:`~perceptual_viz.ui.serve.cached_file`), so a
dashboard refresh whose votes did not change hands back the same files without writing them.
"""

from __future__ import annotations

import json
from typing import Any

from ....quiz.agreement import Results, VoteRow, summary_json, votes_csv
from ....quiz.store import RoundInfo
from ...serve import cached_file


def summary(res: Results, info: RoundInfo) -> dict[str, Any]:
    """The summary JSON: the results, and when, from which seed and how the round was made."""
    return {**summary_json(res), "created": info.created, "seed": info.seed, "settings": info.settings}


def round_files(res: Results, info: RoundInfo, rows: list[VoteRow]) -> tuple[str, str]:
    """The paths of the votes' CSV and the summary's JSON, named after the round."""
    return (
        cached_file(votes_csv(rows).encode(), f"quiz-{res.round}-votes.csv"),
        cached_file(json.dumps(summary(res, info), indent=2).encode(), f"quiz-{res.round}-summary.json"),
    )
