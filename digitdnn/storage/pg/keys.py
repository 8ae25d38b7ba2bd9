"""The teacher key's back-off (server/key_guard.py) kept in the class database, so that a wrong key typed on one page
replica makes every replica wait: the same rule (key_guard.decide), the same warnings.

One try is one transaction under an advisory lock (tries from all replicas take turns: the first wrong key has no
row yet to lock), timed by the database's clock, so replicas on machines whose clocks differ agree on the waits.
Table key_backoff holds the server-wide wait (address '') and one row per address with wrong keys, at most
key_guard.MAX_ADDRESSES of them (the least recently seen are forgotten first); key_unlocks, the wrong keys since
the last unlock. While the database cannot be reached every try is refused for a few seconds, never let through
unchecked.
"""
from __future__ import annotations

import logging

import psycopg

from digitdnn.server import key_guard
from digitdnn.server.key_guard import (
    MAX_WAIT_SECONDS,
    SERVER_MAX_WAIT_SECONDS,
    Backoff,
    KeyCheck,
    Outcome,
    decide,
    log_wrong_key,
)
from digitdnn.storage.pg.database import DatabaseUnavailable, PgDatabase

SERVER_ROW = ""
UNAVAILABLE_WAIT_SECONDS = 5.0  # a try while the database is down is refused for this long
MAX_ADDRESS_CHARS = 200         # longer addresses are stored cut (an address is an IP, or a proxy's list of them)
_LOCK = 7_306_012               # pg_advisory_xact_lock key: one try at a time, across replicas
_LOG = logging.getLogger(__name__)


class PgKeyGuard:
    """KeyGuard's back-off in the database `db`; safe to share between threads and between replicas."""

    def __init__(self, db: PgDatabase, server_max_wait: float = SERVER_MAX_WAIT_SECONDS,
                 address_max_wait: float = MAX_WAIT_SECONDS):
        self._db = db
        self._server_max_wait, self._address_max_wait = server_max_wait, address_max_wait

    def check(self, right: bool, address: str | None) -> KeyCheck:
        """As KeyGuard.check; REFUSED for UNAVAILABLE_WAIT_SECONDS when the database cannot be used."""
        row = None if address is None else address.replace("\x00", "")[:MAX_ADDRESS_CHARS]
        try:
            with self._db.transaction() as connection:
                check, wrong_since_unlock = self._check(connection, right, row)
        except (DatabaseUnavailable, psycopg.Error) as exc:
            _LOG.warning("a teacher key try was refused: the class database cannot be used (%s)", exc)
            return KeyCheck(Outcome.REFUSED, seconds=UNAVAILABLE_WAIT_SECONDS)
        if check.outcome is Outcome.WRONG:
            log_wrong_key(address, wrong_since_unlock, check.seconds)
        return check

    def _check(self, connection: psycopg.Connection, right: bool, address: str | None) -> tuple[KeyCheck, int]:
        clock = connection.execute("SELECT extract(epoch FROM clock_timestamp())::float8 "
                                   "FROM pg_advisory_xact_lock(%s)", (_LOCK,)).fetchone()
        assert clock is not None
        now = clock[0]
        rows = connection.execute(
            "SELECT address, failures, extract(epoch FROM not_before)::float8 FROM key_backoff "
            "WHERE address = %s OR address = %s", (SERVER_ROW, SERVER_ROW if address is None else address)).fetchall()
        stored = {name: Backoff(failures, not_before) for name, failures, not_before in rows}
        unlocks = connection.execute("SELECT wrong_since_unlock FROM key_unlocks").fetchone()
        decision = decide(stored.get(SERVER_ROW, Backoff()),
                          None if address is None else stored.get(address, Backoff()),
                          unlocks[0] if unlocks else 0, right, now, self._server_max_wait, self._address_max_wait)
        if decision.check.outcome is not Outcome.REFUSED:
            _store(connection, SERVER_ROW, decision.server)
            if address is not None and decision.address is not None:
                _store(connection, address, decision.address)
            connection.execute(
                "INSERT INTO key_unlocks (wrong_since_unlock) VALUES (%s) "
                "ON CONFLICT (only_row) DO UPDATE SET wrong_since_unlock = excluded.wrong_since_unlock",
                (decision.wrong_since_unlock,))
            if address is not None and decision.check.outcome is Outcome.WRONG:
                _forget_oldest_addresses(connection)
        return decision.check, decision.wrong_since_unlock


def _store(connection: psycopg.Connection, address: str, backoff: Backoff) -> None:
    if backoff == Backoff():
        connection.execute("DELETE FROM key_backoff WHERE address = %s", (address,))
        return
    connection.execute(
        "INSERT INTO key_backoff (address, failures, not_before, last_seen) "
        "VALUES (%s, %s, to_timestamp(%s), clock_timestamp()) ON CONFLICT (address) DO UPDATE SET "
        "failures = excluded.failures, not_before = excluded.not_before, last_seen = excluded.last_seen",
        (address, backoff.failures, backoff.not_before))


def _forget_oldest_addresses(connection: psycopg.Connection) -> None:
    """Keep the key_guard.MAX_ADDRESSES addresses seen last."""
    connection.execute(
        "DELETE FROM key_backoff WHERE address IN (SELECT address FROM key_backoff WHERE address <> %s "
        "ORDER BY last_seen DESC OFFSET %s)", (SERVER_ROW, key_guard.MAX_ADDRESSES))

