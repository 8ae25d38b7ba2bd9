"""The lesson and the class challenge of the local class store (storage/class_store.py's Lessons and Challenges)
in a SQLite file of their own, classroom.sqlite beside the drawings file: a server restarted mid-lesson finds its
lesson again, and deleting, exporting or setting aside the drawings never touches it.

Like the drawings file it is created (0600) by the first write, never by looking: a page that only asks what the
lesson is leaves no file behind. Every write is one BEGIN IMMEDIATE transaction, so an entry and the teacher's
"close" (or two entries of one tab) take turns and the rules (classroom.challenge_rules) hold. Times are unix
seconds of this machine's clock. Failures raise ClassroomFileError, a ClassStoreUnavailable with a plain sentence
that names the file but not its folder.
"""
from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from digitdnn.classroom.challenge_rules import (
    CLOSED,
    KEPT_CHALLENGES,
    LEADERBOARD_ROWS,
    NEWER,
    Challenge,
    ChallengeLimits,
    EntryRecord,
    checked_record,
    refusal,
)
from digitdnn.storage.class_store import ClassStoreUnavailable, Entry, Leaderboard, LessonState, checked_start
from digitdnn.storage.files import os_reason
from digitdnn.storage.sqlite_file import connect, write_transaction
from digitdnn.training.history import checked_int

FILE_NAME = "classroom.sqlite"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE lesson (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    running INTEGER NOT NULL CHECK (running IN (0, 1)),
    step INTEGER NOT NULL CHECK (step >= 1),
    steps INTEGER NOT NULL CHECK (steps BETWEEN 1 AND 20),
    version INTEGER NOT NULL CHECK (version >= 1),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    text TEXT NOT NULL CHECK (length(CAST(text AS BLOB)) <= 65536),
    changed REAL NOT NULL,
    CHECK (step <= steps)
);
CREATE TABLE challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    opened REAL NOT NULL,
    closes REAL NOT NULL,
    closed REAL,
    max_weights INTEGER NOT NULL CHECK (max_weights BETWEEN 1 AND 1000000000),
    max_seconds REAL NOT NULL CHECK (max_seconds > 0 AND max_seconds <= 3600),
    CHECK (closes > opened)
);
CREATE TABLE challenge_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    challenge INTEGER NOT NULL REFERENCES challenges (id) ON DELETE CASCADE,
    entered REAL NOT NULL,
    tab TEXT NOT NULL CHECK (length(tab) <= 64),
    run TEXT NOT NULL CHECK (length(run) <= 120),
    nickname TEXT NOT NULL DEFAULT '' CHECK (length(nickname) <= 24),
    test_accuracy REAL NOT NULL CHECK (test_accuracy BETWEEN 0 AND 1),
    weights INTEGER NOT NULL CHECK (weights > 0),
    seconds REAL NOT NULL CHECK (seconds >= 0),
    settings TEXT NOT NULL CHECK (length(settings) <= 200),
    UNIQUE (challenge, tab, run)
);
CREATE INDEX challenge_entries_by_rank ON challenge_entries (challenge, test_accuracy DESC, weights, seconds, id)
"""
_LESSON = "running, step, steps, version, sha256"
_CHALLENGE = "id, max_weights, max_seconds, closed, closes"
_RANKED = "ORDER BY test_accuracy DESC, weights, seconds, id"  # ties: fewer weights, faster, earlier

T = TypeVar("T")


class ClassroomFileError(ClassStoreUnavailable):
    """The classroom file cannot be read or written (read-only, full disk, damaged, newer): a plain sentence."""


class ClassroomFile:
    """The SQLite file at `path`: reads that find nothing while it does not exist, writes that create it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.exists()

    def read(self, query: Callable[[sqlite3.Connection], T], empty: T) -> T:
        """query(connection), or `empty` while the file does not exist or has no tables yet."""
        if not self.path.exists():
            return empty
        return self._use(lambda db: query(db) if self._version(db) else empty)

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """change(connection) in one write transaction, the file (and its folder) created first if missing."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClassroomFileError(f"Cannot create the folder of the classroom file {self.path.name}: "
                                     f"{os_reason(exc)}.") from exc

        def initialised_change(db: sqlite3.Connection) -> T:
            if not self._version(db):
                for statement in _SCHEMA.split(";"):  # (executescript would commit the transaction first)
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return change(db)

        return self._use(lambda db: write_transaction(db, lambda: initialised_change(db)))

    def _version(self, db: sqlite3.Connection) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ClassroomFileError(f"The classroom file {self.path.name} was written by a newer digitdnn (schema "
                                     f"{version}); upgrade digitdnn on this server.")
        return version

    def _use(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        try:
            with contextlib.closing(connect(self.path)) as db:
                return operation(db)
        except sqlite3.Error as exc:
            raise ClassroomFileError(f"The classroom file {self.path.name} cannot be used just now ({exc}).") from exc


class SqliteLessons:
    """The class's lesson (class_store.Lessons) in the classroom file: one row."""

    def __init__(self, file: ClassroomFile):
        self._file = file

    def current(self) -> LessonState | None:
        return self._file.read(lambda db: _lesson(db.execute(f"SELECT {_LESSON} FROM lesson").fetchone()), None)

    def lesson_text(self, sha256: str) -> str | None:
        row = self._file.read(lambda db: db.execute("SELECT text FROM lesson WHERE sha256 = ?",
                                                    (sha256,)).fetchone(), None)
        return None if row is None else row[0]

    def start(self, text: str, sha256: str, steps: int) -> LessonState:
        args = (*checked_start(text, sha256, steps), time.time())
        state = self._file.write(lambda db: _lesson(_one(db.execute(
            "INSERT INTO lesson (only_row, running, step, steps, version, sha256, text, changed) "
            "VALUES (1, 1, 1, ?3, 1, ?2, ?1, ?4) "
            "ON CONFLICT (only_row) DO UPDATE SET running = 1, step = 1, steps = ?3, version = lesson.version + 1, "
            f"sha256 = ?2, text = ?1, changed = ?4 RETURNING {_LESSON}", args))))
        assert state is not None  # an upsert returns its row
        return state

    def move(self, version: int, step: int) -> LessonState | None:
        version, step = checked_int(version, "version", 0), checked_int(step, "step", 0)
        return self._change("step = ?, version = version + 1, changed = ? WHERE running AND version = ? "
                            "AND ? BETWEEN 1 AND steps", (step, time.time(), version, step))

    def end(self, version: int) -> LessonState | None:
        version = checked_int(version, "version", 0)
        return self._change("running = 0, version = version + 1, changed = ? WHERE running AND version = ?",
                            (time.time(), version))

    def _change(self, assignments: str, args: tuple) -> LessonState | None:
        if not self._file.exists():
            return None
        return self._file.write(lambda db: _lesson(_one(db.execute(
            f"UPDATE lesson SET {assignments} RETURNING {_LESSON}", args))))


