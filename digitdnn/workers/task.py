"""The one job a training worker runs (queue_link.TASK): `run_training(run_id)`, in RQ's forked work horse.

The job carries nothing but the run's id. Everything else comes from the run's keys (training/queue_link.py) and is
checked there: the request (RunRequest.from_json, TrainConfig's own checks), the starting weights (weights_wire).
A run whose page has gone (`wanted` expired) is dropped before TensorFlow is even imported. While it trains, the
horse beats every BEAT_SECONDS, publishes its news (run_events) with each epoch's weights, and stops when the page
asks, when nobody waits any more, or at the run's time limit (StopRules, as on a page). Whatever goes wrong is told
to the page as one plain sentence (the traceback stays in the worker's log).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rq import get_current_job

from digitdnn.training import run_events
from digitdnn.training.queue_link import BEAT_SECONDS, QueueLink, QueueUnavailable, run_key
from digitdnn.training.stop_rules import StopRules

if TYPE_CHECKING:
    from digitdnn.data.mnist import MnistData
    from digitdnn.data.shared_dataset import DataLoader
    from digitdnn.training.history import TrainResult
    from digitdnn.training.run_request import RunRequest

SHUTDOWN_REASON = "stopped: the training worker was shut down"
FAILED = "The training worker could not finish this run: train again."
DRAWINGS_UNAVAILABLE = "The class's drawings cannot be read just now: train again in a minute."
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """What `digitdnn worker` sets for every run it trains."""

    threads: int = 1                 # CPU threads per run (TensorFlow's and numpy's)
    database_url: str | None = None  # the class store with the drawings (None: $DIGITDNN_DATABASE_URL or local)


SETTINGS = WorkerSettings()  # set by serve_worker before the worker forks its first work horse


def run_training(run_id: str) -> str:
    """Train the run `run_id` (the only job a worker allows); returns how it ended: completed, stopped, diverged,
    failed or abandoned (its page had gone before it started)."""
    run_key(run_id, "request")  # ValueError unless a run id
    job = get_current_job()
    assert job is not None, "run_training runs as an RQ job"
    link = QueueLink.over(job.connection)
    link.left_waiting(run_id)
    if not link.wanted(run_id):
        _LOG.info("run %s: abandoned before it started: nobody waits for it", run_id)
        return "abandoned"
    with _Beating(link, run_id):
        return _Run(link, run_id).outcome()


class _Beating:
    """A thread that beats for the run every BEAT_SECONDS while the block runs."""

    def __init__(self, link: QueueLink, run: str) -> None:
        self.link, self.run, self.done = link, run, threading.Event()
        self.thread = threading.Thread(target=self._beat, name="digitdnn-beat", daemon=True)

    def __enter__(self) -> None:
        self.link.beat(self.run)
        self.thread.start()

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.done.wait(BEAT_SECONDS):
            try:
                self.link.beat(self.run)
            except QueueUnavailable:
                _LOG.warning("run %s: its beat could not be sent", self.run)


class _Run:
    """One run on this worker: read, load, train, publish; `outcome` says how it ended."""

    def __init__(self, link: QueueLink, run: str) -> None:
        self.link, self.run = link, run
        self.started = time.monotonic()

    def outcome(self) -> str:
        try:
            request = self.link.request(self.run)
        except ValueError as exc:
            return self._failed(f"The training worker refused this run: {exc}", exc)
        _LOG.info("run %s %s of session %s: %s, data %s, warm start %s, at most %g s", self.run, request.name,
                  request.session, request.config.to_dict(), request.data.to_dict(), request.warm_start,
                  request.max_seconds)
        try:
            result, stop_message = self._train(request)
        except QueueUnavailable:
            _LOG.warning("run %s failed: the training queue was lost", self.run, exc_info=True)
            return "failed"
        except ValueError as exc:  # checked inputs (settings, weights, drawings): plain sentences
            return self._failed(str(exc), exc)
        except Exception as exc:
            return self._failed(_unavailable_store_message(exc) or FAILED, exc)
        history = result.history
        if stop_message and history.status == "stopped":
            history.message = stop_message
        temperature = result.classifier.metadata.get("temperature")
        from digitdnn.training.weights_wire import to_wire

        self.link.publish(self.run, run_events.done(history, temperature), weights=to_wire(result.classifier),
                          result=True)
        accuracy, trained = history.test_accuracy, len(history.epochs)
        _LOG.info("run %s %s in %.1f s after %d epoch%s, test %s%s", self.run, history.status,
                  time.monotonic() - self.started, trained, "" if trained == 1 else "s",
                  "-" if accuracy is None else f"{accuracy:.1%}", f" ({history.message})" if history.message else "")
        return history.status

    def _failed(self, message: str, exc: BaseException) -> str:
        _LOG.warning("run %s failed: %s", self.run, message, exc_info=not isinstance(exc, ValueError))
        try:
            self.link.publish(self.run, run_events.failed(" ".join(message.split())))
        except QueueUnavailable:
            _LOG.warning("run %s: its failure could not be told to its page", self.run)
        return "failed"

    def _train(self, request: RunRequest) -> tuple[TrainResult, str | None]:
        """Load the run's data and train it; returns the result and why the stop rules stopped it (or None)."""
        self.link.publish(self.run, run_events.loading("Loading the training data…"))
        _limit_threads(SETTINGS.threads)
        data = self._load(request)
        initial = None
        if request.warm_start:
            from digitdnn.training.weights_wire import from_wire

            start = self.link.start_weights(self.run)
            if start is None:
                raise ValueError("The starting weights of this run are gone from the training queue: train again.")
            initial = from_wire(start, request.config)
        self.link.publish(self.run, run_events.training(len(data.x_train), data.fingerprint()))
        rules = StopRules(max_seconds=request.max_seconds)
        rules.training_started()
        stop_reason: list[str | None] = [None]

        def should_stop() -> bool:
            stop_reason[0] = self.link.stop_reason(self.run)
            return rules.reason_to_stop(stop_reason[0] is not None, lambda: self.link.wanted(self.run)) is not None

        from digitdnn.training.process import train_calibrated
        from digitdnn.training.weights_wire import to_wire

        result = train_calibrated(
            request.config, data, initial=initial, should_stop=should_stop,
            on_epoch_end=lambda report, classifier: self.link.publish(
                self.run, run_events.epoch(report), weights=to_wire(classifier), epoch=report.epoch),
            on_progress=lambda epoch, fraction: self.link.set_progress(self.run, run_events.progress(epoch, fraction)))
        shut_down = rules.reason == "requested" and stop_reason[0] == SHUTDOWN_REASON
        return result, SHUTDOWN_REASON if shut_down else rules.message()

    def _load(self, request: RunRequest) -> MnistData:
        """The run's training data, as the page that asked for it would have loaded it (training/run_data.py)."""
        from digitdnn.training.run_data import base_loader, class_drawings, loader_for

        loader: DataLoader = base_loader(request.data.base, request.data.limit)
        pick = request.data.drawings
        if pick is not None:
            from digitdnn.storage.open_store import open_class_store

            store = open_class_store(SETTINGS.database_url)
            try:
                x, y = class_drawings(pick, store.drawings)
            finally:
                store.close()
            loader = loader_for(loader, pick, x, y, seed=request.config.seed)
        return loader(lambda message: self.link.publish(self.run, run_events.loading(message)))


def _limit_threads(threads: int) -> None:
    """At most `threads` CPU threads for TensorFlow's ops and for numpy's BLAS in this work horse."""
    import tensorflow as tf
    from threadpoolctl import threadpool_limits

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    threadpool_limits(limits=threads)


def _unavailable_store_message(exc: Exception) -> str | None:
    """DRAWINGS_UNAVAILABLE when `exc` says the class store cannot be read, else None."""
    from digitdnn.storage.class_store import ClassStoreUnavailable
    from digitdnn.storage.drawings import DrawingStoreError

    return DRAWINGS_UNAVAILABLE if isinstance(exc, ClassStoreUnavailable | DrawingStoreError) else None
