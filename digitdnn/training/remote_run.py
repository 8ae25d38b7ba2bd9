"""A page's run trained by a training worker (digitdnn worker, through Redis and RQ), followed as a TrainingJob.

`RemoteEngine.start` submits the run (training/queue_link.QueueLink.submit: one run per session, a bounded queue);
`RemoteRun`'s thread then polls the queue every POLL_SECONDS and turns what the worker published
(training/run_events) into the same JobProgress a local run gives: waiting with its place in the queue, loading
data, training (epoch reports, a classifier per epoch, the watched drawing scored here), and how it ended. Stop,
the time limit and a closed page work as for a local run (the worker is told); a worker that dies, or a queue that
cannot be reached for RECONNECT_SECONDS, fails the run with a plain sentence. Nothing here knows about Streamlit or
TensorFlow.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from digitdnn.training import run_events, weights_wire
from digitdnn.training.engine import TrainingRefused
from digitdnn.training.history import TrainResult
from digitdnn.training.jobs import FinishedStatus, TrainingJob
from digitdnn.training.queue_link import QueueLink, QueueUnavailable, RunPoll, RunRefused
from digitdnn.training.run_request import RunRequest
from digitdnn.training.stop_rules import ABANDONED_MESSAGE

if TYPE_CHECKING:
    from digitdnn.config import TrainConfig
    from digitdnn.data.shared_dataset import DataLoader
    from digitdnn.model import Classifier
    from digitdnn.training.run_data import RunData

_LOG = logging.getLogger(__name__)

POLL_SECONDS = 0.25           # how often a run asks the queue for news
DEAD_AFTER_SECONDS = 4.0      # a started run without a beat key this long has lost its worker (the key itself
                              # lives BEAT_TTL after the last beat; this covers a work horse not yet beating)
RECONNECT_SECONDS = 30.0      # a run whose queue cannot be reached this long fails
WORKERS_CHECK_SECONDS = 2.0   # how often a waiting run asks whether any training worker is running
WORKER_DIED = "the training worker stopped unexpectedly: train again"
QUEUE_LOST = "the training queue could not be reached for too long: train again"
QUEUE_RESTARTED = "training was interrupted: its queue restarted"
UNREADABLE = "the training worker sent news that cannot be read: train again"
RECONNECTING = "reconnecting to the training queue…"
NO_WORKER = "no training worker is running yet"
STOPPED_BEFORE_TRAINING = "stopped before training began"


class _RunOver(Exception):
    """The run has ended without a result: `status` and the sentence why."""

    def __init__(self, status: FinishedStatus, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


@dataclass
class RemoteRun(TrainingJob):
    """A run on a training worker, seen as a TrainingJob: same progress(), stop(), watch(), discard(), join().

    Only `_run` differs: it follows the run in the queue instead of training. `data` (the page's loader for the same
    data) is never called here: the worker loads the data the run's request describes. `initial` is kept for the
    page; the worker starts from the weights submitted with the request. The classifiers come from the worker's
    weights (weights_wire, checked against `config`); the watched drawing is scored here, as for a local run.
    """

    link: QueueLink = field(kw_only=True)
    run: str = field(kw_only=True)            # the run's id in the queue
    dead_after: float = field(default=DEAD_AFTER_SECONDS, kw_only=True)
    reconnect_for: float = field(default=RECONNECT_SECONDS, kw_only=True)
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True, repr=False)
    _cursor: int = field(default=0, init=False, repr=False)          # events read so far
    _started: bool = field(default=False, init=False, repr=False)    # the worker has taken the run
    _told_to_stop: bool = field(default=False, init=False, repr=False)
    _last_progress: str | None = field(default=None, init=False, repr=False)
    _beat_at: float | None = field(default=None, init=False, repr=False)     # last time the worker was seen alive
    _lost_since: float | None = field(default=None, init=False, repr=False)  # the queue unreachable since
    _message_before: str = field(default="", init=False, repr=False)         # shown again once reconnected
    _workers_checked: float | None = field(default=None, init=False, repr=False)
    _no_worker: bool = field(default=False, init=False, repr=False)

    def _run(self) -> None:
        try:
            result = self._follow()
        except _RunOver as over:
            if over.status == "failed":
                self._update(status="failed", error=over.why, seconds_left=None, place=0, waiting=0)
            else:
                self._update(status=over.status, message=over.why, seconds_left=None, place=0, waiting=0)
            return
        except Exception as exc:  # a bug here must end the run with a sentence, not a silent thread
            _LOG.exception("run %r (%s) could not be followed", self.name, self.run)
            self._update(status="failed", error=str(exc) or type(exc).__name__, seconds_left=None)
            return
        self._finish(result)

    def _follow(self) -> TrainResult:
        """Poll until the worker reports the run done; _RunOver when it ends otherwise."""
        while True:
            try:
                if self._apply_stop_rules() and not self._told_to_stop:
                    self._tell_worker_to_stop()
                poll = self.link.poll(self.run, self._cursor, True)
                self._queue_back()
                result = self._read(poll)
            except QueueUnavailable:
                self._queue_lost()
            else:
                if result is not None:
                    return result
            time.sleep(POLL_SECONDS)

    def _tell_worker_to_stop(self) -> None:
        """The stop rules end the run: a queued or abandoned run leaves the queue at once; a started one is told to
        stop and keeps polling for its weights so far. QueueUnavailable: try again at the next poll."""
        abandoned = self._discarded or self._stop_rules.reason == "abandoned"
        if abandoned or not self._started:
            self._cancel_on_worker()
            raise _RunOver("stopped", ABANDONED_MESSAGE if abandoned
                           else self._stop_rules.message() or STOPPED_BEFORE_TRAINING)
        self.link.stop(self.run, self._stop_rules.message() or "stopped")
        self._told_to_stop = True

    def _queue_lost(self) -> None:
        """The queue cannot be reached: say so, and _RunOver once that has lasted `reconnect_for` seconds."""
        now = self.clock()
        if self._lost_since is None:
            self._lost_since = now
            self._message_before = self.progress().message
            self._update(message=RECONNECTING)
        if now - self._lost_since >= self.reconnect_for:
            raise _RunOver("failed", QUEUE_LOST)

    def _queue_back(self) -> None:
        if self._lost_since is not None:
            self._lost_since = None
            self._beat_at = None  # the worker's beat may have been missed meanwhile: count afresh
            if self.progress().message == RECONNECTING:
                self._update(message=self._message_before)

    def _read(self, poll: RunPoll) -> TrainResult | None:
        """Take in one poll's news; the result once the worker reports the run done."""
        for text in poll.news:  # the cursor moves on once an event is taken in (the queue may fail meanwhile)
            result = self._take(self._event(text))
            self._cursor += 1
            if result is not None:
                return result
        if poll.progress is not None and poll.progress != self._last_progress:
            self._last_progress = poll.progress
            news = self._event(poll.progress)
            if isinstance(news, run_events.Progress):
                self._on_progress(news.epoch, news.fraction)
        self._check_alive(poll)
        if not self._started:
            self._show_place(poll)
        return None

    def _event(self, text: str | bytes) -> run_events.Event:
        try:
            return run_events.read_event(text, self.config)
        except ValueError:
            _LOG.warning("run %r: unreadable news from its worker: %.200r", self.name, text, exc_info=True)
            self._cancel_on_worker()
            raise _RunOver("failed", UNREADABLE) from None

    def _take(self, event: run_events.Event) -> TrainResult | None:
        if isinstance(event, run_events.Loading):
            self._started = True
            self._update(status="loading data", message=event.message, place=0, waiting=0)
        elif isinstance(event, run_events.Training):
            self._started = True
            self._update(status="training", message="", place=0, waiting=0, train_images=event.train_images,
                         data_fingerprint=event.fingerprint)
            self._stop_rules.training_started()
        elif isinstance(event, run_events.Epoch):
            self._take_epoch(event)
        elif isinstance(event, run_events.Done):
            return self._result(event)
        elif isinstance(event, run_events.Failed):
            raise _RunOver("failed", event.message)
        return None

    def _take_epoch(self, event: run_events.Epoch) -> None:
        report = event.report
        wire = self.link.epoch_weights(self.run, report.epoch)
        classifier = self._classifier(wire) if wire is not None else self.progress().classifier
        if classifier is not None:
            self._on_epoch_end(report, classifier)
            return
        _LOG.warning("run %r: the weights of epoch %d had expired", self.name, report.epoch)
        fraction, seconds_left = self._time_left.update(report.epoch, 0.0)
        progress = self.progress()
        self._update(reports=progress.reports + (report,), epoch=report.epoch, fraction=fraction,
                     seconds_left=seconds_left)

    def _result(self, done: run_events.Done) -> TrainResult:
        wire = self.link.result_weights(self.run)
        if wire is None:
            if done.history.epochs:
                raise _RunOver("failed", WORKER_DIED)
            # no epoch finished: nothing worth keeping, as collect_finished_job would say
            raise _RunOver(cast(FinishedStatus, done.history.status),
                           self._stop_rules.message() or done.history.message or done.history.status)
        metadata = {} if done.temperature is None else {"temperature": done.temperature}
        return TrainResult(self._classifier(wire, metadata), done.history)

    def _classifier(self, wire: bytes, metadata: dict | None = None) -> Classifier:
        try:
            return weights_wire.from_wire(wire, self.config, metadata)
        except ValueError:
            _LOG.warning("run %r: its worker sent weights that do not fit its settings", self.name, exc_info=True)
            self._cancel_on_worker()
            raise _RunOver("failed", UNREADABLE) from None

    def _cancel_on_worker(self) -> None:
        """Take the run out of the queue, or stop it on its worker, as best as can be done now."""
        try:
            self.link.cancel(self.run)
        except QueueUnavailable:  # the worker stops it anyway once its `wanted` key expires
            _LOG.warning("run %r: the training queue could not be told to drop it", self.name)

    def _check_alive(self, poll: RunPoll) -> None:
        """_RunOver when the run's worker has gone: RQ says it failed or finished without news, the queue lost the
        run (a restarted queue), or a started run has not beaten for `dead_after` seconds."""
        if poll.status in ("failed", "finished", "stopped", "canceled"):
            raise _RunOver("failed", WORKER_DIED)
        if poll.status is None:
            raise _RunOver("failed", QUEUE_RESTARTED if not poll.wanted_keys_exist else WORKER_DIED)
        now = self.clock()
        if poll.status != "started" or poll.beat:
            self._beat_at = now if poll.status == "started" else None
            return
        if self._beat_at is None:
            self._beat_at = now
        if now - self._beat_at >= self.dead_after:
            # RQ still counts the job as started, which would refuse this session's next run as busy until the
            # run's `wanted` key expired: drop the run now, so that Train works as soon as the failure is shown
            self._cancel_on_worker()
            raise _RunOver("failed", WORKER_DIED)

    def _show_place(self, poll: RunPoll) -> None:
        if not poll.place:
            if poll.status == "started":
                self._started = True
                self._update(status="loading data", message="a training worker is starting the run…", place=0,
                             waiting=0)
            return
        now = self.clock()
        if self._workers_checked is None or now - self._workers_checked >= WORKERS_CHECK_SECONDS:
            self._workers_checked = now
            try:
                self._no_worker = self.link.workers() == 0
            except QueueUnavailable:
                pass
        waiting = max(poll.waiting, poll.place)
        message = f"waiting: place {poll.place} of {waiting} in the queue"
        self._update(status="waiting", place=poll.place, waiting=waiting,
                     message=f"{message} ({NO_WORKER})" if self._no_worker else message)


