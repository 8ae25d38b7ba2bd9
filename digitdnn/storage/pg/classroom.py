"""The lesson and the class challenge in the class database (storage/class_store.py's Lessons and Challenges), so
that every page replica follows the same step and ranks the same entries: what storage/classroom_sqlite.py does
with a file, with the same rules and sentences.

The database's clock decides when a challenge's time is up. An entry locks its challenge's row (FOR UPDATE)
before it counts and inserts, and so does clearing, and closing updates that row: an entry and the teacher's
"close" or "clear" (or two entries of one tab) take turns, so the limits hold across replicas. Opening a challenge
takes an advisory lock, so two teachers' clicks make one open challenge after the other. While the database cannot
be reached every call raises DatabaseUnavailable (a ClassStoreUnavailable).
"""
from __future__ import annotations

from typing import Any

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
from digitdnn.storage.class_store import Entry, Leaderboard, LessonState, checked_start
from digitdnn.storage.pg.database import PgDatabase
from digitdnn.training.history import checked_int

_OPEN_LOCK = 7_306_015  # pg_advisory_xact_lock key: challenges are opened one at a time
_LESSON = "running, step, steps, version, sha256"
_CHALLENGE = ("id, max_weights, max_seconds, closed IS NULL AND closes > {now}, "
              "greatest(0, extract(epoch FROM closes - {now}))::float8")
_RANKED = "ORDER BY test_accuracy DESC, weights, seconds, id"  # ties: fewer weights, faster, earlier


class PgLessons:
    """The class's lesson (class_store.Lessons) in table lesson: one row."""

    def __init__(self, db: PgDatabase):
        self._db = db

    def current(self) -> LessonState | None:
        return self._one(f"SELECT {_LESSON} FROM lesson", ())

    def lesson_text(self, sha256: str) -> str | None:
        with self._db.transaction() as connection:
            row = connection.execute("SELECT text FROM lesson WHERE sha256 = %s", (sha256,)).fetchone()
        return None if row is None else row[0]

    def start(self, text: str, sha256: str, steps: int) -> LessonState:
        text, sha256, steps = checked_start(text, sha256, steps)
        state = self._one(
            "INSERT INTO lesson (running, step, steps, version, sha256, text) VALUES (true, 1, %(steps)s, 1, "
            "%(sha256)s, %(text)s) ON CONFLICT (only_row) DO UPDATE SET running = true, step = 1, steps = %(steps)s, "
            "version = lesson.version + 1, sha256 = %(sha256)s, text = %(text)s, changed = now() "
            f"RETURNING {_LESSON}", {"steps": steps, "sha256": sha256, "text": text})
        assert state is not None  # an upsert returns its row
        return state

    def move(self, version: int, step: int) -> LessonState | None:
        version, step = checked_int(version, "version", 0), checked_int(step, "step", 0)
        return self._one("UPDATE lesson SET step = %(step)s, version = version + 1, changed = now() "
                         "WHERE running AND version = %(version)s AND %(step)s BETWEEN 1 AND steps "
                         f"RETURNING {_LESSON}", {"step": step, "version": version})

    def end(self, version: int) -> LessonState | None:
        version = checked_int(version, "version", 0)
        return self._one("UPDATE lesson SET running = false, version = version + 1, changed = now() "
                         f"WHERE running AND version = %s RETURNING {_LESSON}", (version,))

    def _one(self, statement: str, args: Any) -> LessonState | None:
        with self._db.transaction() as connection:
            row = connection.execute(statement, args).fetchone()
        return None if row is None else LessonState(*row)


