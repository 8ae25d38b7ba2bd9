"""What a class shares between its sessions, and across page replicas between servers: one interface, two
backends.

- local (the default, `make run`): the drawings in a SQLite file (storage/drawings.py), saved models and the
  teacher's default in a folder (storage/model_shelf.py), the teacher key's back-off and the rate limits in this
  process's memory (server/key_guard.py, server/rate_limit.py).
- PostgreSQL ($DIGITDNN_DATABASE_URL): all of them in one database (storage/pg/), so that any number of page
  servers share them.

`storage/open_store.open_class_store()` picks one. The parts are Protocols: the page and the CLI use only what is
written here.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

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
    def arrays_with_tabs(self, newest: int | None = None, stored: bool = False, up_to: int | None = None
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
    With the PostgreSQL backend, while the database cannot be reached, `save` raises SaveError and the other
    methods ClassStoreUnavailable; the local shelf never raises ClassStoreUnavailable.
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

    def chosen_default_name(self) -> str | None:
        """The name of the model a teacher chose for new sessions, or None."""
        ...

    def choose_default(self, name: str) -> None: ...
    def forget_default(self) -> None: ...


class KeyBackoff(Protocol):
    """The teacher key's back-off (server/key_guard.py): one try of the key from `address`. PostgreSQL: while the
    database is down every try is refused for a few seconds, never let through."""

    def check(self, right: bool, address: str | None) -> KeyCheck: ...


class RateWindows(Protocol):
    """Rate limits over sliding windows (server/rate_limit.py): count one event in every slot of `keys`, or in
    none and return the name of the limit reached. PostgreSQL: while the database is down events are allowed (the
    drawing they count cannot be stored then anyway), and that is logged."""

    def take(self, keys: Mapping[str, str]) -> str | None: ...


class ClassStoreUnavailable(Exception):
    """The class store cannot be reached just now (its database is down or unreachable): a plain sentence."""


class ClassStore:
    """The class's shared state. `where` says in a few words where it is kept (for logs and the CLI).

    The drawings are opened at their first use (`open_drawings`), not with the store: a page only looked at never
    creates the local drawings file, and an opening that failed is tried again at the next use.
    """

    def __init__(self, open_drawings: Callable[[], Drawings], models: ModelShelf, keys: KeyBackoff,
                 limiter: Callable[[str, Mapping[str, int], float], RateWindows], where: str,
                 close: Callable[[], None] = lambda: None):
        self.models, self.keys, self.where = models, keys, where
        self.close = close  # lets go of its connections (PostgreSQL); a server keeps its store for its lifetime
        self.limiter = limiter  # (name, limits per window, window seconds) -> the limits, shared like the rest
        self._open_drawings = open_drawings
        self._drawings: Drawings | None = None
        self._lock = threading.Lock()

    @property
    def drawings(self) -> Drawings:
        with self._lock:
            if self._drawings is None:
                self._drawings = self._open_drawings()
            return self._drawings
