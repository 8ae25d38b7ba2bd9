"""`digitdnn worker` against a real Redis (and PostgreSQL for the class's drawings): runs submitted as a page submits
them (QueueLink) are trained in the worker's forked horse and reported back as checked events and weights; Stop
keeps the weights; a run whose page has gone, a forged job and a pickled job never train; a killed worker takes its
horse with it and a fresh worker drains the queue; a worker carries on across a Redis restart.

One worker subprocess serves the module (tiny networks on 500 MNIST images); tests that kill it start another."""
import io
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from queue_server import start_worker, stop_worker
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from digitdnn.config import TrainConfig
from digitdnn.training import run_events
from digitdnn.training.queue_link import BEAT_TTL, TASK, QueueLink, run_key
from digitdnn.training.run_data import DrawingsPick, RunData
from digitdnn.training.run_request import RunRequest
from digitdnn.training.weights_wire import from_wire
from testkit.waiting import wait_until

pytestmark = pytest.mark.cluster

TINY = TrainConfig(hidden_units=(16,), epochs=2, batch_size=100, learning_rate=0.1)
LIMIT = (500, 100)
RUN_SECONDS = 60.0  # the longest a test waits for one run


class WorkerProcess:
    """`digitdnn worker` as a subprocess, its log in `folder`."""

    def __init__(self, url: str, folder: Path, database_url: str) -> None:
        self.url, self.folder, self.database_url = url, folder, database_url
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = start_worker(self.url, f"w{self.starts}", self.log_path,
                                    {"DIGITDNN_DATA_LIMIT": ",".join(map(str, LIMIT)),
                                     "DIGITDNN_DATABASE_URL": self.database_url})

    @property
    def log_path(self) -> Path:
        return self.folder / "worker.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def horses(self) -> list[int]:
        """The pids of the worker's children (its work horse while a run trains)."""
        assert self.process is not None
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid and fields[0] != "Z":
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        if self.process is not None:
            stop_worker(self.process)


@pytest.fixture(scope="module")
def drawings_url(postgres_server) -> str:
    postgres_server.psql("postgres", "DROP DATABASE IF EXISTS t_workers WITH (FORCE)")
    return postgres_server.create_database("t_workers")


@pytest.fixture(scope="module")
def worker(redis_server, drawings_url):
    if not redis_server.running():
        redis_server.start()
    process = WorkerProcess(redis_server.url, Path(tempfile.mkdtemp(prefix="digitdnn-worker-")), drawings_url)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def link(worker) -> QueueLink:
    link = QueueLink(worker.url)
    wait_until(lambda: link.workers() > 0, timeout=30, message="a training worker registered on the queue")
    return link


def submit(link: QueueLink, cfg: TrainConfig = TINY, data: RunData | None = None,
           start: bytes | None = None) -> RunRequest:
    asked = RunRequest(run=uuid.uuid4().hex, name="Run 1", session=uuid.uuid4().hex, config=cfg,
                       data=data or RunData("mnist", LIMIT),
                       warm_start=start is not None, max_seconds=RUN_SECONDS)
    link.submit(asked, start, max_waiting=50)
    return asked


def follow(link: QueueLink, asked: RunRequest, until=None, timeout: float = RUN_SECONDS) -> list:
    """The run's events, read as a page reads them, until it is done or failed (or `until(events)` is true)."""
    events: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poll = link.poll(asked.run, len(events), still_wanted=True)
        events += [run_events.read_event(text, asked.config) for text in poll.news]
        if events and isinstance(events[-1], run_events.Done | run_events.Failed):
            return events
        if until is not None and until(events):
            return events
        time.sleep(0.2)
    raise AssertionError(f"run {asked.run} did not end within {timeout:g} s: {events}")


def epochs(events: list) -> list:
    return [event for event in events if isinstance(event, run_events.Epoch)]


def job_status(link: QueueLink, run: str) -> str | None:
    return link.poll(run, 0, still_wanted=False).status


