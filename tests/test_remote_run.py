"""training/remote_run.py and engine.py: a page's run followed on the training queue (RemoteRun, RemoteEngine), with a
fake worker that takes the run off the queue and publishes its events through QueueLink's worker side (no TensorFlow,
no RQ worker); and LocalEngine's refusal of a run when the server's queue is full."""
import numpy as np
import pytest
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier
from digitdnn.training import remote_run, run_events, weights_wire
from digitdnn.training.engine import LocalEngine, TrainingRefused
from digitdnn.training.history import EpochReport, History
from digitdnn.training.queue import TrainingQueue
from digitdnn.training.run_data import RunData
from testkit.waiting import wait_until

CFG = TrainConfig(hidden_units=(8,), epochs=2, batch_size=16)
SPEC = RunData("mnist", (500, 100))
DRAWING = np.random.default_rng(0).random((28, 28)).astype(np.float32)


def never_called(report):
    raise AssertionError("a remote run must never load the data on the page")


def weights(seed: int) -> Classifier:
    rng = np.random.default_rng(seed)
    return Classifier.from_layers([(rng.normal(size=(784, 8)).astype(np.float32), np.zeros(8, np.float32), "relu"),
                                   (rng.normal(size=(8, 10)).astype(np.float32), np.zeros(10, np.float32),
                                    "softmax")], CFG)


def report(epoch: int, accuracy: float) -> EpochReport:
    return EpochReport(epoch, CFG.epochs, accuracy, 0.5, accuracy, 0.4, 0.1, 0.01)


class FakeWorker:
    """Does to one run what a training worker's job does, one step at a time, through the worker's QueueLink."""

    def __init__(self, url: str, run: str) -> None:
        from digitdnn.training.queue_link import QueueLink

        self.link, self.run = QueueLink(url, page=False), run

    def take(self) -> None:
        """Dequeue the run and start it (as RQ and the task's first lines do)."""
        redis = self.link.redis
        redis.lrem(self.link.queue.key, 0, self.run)
        Job.fetch(self.run, connection=redis, serializer=JSONSerializer).set_status(JobStatus.STARTED)
        self.link.left_waiting(self.run)
        self.link.beat(self.run)

    def set_status(self, status: JobStatus) -> None:
        Job.fetch(self.run, connection=self.link.redis, serializer=JSONSerializer).set_status(status)

    def train_one_epoch(self) -> Classifier:
        self.link.publish(self.run, run_events.loading("Loading MNIST…"))
        self.link.publish(self.run, run_events.training(500, "sha256:0123456789abcdef"))
        self.link.set_progress(self.run, run_events.progress(1, 0.5))
        first = weights(1)
        self.link.publish(self.run, run_events.epoch(report(1, 0.8)), weights=weights_wire.to_wire(first), epoch=1)
        return first

    def finish(self, status: str, temperature: float | None, *epochs: EpochReport) -> Classifier:
        final = weights(2)
        history = History(CFG, list(epochs), status, "", None)
        self.link.publish(self.run, run_events.done(history, temperature), weights=weights_wire.to_wire(final),
                          result=True)
        self.set_status(JobStatus.FINISHED)
        return final


@pytest.fixture
def engine(redis_url):
    from digitdnn.training.queue_link import QueueLink
    from digitdnn.training.remote_run import RemoteEngine

    return RemoteEngine(QueueLink(redis_url), max_waiting=5)


def start(engine, session: str = "tab-1", **changes):
    """A run started by the engine as the page starts one."""
    return engine.start(CFG, SPEC, never_called, name="Run 1", session=session, initial=None, still_wanted=None,
                        max_seconds=60.0, **changes)


def follow(engine, session: str = "tab-1", **fields) -> remote_run.RemoteRun:
    """A run submitted as RemoteEngine.start does, followed by a RemoteRun with `fields` (shorter time limits)."""
    from digitdnn.training.run_request import RunRequest

    request = RunRequest(run=__import__("uuid").uuid4().hex, name="Run 1", session=session, config=CFG, data=SPEC,
                         warm_start=False, max_seconds=60.0)
    engine.link.submit(request, None, engine.max_waiting)
    run = remote_run.RemoteRun(CFG, never_called, name="Run 1", link=engine.link, run=request.run, **fields)
    run.start()
    return run


def progress_when(run, check, timeout: float = 10.0):
    wait_until(lambda: check(run.progress()), timeout, interval=0.05,
               message=lambda: f"the run, whose progress is {run.progress()}")
    return run.progress()


@pytest.mark.cluster
def test_waiting_runs_see_their_place_and_move_up(engine):
    first, second = start(engine, "tab-1"), start(engine, "tab-2")
    seen = progress_when(second, lambda p: p.place == 2)
    assert (seen.status, seen.waiting) == ("waiting", 2)
    assert seen.message.startswith("waiting: place 2 of 2 in the queue")  # benchmarks/load.py's PLACE
    assert remote_run.NO_WORKER in seen.message  # no RQ worker serves the queue
    first.stop()
    assert progress_when(first, lambda p: p.done).message == remote_run.STOPPED_BEFORE_TRAINING
    assert first.join(5)
    assert progress_when(second, lambda p: p.place == 1).message.startswith("waiting: place 1 of 1 in the queue")
    second.discard()
    assert second.join(5) and second.progress().status == "stopped"
    assert engine.link.redis.llen(engine.link.queue.key) == 0  # both left the queue: no worker will train them


