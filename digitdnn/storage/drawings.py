"""The class's drawings: a SQLite file of labelled 28x28 inputs that many sessions write at once.

One table, ``drawings``, one row per stored drawing:

    id             INTEGER   increasing; order of arrival
    created        TEXT      UTC time, ISO 8601 with milliseconds
    label          INTEGER   0-9, what the student said it was
    pixels         BLOB      the 28x28 network input as 784 uint8 bytes, round(x * 255), row-major
    predicted      INTEGER   what the session's model said (or NULL)
    probabilities  BLOB      its ten probabilities as float32 little-endian (or NULL)
    model          TEXT      which model (a name; or NULL)
    session        TEXT      an anonymous per-session id (or NULL); nothing about the person
    image_png      BLOB      the canvas as PNG (or NULL)
    default_predicted INTEGER  what the server's default model said (or NULL; added in schema version 2)

The schema version is ``PRAGMA user_version``; an older file is upgraded on opening, a file written by a newer
version is refused. The file (and SQLite's journal files, which copy its mode) is created readable by its owner
only. The journal is WAL, so readers never wait for writers; writers take turns (busy timeout plus retries), and
every call opens its own connection, so any number of threads and processes may share one file.
A file that SQLite says is not a database, or is malformed, is renamed aside (never deleted) and a
fresh one started; ``store.notice`` says so. A file or folder deleted while the server runs is created again
(schema included) by the next call. Every other failure (read-only folder, full disk) is one exception,
``DrawingStoreError``, with a plain sentence that gives the operating system's reason. The values of a row are
checked in storage.drawing_rows; the .npz export and import are storage.drawings_npz.
"""
from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import numpy as np

from digitdnn.model import N_CLASSES, N_PIXELS
from digitdnn.server import settings
from digitdnn.storage.drawing_rows import (
    INSERT_COLUMNS,
    READ_COLUMNS,
    Drawing,
    TabSummary,
    checked_digit,
    checked_integer,
    checked_row,
    drawing_from_row,
    pixels_to_images,
    utc_now,
)
from digitdnn.storage.drawings_npz import read_export, write_export
from digitdnn.storage.files import os_reason
from digitdnn.storage.sqlite_file import BUSY_TIMEOUT_SECONDS, create_private, write_transaction

SCHEMA_VERSION = 2
LOCKED_RETRY_SECONDS = 30.0      # on top of that, a locked write is retried for this long in all
_SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's companions of a database file
_CORRUPT_CODES = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_UNWRITABLE_CODES = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
_READ_ONLY_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}  # the OS refusals that mean "read-only"
_RECOVERY_LOCK = threading.Lock()  # one thread of this process sets a damaged file aside at a time
_LOG = logging.getLogger(__name__)

_SCHEMA_V1 = f"""
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    pixels BLOB NOT NULL CHECK (length(pixels) = {N_PIXELS}),
    predicted INTEGER CHECK (predicted BETWEEN 0 AND 9),
    probabilities BLOB CHECK (length(probabilities) = {4 * N_CLASSES}),
    model TEXT,
    session TEXT,
    image_png BLOB
);
CREATE INDEX drawings_by_label ON drawings (label, id)
"""
_UPGRADES = {  # version: the statements that turn a file of that version into the next one
    1: """
ALTER TABLE drawings ADD COLUMN default_predicted INTEGER CHECK (default_predicted BETWEEN 0 AND 9);
CREATE INDEX drawings_by_session ON drawings (session, id)
""",
}
_DISAGREES = "label IS NOT coalesce(default_predicted, predicted, label)"  # SQL: the label differs from the answer

T = TypeVar("T")


class DrawingStoreError(Exception):
    """The drawings database cannot be used (read-only, full disk, newer schema, not ours): a plain sentence."""


class _DatabaseGone(Exception):
    """The database file or its folder was deleted while in use; `error` is the SQLite error that showed it."""

    def __init__(self, error: sqlite3.OperationalError):
        super().__init__(str(error))
        self.error = error


def default_drawings_path() -> Path:
    """$DIGITDNN_DRAWINGS_DB, else ./class-data/drawings.sqlite (relative to the working folder)."""
    return settings.drawings_db_path()


