"""The quiz's SQLite store: rounds, their trials, and the students' votes.

Durability: the database runs in WAL mode with ``synchronous=FULL``, so every commit is synced
to disk before :meth:`QuizStore.vote` returns; a vote that was acknowledged survives the server
being killed (even with SIGKILL) and is there when the file is opened again.

Threads: one :class:`QuizStore` holds a single connection behind a lock. Every call is one
transaction (``BEGIN IMMEDIATE`` for writes), so a request's checks and its write happen
atomically: two new students cannot both slip in under :data:`MAX_STUDENTS`, and readers always
see a consistent round. SQLite serialises writers anyway, so the lock costs no throughput that
a pool of connections would gain; other *processes* using the same file wait up to
:data:`BUSY_TIMEOUT_S` for the write lock (``busy_timeout``).

Every method validates its input first and raises :class:`~perceptual_viz.errors.InputError`
(one sentence saying what to change) for a bad request; a refused request writes nothing. What a
student or teacher can cause (a bad code, id or vote, a limit, a database that cannot open) is a
:func:`~perceptual_viz.messages.msg`, worded in the reader's language; what only a program
building trials by hand can get wrong (a malformed Trial, settings, scores) stays English.

The pictures are not stored: a trial keeps its recipe (bundled sample, size, seed, and each
side's degradation and strength) and :func:`perceptual_viz.quiz.trials.trial_images` recomputes
them exactly.
"""

from __future__ import annotations

import json
import math
import operator
import os
import secrets
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..messages import Text, msg
from .agreement import METRICS, Choice, Results, Scores, VoteRow, picks, tally, unscored

SCHEMA_VERSION = 1
MAX_TRIALS = 50  # per round
MAX_STUDENTS = 500  # distinct students voting in one round
MAX_STUDENT_ID = 64  # characters
MAX_SETTINGS_BYTES = 65_536  # a round's settings, as JSON
MAX_SEED = 2**63 - 1  # seeds are stored as SQLite integers (signed 64-bit)
CODE_LENGTH = 6
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: easy to read off a projector
BUSY_TIMEOUT_S = 30.0
DB_ENV = "PERCEPTUAL_VIZ_DB"
DB_NAME = "quiz.sqlite3"
SPACE_DATA_DIR = Path("/data")  # a Hugging Face Space's persistent storage, when it has some

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE rounds (
        code TEXT PRIMARY KEY,
        created REAL NOT NULL,
        n_trials INTEGER NOT NULL CHECK (n_trials >= 1),
        seed INTEGER NOT NULL,
        settings TEXT NOT NULL)""",
    """CREATE TABLE trials (
        id INTEGER PRIMARY KEY,
        round TEXT NOT NULL REFERENCES rounds(code) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        sample TEXT NOT NULL,
        size INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        target_mse REAL NOT NULL,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        swapped INTEGER NOT NULL,
        scores TEXT NOT NULL,
        UNIQUE (round, idx))""",
    """CREATE TABLE votes (
        id INTEGER PRIMARY KEY,
        round TEXT NOT NULL REFERENCES rounds(code) ON DELETE CASCADE,
        trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
        student TEXT NOT NULL,
        choice TEXT NOT NULL CHECK (choice IN ('A', 'B')),
        time REAL NOT NULL,
        UNIQUE (trial_id, student))""",
    "CREATE INDEX votes_by_student ON votes (round, student)",
)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Distortion:
    """One side of a trial: the degradation and strength that made it (its recipe)."""

    degradation: str  # a key of perceptual_viz.degrade.DEGRADATIONS
    strength: float  # in the degradation's natural units
    mse: float  # MSE against the reference, as matched
    within: bool = True  # the equal-MSE search met its tolerance
    note: str = ""  # why not, when ``within`` is False

    def as_dict(self) -> dict[str, Any]:
        return {
            "degradation": self.degradation,
            "strength": self.strength,
            "mse": self.mse,
            "within": self.within,
            "note": self.note,
        }


@dataclass(frozen=True)
class Trial:
    """A reference picture and two distortions of it, shown as A (left) and B (right)."""

    index: int  # position in the round, from 0
    sample: str  # bundled sample file name, e.g. "chelsea.png"
    size: int  # the reference is a size × size centre crop, shorter side resized to size
    seed: int  # seed of the random degradations (noise, salt & pepper)
    target_mse: float  # the MSE both sides were matched to
    a: Distortion
    b: Distortion
    swapped: bool  # the pair's alphabetically first degradation is shown as B
    scores_a: Scores  # metric → value of A against the reference (see agreement.METRICS)
    scores_b: Scores


@dataclass(frozen=True)
class StoredTrial(Trial):
    """A trial as stored: with its id (votes refer to it) and its round's code."""

    id: int
    round: str