class PgChallenges:
    """The class challenge (class_store.Challenges) in tables challenges and challenge_entries."""

    def __init__(self, db: PgDatabase):
        self._db = db

    def current(self) -> Challenge | None:
        with self._db.transaction() as connection:
            row = connection.execute(f"SELECT {_CHALLENGE.format(now='now()')} FROM challenges "
                                     "ORDER BY id DESC LIMIT 1").fetchone()
        return None if row is None else Challenge(*row)

    def open(self, limits: ChallengeLimits) -> Challenge:
        with self._db.transaction() as connection:
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_OPEN_LOCK,))
            connection.execute("UPDATE challenges SET closed = now() WHERE closed IS NULL")
            row = connection.execute(
                "INSERT INTO challenges (closes, max_weights, max_seconds) "
                "VALUES (now() + make_interval(secs => %s), %s, %s) "
                f"RETURNING {_CHALLENGE.format(now='now()')}",
                (60.0 * limits.minutes, limits.max_weights, float(limits.max_seconds))).fetchone()
            connection.execute("DELETE FROM challenges WHERE id NOT IN "
                               "(SELECT id FROM challenges ORDER BY id DESC LIMIT %s)", (KEPT_CHALLENGES,))
        assert row is not None  # just inserted
        return Challenge(*row)

    def close(self, challenge: int) -> None:
        challenge = checked_int(challenge, "challenge", 0)
        with self._db.transaction() as connection:
            connection.execute("UPDATE challenges SET closed = now() WHERE id = %s AND closed IS NULL", (challenge,))

    def clear(self, challenge: int) -> int:
        challenge = checked_int(challenge, "challenge", 0)
        with self._db.transaction() as connection:
            connection.execute("SELECT 1 FROM challenges WHERE id = %s FOR UPDATE", (challenge,))
            return connection.execute("DELETE FROM challenge_entries WHERE challenge = %s", (challenge,)).rowcount

    def enter(self, challenge: int, record: EntryRecord) -> str | None:
        challenge, record = checked_int(challenge, "challenge", 0), checked_record(record)
        with self._db.transaction() as connection:
            # Locked first; then read again (READ COMMITTED: a statement sees what committed before it began),
            # by the clock of this moment, not of the transaction's start.
            connection.execute("SELECT 1 FROM challenges WHERE id = %s FOR UPDATE", (challenge,))
            row = connection.execute(f"SELECT {_CHALLENGE.format(now='clock_timestamp()')}, "
                                     "EXISTS (SELECT 1 FROM challenges AS newer WHERE newer.id > challenges.id) "
                                     "FROM challenges WHERE id = %s", (challenge,)).fetchone()
            if row is None:
                newest = connection.execute("SELECT max(id) FROM challenges").fetchone()
                return CLOSED if newest is None or newest[0] is None or newest[0] < challenge else NEWER
            if row[-1]:
                return NEWER
            mine = connection.execute(
                "SELECT count(*), coalesce(bool_or(run = %s), false) FROM challenge_entries "
                "WHERE challenge = %s AND tab = %s", (record.run, challenge, record.tab)).fetchone()
            assert mine is not None  # an aggregate gives one row
            reason = refusal(Challenge(*row[:-1]), record, mine[0], mine[1])
            if reason is None:
                figures = record.figures
                connection.execute(
                    "INSERT INTO challenge_entries (challenge, tab, run, nickname, test_accuracy, weights, seconds, "
                    "settings) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (challenge, record.tab, record.run, record.nickname, figures.test_accuracy, figures.weights,
                     figures.seconds, figures.settings))
            return reason

    def leaderboard(self, challenge: int, tab: str | None = None, limit: int = LEADERBOARD_ROWS) -> Leaderboard:
        challenge, limit = checked_int(challenge, "challenge", 0), checked_int(limit, "limit", 0)
        if tab is not None and not isinstance(tab, str):
            raise ValueError("tab must be a string")
        with self._db.transaction() as connection:
            rows = connection.execute(
                "SELECT nickname, run, test_accuracy, weights, seconds, settings, coalesce(tab = %s, false) "
                f"FROM challenge_entries WHERE challenge = %s {_RANKED} LIMIT %s", (tab, challenge, limit)).fetchall()
            count = connection.execute("SELECT count(*) FROM challenge_entries WHERE challenge = %s",
                                       (challenge,)).fetchone()
        return Leaderboard([Entry(*row) for row in rows], count[0] if count else 0)
