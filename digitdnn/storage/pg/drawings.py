"""The class's drawings in PostgreSQL: storage/drawings.py's DrawingStore for page servers on many machines.

The `drawings` table (pg/schema.py) has the columns of the SQLite one, and every value is checked the same way
(storage.drawing_rows) before it is sent; the .npz export and import are storage.drawings_npz. Each call is one
transaction on a pooled connection (pg/database.py). Any failure of the database, down or refusing, is a
DrawingStoreError with a plain sentence; while it is down calls fail at once, and the same store works again when
it is back.

Unlike SQLite's secure_delete, PostgreSQL leaves the content of deleted rows in its data files until VACUUM
(automatic, or run by the operator) reuses the space.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator

import numpy as np
import psycopg

from digitdnn.model import N_CLASSES
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
from digitdnn.storage.drawings import DrawingStoreError, checked_limit, checked_session
from digitdnn.storage.drawings_npz import read_export, write_export
from digitdnn.storage.pg.database import DatabaseUnavailable, PgDatabase

_INSERT = f"INSERT INTO drawings ({INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})"
_TAB = "coalesce(session, '')"  # SQL: a drawing's browser tab as tabs() names it ("": no session)
_SAME_TAB = "(session = %(tab)s OR (%(tab)s = '' AND session IS NULL))"  # SQL: the drawings of one tab
_DISAGREEING = "count(*) FILTER (WHERE label <> coalesce(default_predicted, predicted, label))"


class PgDrawingStore:
    """The drawings table of the class database `db`. Safe to share between threads (and servers)."""

    notice: str | None = None  # nothing is ever set aside here

    def __init__(self, db: PgDatabase):
        self.db = db

    # ---- writing

    def add(self, x, label, *, predicted=None, probabilities=None, model=None, session=None,
            image_png=None, default_predicted=None) -> int:
        """Store one drawing; returns its id. ValueError (naming the field) for bad input."""
        row = checked_row(x, label, predicted, probabilities, model, session, image_png, default_predicted)
        with self._transaction() as db:
            [(new_id,)] = db.execute(_INSERT + " RETURNING id", (utc_now(), *row)).fetchall()
        return new_id

    def import_npz(self, path: str | os.PathLike) -> int:
        """Add the drawings of an .npz as export() writes it, all in one transaction or none; returns how many."""
        rows = read_export(path)
        with self._transaction() as db, db.cursor() as cursor:
            cursor.executemany(_INSERT, rows)
        return len(rows)

    def delete(self, ids: Iterable[int]) -> int:
        """Delete the drawings with these ids (unknown ids are ignored); returns how many went."""
        checked = [checked_integer("ids", i) for i in ids]
        ids = [i for i in checked if -2**63 <= i < 2**63]  # a BIGINT: no other number is the id of a drawing
        with self._transaction() as db:
            return db.execute("DELETE FROM drawings WHERE id = ANY(%s::bigint[])", (ids,)).rowcount

    def delete_tab(self, session: str) -> int:
        """Delete the drawings of one browser tab (as tabs() names it); returns how many went."""
        session = checked_session(session)
        with self._transaction() as db:
            return db.execute(f"DELETE FROM drawings WHERE {_SAME_TAB}", {"tab": session}).rowcount

    def delete_all(self) -> int:
        """Delete every drawing; returns how many went."""
        with self._transaction() as db:
            return db.execute("DELETE FROM drawings").rowcount

    # ---- reading

    def count(self) -> int:
        """How many drawings are stored."""
        with self._transaction() as db:
            [(n,)] = db.execute("SELECT count(*) FROM drawings").fetchall()
        return n

    def counts(self) -> np.ndarray:
        """Drawings per label, shape (10,) int64."""
        found = np.zeros(N_CLASSES, np.int64)
        with self._transaction() as db:
            for label, n in db.execute("SELECT label, count(*) FROM drawings GROUP BY label"):
                found[label] = n
        return found

    def tabs(self) -> list[TabSummary]:
        """One summary per browser tab, the tabs whose labels most often differ from the model's answer first
        (by share, then by how many drawings, then by name as bytes: the SQLite store's order)."""
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_TAB}, count(*), {_DISAGREEING}, max(created) FROM drawings GROUP BY {_TAB} "
                f"ORDER BY {_DISAGREEING}::float8 / count(*) DESC, count(*) DESC, {_TAB} COLLATE \"C\"").fetchall()
        return [TabSummary(session, n, disagreeing, last) for session, n, disagreeing, last in rows]

    def arrays(self, newest: int | None = None, stored: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """All drawings (or only the `newest` ones), oldest first: x float32 (n, 28, 28) in [0, 1] (stored: uint8
        as stored) and y int64 (n,)."""
        x, y, _ = self.arrays_with_tabs(newest, stored)
        return x, y

    def arrays_with_tabs(self, newest: int | None = None, stored: bool = False, up_to: int | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """arrays(newest, stored) and each drawing's browser tab as tabs() names it: an object array of str (n,).
        With `up_to`, only the drawings whose id is at most that."""
        limit = None if newest is None else checked_limit("newest", newest)
        where, args = ("", [limit]) if up_to is None else ("WHERE id <= %s", [checked_limit("up_to", up_to), limit])
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT pixels, label, tab FROM (SELECT id, pixels, label, {_TAB} AS tab FROM drawings {where} "
                "ORDER BY id DESC LIMIT %s) AS newest ORDER BY id", args).fetchall()
        same: dict[str, str] = {}
        tabs = np.empty(len(rows), dtype=object)
        tabs[:] = [same.setdefault(tab, tab) for _, _, tab in rows]
        return (pixels_to_images([p for p, _, _ in rows], stored), np.array([label for _, label, _ in rows], np.int64),
                tabs)

    def recent(self, label: int | None = None, limit: int = 50, offset: int = 0) -> list[Drawing]:
        """The newest drawings first (of one label, or all), at most `limit`, skipping the `offset` newest."""
        limit, offset = checked_limit("limit", limit), checked_limit("offset", offset)
        where, args = ("WHERE label = %s", [checked_digit("label", label)]) if label is not None else ("", [])
        with self._transaction() as db:
            rows = db.execute(f"SELECT {READ_COLUMNS} FROM drawings {where} ORDER BY id DESC LIMIT %s OFFSET %s",
                              [*args, limit, offset]).fetchall()
        return [drawing_from_row(row) for row in rows]

    def export(self, path: str | os.PathLike) -> int:
        """Write every drawing to an .npz (written whole or not at all; see storage.drawings_npz); returns how many."""
        with self._transaction() as db:
            rows = db.execute(f"SELECT {READ_COLUMNS}, image_png FROM drawings ORDER BY id").fetchall()
        write_export(path, [drawing_from_row(row[:-1]) for row in rows], [row[-1] or b"" for row in rows])
        return len(rows)

    # ---- errors

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        """A connection in a transaction; every failure of the database as a DrawingStoreError."""
        try:
            with self.db.transaction() as connection:
                yield connection
        except DatabaseUnavailable as exc:
            raise DrawingStoreError(str(exc)) from exc
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise DrawingStoreError(f"The class database refused the drawings ({reason}).") from exc
