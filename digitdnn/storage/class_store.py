"""What a class shares between its sessions, and across page replicas between servers: one interface, two
backends.

- local (the default, `make run`): the drawings in a SQLite file (storage/drawings.py), saved models and the
  teacher's default in a folder (storage/model_shelf.py), the teacher key's back-off and the rate limits in this
  process's memory (server/key_guard.py, server/rate_limit.py).
- PostgreSQL ($DIGITDNN_DATABASE_URL): all of them in one database (storage/pg/), so that any number of page
  servers share them.

`open_class_store()` picks one. The parts are Protocols: the page and the CLI use only what is written here.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from digitdnn.server import settings

if TYPE_CHECKING:
    from digitdnn.model import Classifier
    from digitdnn.server.key_guard import KeyCheck
    from digitdnn.storage.drawing_rows import Drawing, TabSummary
    from digitdnn.storage.model_card import ModelCard
    from digitdnn.storage.models import FolderLimits


class Drawings(Protocol):
    """The class's drawings (storage/drawings.py's DrawingStore documents each method). Failures raise
    DrawingStoreError with a plain sentence; bad values raise ValueError naming the field."""

    notice: str | None

    def add(self, x, label, *, predicted=None, probabilities=None, model=None, session=None,
            image_png=None, default_predicted=None) -> int: ...
    def import_npz(self, path: str | os.PathLike) -> int: ...
    def delete(self, ids: Iterable[int]) -> int: ...
    def delete_tab(self, session: str) -> int: ...
    def delete_all(self) -> int: ...
    def count(self) -> int: ...
    def counts(self) -> np.ndarray: ...
    def tabs(self) -> list[TabSummary]: ...
    def arrays(self, newest: int | None = None, stored: bool = False) -> tuple[np.ndarray, np.ndarray]: ...
    def arrays_with_tabs(self, newest: int | None = None, stored: bool = False
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def recent(self, label: int | None = None, limit: int = 50, offset: int = 0) -> list[Drawing]: ...
    def export(self, path: str | os.PathLike) -> int: ...


class SavedModel(NamedTuple):
    """One saved model as listed: its name (unique on the shelf), its model card as a dict, and why that card is
    damaged (or None)."""

    name: str
    metadata: dict
    damaged: str | None


class ModelShelf(Protocol):
    """Saved models and the teacher's choice of the model new sessions start with.

    A name is claimed once and never overwritten. Names come from clients: `open` and `choose_default` only ever
    compare them with the listed names. Failures to write raise SaveError (an OSError) with a plain sentence.
    """

    def list(self) -> list[SavedModel]: ...

    def save(self, classifier: Classifier, name: str, metadata: ModelCard | dict | None,
             limits: FolderLimits | None = None) -> str:
        """Save under `name` (checked like a file name); returns it. FileExistsError when taken."""
        ...

    def open(self, name: object) -> Path | None:
        """A .keras file on this machine (with its sidecar card) of the model listed as `name`; None when no model
        is listed under it."""
        ...

    def chosen_default(self) -> Path | None:
        """The file of the model a teacher chose for new sessions (as `open` gives it), or None: the shipped one."""
        ...

    def choose_default(self, name: str) -> None: ...
    def forget_default(self) -> None: ...


class KeyBackoff(Protocol):
    """The teacher key's back-off (server/key_guard.py): one try of the key from `address`."""

    def check(self, right: bool, address: str | None) -> KeyCheck: ...


class RateWindows(Protocol):
    """Rate limits over sliding windows (server/rate_limit.py): count one event in every slot of `keys`, or in
    none and return the name of the limit reached."""

    def take(self, keys: Mapping[str, str]) -> str | None: ...


@dataclass(frozen=True)
class ClassStore:
    """The class's shared state. `where` says in a few words where it is kept (for logs and the CLI)."""

    drawings: Drawings
    models: ModelShelf
    keys: KeyBackoff
    limiter: Callable[[str, Mapping[str, int], float], RateWindows]  # (name, limits per window, window seconds)
    where: str


def open_class_store(database_url: str | None = None, *, drawings_path: Path | None = None,
                     models_dir: Path | None = None) -> ClassStore:
    """The class store at `database_url` (postgresql://...), else at $DIGITDNN_DATABASE_URL, else the local
    one: the drawings file `drawings_path` ($DIGITDNN_DRAWINGS_DB) and the models folder `models_dir`
    ($DIGITDNN_MODELS_DIR)."""
    url = database_url or settings.database_url()
    if url:
        from digitdnn.storage.pg.store import open_pg_store

        return open_pg_store(url)
    return _open_local_store(drawings_path or settings.drawings_db_path(), models_dir or settings.models_dir())


def _open_local_store(drawings_path: Path, models_dir: Path) -> ClassStore:
    from digitdnn.server.key_guard import KeyGuard
    from digitdnn.server.rate_limit import RateLimiter
    from digitdnn.storage.drawings import DrawingStore
    from digitdnn.storage.model_shelf import FolderShelf

    return ClassStore(DrawingStore(drawings_path), FolderShelf(models_dir), KeyGuard(),
                      lambda _name, limits, window: RateLimiter(limits, window_seconds=window),
                      f"the SQLite file {drawings_path} and the folder {models_dir}")