@dataclass(frozen=True)
class RoundInfo:
    """A round's header."""

    code: str
    created: float  # Unix seconds
    n_trials: int
    seed: int
    settings: dict[str, Any]


@dataclass(frozen=True)
class VoteResult:
    """What a vote did, and which side each metric picks on that trial (to show right away)."""

    round: str
    trial_id: int
    trial_index: int
    student: str
    choice: Choice
    previous: Choice | None  # the student's earlier choice on this trial, now replaced
    picks: Mapping[str, Choice | None] = field(default_factory=dict)
    unscored: frozenset[str] = frozenset()  # metrics with no value on this trial (they pick neither)

    @property
    def replaced(self) -> bool:
        return self.previous is not None

    def agrees(self) -> dict[str, bool | None]:
        """Per metric: did it pick the side this student chose? ``None`` when it picks neither."""
        return {m: None if p is None else p == self.choice for m, p in self.picks.items()}


# --------------------------------------------------------------------------- locations


def _writable_dir(p: Path) -> bool:
    return p.is_dir() and os.access(p, os.W_OK | os.X_OK)


def default_db_path() -> Path:
    """Where the quiz database lives, its folder created.

    ``$PERCEPTUAL_VIZ_DB`` if set; else a Hugging Face Space's persistent storage
    (``/data/perceptual-viz/quiz.sqlite3``) when ``/data`` exists and is writable; else the user's
    cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, then ``perceptual-viz/quiz.sqlite3``).
    """
    env = os.environ.get(DB_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
    elif _writable_dir(SPACE_DATA_DIR):
        path = SPACE_DATA_DIR / "perceptual-viz" / DB_NAME
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        cache = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
        path = cache / "perceptual-viz" / DB_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            msg(
                "cannot create the folder for the quiz database {path}: {reason}",
                path=str(path),
                reason=exc.strerror,
            )
        ) from None
    return path


def _under(p: Path, root: Path) -> bool:
    return p == root or root in p.parents


def is_persistent(path: str | os.PathLike[str]) -> bool:
    """False when a database at ``path`` is lost on restart, so a front end can warn about it.

    In-memory databases and files under the temporary folder (``tempfile.gettempdir()``,
    ``/tmp``, ``/dev/shm``, ``/run``) are ephemeral. On a Hugging Face Space (``$SPACE_ID`` set)
    only :data:`SPACE_DATA_DIR` survives a restart; elsewhere any other folder does.
    """
    s = os.fspath(path)
    if s in ("", ":memory:") or s.startswith("file::memory:"):
        return False
    p = Path(s).expanduser().resolve()
    temporary = {Path(tempfile.gettempdir()), Path("/tmp"), Path("/dev/shm"), Path("/run")}
    if any(_under(p, t.resolve()) for t in temporary):
        return False
    if os.environ.get("SPACE_ID"):
        return _under(p, SPACE_DATA_DIR.resolve())
    return True


# --------------------------------------------------------------------------- validation


def _shown(value: object) -> str:
    r = repr(value)
    return r if len(r) <= 24 else r[:20] + "…"


def check_code(code: object) -> str:
    """A round code, upper-cased and stripped; :class:`InputError` unless it has the code format."""
    if not isinstance(code, str):
        raise InputError(msg("a round code is text, got {type}", type=type(code).__name__))
    c = code.strip().upper()
    if len(c) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in c):
        raise InputError(
            msg(
                "a round code is {length} characters from {alphabet}, got {value}; check the code the "
                "teacher shows",
                length=CODE_LENGTH,
                alphabet=CODE_ALPHABET,
                value=_shown(code),
            )
        )
    return c


def check_student(student: object) -> str:
    """A student id, stripped: 1 to :data:`MAX_STUDENT_ID` printable characters."""
    if not isinstance(student, str):
        raise InputError(msg("a student id is text, got {type}", type=type(student).__name__))
    s = student.strip()
    if not s:
        raise InputError(msg("the student id is empty; give a name or nickname"))
    if len(s) > MAX_STUDENT_ID:
        raise InputError(
            msg(
                "a student id has at most {limit} characters, this one has {n}",
                limit=MAX_STUDENT_ID,
                n=len(s),
            )
        )
    if not s.isprintable():
        raise InputError(
            msg("a student id must be printable text, without tabs, line breaks or control characters")
        )
    return s