def test_a_run_trains_on_the_worker_and_reports_epochs_weights_and_its_result(link, worker):
    asked = submit(link)
    events = follow(link, asked)

    kinds = [type(event).__name__ for event in events]
    assert kinds[0] == "Loading" and kinds[-3:] == ["Epoch", "Epoch", "Done"]
    training = next(event for event in events if isinstance(event, run_events.Training))
    assert training.train_images == LIMIT[0] and training.fingerprint.startswith("sha256:")
    done = events[-1]
    assert done.history.status == "completed" and len(done.history.epochs) == 2
    for epoch in (1, 2):
        weights = from_wire(link.epoch_weights(asked.run, epoch), TINY)
        assert [w.shape for w, _, _ in weights.layers] == [(784, 16), (16, 10)]
    result = from_wire(link.result_weights(asked.run), TINY)
    assert result.layers[0][0].shape == (784, 16)
    wait_until(lambda: job_status(link, asked.run) == "finished", timeout=10, message="RQ's status finished")
    log = worker.log()
    assert f"run {asked.run} Run 1 of session {asked.session}: " in log
    assert f"run {asked.run} completed in " in log


def test_stop_keeps_the_weights_and_a_run_whose_page_has_gone_is_dropped_untrained(link, worker):
    long = submit(link, TINY.replace(epochs=100))
    gone = submit(link)  # queued behind it; its page closes before it starts
    link.redis.delete(run_key(gone.run, "wanted"))

    follow(link, long, until=lambda events: len(epochs(events)) >= 1)
    link.stop(long.run, "stopped")
    events = follow(link, long)
    done = events[-1]
    assert isinstance(done, run_events.Done) and done.history.status == "stopped"
    assert 1 <= len(done.history.epochs) < 100
    assert from_wire(link.result_weights(long.run), long.config).layers[1][0].shape == (16, 10)

    wait_until(lambda: job_status(link, gone.run) == "finished", timeout=20, message="the dropped run's job to end")
    assert link.queue.fetch_job(gone.run).return_value() == "abandoned"
    assert link.poll(gone.run, 0, still_wanted=False).news == []
    assert f"run {gone.run}: abandoned before it started" in worker.log()


def test_forged_and_pickled_jobs_never_run(link, tmp_path):
    proof = tmp_path / "ran"
    forged = [Queue(link.queue.name, connection=link.redis, serializer=JSONSerializer).enqueue(
        "os.system", f"touch {proof}"),
        Queue(link.queue.name, connection=link.redis).enqueue("os.system", f"touch {proof}"),  # pickled
        link.queue.enqueue(TASK, "../../etc", job_id=uuid.uuid4().hex),
        link.queue.enqueue(TASK, uuid.uuid4().hex, "extra")]
    for job in forged:
        wait_until(lambda job=job: link.redis.hget(job.key, "status") == b"failed", timeout=20,
                   message=f"forged job {job.id} to fail")
    assert not proof.exists()


def test_bad_settings_fail_the_run_with_a_plain_sentence(link):
    run = uuid.uuid4().hex  # a request as a forger would write it, past the page's checks
    text = RunRequest(run=run, name="Run 1", session="s", config=TINY, data=RunData("mnist", LIMIT),
                      warm_start=False, max_seconds=60).to_json().replace('"hidden_units": [16]',
                                                                          '"hidden_units": [0]')
    link.redis.set(run_key(run, "request"), text)
    link.redis.set(run_key(run, "wanted"), b"1", ex=60)
    link.queue.enqueue(TASK, run, job_id=run)
    asked = RunRequest.from_json(text.replace('"hidden_units": [0]', '"hidden_units": [16]'))
    [failed] = follow(link, asked)

    assert isinstance(failed, run_events.Failed)
    assert failed.message.startswith("The training worker refused this run: a run's config is not valid")
    assert "hidden_units" in failed.message and "Traceback" not in failed.message and "/" not in failed.message