class SqliteChallenges:
    """The class challenge (class_store.Challenges) in the classroom file."""

    def __init__(self, file: ClassroomFile):
        self._file = file

    def current(self) -> Challenge | None:
        return self._file.read(lambda db: _challenge(_newest(db), time.time()), None)

    def open(self, limits: ChallengeLimits) -> Challenge:
        def change(db: sqlite3.Connection) -> Challenge | None:
            now = time.time()
            db.execute("UPDATE challenges SET closed = ? WHERE closed IS NULL", (now,))
            db.execute("INSERT INTO challenges (opened, closes, max_weights, max_seconds) VALUES (?, ?, ?, ?)",
                       (now, now + 60 * limits.minutes, limits.max_weights, limits.max_seconds))
            db.execute("DELETE FROM challenges WHERE id NOT IN (SELECT id FROM challenges ORDER BY id DESC LIMIT ?)",
                       (KEPT_CHALLENGES,))
            return _challenge(_newest(db), now)

        challenge = self._file.write(change)
        assert challenge is not None  # just inserted
        return challenge

    def close(self, challenge: int) -> None:
        challenge = checked_int(challenge, "challenge", 0)
        if self._file.exists():
            self._file.write(lambda db: db.execute("UPDATE challenges SET closed = ? WHERE id = ? AND closed IS NULL",
                                                   (time.time(), challenge)))

    def clear(self, challenge: int) -> int:
        challenge = checked_int(challenge, "challenge", 0)
        if not self._file.exists():
            return 0
        return self._file.write(lambda db: db.execute("DELETE FROM challenge_entries WHERE challenge = ?",
                                                      (challenge,)).rowcount)

    def enter(self, challenge: int, record: EntryRecord) -> str | None:
        challenge, record = checked_int(challenge, "challenge", 0), checked_record(record)
        if not self._file.exists():
            return CLOSED

        def change(db: sqlite3.Connection) -> str | None:
            newest = _challenge(_newest(db), time.time())
            if newest is None:
                return CLOSED
            if newest.id != challenge:
                return NEWER
            count, already = db.execute(
                "SELECT count(*), coalesce(max(run = ?), 0) FROM challenge_entries WHERE challenge = ? AND tab = ?",
                (record.run, challenge, record.tab)).fetchone()
            reason = refusal(newest, record, count, bool(already))
            if reason is None:
                figures = record.figures
                db.execute("INSERT INTO challenge_entries (challenge, entered, tab, run, nickname, test_accuracy, "
                           "weights, seconds, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (challenge, time.time(), record.tab, record.run, record.nickname, figures.test_accuracy,
                            figures.weights, figures.seconds, figures.settings))
            return reason

        return self._file.write(change)

    def leaderboard(self, challenge: int, tab: str | None = None, limit: int = LEADERBOARD_ROWS) -> Leaderboard:
        challenge, limit = checked_int(challenge, "challenge", 0), checked_int(limit, "limit", 0)
        if tab is not None and not isinstance(tab, str):
            raise ValueError("tab must be a string")

        def query(db: sqlite3.Connection) -> Leaderboard:
            rows = db.execute("SELECT nickname, run, test_accuracy, weights, seconds, settings, coalesce(tab = ?, 0) "
                              f"FROM challenge_entries WHERE challenge = ? {_RANKED} LIMIT ?",
                              (tab, challenge, limit)).fetchall()
            count = db.execute("SELECT count(*) FROM challenge_entries WHERE challenge = ?", (challenge,)).fetchone()
            return Leaderboard([Entry(nickname, run, accuracy, weights, seconds, settings, bool(mine))
                                for nickname, run, accuracy, weights, seconds, settings, mine in rows], count[0])

        return self._file.read(query, Leaderboard([], 0))


def _one(cursor: sqlite3.Cursor) -> tuple | None:
    """The one row a statement with RETURNING gave, or None; read to its end, so that it is done before COMMIT."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _lesson(row: tuple | None) -> LessonState | None:
    return None if row is None else LessonState(bool(row[0]), *row[1:])


def _newest(db: sqlite3.Connection) -> tuple | None:
    return db.execute(f"SELECT {_CHALLENGE} FROM challenges ORDER BY id DESC LIMIT 1").fetchone()


def _challenge(row: tuple | None, now: float) -> Challenge | None:
    """The challenge of a row (_CHALLENGE's columns) at unix time `now`."""
    if row is None:
        return None
    challenge, max_weights, max_seconds, closed, closes = row
    is_open = closed is None and closes > now
    return Challenge(challenge, max_weights, float(max_seconds), is_open, max(0.0, closes - now))