def _check_choice(choice: object) -> Choice:
    if choice == "A" and isinstance(choice, str):
        return "A"
    if choice == "B" and isinstance(choice, str):
        return "B"
    raise InputError(msg("a vote's choice must be exactly 'A' or 'B', got {value}", value=_shown(choice)))


def check_int(value: object, what: Text, lo: int, hi: int) -> int:
    """``value`` as an int in [lo, hi]; :class:`InputError` naming ``what`` otherwise (bools refused)."""
    whole = msg("{what} must be a whole number, got {value}", what=what, value=_shown(value))
    if isinstance(value, bool):
        raise InputError(whole)
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(whole) from None
    if not lo <= n <= hi:
        raise InputError(msg("{what} must be between {lo} and {hi}, got {n}", what=what, lo=lo, hi=hi, n=n))
    return n


def _check_scores(scores: object, where: str) -> dict[str, float | None]:
    if not isinstance(scores, Mapping):
        raise InputError(f"{where}: scores must be a mapping of metric → number or None")
    out: dict[str, float | None] = {}
    for k, v in scores.items():
        if k not in METRICS:
            raise InputError(f"{where}: unknown metric {k!r}; valid names: {', '.join(METRICS)}")
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise InputError(f"{where}: the {k} score must be a finite number or None, got {_shown(v)}")
        out[k] = None if v is None else float(v)
    return out


def _check_distortion(d: object, where: str) -> Distortion:
    if not isinstance(d, Distortion):
        raise InputError(f"{where} must be a Distortion")
    if not isinstance(d.degradation, str) or not d.degradation or len(d.degradation) > 64:
        raise InputError(f"{where}: the degradation name must be 1 to 64 characters")
    for what, v in (("strength", d.strength), ("mse", d.mse)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"{where}: the {what} must be a finite number, got {_shown(v)}")
    return d


def _check_trial(t: object, position: int) -> Trial:
    where = f"trial {position}"
    if not isinstance(t, Trial):
        raise InputError(f"{where} must be a Trial (see perceptual_viz.quiz.trials.make_trials)")
    if t.index != position:
        raise InputError(f"{where} has index {t.index!r}; trials must be numbered 0, 1, 2, … in order")
    if not isinstance(t.sample, str) or not 0 < len(t.sample) <= 200:
        raise InputError(f"{where}: the sample name must be 1 to 200 characters")
    check_int(t.size, f"{where}: size", 32, 4096)
    check_int(t.seed, f"{where}: seed", 0, MAX_SEED)
    if not isinstance(t.target_mse, (int, float)) or not 0 < t.target_mse < math.inf:
        raise InputError(f"{where}: the target MSE must be a positive number, got {_shown(t.target_mse)}")
    _check_distortion(t.a, f"{where}, side A")
    _check_distortion(t.b, f"{where}, side B")
    if not isinstance(t.swapped, bool):
        raise InputError(f"{where}: swapped must be True or False")
    _check_scores(t.scores_a, f"{where}, side A")
    _check_scores(t.scores_b, f"{where}, side B")
    return t


def _settings_json(settings: object) -> str:
    if not isinstance(settings, Mapping):
        raise InputError("a round's settings must be a mapping (a dict of JSON values)")
    try:
        text = json.dumps(dict(settings), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"a round's settings must be plain JSON values (no NaN): {exc}") from None
    if len(text.encode()) > MAX_SETTINGS_BYTES:
        raise InputError(f"a round's settings take at most {MAX_SETTINGS_BYTES} bytes as JSON")
    return text


# --------------------------------------------------------------------------- rows ↔ records


def _distortion(text: str) -> Distortion:
    d = json.loads(text)
    return Distortion(d["degradation"], float(d["strength"]), float(d["mse"]), bool(d["within"]), d["note"])


_TRIAL_COLUMNS = "id, round, idx, sample, size, seed, target_mse, a, b, swapped, scores"


def _stored_trial(row: sqlite3.Row | tuple[Any, ...]) -> StoredTrial:
    tid, code, idx, sample, size, seed, target, a, b, swapped, scores = row
    s = json.loads(scores)
    return StoredTrial(
        index=idx,
        sample=sample,
        size=size,
        seed=seed,
        target_mse=target,
        a=_distortion(a),
        b=_distortion(b),
        swapped=bool(swapped),
        scores_a=s["A"],
        scores_b=s["B"],
        id=tid,
        round=code,
    )


def _trial_row(code: str, t: Trial) -> tuple[Any, ...]:
    scores = {"A": _check_scores(t.scores_a, "A"), "B": _check_scores(t.scores_b, "B")}
    return (
        code,
        int(t.index),
        t.sample,
        int(t.size),
        int(t.seed),
        float(t.target_mse),
        json.dumps(t.a.as_dict(), allow_nan=False),
        json.dumps(t.b.as_dict(), allow_nan=False),
        int(t.swapped),
        json.dumps(scores, allow_nan=False),
    )


