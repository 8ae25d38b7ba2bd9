"""Background training: run digitdnn.training.train in a thread and publish its progress.

The training thread writes a `JobProgress` snapshot after every event; the page
reads `job.progress()` whenever it redraws. Jobs sharing a `TrainingQueue` take
turns; a job whose `still_wanted()` check stays False (its page was closed) ends
itself and gives its place up. Nothing here knows about Streamlit.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

from digitdnn.config import TrainConfig
from digitdnn.training_queue import TrainingQueue

_LOG = logging.getLogger(__name__)

if TYPE_CHECKING:
    from digitdnn.data import MnistData
    from digitdnn.model import Classifier
    from digitdnn.history import EpochReport, TrainResult

# A loader receives a `report(message)` function for progress messages and returns the data.
DataLoader = Callable[[Callable[[str], None]], "MnistData"]

DATA_LIMIT_ENV = "DIGITDNN_DATA_LIMIT"

SLOT_POLL_SECONDS = 0.2      # how often a job waiting for a training slot checks stop() and still_wanted()
ABANDON_AFTER_SECONDS = 3.0  # still_wanted() False this long (not a brief reconnect) ends the job
ABANDONED_MESSAGE = "stopped: its page was closed"
MAX_SECONDS_ENV = "DIGITDNN_MAX_TRAINING_SECONDS"

RUNNING_STATES = ("waiting", "loading data", "training")
FINISHED_STATES = ("completed", "stopped", "diverged", "failed")


@dataclass(frozen=True)
class JobProgress:
    """What the page needs to draw a run in progress; a snapshot, never mutated."""

    status: str = "waiting"            # one of RUNNING_STATES or FINISHED_STATES
    message: str = ""                  # data-loading news, or why the run ended
    place: int = 0                     # while waiting: 1-based place in the training queue
    waiting: int = 0                   # while waiting: how many runs wait in the queue in all
    epoch: int = 0                     # epochs finished so far
    epochs: int = 0                    # epochs planned
    fraction: float = 0.0              # of the whole run, in [0, 1]
    seconds_left: float | None = None  # estimate, None until training has started
    reports: tuple = ()                # EpochReport per finished epoch
    classifier: "Classifier | None" = None  # weights after the latest epoch
    result: "TrainResult | None" = None     # set once training returned
    error: str | None = None           # set when status is "failed"
    train_images: int = 0              # size of the training set, once loaded
    data_fingerprint: str | None = None  # MnistData.fingerprint() of the data trained on
    watched: tuple = ()                # (epoch, ten probabilities) of the watched drawing, per epoch since watch()

    @property
    def done(self) -> bool:
        return self.status in FINISHED_STATES


@dataclass
class TrainingJob:
    """One training run in its own thread; `stop()` ends it cleanly, keeping the weights so far.

    With a `queue`, the run waits for a slot in it after loading the data. With `still_wanted`,
    the run polls it while waiting and between training chunks (a few times a second); once it
    has returned False for `abandon_after` seconds in a row, the run stops as if stop() had been
    called (status "stopped", message ABANDONED_MESSAGE) and leaves the queue. With `max_seconds`,
    a run that has trained that long stops the same way (keeping its weights), so that one run
    cannot hold a slot of a shared server for hours. With `separate_process`, the run trains in a
    child process (digitdnn.training_process), so that its TensorFlow memory is freed when it ends;
    an abandoned run's child is then killed at once (no result is kept: nobody is there to see it).
    With `initial`, the run is a warm start: it continues from that classifier's weights (a fine-tune;
    `config` must describe its layers), and its history records their test accuracy before training.
    """

    config: TrainConfig
    data: Union["MnistData", DataLoader]
    name: str = ""
    queue: TrainingQueue | None = None                # shared by jobs that must not all train at once
    still_wanted: Callable[[], bool] | None = None    # False while nobody waits for the result any more
    abandon_after: float = ABANDON_AFTER_SECONDS
    max_seconds: float | None = None                  # training time limit (time waiting in the queue not counted)
    separate_process: bool = False                    # train in a child process (a server's choice)
    initial: "Classifier | None" = None               # a warm start: continue from these weights
    _progress: JobProgress = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _pace_origin: tuple[float, float] | None = field(default=None, init=False, repr=False)
    _unwanted_since: float | None = field(default=None, init=False, repr=False)
    _abandoned: bool = field(default=False, init=False, repr=False)
    _training_since: float | None = field(default=None, init=False, repr=False)
    _stop_reason: str | None = field(default=None, init=False, repr=False)
    _watched_image: np.ndarray | None = field(default=None, init=False, repr=False)
    _check_failed: bool = field(default=False, init=False, repr=False)
    _discarded: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._progress = JobProgress(epochs=self.config.epochs)

    def start(self) -> "TrainingJob":
        """Start the training thread (once) and return self."""
        if self._thread is not None:
            raise RuntimeError("job already started")
        self._thread = threading.Thread(target=self._run, name=f"digitdnn-train {self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end at its next check (every few dozen batches)."""
        self._stop.set()

    def watch(self, image: np.ndarray | None) -> None:
        """Score this 28x28 drawing with the weights after every epoch from now on (progress().watched).

        A different drawing starts the record again, from the latest epoch's weights when there are
        some; the same drawing again changes nothing; None stops watching."""
        with self._lock:
            if image is None or self._watched_image is None or not np.array_equal(image, self._watched_image):
                self._watched_image = None if image is None else np.array(image, dtype=np.float32)
                progress = self._progress
                watched = ()
                if image is not None and progress.classifier is not None and progress.epoch:
                    watched = ((progress.epoch, progress.classifier.predict_proba(self._watched_image)[0]),)
                self._progress = dataclasses.replace(progress, watched=watched)

    def discard(self) -> None:
        """Nobody will collect this run (its page has gone): stop it and drop its weights now and when it ends."""
        self._discarded = True
        self.stop()
        self._update(watched=())  # _update drops the weights from now on

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _should_stop(self) -> bool:
        """stop() was called, or still_wanted() has said no for abandon_after seconds (which then counts as stop())."""
        if self._stop.is_set():
            return True
        if (self.max_seconds is not None and self._training_since is not None
                and time.monotonic() - self._training_since >= self.max_seconds):
            self._stop_reason = f"stopped: the server's time limit for a run ({self.max_seconds:g} s) was reached"
            self._stop.set()
            return True
        if self.still_wanted is None:
            return False
        try:
            wanted = bool(self.still_wanted())
        except Exception:  # a broken check must not end the run (logged once, it is polled often)
            if not self._check_failed:
                _LOG.warning("run %r: its still-wanted check failed; it goes on as if wanted", self.name, exc_info=True)
            self._check_failed = True
            wanted = True
        if wanted:
            self._unwanted_since = None
            return False
        now = time.monotonic()
        if self._unwanted_since is None:
            self._unwanted_since = now
        if now - self._unwanted_since < self.abandon_after:
            return False
        self._abandoned = True
        self._stop_reason = ABANDONED_MESSAGE
        self._stop.set()
        return True

    @property
    def abandoned(self) -> bool:
        """True once the job stopped itself because still_wanted() said no."""
        return self._abandoned

    def progress(self) -> JobProgress:
        """The latest snapshot (safe to read from any thread)."""
        with self._lock:
            return self._progress

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.progress().done

    def _update(self, **changes) -> None:
        with self._lock:
            if self._discarded:  # see discard()
                changes.update(classifier=None, result=None)
            self._progress = dataclasses.replace(self._progress, **changes)

    def _run(self) -> None:
        try:
            data = self.data
            if callable(data):
                self._update(status="loading data", message="Loading MNIST…")
                data = data(lambda message: self._update(message=message))
            ticket = self.queue.join() if self.queue is not None else None
            try:
                if not self._wait_for_slot(ticket):
                    why = ABANDONED_MESSAGE if self.abandoned else "stopped before training began"
                    self._update(status="stopped", message=why, place=0, waiting=0)
                    return
                result = self._train(data)
            finally:
                if ticket is not None:
                    self.queue.leave(ticket)
        except Exception as exc:  # reported to the page, which shows the message
            if self.abandoned:  # its child process was ended without waiting for a result
                _LOG.info("run %r was abandoned (%s)", self.name, exc)
                self._update(status="stopped", message=ABANDONED_MESSAGE, seconds_left=None)
            else:
                _LOG.exception("run %r (%s) failed", self.name, self.config.to_dict())
                self._update(status="failed", error=str(exc) or type(exc).__name__, seconds_left=None)
            return
        history = result.history
        self._update(
            status=history.status,
            message=self._stop_reason or history.message,
            result=result,
            classifier=result.classifier,
            reports=tuple(history.epochs),
            epoch=len(history.epochs),
            fraction=1.0 if history.status == "completed" else self._progress.fraction,
            seconds_left=0.0,
        )

    def _wait_for_slot(self, ticket: int | None) -> bool:
        """Wait for the ticket's turn in the queue, publishing its place; False if stopped (or abandoned) first."""
        published = None
        while ticket is not None and not self.queue.wait(ticket, 0 if published is None else SLOT_POLL_SECONDS):
            if self._should_stop():
                return False
            place = self.queue.place(ticket)
            waiting = max(self.queue.waiting, place)
            if (place, waiting) != published:
                published = (place, waiting)
                self._update(status="waiting", place=place, waiting=waiting,
                             message=f"waiting: place {place} of {waiting} in the queue")
        return not self._should_stop()

    def _train(self, data) -> "TrainResult":
        if self.separate_process:
            from functools import partial

            from digitdnn.training_process import train_in_child

            train = partial(train_in_child, abandoned=lambda: self._abandoned)
        else:
            from digitdnn.training import train

        self._update(status="training", message="", place=0, waiting=0, train_images=len(data.x_train),
                     data_fingerprint=data.fingerprint())
        self._training_since = time.monotonic()
        return train(
            self.config,
            data=data,
            on_epoch_end=self._on_epoch_end,
            should_stop=self._should_stop,
            on_progress=self._on_progress,
            initial=self.initial,
        )

    def _on_epoch_end(self, report: "EpochReport", classifier: "Classifier") -> None:
        timing = self._timing(report.epoch, 0.0)
        with self._lock:  # one step, so that a watch() meanwhile cannot be overwritten by the old drawing's record
            progress = self._progress
            watched = progress.watched
            if self._watched_image is not None:
                watched += ((report.epoch, classifier.predict_proba(self._watched_image)[0]),)
            self._progress = dataclasses.replace(progress, reports=progress.reports + (report,), watched=watched,
                                                 classifier=None if self._discarded else classifier,
                                                 epoch=report.epoch, **timing)

    def _on_progress(self, epoch: int, fraction_of_epoch: float) -> None:
        # epoch is 1-based: the epoch under way.
        self._update(**self._timing(epoch - 1, fraction_of_epoch))

    def _timing(self, epochs_done: int, fraction_of_epoch: float) -> dict:
        """Fraction of the run done and seconds left, at the pace measured since the first report
        (so the first chunk's one-off compiling does not inflate the estimate)."""
        fraction = min(1.0, (epochs_done + fraction_of_epoch) / max(self.config.epochs, 1))
        now = time.perf_counter()
        if self._pace_origin is None:
            self._pace_origin = (now, fraction)
        origin_time, origin_fraction = self._pace_origin
        left = None
        if fraction > origin_fraction:
            left = (now - origin_time) / (fraction - origin_fraction) * (1.0 - fraction)
        return {"fraction": fraction, "seconds_left": left}


