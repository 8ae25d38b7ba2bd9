"""Rate limits (server/rate_limit.py's RateLimiter) counted in the class database, so that the limits hold for the
whole class however many page replicas serve it: at most N events in any sliding window of W seconds, per key.

A take is one transaction under an advisory lock for the limiter's name (the replicas' takes of one limiter take
turns), timed by the database's clock: the events of each slot inside the window are counted, and one row per slot
is added only when no limit is full. Rows older than the window are deleted as they age (at most every
PRUNE_EVERY_SECONDS per process). While the database cannot be reached, takes are allowed (and logged): what the
limit guards (storing a drawing) fails then anyway, with its own message.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Hashable, Mapping
from datetime import datetime, timedelta

import psycopg

from digitdnn.storage.pg.database import DatabaseUnavailable, PgDatabase

PRUNE_EVERY_SECONDS = 10.0
_LOCK_CLASS = 7_306_013  # first key of pg_advisory_xact_lock(int, int); the second is the limiter name's hash
_LOG = logging.getLogger(__name__)


class PgRateLimiter:
    """At most `limits[name]` events per key within any `window_seconds`, for each named limit, shared by every
    process that uses the limiter `name` on the database `db`."""

    def __init__(self, db: PgDatabase, name: str, limits: Mapping[str, int], window_seconds: float = 60.0):
        for limit, most in limits.items():
            if most < 1:
                raise ValueError(f"the limit {limit!r} must allow at least one event, got {most}")
        self.name = name
        self.limits = dict(limits)
        self.window_seconds = window_seconds
        self._db = db
        self._pruned_at = float("-inf")

    def take(self, keys: Mapping[str, Hashable]) -> str | None:
        """As RateLimiter.take: count one event under each limit named in `keys` (for that key) if none of them is
        full and return None, else count nothing and return the name of the first full limit. None, uncounted,
        when the database cannot be used."""
        unknown = set(keys) - set(self.limits)
        if unknown:
            raise KeyError(f"no such limit: {', '.join(sorted(unknown))}")
        slots = {limit: json.dumps([limit, str(key)]) for limit, key in keys.items()}  # json: no NUL, no ambiguity
        try:
            with self._db.transaction() as connection:
                return self._take(connection, slots)
        except (DatabaseUnavailable, psycopg.Error) as exc:
            _LOG.warning("the rate limit %r was not checked: the class database cannot be used (%s)", self.name, exc)
            return None

    def _take(self, connection: psycopg.Connection, slots: dict[str, str]) -> str | None:
        row = connection.execute("SELECT clock_timestamp() FROM pg_advisory_xact_lock(%s, hashtext(%s))",
                                 (_LOCK_CLASS, self.name)).fetchone()
        assert row is not None
        now: datetime = row[0]
        since = now - timedelta(seconds=self.window_seconds)
        counts: dict[str, int] = dict(connection.execute(
            "SELECT slot, count(*) FROM rate_events WHERE limiter = %s AND slot = ANY(%s) AND at > %s GROUP BY slot",
            (self.name, list(slots.values()), since)).fetchall())
        for limit, slot in slots.items():
            if counts.get(slot, 0) >= self.limits[limit]:
                return limit
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO rate_events (limiter, slot, at) VALUES (%s, %s, %s)",
                               [(self.name, slot, now) for slot in slots.values()])
        if time.monotonic() - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = time.monotonic()
            connection.execute("DELETE FROM rate_events WHERE limiter = %s AND at <= %s", (self.name, since))
        return None
