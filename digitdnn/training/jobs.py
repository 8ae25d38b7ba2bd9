"""Background training: run digitdnn.training.loop.train in a thread and publish its progress.

The training thread writes a `JobProgress` snapshot after every event; the page reads `job.progress()`
whenever it redraws. Jobs sharing a `TrainingQueue` take turns; when the run must end is decided by
`StopRules` (stop(), a time limit, a page that has gone), how long it has left by `TimeLeft`.
Nothing here knows about Streamlit.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import numpy as np

from digitdnn.config import TrainConfig
from digitdnn.data.shared_dataset import DataLoader
from digitdnn.training.queue import TrainingQueue
from digitdnn.training.stop_rules import ABANDON_AFTER_SECONDS, ABANDONED_MESSAGE, StopRules
from digitdnn.training.time_left import TimeLeft

if TYPE_CHECKING:
    from digitdnn.data.mnist import MnistData
    from digitdnn.model import Classifier
    from digitdnn.training.history import EpochReport, TrainResult

_LOG = logging.getLogger(__name__)

SLOT_POLL_SECONDS = 0.2  # how often a job waiting for a training slot applies its stop rules

RunningStatus = Literal["waiting", "loading data", "training"]
FinishedStatus = Literal["completed", "stopped", "diverged", "failed"]
JobStatus = RunningStatus | FinishedStatus
RUNNING_STATES: tuple[RunningStatus, ...] = get_args(RunningStatus)
FINISHED_STATES: tuple[FinishedStatus, ...] = get_args(FinishedStatus)


@dataclass(frozen=True)
class JobProgress:
    """What the page needs to draw a run in progress; a snapshot, never mutated."""

    status: JobStatus = "waiting"
    message: str = ""                  # data-loading news, or why the run ended
    place: int = 0                     # while waiting: 1-based place in the training queue
    waiting: int = 0                   # while waiting: how many runs wait in the queue in all
    epoch: int = 0                     # epochs finished so far
    epochs: int = 0                    # epochs planned
    fraction: float = 0.0              # of the whole run, in [0, 1]
    seconds_left: float | None = None  # estimate, None until training has started
    reports: tuple[EpochReport, ...] = ()   # one per finished epoch
    classifier: Classifier | None = None    # weights after the latest epoch
    result: TrainResult | None = None       # set once training returned
    error: str | None = None           # set when status is "failed"
    train_images: int = 0              # size of the training set, once loaded
    data_fingerprint: str | None = None  # MnistData.fingerprint() of the data trained on
    watched: tuple[tuple[int, np.ndarray], ...] = ()  # (epoch, ten probabilities) of the watched drawing

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
    child process (digitdnn.training.process), so that its TensorFlow memory is freed when it ends;
    an abandoned run's child is then killed at once (no result is kept: nobody is there to see it).
    With `initial`, the run is a warm start: it continues from that classifier's weights (a fine-tune;
    `config` must describe its layers), and its history records their test accuracy before training.
    """

    config: TrainConfig
    data: MnistData | DataLoader
    name: str = ""
    queue: TrainingQueue | None = None                # shared by jobs that must not all train at once
    still_wanted: Callable[[], bool] | None = None    # False while nobody waits for the result any more
    abandon_after: float = ABANDON_AFTER_SECONDS
    max_seconds: float | None = None                  # training time limit (time waiting in the queue not counted)
    separate_process: bool = False                    # train in a child process (a server's choice)
    initial: Classifier | None = None                 # a warm start: continue from these weights
    _progress: JobProgress = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _stop_rules: StopRules = field(init=False, repr=False)
    _time_left: TimeLeft = field(init=False, repr=False)
    _watched_image: np.ndarray | None = field(default=None, init=False, repr=False)
    _check_failed: bool = field(default=False, init=False, repr=False)
    _discarded: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self._progress = JobProgress(epochs=self.config.epochs)
        self._stop_rules = StopRules(max_seconds=self.max_seconds, abandon_after=self.abandon_after)
        self._time_left = TimeLeft(self.config.epochs)

    def start(self) -> TrainingJob:
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
        some; the same drawing again changes nothing; None stops watching. The scoring runs outside
        the lock that progress() takes, so that page polls never wait for it."""
        drawing = None if image is None else np.array(image, dtype=np.float32)
        with self._lock:
            if drawing is not None and self._watched_image is not None \
                    and np.array_equal(drawing, self._watched_image):
                return
            self._watched_image = drawing
            self._progress = dataclasses.replace(self._progress, watched=())
            epoch, classifier = self._progress.epoch, self._progress.classifier
        if drawing is None or classifier is None or not epoch:
            return
        scores = classifier.predict_proba(drawing)[0]
        with self._lock:
            if self._watched_image is drawing:  # still the one watched; epochs ended meanwhile have been added
                self._progress = dataclasses.replace(self._progress,
                                                     watched=((epoch, scores),) + self._progress.watched)

    def discard(self) -> None:
        """Nobody will collect this run (its page has gone): stop it and drop its weights now and when it ends."""
        self._discarded = True
        self.stop()
        self._update(watched=())  # _update drops the weights from now on

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def abandoned(self) -> bool:
        """True once the job stopped itself because still_wanted() said no."""
        return self._stop_rules.reason == "abandoned"

    def progress(self) -> JobProgress:
        """The latest snapshot (safe to read from any thread)."""
        with self._lock:
            return self._progress

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.progress().done

    def _apply_stop_rules(self) -> bool:
        """True when the run must end now; the first time, this also sets the stop flag (stop_requested)."""
        wanted = self._page_wanted if self.still_wanted is not None else None
        if self._stop_rules.reason_to_stop(self._stop.is_set(), wanted) is None:
            return False
        self._stop.set()
        return True

    def _page_wanted(self) -> bool:
        """still_wanted(); True when the check itself fails (a broken check must not end the run)."""
        assert self.still_wanted is not None
        try:
            return bool(self.still_wanted())
        except Exception:  # logged once: it is polled often
            if not self._check_failed:
                _LOG.warning("run %r: its still-wanted check failed; it goes on as if wanted", self.name, exc_info=True)
            self._check_failed = True
            return True

    def _update(self, **changes: Any) -> None:
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
                    why = self._stop_rules.message() or "stopped before training began"
                    self._update(status="stopped", message=why, place=0, waiting=0)
                    return
                result = self._train(data)
            finally:
                if self.queue is not None and ticket is not None:
                    self.queue.leave(ticket)
        except Exception as exc:  # reported to the page, which shows the message
            if self.abandoned:  # its child process was ended without waiting for a result
                _LOG.info("run %r was abandoned (%s)", self.name, exc)
                self._update(status="stopped", message=ABANDONED_MESSAGE, seconds_left=None)
            else:
                _LOG.exception("run %r (%s) failed", self.name, self.config.to_dict())
                self._update(status="failed", error=str(exc) or type(exc).__name__, seconds_left=None)
            return
        self._finish(result)

    def _finish(self, result: TrainResult) -> None:
        """Publish the run's end: its history's status and message (or why the stop rules ended it), its weights."""
        history = result.history
        self._update(
            status=cast(FinishedStatus, history.status),
            message=self._stop_rules.message() or history.message,
            result=result,
            classifier=result.classifier,
            reports=tuple(history.epochs),
            epoch=len(history.epochs),
            fraction=1.0 if history.status == "completed" else self._progress.fraction,
            seconds_left=0.0,
        )

    def _wait_for_slot(self, ticket: int | None) -> bool:
        """Wait for the ticket's turn in the queue, publishing its place; False if the stop rules end the run first."""
        queue = self.queue
        published = None
        while queue is not None and ticket is not None \
                and not queue.wait(ticket, 0 if published is None else SLOT_POLL_SECONDS):
            if self._apply_stop_rules():
                return False
            place = queue.place(ticket)
            waiting = max(queue.waiting, place)
            if (place, waiting) != published:
                published = (place, waiting)
                self._update(status="waiting", place=place, waiting=waiting,
                             message=f"waiting: place {place} of {waiting} in the queue")
        return not self._apply_stop_rules()

    def _train(self, data: MnistData) -> TrainResult:
        train: Callable[..., TrainResult]
        if self.separate_process:
            from functools import partial

            from digitdnn.training.process import train_in_child

            train = partial(train_in_child, abandoned=lambda: self.abandoned)
        else:
            from digitdnn.training.loop import train

        self._update(status="training", message="", place=0, waiting=0, train_images=len(data.x_train),
                     data_fingerprint=data.fingerprint())
        self._stop_rules.training_started()
        return train(
            self.config,
            data=data,
            on_epoch_end=self._on_epoch_end,
            should_stop=self._apply_stop_rules,
            on_progress=self._on_progress,
            initial=self.initial,
        )

    def _on_epoch_end(self, report: EpochReport, classifier: Classifier) -> None:
        fraction, seconds_left = self._time_left.update(report.epoch, 0.0)
        while True:  # score outside the lock; publish only if watch() has not changed the drawing meanwhile
            with self._lock:
                image = self._watched_image
            record = None if image is None else (report.epoch, classifier.predict_proba(image)[0])
            with self._lock:
                if image is not self._watched_image:
                    continue
                progress = self._progress
                watched = progress.watched if record is None else progress.watched + (record,)
                self._progress = dataclasses.replace(
                    progress, reports=progress.reports + (report,), watched=watched, epoch=report.epoch,
                    classifier=None if self._discarded else classifier, fraction=fraction, seconds_left=seconds_left)
                return

    def _on_progress(self, epoch: int, fraction_of_epoch: float) -> None:
        # epoch is 1-based: the epoch under way.
        fraction, seconds_left = self._time_left.update(epoch - 1, fraction_of_epoch)
        self._update(fraction=fraction, seconds_left=seconds_left)