def test_a_warm_start_begins_from_the_start_weights(link):
    rng = np.random.default_rng(0)
    start = io.BytesIO()
    np.savez(start, w0=rng.normal(0, 0.05, (784, 16)).astype(np.float32), b0=np.zeros(16, np.float32),
             w1=rng.normal(0, 0.05, (16, 10)).astype(np.float32), b1=np.zeros(10, np.float32))
    asked = submit(link, TINY.replace(epochs=1), start=start.getvalue())
    done = follow(link, asked)[-1]
    assert isinstance(done, run_events.Done) and done.history.status == "completed"
    assert done.history.initial_test_accuracy is not None  # measured on the start weights: only a warm start does


def test_a_retrain_reads_the_class_drawings_up_to_its_id_without_the_held_tabs(link, drawings_url):
    from digitdnn.storage.open_store import open_class_store

    store = open_class_store(drawings_url)
    rng = np.random.default_rng(1)
    ids = [store.drawings.add(rng.random((28, 28), dtype=np.float32), i % 10, session=tab)
           for tab in ("kept", "held") for i in range(10)]
    store.drawings.add(rng.random((28, 28), dtype=np.float32), 3, session="later")  # after the page looked
    store.close()

    everything_held = DrawingsPick("retrain", up_to_id=max(ids), held_tabs=("kept", "held"))
    failed = follow(link, submit(link, TINY.replace(epochs=1), RunData("mnist", LIMIT, everything_held)))[-1]
    assert isinstance(failed, run_events.Failed) and failed.message == "the class has stored no drawings for this run"

    some_held = DrawingsPick("retrain", up_to_id=max(ids), held_tabs=("held",))
    events = follow(link, submit(link, TINY.replace(epochs=1), RunData("mnist", LIMIT, some_held)))
    assert isinstance(events[-1], run_events.Done) and events[-1].history.status == "completed"


def test_sigterm_stops_the_run_keeping_its_weights_and_then_the_worker(link, worker):
    asked = submit(link, TINY.replace(epochs=100))
    follow(link, asked, until=lambda events: len(epochs(events)) >= 1)
    worker.process.send_signal(signal.SIGTERM)
    done = follow(link, asked)[-1]
    assert isinstance(done, run_events.Done) and done.history.status == "stopped"
    assert done.history.message == "stopped: the training worker was shut down"
    assert link.result_weights(asked.run) is not None
    assert worker.process.wait(20) == 0
    worker.start()


def test_a_killed_worker_takes_its_run_with_it_and_a_fresh_worker_drains_the_queue(link, worker):
    doomed = submit(link, TINY.replace(epochs=100))
    after = submit(link)
    follow(link, doomed, until=lambda events: len(epochs(events)) >= 1)
    horses = worker.horses()
    assert len(horses) == 1

    worker.process.kill()
    worker.process.wait()
    wait_until(lambda: not Path(f"/proc/{horses[0]}").exists() or
               Path(f"/proc/{horses[0]}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
               timeout=5, message="the horse to die with its worker")
    wait_until(lambda: not link.poll(doomed.run, 0, still_wanted=True).beat, timeout=BEAT_TTL + 3,
               message="the dead run's beat to expire")
    assert job_status(link, doomed.run) == "started"  # RQ alone would not know for minutes: the beat tells
    assert link.poll(after.run, 0, still_wanted=True).place == 1

    worker.start()
    events = follow(link, after)
    assert isinstance(events[-1], run_events.Done) and events[-1].history.status == "completed"


def test_a_worker_carries_on_after_redis_restarts_under_it(link, worker, redis_server):
    current = f"w{worker.starts}."  # RQ's name of the running worker (a killed one stays listed for a while)
    wait_until(lambda: [w.get_state() for w in Worker.all(queue=link.queue) if w.name.startswith(current)] ==
               ["idle"], timeout=10, message="the worker to be idle")
    redis_server.stop()
    time.sleep(1)
    redis_server.start()
    link = QueueLink(worker.url)
    events = follow(link, submit(link, TINY.replace(epochs=1)))
    assert isinstance(events[-1], run_events.Done) and events[-1].history.status == "completed"
    assert worker.process.poll() is None
