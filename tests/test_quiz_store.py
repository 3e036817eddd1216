"""The quiz store and its maths: rounds, votes, refusals that write nothing, threads, SIGKILL, agreement."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest

from perceptual_viz.errors import InputError
from perceptual_viz.quiz import agreement
from perceptual_viz.quiz import store as quiz_store
from perceptual_viz.quiz.agreement import (
    METRICS,
    VoteRow,
    most_disagreed,
    pick,
    summary_json,
    tally,
    unscored,
    votes_csv,
)
from perceptual_viz.quiz.store import (
    CODE_ALPHABET,
    SCHEMA_VERSION,
    Distortion,
    QuizStore,
    Trial,
    default_db_path,
    is_persistent,
)

from .quiz_support import recount
from .support import ROOT


def make_trial(index: int, a: dict[str, float | None], b: dict[str, float | None]) -> Trial:
    """A hand-made trial: only its scores matter to the store and the maths."""
    return Trial(
        index=index,
        sample="chelsea.png",
        size=64,
        seed=1000 + index,
        target_mse=0.01,
        a=Distortion("blur", 1.5, 0.0101),
        b=Distortion("noise", 0.1, 0.0099, within=False, note="closest achievable"),
        swapped=bool(index % 2),
        scores_a=a,
        scores_b=b,
    )


def random_trials(n: int, seed: int = 0) -> list[Trial]:
    rng = random.Random(seed)

    def side() -> dict[str, float | None]:
        return {m: rng.random() for m in ("mse", "ssim", "ms_ssim", "perceptual", "lpips", "dists")}

    return [make_trial(i, side(), side()) for i in range(n)]


def row_counts(path: Path) -> dict[str, int]:
    """Rows in every table of the database file, read with a connection of its own."""
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: con.execute(f"SELECT COUNT(*) FROM {n}").fetchone()[0] for n in names}
    finally:
        con.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "quiz.sqlite3"


@pytest.fixture
def qs(db: Path):
    with QuizStore(db) as s:
        yield s


# --------------------------------------------------------------------------- hand-worked maths

# Three trials, seven votes from three students (worked out by hand in the comments).
#   trial 0: mse A, ssim A (larger), perceptual B, lpips none (missing)   votes A A B  → majority A
#   trial 1: mse none (tie), ssim B, perceptual A, lpips A                votes B B    → majority B
#   trial 2: mse B, ssim none (tie), perceptual B, lpips B                votes A B    → no majority
HAND_SCORES = [
    (
        {"mse": 0.010, "ssim": 0.9, "perceptual": 0.2, "lpips": None},
        {"mse": 0.011, "ssim": 0.5, "perceptual": 0.1},
    ),
    (
        {"mse": 0.02, "ssim": 0.3, "perceptual": 0.1, "lpips": 0.1},
        {"mse": 0.02, "ssim": 0.8, "perceptual": 0.3, "lpips": 0.2},
    ),
    (
        {"mse": 0.012, "ssim": 0.7, "perceptual": 0.5, "lpips": 0.3},
        {"mse": 0.010, "ssim": 0.7, "perceptual": 0.4, "lpips": 0.1},
    ),
]
HAND_VOTES = [("s1", 0, "A"), ("s2", 0, "A"), ("s3", 0, "B"), ("s1", 1, "B"), ("s2", 1, "B"), ("s1", 2, "A")]
HAND_VOTES += [("s2", 2, "B")]
# metric: (votes agree, votes counted, trials agree, trials counted, BAPPS score)
HAND_EXPECTED = {
    "mse": (3, 5, 1, 1, (Fraction(2, 3) + Fraction(1, 2)) / 2),  # 7/12
    "ssim": (4, 5, 2, 2, (Fraction(2, 3) + 1) / 2),  # 5/6
    "perceptual": (2, 7, 0, 2, (Fraction(1, 3) + 0 + Fraction(1, 2)) / 3),  # 5/18
    "lpips": (1, 4, 0, 1, (0 + Fraction(1, 2)) / 2),  # 1/4
}


@pytest.fixture
def hand_round(qs: QuizStore) -> tuple[str, list[int]]:
    trials = [make_trial(i, a, b) for i, (a, b) in enumerate(HAND_SCORES)]
    code = qs.create_round(3, 5, trials, {"what": "hand-worked"})
    ids = [t.id for t in qs.trials(code)]
    for student, index, choice in HAND_VOTES:
        qs.vote(code, student, ids[index], choice)
    return code, ids


def test_picks_follow_each_metrics_direction_and_skip_ties_and_missing_values():
    a, b = (
        {"mse": 0.1, "ssim": 0.9, "perceptual": 0.5, "lpips": 0.2},
        {"mse": 0.2, "ssim": 0.5, "perceptual": 0.4},
    )
    assert pick("mse", a, b) == "A"  # the smaller distance
    assert pick("ssim", a, b) == "A"  # the larger similarity
    assert pick("ssim", b, a) == "B"
    assert pick("perceptual", a, b) == "B"
    assert pick("lpips", a, b) is None  # B has no LPIPS
    assert pick("mse", {"mse": 0.3}, {"mse": 0.3}) is None  # a tie
    assert pick("mse", {"mse": math.nan}, {"mse": 0.3}) is None
    with pytest.raises(InputError, match="unknown metric"):
        pick("psnr", a, b)


def test_ms_ssim_picks_the_larger_value_and_dists_the_smaller():
    a, b = {"ms_ssim": 0.95, "dists": 0.12}, {"ms_ssim": 0.90, "dists": 0.08}
    assert pick("ms_ssim", a, b) == "A"  # a similarity, like SSIM
    assert pick("dists", a, b) == "B"  # a distance, like LPIPS
    assert pick("ms_ssim", {"ms_ssim": None}, b) is None  # too small a picture: not computed
    assert unscored({"ms_ssim": None, "dists": 0.1}, b) >= {"ms_ssim"}
    assert "dists" not in unscored({"ms_ssim": None, "dists": 0.1}, b)


def test_hand_worked_round_gives_the_exact_fractions(qs: QuizStore, hand_round):
    code, ids = hand_round
    res = qs.results(code)
    assert (res.n_trials, res.n_votes, res.n_students) == (3, 7, 3)
    assert [(t.votes_a, t.votes_b, t.majority) for t in res.tallies] == [
        (2, 1, "A"),
        (0, 2, "B"),
        (1, 1, None),
    ]
    for metric, (va, vc, ta, tc, bapps) in HAND_EXPECTED.items():
        a = res.agreement[metric]
        assert (a.votes_agree, a.votes_counted, a.trials_agree, a.trials_counted) == (va, vc, ta, tc), metric
        assert a.votes_fraction == pytest.approx(va / vc)
        assert a.majority_fraction == pytest.approx(ta / tc)
        assert a.bapps_score == pytest.approx(float(bapps))
    assert [t.trial_id for t in most_disagreed(res, "mse")] == [ids[2], ids[0]]  # 1/2 against, then 1/3
    assert [t.trial_id for t in most_disagreed(res, "perceptual", limit=1)] == [ids[1]]  # 2 of 2 against


def test_vote_reports_each_metrics_pick_right_away(qs: QuizStore, hand_round):
    code, ids = hand_round
    r = qs.vote(code, "s9", ids[0], "B")
    unscored = {"ms_ssim": None, "dists": None}  # the hand-made trials have no MS-SSIM or DISTS
    assert dict(r.picks) == {"mse": "A", "ssim": "A", "perceptual": "B", "lpips": None, **unscored}
    assert r.agrees() == {"mse": False, "ssim": False, "perceptual": True, "lpips": None, **unscored}
    assert r.unscored == {"lpips", "ms_ssim", "dists"}  # B has no LPIPS: not a tie
    assert (r.trial_index, r.replaced) == (0, False)


def test_undefined_fractions_are_none_not_nan_and_json_ready(qs: QuizStore):
    code = qs.create_round(2, 1, random_trials(2), {})
    summary = summary_json(qs.results(code))
    assert summary["n_votes"] == 0
    for m in METRICS:
        assert summary["metrics"][m]["votes"]["fraction"] is None
        assert summary["metrics"][m]["bapps"]["score"] is None
    json.dumps(summary, allow_nan=False)  # raises on NaN


def test_tally_refuses_a_vote_on_a_trial_outside_the_round(qs: QuizStore, hand_round):
    code, _ = hand_round
    stray = VoteRow(code, 10**6, 0, "s1", "A", 0.0)
    with pytest.raises(InputError, match="not one of the round's trials"):
        tally(code, qs.trials(code), [stray])


def test_votes_csv_has_the_header_every_vote_and_quotes_formula_like_ids(qs: QuizStore, hand_round):
    code, ids = hand_round
    qs.vote(code, "=HYPERLINK(1)", ids[1], "A")
    rows = list(csv.DictReader(io.StringIO(votes_csv(qs.votes(code)))))
    assert list(rows[0]) == ["round", "trial_id", "trial_index", "student", "choice", "time"] + [
        f"pick_{m}" for m in METRICS
    ]
    assert len(rows) == len(HAND_VOTES) + 1
    assert {r["student"] for r in rows} == {"s1", "s2", "s3", "'=HYPERLINK(1)"}
    first = next(r for r in rows if r["trial_index"] == "0")
    assert (first["pick_mse"], first["pick_ssim"], first["pick_perceptual"], first["pick_lpips"]) == (
        "A",
        "A",
        "B",
        "",
    )
    assert rows[0]["time"].endswith("Z") and rows[0]["round"] == code


# --------------------------------------------------------------------------- rounds and votes


def test_create_round_and_read_it_back(qs: QuizStore):
    trials = random_trials(4)
    code = qs.create_round(4, 42, trials, {"size": 64, "degradations": ["blur", "noise"]})
    assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    info = qs.round_info(code.lower())  # codes are read case-insensitively
    assert (info.code, info.n_trials, info.seed) == (code, 4, 42)
    assert info.settings == {"size": 64, "degradations": ["blur", "noise"]}
    stored = qs.trials(code)
    assert [t.index for t in stored] == [0, 1, 2, 3]
    assert len({t.id for t in stored}) == 4 and all(t.round == code for t in stored)
    for given, got in zip(trials, stored, strict=True):
        assert (got.sample, got.size, got.seed, got.target_mse, got.swapped) == (
            given.sample,
            given.size,
            given.seed,
            given.target_mse,
            given.swapped,
        )
        assert (got.a, got.b) == (given.a, given.b)
        assert (dict(got.scores_a), dict(got.scores_b)) == (dict(given.scores_a), dict(given.scores_b))
    assert qs.create_round(1, 42, random_trials(1), {}) != code


def test_a_code_that_is_taken_is_drawn_again(qs: QuizStore, monkeypatch):
    draws = iter("222222" + "222222" + "333333")
    monkeypatch.setattr(quiz_store.secrets, "choice", lambda alphabet: next(draws))
    first = qs.create_round(1, 0, random_trials(1), {})
    second = qs.create_round(1, 0, random_trials(1), {})
    assert (first, second) == ("222222", "333333")


def next_index(qs: QuizStore, code: str, student: str) -> int | None:
    t = qs.next_trial(code, student)
    return None if t is None else t.index


def test_next_trial_goes_in_index_order_and_is_none_when_all_are_answered(qs: QuizStore):
    code = qs.create_round(3, 0, random_trials(3), {})
    ids = [t.id for t in qs.trials(code)]
    t = qs.next_trial(code, "ada")
    assert t is not None and (t.index, t.id) == (0, ids[0])
    qs.vote(code, "ada", ids[1], "A")  # out of order: the first unanswered one is still index 0
    assert next_index(qs, code, "ada") == 0
    qs.vote(code, "ada", ids[0], "B")
    assert next_index(qs, code, "ada") == 2
    qs.vote(code, "ada", ids[2], "B")
    assert qs.next_trial(code, "ada") is None
    assert next_index(qs, code, "bob") == 0


def test_a_second_vote_replaces_the_first(qs: QuizStore, db: Path):
    code = qs.create_round(2, 0, random_trials(2), {})
    tid = qs.trials(code)[0].id
    first = qs.vote(code, "ada", tid, "A")
    second = qs.vote(code, "ada", tid, "B")
    assert (first.replaced, second.replaced, second.previous) == (False, True, "A")
    rows = [(v.student, v.trial_id, v.choice) for v in qs.votes(code)]
    assert rows == [("ada", tid, "B")]
    assert row_counts(db)["votes"] == 1
    assert qs.results(code).n_votes == 1


BAD_VOTES = [
    pytest.param({"code": "ZZZZZZ"}, "no round", id="unknown-code"),
    pytest.param({"code": "abc"}, "round code", id="malformed-code"),
    pytest.param({"trial": "other"}, "not part of round", id="trial-of-another-round"),
    pytest.param({"trial": 10**9}, "not part of round", id="unknown-trial"),
    pytest.param({"choice": "C"}, "'A' or 'B'", id="choice-C"),
    pytest.param({"choice": "a"}, "'A' or 'B'", id="choice-lowercase"),
    pytest.param({"choice": ""}, "'A' or 'B'", id="choice-empty"),
    pytest.param({"student": ""}, "empty", id="student-empty"),
    pytest.param({"student": "   "}, "empty", id="student-blank"),
    pytest.param({"student": "x" * 10_000}, "at most 64", id="student-10k"),
    pytest.param({"student": "ada\nbob"}, "printable", id="student-newline"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_VOTES)
def test_a_bad_vote_is_refused_and_writes_nothing(qs: QuizStore, db: Path, bad: dict, message: str):
    code = qs.create_round(2, 0, random_trials(2), {})
    other = qs.create_round(1, 0, random_trials(1), {})
    tid = qs.trials(code)[0].id
    qs.vote(code, "ada", tid, "A")
    trial = qs.trials(other)[0].id if bad.get("trial") == "other" else bad.get("trial", tid)
    before = row_counts(db)
    with pytest.raises(InputError, match=message):
        qs.vote(bad.get("code", code), bad.get("student", "bob"), trial, bad.get("choice", "B"))
    assert row_counts(db) == before
    assert [(v.student, v.choice) for v in qs.votes(code)] == [("ada", "A")]


BAD_ROUNDS = [
    pytest.param(0, 0, "between 1 and 50", id="n_trials-0"),
    pytest.param(10_000, 10_000, "between 1 and 50", id="n_trials-10000"),
    pytest.param(3, 2, "needs 3 trials", id="too-few-trials"),
    pytest.param(True, 1, "whole number", id="n_trials-bool"),
]


@pytest.mark.parametrize(("n", "given", "message"), BAD_ROUNDS)
def test_a_bad_round_is_refused_and_writes_nothing(qs: QuizStore, db: Path, n, given: int, message: str):
    before = row_counts(db)
    with pytest.raises(InputError, match=message):
        qs.create_round(n, 0, random_trials(given), {})
    assert row_counts(db) == before


def test_bad_trials_seeds_and_settings_are_refused_and_write_nothing(qs: QuizStore, db: Path):
    before = row_counts(db)
    nan_scores = make_trial(0, {"mse": math.nan}, {"mse": 0.1})
    cases = [
        (3, 0, [*random_trials(2), dataclasses.replace(random_trials(3)[2], index=7)]),
        (1, 0, [nan_scores]),
        (1, -1, random_trials(1)),
        (1, 0, ["not a trial"]),
    ]
    for n, seed, trials in cases:
        with pytest.raises(InputError):
            qs.create_round(n, seed, trials, {})
    with pytest.raises(InputError, match="plain JSON"):
        qs.create_round(1, 0, random_trials(1), {"x": math.inf})
    assert row_counts(db) == before


def test_students_beyond_the_limit_are_refused_but_known_ones_may_still_vote(qs: QuizStore, monkeypatch):
    monkeypatch.setattr(quiz_store, "MAX_STUDENTS", 3)
    code = qs.create_round(2, 0, random_trials(2), {})
    t0, t1 = (t.id for t in qs.trials(code))
    for s in ("a", "b", "c"):
        qs.vote(code, s, t0, "A")
    with pytest.raises(InputError, match="maximum of 3 students"):
        qs.vote(code, "d", t0, "A")
    qs.vote(code, "c", t1, "B")  # a student already in the round
    assert qs.results(code).n_students == 3 and len(qs.votes(code)) == 4


def test_a_closed_store_says_so(db: Path):
    s = QuizStore(db)
    s.close()
    with pytest.raises(InputError, match="closed"):
        s.trials("222222")


# --------------------------------------------------------------------------- concurrency


def test_thirty_threads_voting_at_once_store_every_vote(qs: QuizStore):
    code = qs.create_round(10, 0, random_trials(10, seed=3), {})
    ids = [t.id for t in qs.trials(code)]
    start = threading.Barrier(30)
    errors: list[BaseException] = []

    def student(k: int) -> None:
        rng = random.Random(k)
        try:
            start.wait()
            for tid in ids:
                qs.vote(code, f"student-{k}", tid, rng.choice("AB"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(k,)) for k in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = qs.votes(code)
    assert len(rows) == 300
    assert {(v.student, v.trial_id) for v in rows} == {(f"student-{k}", t) for k in range(30) for t in ids}
    res = qs.results(code)
    assert (res.n_votes, res.n_students) == (300, 30)
    for m, (va, vc, ta, tc) in recount(votes_csv(rows)).items():
        a = res.agreement[m]
        assert (a.votes_agree, a.votes_counted, a.trials_agree, a.trials_counted) == (va, vc, ta, tc)
        assert a.votes_fraction == pytest.approx(va / vc)


# --------------------------------------------------------------------------- durability

CHILD = """
import sys
from perceptual_viz.quiz.store import QuizStore
path, code, ids = sys.argv[1], sys.argv[2], [int(i) for i in sys.argv[3].split(",")]
store = QuizStore(path)
k = 0
while True:
    for tid in ids:
        store.vote(code, f"kid-{k}", tid, "AB"[k % 2])
        print("ok", f"kid-{k}", tid, flush=True)
    k += 1
