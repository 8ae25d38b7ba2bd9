"""One connection pool to the class's PostgreSQL database per server process, opened on first use.

`PgDatabase.transaction()` hands out a pooled connection inside a transaction. The schema (pg/schema.py) is
migrated on the first connection. While the database cannot be reached every call fails at once with
`DatabaseUnavailable` (a plain sentence), for RETRY_AFTER_SECONDS after a failed attempt, instead of making every
session of the page wait for a connection timeout; the first call after that tries again, so the page recovers by
itself when PostgreSQL is back (no restart).
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from digitdnn.storage.class_store import ClassStoreUnavailable
from digitdnn.storage.pg.schema import MIGRATIONS

CONNECT_TIMEOUT_SECONDS = 3
RETRY_AFTER_SECONDS = 2.0
POOL_SIZE = 4
_MIGRATION_LOCK = 7_306_011  # pg_advisory_xact_lock key: one server migrates at a time
_LOG = logging.getLogger(__name__)


class DatabaseUnavailable(ClassStoreUnavailable):
    """The class database cannot be used just now (down, unreachable, or newer than this version): a plain sentence."""


class PgDatabase:
    """The database at `url` (postgresql://...). Safe to share between threads."""

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._failed_at: float | None = None
        self._failure = ""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A connection in a transaction, committed when the block ends (rolled back on an exception).
        DatabaseUnavailable when the database cannot be reached."""
        pool = self._open_pool()
        try:
            with pool.connection(timeout=CONNECT_TIMEOUT_SECONDS) as connection, connection.transaction():
                yield connection
        except (psycopg.OperationalError, PoolTimeout) as exc:
            # The pool is dropped: a new one after RETRY_AFTER_SECONDS reconnects at once when the database is back,
            # where this one's reconnection attempts back off longer the longer it was down.
            with self._lock:
                if self._pool is pool:
                    self._pool = None
                self._note_failure(exc)
            pool.close(timeout=0)
            raise DatabaseUnavailable(self._failure) from exc

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _open_pool(self) -> ConnectionPool:
        with self._lock:
            if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_AFTER_SECONDS:
                raise DatabaseUnavailable(self._failure)
            if self._pool is None:
                connect: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "autocommit": True}
                try:  # one plain connection first: when it fails, its error says why (refused, wrong password...)
                    with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True) as first:
                        migrate(first)
                except psycopg.OperationalError as exc:
                    self._note_failure(exc)
                    raise DatabaseUnavailable(self._failure) from exc
                self._pool = ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE, kwargs=connect,
                                            check=ConnectionPool.check_connection, name="digitdnn", open=True)
            self._failed_at = None
            return self._pool

    def _note_failure(self, exc: Exception) -> None:
        self._failed_at = time.monotonic()
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__  # (psycopg's errors hold no password)
        self._failure = f"The class database cannot be reached just now ({reason})."
        _LOG.warning("the class database at %s: %s", without_password(self.url), reason)


def migrate(connection: psycopg.Connection) -> None:
    """Apply the migrations this database has not seen, one server at a time; refuse one migrated further."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] if row and row[0] is not None else 0
        if version > len(MIGRATIONS):
            raise DatabaseUnavailable(f"The class database was set up by a newer digitdnn (schema {version}; this "
                                      f"version knows up to {len(MIGRATIONS)}): upgrade digitdnn on this server.")
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            connection.execute(statements)
            connection.execute("INSERT INTO schema_version VALUES (%s)", (number,))
            _LOG.info("the class database was migrated to schema %d", number)


def without_password(url: str) -> str:
    """host:port/database of a connection URL: what logs and messages may show of it."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', '')}:{info.get('port', '')}/{info.get('dbname', '')}"