def parse_max_seconds(text: str | None) -> float | None:
    """A run's training time limit in $DIGITDNN_MAX_TRAINING_SECONDS's format: seconds > 0; None or "" means none."""
    if not text or not text.strip():
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{MAX_SECONDS_ENV} must be a number of seconds, got {text!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{MAX_SECONDS_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


def parse_data_limit(text: str | None) -> tuple[int, int | None] | None:
    """Read "N_TRAIN[,N_TEST]" (the DIGITDNN_DATA_LIMIT format); None or "" means no limit."""
    if not text or not text.strip():
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"{DATA_LIMIT_ENV} must be N_TRAIN or N_TRAIN,N_TEST (integers), got {text!r}") from None
    if len(numbers) > 2 or any(n < 1 for n in numbers):
        raise ValueError(f"{DATA_LIMIT_ENV} must be N_TRAIN or N_TRAIN,N_TEST (positive), got {text!r}")
    return numbers[0], numbers[1] if len(numbers) == 2 else None


class SharedDataset:
    """MNIST loaded once, by whichever thread asks first, then shared read-only (a `DataLoader`)."""

    def __init__(self, limit: tuple[int, int | None] | None = None, load: Callable | None = None):
        self.limit = limit
        self._load = load
        self._data = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once the data is in memory (a call then returns at once)."""
        return self._data is not None

    def __call__(self, report: Callable[[str], None] = lambda message: None) -> "MnistData":
        with self._lock:  # a second caller waits for the first load instead of fetching twice
            if self._data is None:
                load = self._load
                if load is None:
                    from digitdnn.data import load_mnist as load
                data = load(progress=report)
                self._data = data.head(*self.limit) if self.limit else data
            return self._data