class DrawingStore:
    """The drawings database at `path` (None: default_drawings_path()); created with its folders if missing.

    Safe to share between threads and processes. ``notice`` is a message for the page when a damaged
    file was set aside, else None; ``noticed_at`` is when (time.monotonic()).
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_drawings_path()
        self.notice: str | None = None
        self.noticed_at: float | None = None
        self._make_folder()
        self._do(self._initialise)

    # ---- writing

    def add(self, x, label, *, predicted=None, probabilities=None, model=None, session=None,
            image_png=None, default_predicted=None) -> int:
        """Store one drawing; returns its id. ValueError (naming the field) for bad input.

        `predicted` is what the session's model said, `default_predicted` what the server's default model said.
        """
        row = checked_row(x, label, predicted, probabilities, model, session, image_png, default_predicted)
        return self._do(lambda db: _insert(db, [(utc_now(), *row)]))[0]

    def import_npz(self, path: str | os.PathLike) -> int:
        """Add the drawings of an .npz as export() writes it (x and y required, the rest optional); returns how many.

        All are added in one transaction, or none. Their times are kept; ids are new.
        """
        rows = read_export(path)
        return len(self._do(lambda db: _insert(db, rows)))

    def delete(self, ids: Iterable[int]) -> int:
        """Delete the drawings with these ids (unknown ids are ignored); returns how many went.

        Deleted content is overwritten in the file (secure_delete) and the journal emptied.
        """
        ids = [checked_integer("ids", i) for i in ids]
        deleted = self._do(lambda db: write_transaction(db, lambda: db.executemany(
            "DELETE FROM drawings WHERE id = ?", [(i,) for i in ids]).rowcount))
        self._do(_truncate_journal)
        return deleted

    def delete_tab(self, session: str) -> int:
        """Delete the drawings of one browser tab (as tabs() names it); returns how many went."""
        session = checked_session(session)
        deleted = self._do(lambda db: write_transaction(db, lambda: db.execute(
            f"DELETE FROM drawings WHERE {_SAME_TAB}", (session, session)).rowcount))
        self._do(_truncate_journal)
        return deleted

    def delete_all(self) -> int:
        """Delete every drawing; returns how many went (their content is overwritten, the journal emptied)."""
        deleted = self._do(lambda db: write_transaction(db, lambda: db.execute("DELETE FROM drawings").rowcount))
        self._do(_truncate_journal)
        return deleted

    # ---- reading

    def count(self) -> int:
        """How many drawings are stored."""
        return self._do(lambda db: db.execute("SELECT count(*) FROM drawings").fetchone()[0])

    def counts(self) -> np.ndarray:
        """Drawings per label, shape (10,) int64."""
        found = np.zeros(N_CLASSES, np.int64)
        for label, n in self._do(lambda db: db.execute(
                "SELECT label, count(*) FROM drawings GROUP BY label").fetchall()):
            found[label] = n
        return found

    def tabs(self) -> list[TabSummary]:
        """One summary per browser tab, the tabs whose labels most often differ from the model's answer first
        (by share, then by how many drawings), counted by the database."""
        rows = self._do(lambda db: db.execute(
            f"SELECT coalesce(session, ''), count(*), count(CASE WHEN {_DISAGREES} THEN 1 END), max(created) "
            f"FROM drawings GROUP BY coalesce(session, '') "
            f"ORDER BY 1.0 * count(CASE WHEN {_DISAGREES} THEN 1 END) / count(*) DESC, count(*) DESC, 1"
        ).fetchall())
        return [TabSummary(session, n, disagreeing, last) for session, n, disagreeing, last in rows]

    def arrays(self, newest: int | None = None, stored: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """All drawings (or only the `newest` ones), oldest first: x float32 (n, 28, 28) in [0, 1] (stored: the
        uint8 grey levels as stored, a quarter of the memory) and y int64 (n,)."""
        x, y, _ = self.arrays_with_tabs(newest, stored)
        return x, y

    def arrays_with_tabs(self, newest: int | None = None, stored: bool = False, up_to: int | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """arrays(newest, stored) and each drawing's browser tab, as tabs() names it ("" for none): an object array
        of str (n,), one string object per tab. With `up_to`, only the drawings whose id is at most that."""
        limit = -1 if newest is None else checked_limit("newest", newest)
        where, args = ("", [limit]) if up_to is None else ("WHERE id <= ?", [checked_limit("up_to", up_to), limit])
        rows = self._do(lambda db: db.execute(
            "SELECT pixels, label, tab FROM (SELECT id, pixels, label, coalesce(session, '') AS tab FROM drawings "
            f"{where} ORDER BY id DESC LIMIT ?) ORDER BY id", args).fetchall())
        same: dict[str, str] = {}
        tabs = np.empty(len(rows), dtype=object)
        tabs[:] = [same.setdefault(tab, tab) for _, _, tab in rows]
        return (pixels_to_images([p for p, _, _ in rows], stored), np.array([label for _, label, _ in rows], np.int64),
                tabs)

    def recent(self, label: int | None = None, limit: int = 50, offset: int = 0) -> list[Drawing]:
        """The newest drawings first (of one label, or all), at most `limit` of them, skipping the `offset` newest
        (a page of a gallery)."""
        limit, offset = checked_limit("limit", limit), checked_limit("offset", offset)
        where, args = ("WHERE label = ?", [checked_digit("label", label)]) if label is not None else ("", [])
        rows = self._do(lambda db: db.execute(
            f"SELECT {READ_COLUMNS} FROM drawings {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset]).fetchall())
        return [drawing_from_row(row) for row in rows]

    def export(self, path: str | os.PathLike) -> int:
        """Write every drawing to an .npz (written whole or not at all; see storage.drawings_npz); returns how many."""
        rows = self._do(lambda db: db.execute(f"SELECT {READ_COLUMNS}, image_png FROM drawings ORDER BY id").fetchall())
        write_export(path, [drawing_from_row(row[:-1]) for row in rows], [row[-1] or b"" for row in rows])
        return len(rows)

    # ---- connections, recovery and errors

    def _connect(self) -> sqlite3.Connection:
        create_private(self.path)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        db.execute("PRAGMA synchronous = FULL")   # a committed drawing survives a crash of the machine too
        db.execute("PRAGMA secure_delete = ON")   # deleted drawings are overwritten, not just unlinked
        return db

    def _do(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """operation(connection); a damaged file found on the way is set aside, a fresh one started, and the
        operation run again there. Raises DrawingStoreError for anything it cannot handle."""
        try:
            return self._run(operation)
        except _DatabaseGone:
            _LOG.warning("the drawings database %s was deleted; starting a new one", self.path)
            self._make_folder()
        except sqlite3.DatabaseError as exc:
            _LOG.warning("the drawings database %s is damaged; setting it aside", self.path, exc_info=True)
            self._set_aside(exc)
        try:
            self._run(self._initialise)
            return self._run(operation)
        except _DatabaseGone as gone:
            raise DrawingStoreError(self._explain(gone.error)) from gone.error
        except sqlite3.DatabaseError as exc:
            raise DrawingStoreError(self._explain(exc)) from exc

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """operation(connection) on a fresh connection, retried while the database is locked.

        sqlite3.DatabaseError for a damaged file and _DatabaseGone for a deleted one (the caller decides);
        DrawingStoreError for the rest.
        """
        deadline = time.monotonic() + LOCKED_RETRY_SECONDS
        pause = 0.01
        while True:
            try:
                with contextlib.closing(self._connect()) as db:
                    return operation(db)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode in _BUSY_CODES and time.monotonic() < deadline:
                    time.sleep(pause * (1 + random.random()))
                    pause = min(pause * 2, 0.5)
                    continue
                if self._gone(exc):
                    raise _DatabaseGone(exc) from exc
                raise DrawingStoreError(self._explain(exc)) from exc
            except sqlite3.DatabaseError as exc:
                if exc.sqlite_errorcode in _CORRUPT_CODES:
                    raise
                raise DrawingStoreError(self._explain(exc)) from exc

    def _gone(self, exc: sqlite3.OperationalError) -> bool:
        """Whether `exc` means the file was deleted: its folder is missing, or SQLite opened a new, empty file."""
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_CANTOPEN:
            return not self.path.parent.is_dir()
        return str(exc).startswith("no such table: drawings")

    def _make_folder(self) -> None:
        """Create the database's folder (and its parents) if missing; DrawingStoreError saying why it cannot."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = f"{exc.filename} is a file, not a folder" if isinstance(exc, FileExistsError) else os_reason(exc)
            raise DrawingStoreError(f"Cannot create the folder for the drawings database {self.path}: "
                                    f"{reason}.") from exc

    def _os_refusal(self) -> OSError | None:
        """What the OS says when asked to create a file beside the database and open it for writing (None: fine)."""
        try:
            with tempfile.TemporaryFile(dir=self.path.parent):
                pass
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            return exc
        return None

    def _explain(self, exc: sqlite3.Error) -> str:
        code = exc.sqlite_errorcode & 0xFF  # the primary result code of an extended one
        if code == sqlite3.SQLITE_FULL:
            return f"The drawings database {self.path} cannot grow: the disk is full."
        if code == sqlite3.SQLITE_IOERR:
            return (f"The drawings database {self.path} could not be written to disk "
                    f"(full, too large or failing: {exc}).")
        if code in _UNWRITABLE_CODES:
            refusal = self._os_refusal()
            if refusal is not None and refusal.errno not in _READ_ONLY_ERRNOS:
                return f"The drawings database {self.path} cannot be opened: {os_reason(refusal)}."
            return (f"The drawings database {self.path} cannot be written: its folder or file is read-only "
                    f"or not accessible ({os_reason(refusal) if refusal else exc}).")
        if code in _BUSY_CODES:
            return f"The drawings database {self.path} stayed locked by other writers for too long."
        return f"The drawings database {self.path} failed: {exc}."

    def _initialise(self, db: sqlite3.Connection) -> None:
        """Create the schema in an empty file, upgrade an older one, refuse a newer one, switch to WAL."""
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
                tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
                if version == 0 and tables:
                    raise DrawingStoreError(f"{self.path} is a SQLite file of something else, not a drawings "
                                            f"database; choose another path.")
                for script in ([_SCHEMA_V1] if version == 0 else []) + [
                        _UPGRADES[v] for v in range(max(version, 1), SCHEMA_VERSION)]:
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
                if version < SCHEMA_VERSION:
                    version = SCHEMA_VERSION
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        if version > SCHEMA_VERSION:
            raise DrawingStoreError(f"The drawings database {self.path} has schema version {version}, newer than "
                                    f"this digitdnn knows ({SCHEMA_VERSION}); upgrade digitdnn to use it.")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")

    def _set_aside(self, cause: sqlite3.DatabaseError) -> None:
        """Rename the damaged file (and its journal files) to PATH.corrupt-<UTC time>, under a lock."""
        with _RECOVERY_LOCK, _file_lock(self.path.with_name(self.path.name + ".lock")):
            with contextlib.suppress(sqlite3.DatabaseError):
                if self._run(lambda db: db.execute("PRAGMA quick_check(1)").fetchone()[0]) == "ok":
                    return  # another thread or process set it aside and started a fresh one meanwhile
            stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            try:
                os.replace(self.path, aside)
                for suffix in _SIDE_FILES:
                    side = Path(str(self.path) + suffix)
                    if side.exists():
                        os.replace(side, Path(str(aside) + suffix))
            except OSError as exc:
                raise DrawingStoreError(f"The drawings database {self.path} is damaged ({cause}) and could not be "
                                        f"set aside: {os_reason(exc)}.") from exc
        self.notice = (f"The drawings database {self.path} was damaged ({cause}); it was kept as {aside.name} "
                       f"and a new, empty database was started.")
        self.noticed_at = time.monotonic()


# ---- transactions and files

def _insert(db: sqlite3.Connection, rows: list[tuple]) -> list[int]:
    """Insert full rows in one transaction; their new ids."""
    def insert():
        return [db.execute(f"INSERT INTO drawings ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           row).lastrowid for row in rows]
    return write_transaction(db, insert)


_SAME_TAB = "(session = ? OR (? = '' AND session IS NULL))"  # SQL: a tab as tabs() names it ("": no session)


def checked_limit(name: str, value) -> int:
    """`value` as a count of rows (a limit, an offset): an int >= 0; ValueError naming the field otherwise."""
    value = checked_integer(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def checked_session(session) -> str:
    """A browser tab's name as tabs() gives it: a string; ValueError naming the field otherwise."""
    if not isinstance(session, str):
        raise ValueError(f"session must be a string, got {type(session).__name__}")
    return session


def _truncate_journal(db: sqlite3.Connection) -> None:
    """Copy the WAL into the database and empty it, so deleted rows leave no copy in the journal."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock between processes on `path` (POSIX; elsewhere only the thread lock holds)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        handle = open(path, "a")
    except OSError as exc:
        raise DrawingStoreError(f"Cannot lock {path} to set a damaged drawings database aside: "
                                f"{os_reason(exc)}.") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
