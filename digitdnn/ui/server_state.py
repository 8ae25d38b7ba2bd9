"""What one server process shares between all of its sessions (st.cache_resource): the default model and the
datasets, loaded once and never mutated, and the services every session uses but none owns: the training engine
(this server's training queue, or the training workers' Redis queue), the closed-session sweeper, and the class
store (storage/class_store.py: the class's drawings with the limits on how fast they are stored, saved models with
their limits, the teacher's default and the teacher key's back-off), which is this machine's SQLite file and models
folder, or with $DIGITDNN_DATABASE_URL the PostgreSQL database every page replica shares.

It also keeps the server's garbage collector and BLAS out of the way of the page's runs.
Design notes: docs/design-notes.md.
"""
from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from digitdnn.data.shared_dataset import SharedDataset
from digitdnn.server import settings
from digitdnn.server.sessions import ClosedSessionSweeper
from digitdnn.storage.models import FolderLimits, ModelLoadError
from digitdnn.training.engine import LocalEngine, TrainingEngine
from digitdnn.training.queue import TrainingQueue
from digitdnn.training.run_data import base_loader

if TYPE_CHECKING:
    from digitdnn.model import Classifier
    from digitdnn.storage.class_store import ClassStore, Drawings, RateWindows

_FROZEN = threading.Event()     # keep_tensorflow_out_of_gc has run
_FREEZING = threading.Lock()
_LOG = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Loading the default model…")
def default_classifier(path: str) -> Classifier:
    """The default model at `path`, read as numpy arrays (without TensorFlow). Never mutated: shared by all.

    The server's numpy matrix products are limited to one thread first (see `_one_blas_thread`). Once it is
    loaded, the objects that live as long as the server are moved out of the garbage collector's sight
    (gc.freeze), so that its collections walk only what the page's runs make.
    """
    from digitdnn.storage.models import load_classifier

    _one_blas_thread()
    classifier = load_classifier(path)
    gc.collect()
    gc.freeze()
    return classifier


def default_model(path: Path) -> Classifier | ModelLoadError:
    """The default model at `path`, or why it cannot be loaded.

    A failure is kept until the file changes (or the server restarts): st.cache_resource keeps no exceptions, and a
    missing or damaged default model would otherwise be read again at every page run of every session.
    """
    failure = _default_model_failure(str(path), _file_stamp(path))
    return failure if failure is not None else default_classifier(str(path))


@st.cache_resource(show_spinner=False)
def _default_model_failure(path: str, stamp: tuple[int, int] | None) -> ModelLoadError | None:
    """Why the default model at `path`, as it is at `stamp`, cannot be loaded; None when it can (and then is)."""
    try:
        default_classifier(path)
    except ModelLoadError as exc:
        return exc
    return None


def _file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size) of the file at `path`, None when there is none: changes when it is written."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def keep_tensorflow_out_of_gc() -> None:
    """Once TensorFlow is in this process (a model was saved, downloaded or uploaded), move every object alive
    then out of the garbage collector's sight (gc.freeze), once: the full collection that follows every page run
    while Keras is imported would otherwise walk TensorFlow's millions of objects at every stroke.

    Cheap to call at every run; safe from any thread. While another thread is still importing TensorFlow or
    Keras it waits for a later call: freezing half of them would leave the rest in the collector's way.
    """
    if _FROZEN.is_set() or not all(_imported(name) for name in ("tensorflow", "keras")):
        return
    with _FREEZING:
        if not _FROZEN.is_set():
            gc.collect()
            gc.freeze()
            _FROZEN.set()


def _one_blas_thread() -> None:
    """Run this process's BLAS (numpy's matrix products) on one thread: the server multiplies one small drawing at
    a time, and idle helper threads spinning after every product slowed every session on the machine. Training
    runs in child processes with TensorFlow's own threads, which this does not touch."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _imported(name: str) -> bool:
    """Module `name` is imported and done importing (a module being imported is in sys.modules already)."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def default_model_path() -> Path:
    """The model new sessions start with: the one a teacher made the class's default, else the shipped one (also
    while the class store cannot be reached: that is logged)."""
    from digitdnn.storage.models import default_model_path as shipped

    try:
        chosen = class_store().models.chosen_default()
    except class_store_errors() as exc:
        _LOG.warning("the teacher's default model cannot be read, new sessions start with the shipped one: %s", exc)
        chosen = None
    return chosen or shipped()


