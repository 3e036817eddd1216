"""The quiz's public API over HTTP with ``gradio_client``: a class voting at once, revotes,
refusals that write nothing, and a server killed with SIGKILL that keeps every acknowledged vote.

The app is served as ``app.py`` serves it (the ``launched_app`` fixture), on a database file of
this module (``PERCEPTUAL_VIZ_DB``, never the developer's), with 32 px trials so that VGG scores a
round in seconds on a 2-core CPU.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

from perceptual_viz.quiz.agreement import METRICS, votes_csv  # noqa: E402
from perceptual_viz.quiz.store import Distortion, QuizStore, Trial  # noqa: E402
from perceptual_viz.ui.tabs.quiz import endpoints  # noqa: E402

from .quiz_support import recount  # noqa: E402
from .support import ROOT, free_port, import_benchmark  # noqa: E402

load = import_benchmark("load")
TRIALS = 10
# A class voting at once: the default run and the soak (``python -m pytest -m soak``) differ only
# in how many students vote together; every vote of either is checked against the database.
CLASS_SIZES = [
    pytest.param(10, id="10-students"),
    pytest.param(30, id="30-students", marks=pytest.mark.soak),
]
SMALL_PX = 32


@pytest.fixture(scope="module", autouse=True)
def small_trials():
    """The quiz's trials at 32 px (read when a round is made), for this module's tests."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(endpoints, "TRIAL_SIZE", SMALL_PX)
        yield


@pytest.fixture(scope="module")
def url(served) -> str:
    return served.url


def student_client(url: str, downloads: Path):
    """A student's own ``gradio_client.Client`` (its own session and download folder)."""
    return gradio_client.Client(url, verbose=False, download_files=str(downloads), analytics_enabled=False)


def new_round(client, n: int, seed: int) -> str:
    info, code = client.predict(n, seed, api_name="/quiz_new_round")
    assert info == {"code": code, "n_trials": n}
    return code


def trial_ids(client, code: str) -> list[int]:
    return [t["trial_id"] for t in client.predict(code, api_name="/quiz_results")["trials"]]


@pytest.fixture(scope="module")
def big_round(client) -> tuple[str, list[int]]:
    code = new_round(client, TRIALS, 7)
    return code, trial_ids(client, code)


@pytest.fixture(scope="module")
def small_round(client) -> tuple[str, list[int]]:
    code = new_round(client, 2, 3)
    return code, trial_ids(client, code)


def row_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return {
            t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("rounds", "trials", "votes")
        }
    finally:
        con.close()


def one_sentence(message: str) -> None:
    assert message and "\n" not in message and len(message) < 300, message
    assert "Traceback" not in message and "Internal error" not in message, message
    assert not re.search(r"[.!?]\s+[A-Z]", message), f"more than one sentence: {message}"


# --------------------------------------------------------------------------- a class at once


@pytest.mark.slow
@pytest.mark.parametrize("students", CLASS_SIZES)
def test_a_class_voting_at_once_is_each_counted_once(client, url, quiz_db, tmp_path, students):
    code = new_round(client, TRIALS, 7)
    ids = trial_ids(client, code)
    assert len(ids) == TRIALS
    # One client (one Gradio session) per student, connected first: then all vote at once.
    clients = [student_client(url, tmp_path / f"s{k}") for k in range(students)]
    start = threading.Barrier(students)
    cast: dict[tuple[str, int], str] = {}
    picks: dict[int, dict[str, str | None]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def student(k: int) -> None:
        rng = random.Random(k)
        name, c = f"student-{k:02d}", clients[k]
        try:
            start.wait(timeout=60)
            for tid in rng.sample(ids, len(ids)):
                choice = rng.choice("AB")
                ack, _ = c.predict(code, name, tid, choice, api_name="/quiz_vote")
                assert ack["recorded"] is True and ack["choice"] == choice
                with lock:
                    cast[name, tid] = choice
                    picks[tid] = ack["metrics"]
            done = c.predict(code, name, api_name="/quiz_next")
            assert done[0] == {"done": True, "n_trials": TRIALS}
        except BaseException as exc:
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=student, args=(k,)) for k in range(students)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    for t in threads:
        t.join(timeout=300)
    seconds = time.monotonic() - t0
    load.close_clients(clients)
    assert errors == []
    print(f"{students * TRIALS} votes from {students} clients at once in {seconds:.1f} s")
    assert len(cast) == students * TRIALS

    res = gradio_client.Client(url, verbose=False).predict(code, api_name="/quiz_results")
    assert (res["votes"], res["students"], res["n_trials"]) == (students * TRIALS, students, TRIALS)
    assert sum(t["votes_a"] + t["votes_b"] for t in res["trials"]) == students * TRIALS
    with QuizStore(quiz_db) as store:  # the CSV of all votes, as the teacher downloads it
        text = votes_csv(store.votes(code))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["student"], int(r["trial_id"])): r["choice"] for r in rows} == cast
    assert len(rows) == students * TRIALS
    for r in rows:  # each row carries the picks the student was shown after voting
        assert {m: r[f"pick_{m}"] or None for m in METRICS} == picks[int(r["trial_id"])]
    for m, (agree, counted, m_agree, m_counted) in recount(text).items():
        if not counted:  # MS-SSIM of the quiz's 128-px pictures: never computed, so never a pick
            assert m == "ms_ssim" and res["agreement"][m] is None
            continue
        assert res["counts"][m]["votes"] == {"agree": agree, "counted": counted, "fraction": agree / counted}
        assert res["agreement"][m] == pytest.approx(agree / counted)
        assert 0.0 <= res["agreement"][m] <= 1.0
        assert res["agreement_majority"][m] == (pytest.approx(m_agree / m_counted) if m_counted else None)


