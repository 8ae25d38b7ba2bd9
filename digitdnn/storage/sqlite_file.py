"""What the server's SQLite files share (the drawings, storage/drawings.py; the classroom,
storage/classroom_sqlite.py): connections that wait for each other and survive a crash, files only their owner
reads, and write transactions taken at once."""
from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

BUSY_TIMEOUT_SECONDS = 5.0  # SQLite waits this long for another writer before saying "locked"

T = TypeVar("T")


def create_private(path: Path) -> None:
    """Create the file `path` readable by its owner only (0600) if it is missing; SQLite would create it 0644. A
    failure is left for SQLite to report when it opens the file."""
    if not path.exists():
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the SQLite file `path` (created 0600 if missing) in autocommit mode: write-ahead log,
    synchronous FULL (a commit survives a crash of the machine), waiting up to BUSY_TIMEOUT_SECONDS for writers,
    foreign keys enforced."""
    create_private(path)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
    except BaseException:
        db.close()
        raise
    return db


def write_transaction(db: sqlite3.Connection, change: Callable[[], T]) -> T:
    """change() in one write transaction, taken at once (BEGIN IMMEDIATE: no upgrade deadlocks)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = change()
        db.execute("COMMIT")
        return result
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