@st.cache_resource(show_spinner=False)
def _shared_dataset(limit: tuple[int, int | None] | None) -> SharedDataset:
    return base_loader("mnist", limit)


def mnist_loader() -> SharedDataset:
    """The process-wide MNIST loader (capped by DIGITDNN_DATA_LIMIT for tests); loads on first use."""
    return _shared_dataset(settings.data_limit())


@st.cache_resource(show_spinner=False)
def _pen_digits_dataset(limit: tuple[int, int | None] | None) -> SharedDataset:
    return base_loader("pen", limit, mnist=_shared_dataset(limit))


def pen_digits_loader() -> SharedDataset:
    """MNIST (capped like mnist_loader, the same arrays) plus the training writers' pen digits
    (data.pen_training.PEN_DIGIT_COPIES drawings of each), drawn once per server and kept."""
    return _pen_digits_dataset(settings.data_limit())


@st.cache_resource(show_spinner=False)
def _training_queue(slots: int) -> TrainingQueue:
    return TrainingQueue(slots)


def training_queue() -> TrainingQueue:
    """The server's training queue: $DIGITDNN_TRAINING_SLOTS runs at once (default one per CPU core), others wait."""
    return _training_queue(settings.or_default(settings.training_slots, settings.default_training_slots()))


def training_engine() -> TrainingEngine:
    """Where the page's runs train: with $DIGITDNN_QUEUE_URL on the training workers that serve that Redis queue
    (one link per URL, kept), else in this server, in training_queue(). Either way at most
    $DIGITDNN_MAX_WAITING_RUNS runs may wait (default 50); a run past that is refused (engine.TrainingRefused).
    ValueError (a plain sentence) when $DIGITDNN_QUEUE_URL is not a Redis URL."""
    url = settings.queue_url()
    if url is None:
        return LocalEngine(training_queue(), settings.max_waiting_runs())
    return _remote_engine(url, settings.max_waiting_runs())


@st.cache_resource(show_spinner=False)
def _remote_engine(url: str, max_waiting: int) -> TrainingEngine:
    from digitdnn.training.queue_link import QueueLink
    from digitdnn.training.remote_run import RemoteEngine

    return RemoteEngine(QueueLink(url), max_waiting)


def max_training_seconds() -> float:
    """How long one run from the page may train: $DIGITDNN_MAX_TRAINING_SECONDS, else 15 minutes."""
    return settings.or_default(settings.max_training_seconds, settings.DEFAULT_MAX_TRAINING_SECONDS)


def session_still_open() -> Callable[[], bool]:
    """A check, callable from any thread, that is False once this browser session has gone
    (its tab closed or its connection lost); always True outside a Streamlit server (AppTest)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return lambda: True
    runtime, session_id = Runtime.instance(), ctx.session_id
    # A session is active while its websocket is connected; a closed tab drops it at once (a reconnecting one
    # comes back within server.disconnectedSessionTTL, and TrainingJob waits a few seconds before giving up).
    return lambda: runtime.is_active_session(session_id)


@st.cache_resource(show_spinner=False)
def session_sweeper() -> ClosedSessionSweeper:
    """The server's sweeper: a session's models are released once its page has been closed a few seconds."""
    return ClosedSessionSweeper()


def session_id() -> str | None:
    """This browser session's id (None outside a script run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.session_id