def test_a_student_sees_each_trial_then_done_and_a_revote_replaces(client, small_round, quiz_db):
    code, ids = small_round
    first = client.predict(code.lower(), "ada", api_name="/quiz_next")  # codes are read case-insensitively
    info, ref, a, b, progress, tid = first
    assert info == {"trial_id": ids[0], "index": 0, "n_trials": 2} and tid == ids[0]
    assert "Trial 1 of 2" in progress
    sizes = set()
    for path in (ref, a, b):
        with Image.open(path) as im:
            assert im.format == "PNG"
            sizes.add(im.size)
    assert sizes == {(endpoints.DISPLAY_PX, endpoints.DISPLAY_PX)}  # 32 px shown 12× larger, pixels repeated

    ack, feedback = client.predict(code, "ada", ids[0], "A", api_name="/quiz_vote")
    assert ack["recorded"] is True and ack["replaced"] is False
    assert set(ack["metrics"]) == set(METRICS) and set(ack["metrics"].values()) <= {"A", "B", None}
    assert feedback.startswith("You chose **A**")
    assert client.predict(code, "ada", api_name="/quiz_next")[0]["trial_id"] == ids[1]
    before = row_counts(quiz_db)
    again, _ = client.predict(code, "ada", ids[0], "B", api_name="/quiz_vote")
    assert again["replaced"] is True and again["metrics"] == ack["metrics"]
    assert row_counts(quiz_db) == before  # replaced, not added
    res = client.predict(code, api_name="/quiz_results")
    assert res["votes"] == 1 and res["students"] == 1
    assert (res["trials"][0]["votes_a"], res["trials"][0]["votes_b"]) == (0, 1)
    client.predict(code, "ada", ids[1], "A", api_name="/quiz_vote")
    done = client.predict(code, "ada", api_name="/quiz_next")
    assert done[0] == {"done": True, "n_trials": 2} and done[1:4] == (None, None, None)