@pytest.mark.cluster
def test_epochs_and_the_result_come_back_from_the_worker(engine, redis_url):
    run = start(engine)
    worker = FakeWorker(redis_url, run.run)
    worker.take()
    run.watch(DRAWING)
    first = worker.train_one_epoch()
    seen = progress_when(run, lambda p: p.epoch == 1)
    assert (seen.status, seen.train_images, seen.data_fingerprint) == ("training", 500, "sha256:0123456789abcdef")
    assert [r.test_accuracy for r in seen.reports] == [0.8]
    assert np.array_equal(seen.classifier.layers[0][0], first.layers[0][0])  # the worker's weights of epoch 1
    assert seen.classifier.layers[0][2] == "relu"  # activations from the page's own config
    assert len(seen.watched) == 1 and np.allclose(seen.watched[0][1], first.predict_proba(DRAWING)[0])
    final = worker.finish("completed", 1.5, report(1, 0.8), report(2, 0.9))
    done = progress_when(run, lambda p: p.done)
    assert (done.status, done.epoch, done.fraction) == ("completed", 2, 1.0)
    assert done.result.history.config is CFG and done.result.history.test_accuracy == 0.9
    assert done.classifier is done.result.classifier  # one object: the page finds the run that keeps it
    assert done.result.classifier.metadata == {"temperature": 1.5}
    assert np.array_equal(done.result.classifier.layers[1][0], final.layers[1][0])


@pytest.mark.cluster
def test_stop_asks_the_worker_and_keeps_its_weights(engine, redis_url):
    run = start(engine)
    worker = FakeWorker(redis_url, run.run)
    worker.take()
    worker.train_one_epoch()
    progress_when(run, lambda p: p.epoch == 1)
    run.stop()
    wait_until(lambda: worker.link.stop_reason(run.run) is not None, 5, interval=0.05)
    assert not run.progress().done  # it waits for the weights the worker keeps
    worker.finish("stopped", None, report(1, 0.8))
    done = progress_when(run, lambda p: p.done)
    assert done.status == "stopped" and done.result.classifier.metadata == {}


@pytest.mark.cluster
def test_a_failed_run_shows_the_workers_sentence(engine, redis_url):
    run = start(engine)
    worker = FakeWorker(redis_url, run.run)
    worker.take()
    worker.link.publish(run.run, run_events.failed("the class drawings cannot be read"))
    worker.set_status(JobStatus.FINISHED)
    done = progress_when(run, lambda p: p.done)
    assert (done.status, done.error) == ("failed", "the class drawings cannot be read")


@pytest.mark.cluster
def test_a_dead_worker_fails_the_run(engine, redis_url):
    silent = follow(engine, "tab-1", dead_after=1.0)
    crashed = follow(engine, "tab-2")
    for run in (silent, crashed):
        FakeWorker(redis_url, run.run).take()
    FakeWorker(redis_url, crashed.run).set_status(JobStatus.FAILED)  # RQ saw its work horse die
    assert progress_when(crashed, lambda p: p.done, 3).error == remote_run.WORKER_DIED
    engine.link.redis.delete(f"digitdnn:run:{silent.run}:beat")  # its beat expired: worker and horse are gone
    assert progress_when(silent, lambda p: p.done, 5).error == remote_run.WORKER_DIED
    assert not engine.link.redis.exists(f"digitdnn:run:{silent.run}:wanted")  # the session may train again at once


@pytest.mark.cluster
def test_a_queue_that_goes_away_fails_the_run_or_says_it_restarted(engine, redis_url, redis_server):
    lost = follow(engine, "tab-1", reconnect_for=1.5)
    back = follow(engine, "tab-2", reconnect_for=60.0)
    progress_when(back, lambda p: p.place == 2)
    redis_server.stop()
    try:
        assert progress_when(back, lambda p: p.message == remote_run.RECONNECTING).status == "waiting"
        assert progress_when(lost, lambda p: p.done).error == remote_run.QUEUE_LOST
    finally:
        redis_server.start()
    assert progress_when(back, lambda p: p.done).error == remote_run.QUEUE_RESTARTED  # nothing is kept on disk


@pytest.mark.cluster
def test_the_queue_refuses_a_second_run_of_a_session_and_runs_past_its_limit(redis_url):
    from digitdnn.training.queue_link import QueueLink
    from digitdnn.training.remote_run import RemoteEngine

    engine = RemoteEngine(QueueLink(redis_url), max_waiting=1)
    start(engine, "tab-1")
    with pytest.raises(TrainingRefused, match="A run of yours is still training or waiting"):
        start(engine, "tab-1")
    with pytest.raises(TrainingRefused, match=r"The training queue is full \(1 runs waiting\)"):
        start(engine, "tab-2")
    down = RemoteEngine(QueueLink("redis://127.0.0.1:1/0"), max_waiting=1)
    with pytest.raises(TrainingRefused, match="Training is unavailable just now"):
        start(down, "tab-3")


def test_the_local_engine_refuses_a_run_when_its_queue_is_full():
    queue = TrainingQueue(1)
    queue.join(), queue.join()  # one training, one waiting
    with pytest.raises(TrainingRefused, match=r"The training queue is full \(1 runs waiting\)"):
        LocalEngine(queue, max_waiting=1).start(CFG, SPEC, never_called, name="Run 1", session="tab", initial=None,
                                                still_wanted=None, max_seconds=60.0)
    assert queue.waiting == 1  # the refused run never joined

