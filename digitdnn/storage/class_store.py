"""What a class shares between its sessions, and across page replicas between servers: one interface, two
backends.

- local (the default, `make run`): the drawings in a SQLite file (storage/drawings.py), saved models and the
  teacher's default in a folder (storage/model_shelf.py), the teacher key's back-off and the rate limits in this
  process's memory (server/key_guard.py, server/rate_limit.py).
- PostgreSQL ($DIGITDNN_DATABASE_URL): all of them in one database (storage/pg/), so that any number of page
  servers share them.

The lesson the teacher leads and the class challenge (digitdnn/classroom/) are kept locally in their own SQLite
file, classroom.sqlite beside the drawings (storage/classroom_sqlite.py), or in the same database
(storage/pg/classroom.py).

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

from digitdnn.classroom.challenge_rules import LEADERBOARD_ROWS, Challenge, ChallengeLimits, EntryRecord
from digitdnn.classroom.lesson_file import MAX_LESSON_BYTES, MAX_STEPS
from digitdnn.training.history import checked_int

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


class LessonState(NamedTuple):
    """The class's lesson: running or ended, on `step` of `steps`, at `version` (a counter that only goes up: every
    start, move and end adds one), of the lesson file whose hash is `sha256`."""

    running: bool
    step: int
    steps: int
    version: int
    sha256: str


class Entry(NamedTuple):
    """One leaderboard row. The tab that entered it never leaves the store: `mine` says whether it was the asking
    page's."""

    nickname: str
    run: str
    test_accuracy: float
    weights: int
    seconds: float
    settings: str
    mine: bool


class Leaderboard(NamedTuple):
    """The best `rows` of a challenge (most accurate first; ties: fewer weights, faster, earlier) and how many
    entries it has in all."""

    rows: list[Entry]
    entries: int


class Lessons(Protocol):
    """The lesson the teacher leads, one for the class. Moves are compare-and-set on the version, so two teacher
    tabs (or a double click) never skip a step. Failures raise ClassStoreUnavailable (a plain sentence)."""

    def current(self) -> LessonState | None:
        """The lesson now; None if none was ever started (the local file is not created by asking)."""
        ...

    def lesson_text(self, sha256: str) -> str | None:
        """The text of the lesson file started last, if its hash is `sha256`; None otherwise."""
        ...

    def start(self, text: str, sha256: str, steps: int) -> LessonState:
        """Start (or restart) the lesson file `text` at step 1 of `steps` (1 to 20)."""
        ...

    def move(self, version: int, step: int) -> LessonState | None:
        """Go to `step` if the lesson is running and still at `version`; None otherwise (someone moved first, it
        ended, or `step` is not one of its steps)."""
        ...

    def end(self, version: int) -> LessonState | None:
        """End the lesson if it is running and still at `version`; None otherwise."""
        ...


def checked_start(text: object, sha256: object, steps: object) -> tuple[str, str, int]:
    """A lesson's start as Lessons.start takes it: a text of at most MAX_LESSON_BYTES in UTF-8, a sha256 in hex and
    1 to MAX_STEPS steps; ValueError naming the field otherwise."""
    if not isinstance(text, str) or len(text.encode("utf-8")) > MAX_LESSON_BYTES:
        raise ValueError(f"a lesson must be a text of at most {MAX_LESSON_BYTES} bytes")
    if not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= set("0123456789abcdef"):
        raise ValueError("a lesson's sha256 must be 64 hexadecimal digits")
    return text, sha256, checked_int(steps, "steps", 1, MAX_STEPS)


class Challenges(Protocol):
    """The class challenge: the teacher opens one with limits, students enter runs, a leaderboard ranks them.
    Limits are enforced in the store, in the transaction that inserts an entry, by challenge_rules.refusal and
    the store's clock. Failures raise ClassStoreUnavailable (a plain sentence)."""

    def current(self) -> Challenge | None:
        """The newest challenge (open or not); None if there is none."""
        ...

    def open(self, limits: ChallengeLimits) -> Challenge:
        """A new challenge with `limits`, open for limits.minutes; the previous one is closed, and only the newest
        few are kept (with their entries)."""
        ...

    def close(self, challenge: int) -> None:
        """Close challenge `challenge` now (nothing if it is closed or gone)."""
        ...

    def clear(self, challenge: int) -> int:
        """Delete the entries of challenge `challenge`; how many. The challenge stays open or closed as it was."""
        ...

    def enter(self, challenge: int, record: EntryRecord) -> str | None:
        """Enter `record` into challenge `challenge` (the one the page showed); None when entered, else the plain
        reason it was not. ValueError for a record out of the columns' limits (challenge_rules.checked_record)."""
        ...

    def leaderboard(self, challenge: int, tab: str | None = None, limit: int = LEADERBOARD_ROWS) -> Leaderboard:
        """The best `limit` entries of challenge `challenge`, those of `tab` marked `mine`."""
        ...


class ClassStoreUnavailable(Exception):
    """The class store cannot be reached just now (its database is down or unreachable): a plain sentence."""


class ClassStore:
    """The class's shared state. `where` says in a few words where it is kept (for logs and the CLI).

    The drawings are opened at their first use (`open_drawings`), not with the store: a page only looked at never
    creates the local drawings file, and an opening that failed is tried again at the next use.
    """

    def __init__(self, open_drawings: Callable[[], Drawings], models: ModelShelf, keys: KeyBackoff,
                 limiter: Callable[[str, Mapping[str, int], float], RateWindows], where: str, *,
                 lessons: Lessons, challenges: Challenges, close: Callable[[], None] = lambda: None):
        self.models, self.keys, self.where = models, keys, where
        self.lessons, self.challenges = lessons, challenges
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