class RemoteEngine:
    """Runs train on the training workers that serve `link`'s queue; a run is refused when `max_waiting` runs wait
    already, when this session has one in the queue, or when the queue cannot be reached."""

    def __init__(self, link: QueueLink, max_waiting: int) -> None:
        self.link = link
        self.max_waiting = max_waiting

    def start(self, cfg: TrainConfig, spec: RunData, loader: DataLoader, *, name: str, session: str,
              initial: Classifier | None, still_wanted: Callable[[], bool] | None,
              max_seconds: float) -> RemoteRun:
        """Submit the run (with `initial`'s weights for a warm start) and follow it; TrainingRefused when the queue
        refuses it or cannot be reached. `loader` is never called: the worker loads what `spec` describes."""
        request = RunRequest(run=uuid.uuid4().hex, name=name, session=session, config=cfg, data=spec,
                             warm_start=initial is not None, max_seconds=max_seconds)
        start = None if initial is None else weights_wire.to_wire(initial)
        try:
            self.link.submit(request, start, self.max_waiting)
        except (RunRefused, QueueUnavailable) as exc:
            raise TrainingRefused(str(exc)) from exc
        except ValueError as exc:  # the request is more than a worker reads (RunRequest.to_json)
            raise TrainingRefused(f"This run cannot be sent to the training workers: {exc}.") from exc
        run = RemoteRun(cfg, loader, name=name, still_wanted=still_wanted, max_seconds=max_seconds,
                        initial=initial, link=self.link, run=request.run)
        run.start()
        return run