"""


def test_acknowledged_votes_survive_sigkill(db: Path):
    with QuizStore(db) as s:
        code = s.create_round(5, 0, random_trials(5), {})
        ids = [t.id for t in s.trials(code)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), code, ",".join(map(str, ids))],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: set[tuple[str, int]] = set()
    try:
        assert child.stdout is not None
        while len(acked) < 40:
            line = child.stdout.readline()
            if not line:
                break
            _, student, tid = line.split()
            acked.add((student, int(tid)))
    finally:
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=30)
    for line in out.splitlines(keepends=True):  # printed before the kill: acknowledged too
        if line.endswith("\n"):
            _, student, tid = line.split()
            acked.add((student, int(tid)))
    assert child.returncode == -signal.SIGKILL
    assert len(acked) >= 40, err
    with QuizStore(db) as s:
        stored = {(v.student, v.trial_id) for v in s.votes(code)}
    assert len(stored) >= len(acked)
    assert acked <= stored


# --------------------------------------------------------------------------- schema and files


def test_the_schema_version_is_stored_and_a_newer_one_is_refused(db: Path):
    with QuizStore(db) as s:
        assert s.schema_version == SCHEMA_VERSION
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    with con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.close()
    with pytest.raises(InputError, match="newer version"):
        QuizStore(db)


def test_files_that_are_not_quiz_stores_are_refused(tmp_path: Path):
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all " * 100)
    with pytest.raises(InputError, match="cannot open"):
        QuizStore(junk)
    other = tmp_path / "other.sqlite3"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="not a quiz store"):
        QuizStore(other)
    assert row_counts(other) == {"people": 0}


def test_the_store_opens_in_wal_mode(qs: QuizStore, db: Path):
    assert qs.journal_mode == "wal"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # persistent in the file
    con.close()


def test_default_db_path_prefers_the_variable_then_space_storage_then_the_cache(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PERCEPTUAL_VIZ_DB", str(tmp_path / "env" / "votes.sqlite3"))
    assert default_db_path() == tmp_path / "env" / "votes.sqlite3"
    assert (tmp_path / "env").is_dir()
    monkeypatch.delenv("PERCEPTUAL_VIZ_DB")
    space = tmp_path / "data"
    space.mkdir()
    monkeypatch.setattr(quiz_store, "SPACE_DATA_DIR", space)
    assert default_db_path() == space / "perceptual-viz" / "quiz.sqlite3"
    monkeypatch.setattr(quiz_store, "SPACE_DATA_DIR", tmp_path / "no-such-dir")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_db_path() == tmp_path / "cache" / "perceptual-viz" / "quiz.sqlite3"


def test_is_persistent_flags_temporary_places(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert not is_persistent(tmp_path / "quiz.sqlite3")
    assert not is_persistent(":memory:")
    assert is_persistent("/data/perceptual-viz/quiz.sqlite3")
    assert is_persistent("/home/teacher/.cache/perceptual-viz/quiz.sqlite3")
    monkeypatch.setenv("SPACE_ID", "someone/perceptual-loss-lab")  # on a Space only /data survives
    assert not is_persistent("/home/user/.cache/perceptual-viz/quiz.sqlite3")
    assert is_persistent("/data/perceptual-viz/quiz.sqlite3")


@pytest.mark.slow
def test_the_store_and_the_maths_import_without_torch_and_trials_without_gradio_or_pandas():
    code = (
        "import sys, perceptual_viz.quiz.store, perceptual_viz.quiz.agreement; "
        "print(sorted(m for m in ('torch', 'gradio', 'pandas') if m in sys.modules)); "
        "import perceptual_viz.quiz.trials; "
        "print(sorted(m for m in ('gradio', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "[]"]
    assert agreement.METRICS == ("mse", "ssim", "ms_ssim", "perceptual", "lpips", "dists")
