"""A training worker: an RQ worker on the training queue (queue_link.QUEUE) that runs one job at a time, each in a
forked work horse.

Only task.run_training runs here (OnlyTrainingJob refuses any other function, and the JSON serializer never
unpickles). The horse runs at a lower CPU priority (NICENESS, as a page's training process does) and dies with
its worker (PR_SET_PDEATHSIG), so a killed worker never leaves a run training unseen. On SIGTERM the worker tells
its run to stop (keeping its weights, as the Stop button does) and ends when the horse has published them; a
second signal ends both at once. `serve_worker` keeps a worker going across losses of the queue (Redis restarted:
a busy RQ worker quits then), waiting for it to answer again.
"""
from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import os
import signal
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from digitdnn.training.process import NICENESS
from digitdnn.training.queue_link import QUEUE, TASK, QueueLink, QueueUnavailable
from digitdnn.workers import task

WORKER_TTL = 60              # seconds a silent worker stays registered (the page counts registered workers)
JOB_MONITORING_SECONDS = 5   # how often the worker checks on its horse (and renews its registration)
RECONNECT_SECONDS = (0.5, 5.0)  # the first and the longest wait between tries to reach a lost queue
_PR_SET_PDEATHSIG = 1
_LOG = logging.getLogger(__name__)


class OnlyTrainingJob(Job):
    """A job that runs only queue_link.TASK with one argument: anything else fails without running."""

    @property
    def func(self):
        if self.func_name != TASK or self.instance is not None or len(self.args) != 1 or self.kwargs:
            raise ValueError(f"refused: {self.func_name!r} is not a training run")
        return super().func


class TrainingWorker(Worker):
    """RQ's forking worker, with the horse niced and bound to its worker's life, and a warm shutdown that stops
    the current run (at `queue_url`) keeping its weights."""

    def __init__(self, *args, queue_url: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.queue_url = queue_url
        self.current_run: str | None = None
        self.shutting_down = False

    def execute_job(self, job: Job, queue: Queue):
        self.current_run = job.id
        try:
            return super().execute_job(job, queue)
        finally:
            self.current_run = None

    def setup_work_horse_signals(self) -> None:
        super().setup_work_horse_signals()
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.pid:  # the worker died before the line above
            os._exit(1)
        os.nice(NICENESS)

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        self.shutting_down = True
        run = self.current_run
        if run is None:
            return
        link = QueueLink(self.queue_url)  # its own connection: this runs in a signal handler
        try:
            link.stop(run, task.SHUTDOWN_REASON)
        except (QueueUnavailable, ValueError):
            _LOG.warning("run %s could not be told to stop", run)
        finally:
            link.redis.close()


def serve_worker(url: str, name: str, threads: int = 1, database_url: str | None = None) -> None:
    """Train the runs on the queue at `url` until SIGTERM or SIGINT (then return), reconnecting whenever the queue
    is lost. `name` names the worker in the logs (RQ's name adds the process id); `threads` CPU threads per run;
    `database_url`: the class store the runs' drawings are read from."""
    task.SETTINGS = task.WorkerSettings(threads=threads, database_url=database_url)
    rq_name = f"{name}.{os.getpid()}"
    for attempt in itertools.count():
        connection = _reached(url, name)
        queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer, job_class=OnlyTrainingJob)
        worker = TrainingWorker([queue], connection=connection, serializer=JSONSerializer,
                                job_class=OnlyTrainingJob, name=rq_name if attempt == 0 else f"{rq_name}.{attempt}",
                                worker_ttl=WORKER_TTL, job_monitoring_interval=JOB_MONITORING_SECONDS,
                                queue_url=url)
        _LOG.info("worker %s waits for runs (%d thread%s per run)", name, threads, "s" if threads > 1 else "")
        try:
            worker.work(with_scheduler=False, logging_level="WARNING")
        except RedisError as exc:
            _LOG.warning("worker %s: the training queue failed (%s)", name, type(exc).__name__)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # RQ's handlers belong to the worker that has ended
            signal.signal(signal.SIGINT, signal.default_int_handler)
            connection.close()
        if worker.shutting_down:
            _LOG.info("worker %s stopped", name)
            return
        _LOG.warning("worker %s lost the training queue: reconnecting", name)


def _reached(url: str, name: str) -> Redis:
    """A connection to the queue at `url` once it answers PING, trying again with a growing pause meanwhile."""
    pause, longest = RECONNECT_SECONDS
    said = False
    while True:
        connection = Redis.from_url(url)
        try:
            connection.ping()
            if said:
                _LOG.info("worker %s reached the training queue again", name)
            return connection
        except RedisError as exc:
            connection.close()
            if not said:
                _LOG.warning("worker %s cannot reach the training queue (%s): trying again", name,
                             type(exc).__name__)
                said = True
        time.sleep(pause)
        pause = min(pause * 2, longest)