def client_address() -> str | None:
    """The address of this session's client as Streamlit saw it (None when unknown, as for localhost)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else None  # (AppTest has no client: a stand-in object)


def models_limits() -> FolderLimits:
    """Caps on the shared models folder: $DIGITDNN_MODEL_MAX_MB per saved model (default 64, the upload limit,
    so that any saved model can be uploaded again) and $DIGITDNN_MODELS_MAX_MB for all of them (default 1024)."""
    return FolderLimits(settings.or_default(settings.model_max_mb, settings.DEFAULT_MODEL_MAX_MB) * 2**20,
                        settings.or_default(settings.models_max_mb, settings.DEFAULT_MODELS_MAX_MB) * 2**20)


def _class_store_place() -> tuple[str | None, str, str]:
    """Where the class store is, as the settings say now: ($DIGITDNN_DATABASE_URL, "", ""), else (None, the drawings
    file, the models folder)."""
    url = settings.database_url()
    return (url, "", "") if url else (None, str(settings.drawings_db_path()), str(settings.models_dir()))


@st.cache_resource(show_spinner=False)
def _class_store(database_url: str | None, drawings_path: str, models_dir: str) -> ClassStore:
    from digitdnn.storage.open_store import open_class_store

    store = (open_class_store(database_url) if database_url
             else open_class_store(drawings_path=Path(drawings_path), models_dir=Path(models_dir)))
    _LOG.info("the class's drawings and models are kept in %s", store.where)
    return store


def class_store() -> ClassStore:
    """What the class shares (storage/class_store.py), opened once per server and shared by every session: with
    $DIGITDNN_DATABASE_URL the PostgreSQL database all page replicas share, else the drawings file
    ($DIGITDNN_DRAWINGS_DB, else ./class-data/drawings.sqlite) and the models folder ($DIGITDNN_MODELS_DIR, else
    ./models) of this machine. Raises one of class_store_errors() when it cannot be opened; the next call tries
    again."""
    return _class_store(*_class_store_place())


def drawing_store() -> Drawings:
    """The class's drawings: class_store().drawings."""
    return class_store().drawings


def class_store_errors() -> tuple[type[Exception], ...]:
    """What the class store raises when it cannot be opened, read or written just now (each a plain sentence):
    DrawingStoreError (the drawings), ClassStoreUnavailable (PostgreSQL down or unreachable), OSError (the models
    folder; SaveError is one)."""
    from digitdnn.storage.class_store import ClassStoreUnavailable
    from digitdnn.storage.drawings import DrawingStoreError

    return DrawingStoreError, OSError, ClassStoreUnavailable


ADDRESS_DRAWINGS_FACTOR = 5   # one client address may store as many drawings a minute as this many tabs
TAB_TOO_FAST = "You have stored many drawings in a short time; wait a minute before storing more."
SERVER_TOO_FAST = ("The server is storing many drawings from the whole class just now; wait a minute before "
                   "storing more.")


@st.cache_resource(show_spinner=False)
def _drawing_limiter(place: tuple[str | None, str, str], per_tab: int, per_server: int) -> RateWindows:
    limits = {"tab": per_tab, "address": per_tab * ADDRESS_DRAWINGS_FACTOR, "server": per_server}
    return _class_store(*place).limiter("drawings", limits, 60.0)


def drawing_refused(tab: str, address: str | None) -> str | None:
    """Count one drawing stored by browser tab `tab` from client `address` (None: unknown, as for localhost) and
    return None, or, when a limit is reached, count nothing and return the plain sentence that says so.

    Limits per minute: $DIGITDNN_DRAWINGS_PER_MINUTE per tab (default 20), ADDRESS_DRAWINGS_FACTOR times that per
    client address, $DIGITDNN_CLASS_DRAWINGS_PER_MINUTE for the whole class (default 600; with
    $DIGITDNN_DATABASE_URL counted in the database, over every page replica). Raises one of class_store_errors()
    when the class store cannot be reached."""
    limiter = _drawing_limiter(_class_store_place(), settings.drawings_per_minute(),
                               settings.class_drawings_per_minute())
    keys: dict[str, str] = {"tab": tab, **({"address": address} if address else {}), "server": ""}
    refused = limiter.take(keys)
    return None if refused is None else SERVER_TOO_FAST if refused == "server" else TAB_TOO_FAST
