"""Background training: run digitdnn.training.train in a thread and publish its progress.

The training thread writes a `JobProgress` snapshot after every event; the page
reads `job.progress()` whenever it redraws. Nothing here knows about Streamlit.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from digitdnn.config import TrainConfig

if TYPE_CHECKING:
    from digitdnn.data import MnistData
    from digitdnn.model import Classifier
    from digitdnn.training import EpochReport, TrainResult

# A loader receives a `report(message)` function for progress messages and returns the data.
DataLoader = Callable[[Callable[[str], None]], "MnistData"]

DATA_LIMIT_ENV = "DIGITDNN_DATA_LIMIT"

SLOT_POLL_SECONDS = 0.2  # how often a job waiting for a training slot checks for stop()

RUNNING_STATES = ("waiting", "loading data", "training")
FINISHED_STATES = ("completed", "stopped", "diverged", "failed")


@dataclass(frozen=True)
class JobProgress:
    """What the page needs to draw a run in progress; a snapshot, never mutated."""

    status: str = "waiting"            # one of RUNNING_STATES or FINISHED_STATES
    message: str = ""                  # data-loading news, or why the run ended
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

    @property
    def done(self) -> bool:
        return self.status in FINISHED_STATES


@dataclass
class TrainingJob:
    """One training run in its own thread; `stop()` ends it cleanly, keeping the weights so far."""

    config: TrainConfig
    data: Union["MnistData", DataLoader]
    name: str = ""
    slots: threading.Semaphore | None = None  # shared by jobs that must not all train at once
    _progress: JobProgress = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _pace_origin: tuple[float, float] | None = field(default=None, init=False, repr=False)

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

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

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
            self._progress = dataclasses.replace(self._progress, **changes)

    def _run(self) -> None:
        try:
            data = self.data
            if callable(data):
                self._update(status="loading data", message="Loading MNIST…")
                data = data(lambda message: self._update(message=message))
            if not self._take_slot():
                self._update(status="stopped", message="stopped before training began")
                return
            try:
                result = self._train(data)
            finally:
                if self.slots is not None:
                    self.slots.release()
        except Exception as exc:  # reported to the page, which shows the message
            self._update(status="failed", error=str(exc) or type(exc).__name__, seconds_left=None)
            return
        history = result.history
        self._update(
            status=history.status,
            message=history.message,
            result=result,
            classifier=result.classifier,
            reports=tuple(history.epochs),
            epoch=len(history.epochs),
            fraction=1.0 if history.status == "completed" else self._progress.fraction,
            seconds_left=0.0,
        )

    def _take_slot(self) -> bool:
        """Wait for a free training slot (when slots are shared); False if stopped first."""
        if self.slots is not None and not self.slots.acquire(blocking=False):
            self._update(status="waiting", message="waiting for a free training slot (other runs are training)")
            while not self.slots.acquire(timeout=SLOT_POLL_SECONDS):
                if self._stop.is_set():
                    return False
        if self._stop.is_set():
            if self.slots is not None:
                self.slots.release()
            return False
        return True

    def _train(self, data) -> "TrainResult":
        from digitdnn.training import train

        self._update(status="training", message="", train_images=len(data.x_train),
                     data_fingerprint=data.fingerprint())
        return train(
            self.config,
            data=data,
            on_epoch_end=self._on_epoch_end,
            should_stop=self._stop.is_set,
            on_progress=self._on_progress,
        )

    def _on_epoch_end(self, report: "EpochReport", classifier: "Classifier") -> None:
        with self._lock:
            reports = self._progress.reports + (report,)
        self._update(
            reports=reports,
            classifier=classifier,
            epoch=report.epoch,
            **self._timing(report.epoch, 0.0),
        )

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

    def __call__(self, report: Callable[[str], None] = lambda message: None) -> "MnistData":
        with self._lock:  # a second caller waits for the first load instead of fetching twice
            if self._data is None:
                load = self._load
                if load is None:
                    from digitdnn.data import load_mnist as load
                data = load(progress=report)
                self._data = data.head(*self.limit) if self.limit else data
            return self._data