BAD_VOTES = [
    pytest.param({"code": "ZZZZZZ"}, "no round", id="unknown-code"),
    pytest.param({"code": "nope"}, "round code", id="malformed-code"),
    pytest.param({"trial": "other"}, "not part of round", id="trial-of-another-round"),
    pytest.param({"trial": 10**9}, "not part of round", id="unknown-trial"),
    pytest.param({"choice": "C"}, "'A' or 'B'", id="choice-C"),
    pytest.param({"choice": "a"}, "'A' or 'B'", id="choice-lowercase"),
    pytest.param({"choice": ""}, "'A' or 'B'", id="choice-empty"),
    pytest.param({"student": ""}, "empty", id="student-empty"),
    pytest.param({"student": "x" * 10_000}, "at most 64", id="student-10kB"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_VOTES)
def test_a_bad_vote_is_one_sentence_and_writes_nothing(client, small_round, big_round, quiz_db, bad, message):
    code, ids = small_round
    trial = big_round[1][0] if bad.get("trial") == "other" else bad.get("trial", ids[0])
    before = row_counts(quiz_db)
    with pytest.raises(AppError, match=message) as err:
        client.predict(
            bad.get("code", code),
            bad.get("student", "bob"),
            trial,
            bad.get("choice", "A"),
            api_name="/quiz_vote",
        )
    one_sentence(str(err.value))
    assert row_counts(quiz_db) == before


@pytest.mark.parametrize(
    ("api", "args", "message"),
    [
        pytest.param("/quiz_new_round", (0, 1), "between 1 and 50", id="round-of-0"),
        pytest.param("/quiz_new_round", (10_000, 1), "between 1 and 50", id="round-of-10000"),
        pytest.param("/quiz_new_round", (3, -1), "seed", id="negative-seed"),
        pytest.param("/quiz_new_round", (3, 1, ["blur"]), "at least 2 degradations", id="one-degradation"),
        pytest.param(
            "/quiz_new_round",
            (3, 1, ["blur", "noise"], ["chelsea.png"], 30, 20),
            "PSNR range",
            id="psnr-upside-down",
        ),
        pytest.param(
            "/quiz_new_round",
            (3, 1, ["blur", "downup"]),
            "not in the list of choices",
            id="not-a-quiz-degradation",
        ),
        pytest.param("/quiz_next", ("ZZZZZZ", "bob"), "no round", id="next-unknown-code"),
        pytest.param("/quiz_next", (None, "x" * 10_000), "round code", id="next-no-code"),
        pytest.param("/quiz_results", ("ZZZZZZ",), "no round", id="results-unknown-code"),
    ],
)
def test_other_bad_requests_are_one_sentence_and_write_nothing(client, quiz_db, api, args, message):
    empty = {"rounds": 0, "trials": 0, "votes": 0}  # before the store's first use: no file yet
    before = row_counts(quiz_db) if quiz_db.exists() else empty
    t0 = time.monotonic()
    with pytest.raises(AppError, match=message) as err:
        client.predict(*args, api_name=api)
    one_sentence(str(err.value))
    assert time.monotonic() - t0 < 20, "refused before any work"
    assert (row_counts(quiz_db) if quiz_db.exists() else empty) == before


# --------------------------------------------------------------------------- SIGKILL


def _serve(db: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``python app.py --weights untrained --no-showcase --port N`` on ``db``, once it answers."""
    port = free_port()
    env = {**os.environ, "PERCEPTUAL_VIZ_DB": str(db), "GRADIO_ANALYTICS_ENABLED": "False"}
    args = ["--weights", "untrained", "--no-showcase", "--device", "cpu", "--port", str(port)]
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"the app did not answer within 240 s:\n{log.read_text()[-3000:]}")


def _hand_made_round(db: Path, n: int) -> tuple[str, list[int]]:
    """A round written straight into the database (no VGG needed to vote on it)."""
    trials = [
        Trial(
            index=i,
            sample="chelsea.png",
            size=SMALL_PX,
            seed=i,
            target_mse=0.004,
            a=Distortion("blur", 1.0 + i / 10, 0.004),
            b=Distortion("noise", 0.05, 0.004),
            swapped=False,
            scores_a={"mse": 0.004, "ssim": 0.8, "perceptual": 0.2 + i, "lpips": 0.1},
            scores_b={"mse": 0.0041, "ssim": 0.7, "perceptual": 0.3, "lpips": 0.2},
        )
        for i in range(n)
    ]
    with QuizStore(db) as store:
        code = store.create_round(n, 0, trials, {"made": "by hand"})
        return code, [t.id for t in store.trials(code)]


@pytest.mark.slow
def test_a_server_killed_mid_round_keeps_every_acknowledged_vote(tmp_path):
    db, log = tmp_path / "quiz.sqlite3", tmp_path / "app.log"
    code, ids = _hand_made_round(db, 5)
    proc, url = _serve(db, log)
    acked: set[tuple[str, int, str]] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def voter(k: int) -> None:
        try:
            c = gradio_client.Client(url, verbose=False)
            for n in range(1000):
                for tid in ids:
                    if stop.is_set():
                        return
                    choice = "AB"[(n + tid + k) % 2]
                    c.predict(code, f"kid-{k}-{n}", tid, choice, api_name="/quiz_vote")
                    with lock:
                        acked.add((f"kid-{k}-{n}", tid, choice))
        except Exception:  # the server died under this request: it was not acknowledged
            return

    threads = [threading.Thread(target=voter, args=(k,), daemon=True) for k in range(4)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-round: votes are still being sent
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    for t in threads:
        t.join(timeout=60)
    with lock:
        kept = set(acked)
    assert len(kept) >= 40, log.read_text()[-3000:]

    proc, url = _serve(db, log)  # the same database, a new server
    try:
        res = gradio_client.Client(url, verbose=False).predict(code, api_name="/quiz_results")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert res["votes"] >= len(kept)
    with QuizStore(db) as store:
        stored = {(v.student, v.trial_id, v.choice) for v in store.votes(code)}
    assert kept <= stored
    assert len(stored) == res["votes"]


def test_the_api_docs_quiz_example_runs(url, capsys):
    """docs/api.md's gradio_client example of the quiz API, as written (pointed at this server)."""
    import re

    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", page, re.S) if "/quiz_new_round" in b]
    exec(compile(code.replace("http://127.0.0.1:7860/", url), "docs/api.md", "exec"), {})
    out = capsys.readouterr().out
    # one vote: each metric's pick, then each metric's agreement with it (all or nothing)
    assert re.search(r"\{'mse': ('A'|'B'|None),.*'lpips': .*\} \{'mse': (0\.0|1\.0), 'ssim'", out), out
