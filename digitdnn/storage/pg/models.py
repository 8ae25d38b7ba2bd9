"""Saved models and the teacher's default in the class database (storage/class_store.py's ModelShelf), so that a
model saved on one page replica is listed and opens on every other: what storage/model_shelf.py's FolderShelf does
with a folder, with the same names, checks, limits and sentences.

A model is one row of table models: the .keras bytes as save_classifier writes them, their sha256 and the sidecar
card; the name is the primary key, so of several savers racing for a name exactly one gets it. Listing reads the
cards only. `open` writes a model's bytes and card into this machine's cache folder (FILE.keras and its sidecar
FILE.json, as load_classifier reads them), once per model file and card, named by their hashes, so any number of
replicas on one machine share the files. Table class_default names the teacher's choice.

When the database cannot be reached, `save` raises SaveError (as a full disk does), the other methods
DatabaseUnavailable (a plain sentence).
"""
from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from digitdnn.storage.class_store import SavedModel
from digitdnn.storage.files import atomic_write, os_reason
from digitdnn.storage.keras_check import megabytes
from digitdnn.storage.model_shelf import SAFE_NAME, checked_model_name
from digitdnn.storage.models import FolderLimits, SaveError, check_model_size, name_taken, save_classifier, sidecar_path
from digitdnn.storage.pg.database import DatabaseUnavailable, PgDatabase

if TYPE_CHECKING:
    from digitdnn.model import Classifier
    from digitdnn.storage.model_card import ModelCard

DATABASE_DOWN = "Cannot save the model: the class database cannot be reached just now; try again in a minute."
_SAVE_LOCK = 7_306_014  # pg_advisory_xact_lock key: saves take turns, so the limit on all models together holds
_LOG = logging.getLogger(__name__)


class PgShelf:
    """The saved models of the database `db`, opened as files in `cache_dir` (created when first needed)."""

    def __init__(self, db: PgDatabase, cache_dir: Path):
        self._db = db
        self.cache_dir = Path(cache_dir)

    def list(self) -> list[SavedModel]:
        with self._db.transaction() as connection:
            rows = connection.execute("SELECT name, card FROM models").fetchall()
        return [SavedModel(name, card, None) for name, card in sorted(rows, key=lambda row: row[0])]

    def save(self, classifier: Classifier, name: str, metadata: ModelCard | dict | None,
             limits: FolderLimits | None = None) -> str:
        name = checked_model_name(name)
        file_name = f"{name}.keras"
        try:
            with tempfile.TemporaryDirectory(prefix="digitdnn-save-") as folder:
                path = save_classifier(classifier, Path(folder) / file_name, metadata, name=file_name)
                data, card = path.read_bytes(), sidecar_path(path).read_bytes()
        except SaveError:
            raise
        except OSError as exc:
            raise SaveError(f"Cannot save the model to {file_name}: {os_reason(exc)}.") from exc
        try:
            with self._db.transaction() as connection:
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SAVE_LOCK,))
                if connection.execute("SELECT 1 FROM models WHERE name = %s", (name,)).fetchone():
                    raise name_taken(name)
                if limits is not None:
                    _check_room(connection, len(data) + len(card), limits)
                inserted = connection.execute(
                    "INSERT INTO models (name, keras, sha256, card) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (name) DO NOTHING RETURNING name",
                    (name, data, hashlib.sha256(data).hexdigest(), card.decode("utf-8"))).fetchone()
        except (DatabaseUnavailable, psycopg.Error) as exc:
            _LOG.warning("the model %r was not saved: %s", name, exc)
            raise SaveError(DATABASE_DOWN) from exc
        if inserted is None:
            raise name_taken(name)
        return name

    def open(self, name: object) -> Path | None:
        if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):  # never a listed name
            return None
        with self._db.transaction() as connection:
            row = connection.execute("SELECT name, sha256, card FROM models WHERE name = %s", (name,)).fetchone()
        return None if row is None else self._cached(*row)

    def chosen_default(self) -> Path | None:
        with self._db.transaction() as connection:
            row = connection.execute("SELECT m.name, m.sha256, m.card FROM class_default d "
                                     "JOIN models m ON m.name = d.model").fetchone()
        return None if row is None else self._cached(*row)

    def chosen_default_name(self) -> str | None:
        with self._db.transaction() as connection:
            row = connection.execute("SELECT model FROM class_default").fetchone()
        return None if row is None else row[0]

    def choose_default(self, name: str) -> None:
        chosen = None
        if isinstance(name, str) and SAFE_NAME.fullmatch(name):
            with self._db.transaction() as connection:
                chosen = connection.execute(
                    "INSERT INTO class_default (model) SELECT name FROM models WHERE name = %s "
                    "ON CONFLICT (only_row) DO UPDATE SET model = excluded.model, chosen = now() RETURNING model",
                    (name,)).fetchone()
        if chosen is None:
            raise ValueError(f"no saved model is named {name!r}")

    def forget_default(self) -> None:
        with self._db.transaction() as connection:
            connection.execute("DELETE FROM class_default")

    def _cached(self, name: str, sha256: str, card: dict) -> Path | None:
        """The file of the model `name` in the cache folder, written from the database unless it is there."""
        sidecar = json.dumps(card, indent=1, sort_keys=True).encode()
        card_hash = hashlib.sha256(sidecar).hexdigest()[:16]
        path = self.cache_dir / f"{sha256}-{card_hash}.keras"
        if path.is_file():
            return path
        with self._db.transaction() as connection:
            row = connection.execute("SELECT keras FROM models WHERE name = %s", (name,)).fetchone()
        if row is None:  # deleted since it was listed
            return None
        data = bytes(row[0])
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:  # the card's model_sha256 no longer matches either: it will read as damaged
            _LOG.warning("the saved model %r in the class database does not match its sha256", name)
            path = self.cache_dir / f"{actual}-{card_hash}.keras"
        try:
            atomic_write(sidecar_path(path), lambda file: file.write(sidecar))  # the card first: the .keras
            atomic_write(path, lambda file: file.write(data))                  # file there means both are
        except OSError:
            _LOG.error("the saved model %r cannot be written to the cache folder %s", name, self.cache_dir,
                       exc_info=True)
            return None
        return path


def _check_room(connection: psycopg.Connection, size: int, limits: FolderLimits) -> None:
    """SaveError with a plain message when a model of `size` bytes would break the limits (as for a folder)."""
    check_model_size(size, limits)
    row = connection.execute(
        "SELECT coalesce(sum(octet_length(keras) + octet_length(card::text)), 0) FROM models").fetchone()
    used = int(row[0]) if row else 0
    if used + size > limits.folder_bytes:
        raise SaveError(f"The class's saved models take {megabytes(used)} of the {megabytes(limits.folder_bytes)} "
                        f"they may take, and this model takes {megabytes(size)}; ask for old models to be deleted.")