# --------------------------------------------------------------------------- the store


def _schema_version(con: sqlite3.Connection, where: Text) -> int | None:
    """The file's schema version; ``None`` for an empty database."""
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables:
        if tables:
            raise InputError(
                msg("{where} is an SQLite database but not a quiz store; choose another file", where=where)
            )
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise InputError(
            msg("{where} has no readable schema version; choose another file", where=where)
        ) from None


def _check_version(version: int, where: Text) -> None:
    """Refuse a file whose schema this version cannot read."""
    if version > SCHEMA_VERSION:
        raise InputError(
            msg(
                "{where} was written by a newer version of this app (schema {version}; this version "
                "reads up to {supported}); upgrade the app or set {env} to another file",
                where=where,
                version=version,
                supported=SCHEMA_VERSION,
                env=DB_ENV,
            )
        )
    if version < 1:
        raise InputError(
            msg(
                "{where} has an unknown schema version {version}; choose another file",
                where=where,
                version=version,
            )
        )


class QuizStore:
    """Rounds, trials and votes in one SQLite file; safe to share between threads (see module)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(os.fspath(path)).expanduser()
        where = msg("the quiz database {name!r}", name=self.path.name)
        if self.path.is_dir():
            raise InputError(msg("{where} is a folder; give a file name", where=where))
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self.journal_mode = self._configure()
            with self._tx(write=True) as con:
                version = _schema_version(con, where)
                self.schema_version = SCHEMA_VERSION if version is None else version
                if version is None:
                    for statement in _SCHEMA:
                        con.execute(statement)
                    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                else:
                    _check_version(version, where)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise InputError(msg("cannot open {where}: {reason}", where=where, reason=str(exc))) from None
        except OSError as exc:  # the folder cannot be made; strerror keeps server paths out
            self.close()
            raise InputError(msg("cannot open {where}: {reason}", where=where, reason=exc.strerror)) from None
        except BaseException:
            self.close()
            raise

    def _configure(self) -> str:
        assert self._con is not None
        con = self._con
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        con.execute("PRAGMA synchronous = FULL")
        con.execute("PRAGMA foreign_keys = ON")
        return mode

    def close(self) -> None:
        """Close the connection (later calls raise :class:`InputError`)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self) -> QuizStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock; rolled back if anything raises."""
        with self._lock:
            con = self._con
            if con is None:
                raise InputError("this quiz store is closed; open it again")
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    @staticmethod
    def _require_round(con: sqlite3.Connection, code: str) -> tuple[Any, ...]:
        row = con.execute(
            "SELECT code, created, n_trials, seed, settings FROM rounds WHERE code = ?", (code,)
        )
        found = row.fetchone()
        if found is None:
            raise InputError(msg("there is no round {code}; check the code the teacher shows", code=code))
        return tuple(found)

    # ------------------------------------------------------------------ rounds

    def create_round(
        self, n_trials: int, seed: int, trials: Sequence[Trial], settings: Mapping[str, Any]
    ) -> str:
        """Store a new round and its trials; returns its new, unique code."""
        n = check_int(n_trials, msg("the number of trials"), 1, MAX_TRIALS)
        s = check_int(seed, msg("the seed"), 0, MAX_SEED)
        if isinstance(trials, (str, bytes)) or not isinstance(trials, Sequence):
            raise InputError("trials must be a list of Trial")
        if len(trials) != n:
            raise InputError(f"a round of {n} trials needs {n} trials, got {len(trials)}")
        rows = [_trial_row("", _check_trial(t, i)) for i, t in enumerate(trials)]
        text = _settings_json(settings)
        with self._tx(write=True) as con:
            code = self._new_code(con)
            con.execute("INSERT INTO rounds VALUES (?, ?, ?, ?, ?)", (code, time.time(), n, s, text))
            con.executemany(
                "INSERT INTO trials (round, idx, sample, size, seed, target_mse, a, b, swapped, scores) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(code, *r[1:]) for r in rows],
            )
        return code

    @staticmethod
    def _new_code(con: sqlite3.Connection) -> str:
        """A random code no round has yet (checked under the write lock, so it stays unique)."""
        for _ in range(100):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if con.execute("SELECT 1 FROM rounds WHERE code = ?", (code,)).fetchone() is None:
                return code
        raise RuntimeError("no free round code after 100 random draws")

    def round_info(self, code: str) -> RoundInfo:
        """The round's header: when it was made, its size, seed and settings."""
        c = check_code(code)
        with self._tx(write=False) as con:
            _, created, n, seed, settings = self._require_round(con, c)
        return RoundInfo(c, created, n, seed, json.loads(settings))

    def trials(self, code: str) -> list[StoredTrial]:
        """The round's trials, by index."""
        c = check_code(code)
        with self._tx(write=False) as con:
            self._require_round(con, c)
            rows = con.execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE round = ? ORDER BY idx", (c,))
            return [_stored_trial(r) for r in rows.fetchall()]

    def next_trial(self, code: str, student: str) -> StoredTrial | None:
        """The first trial (by index) ``student`` has not voted on; ``None`` when all are answered."""
        c, s = check_code(code), check_student(student)
        with self._tx(write=False) as con:
            self._require_round(con, c)
            row = con.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE round = ? AND id NOT IN "
                "(SELECT trial_id FROM votes WHERE round = ? AND student = ?) ORDER BY idx LIMIT 1",
                (c, c, s),
            ).fetchone()
        return None if row is None else _stored_trial(row)

    # ------------------------------------------------------------------ votes

    def vote(self, code: str, student: str, trial_id: int, choice: str) -> VoteResult:
        """Record ``student``'s choice on a trial; a second vote on the same trial replaces the first.

        Returns the stored vote and which side each metric picks on that trial.
        """
        c, s = check_code(code), check_student(student)
        tid = check_int(trial_id, msg("the trial id"), 1, MAX_SEED)
        ch = _check_choice(choice)
        with self._tx(write=True) as con:
            self._require_round(con, c)
            row = con.execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE id = ? AND round = ?", (tid, c))
            found = row.fetchone()
            if found is None:
                raise InputError(
                    msg(
                        "trial {trial} is not part of round {code}; ask for the next trial again",
                        trial=tid,
                        code=c,
                    )
                )
            prev = con.execute(
                "SELECT choice FROM votes WHERE trial_id = ? AND student = ?", (tid, s)
            ).fetchone()
            if prev is None:
                self._check_room(con, c, s)
            con.execute(
                "INSERT INTO votes (round, trial_id, student, choice, time) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (trial_id, student) "
                "DO UPDATE SET choice = excluded.choice, time = excluded.time",
                (c, tid, s, ch, time.time()),
            )
        t = _stored_trial(found)
        previous: Choice | None = None if prev is None else _check_choice(prev[0])
        sa, sb = t.scores_a, t.scores_b
        return VoteResult(c, tid, t.index, s, ch, previous, picks(sa, sb), unscored(sa, sb))

    @staticmethod
    def _check_room(con: sqlite3.Connection, code: str, student: str) -> None:
        """Refuse a student new to the round once it has :data:`MAX_STUDENTS`."""
        known = con.execute("SELECT 1 FROM votes WHERE round = ? AND student = ? LIMIT 1", (code, student))
        if known.fetchone() is not None:
            return
        (n,) = con.execute("SELECT COUNT(DISTINCT student) FROM votes WHERE round = ?", (code,)).fetchone()
        if n >= MAX_STUDENTS:
            raise InputError(
                msg(
                    "round {code} already has the maximum of {limit} students; start a new round",
                    code=code,
                    limit=MAX_STUDENTS,
                )
            )

    def _vote_rows(self, con: sqlite3.Connection, code: str) -> list[VoteRow]:
        rows = con.execute(
            "SELECT v.round, v.trial_id, t.idx, v.student, v.choice, v.time, t.scores FROM votes v "
            "JOIN trials t ON t.id = v.trial_id WHERE v.round = ? ORDER BY v.time, v.id",
            (code,),
        ).fetchall()
        out = []
        for rnd, tid, idx, student, choice, when, scores in rows:
            sc = json.loads(scores)
            out.append(VoteRow(rnd, tid, idx, student, _check_choice(choice), when, picks(sc["A"], sc["B"])))
        return out

    def votes(self, code: str) -> list[VoteRow]:
        """Every vote of the round (the latest choice of each student on each trial), oldest first."""
        c = check_code(code)
        with self._tx(write=False) as con:
            self._require_round(con, c)
            return self._vote_rows(con, c)

    def results(self, code: str) -> Results:
        """Vote count, distinct students, per-trial tallies and each metric's agreement with people."""
        c = check_code(code)
        with self._tx(write=False) as con:
            self._require_round(con, c)
            rows = con.execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE round = ? ORDER BY idx", (c,))
            trials = [_stored_trial(r) for r in rows.fetchall()]
            votes = self._vote_rows(con, c)
        return tally(c, trials, votes)
