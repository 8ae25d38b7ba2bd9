"""TrainingJob: training in a background thread, progress snapshots, stop, errors, isolation."""
import threading
import time

import numpy as np
import pytest

from digitdnn.config import TrainConfig
from digitdnn.data import MnistUnavailable
from digitdnn.jobs import SharedDataset, TrainingJob, parse_data_limit

SMALL = TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=2)


def watch(job: TrainingJob, timeout: float = 120.0) -> list:
    """Every distinct progress snapshot the job publishes until it ends."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = job.progress()
        if not seen or progress is not seen[-1]:
            seen.append(progress)
        if progress.done:
            return seen
        time.sleep(0.002)
    raise AssertionError(f"job did not finish in {timeout} s; last status {job.progress().status}")


def accuracy(classifier, data) -> float:
    return float(np.mean(classifier.predict(data.x_test / np.float32(255)) == data.y_test))


def test_job_trains_and_reports_progress(small_mnist):
    loading = threading.Event()
    release = threading.Event()

    def loader(report):
        report("reading the cache")
        loading.set()
        assert release.wait(30)
        return small_mnist

    job = TrainingJob(SMALL, loader, name="Run 1").start()
    assert loading.wait(30)
    progress = job.progress()
    assert (progress.status, progress.message) == ("loading data", "reading the cache")
    release.set()
    seen = watch(job)

    final = seen[-1]
    assert final.status == "completed", final.error
    assert [r.epoch for r in final.reports] == [1, 2]
    assert final.epoch == final.epochs == 2 and final.fraction == 1.0
    assert final.result.history.status == "completed"
    assert final.classifier is final.result.classifier
    assert final.train_images == len(small_mnist.x_train)
    assert final.data_fingerprint == small_mnist.fingerprint()
    assert accuracy(final.classifier, small_mnist) > 0.8
    training = [p for p in seen if p.status == "training"]
    assert training, "no snapshot while training"
    fractions = [p.fraction for p in seen]
    assert fractions == sorted(fractions), "progress went backwards"
    assert any(0 < p.fraction < 1 and p.seconds_left is not None for p in training)
    # A snapshot taken after the first epoch carries that epoch's classifier.
    after_first = [p for p in training if p.epoch == 1]
    assert after_first and after_first[0].classifier is not None and len(after_first[0].reports) == 1


def test_stop_ends_the_run_quickly_and_keeps_the_weights(small_mnist):
    job = TrainingJob(SMALL.replace(epochs=200), small_mnist).start()
    deadline = time.monotonic() + 120
    while job.progress().epoch < 1:
        assert time.monotonic() < deadline and not job.progress().done, job.progress()
        time.sleep(0.01)
    asked = time.monotonic()
    job.stop()
    assert job.join(timeout=2.0), "still running 2 s after stop()"
    stopped_in = time.monotonic() - asked
    progress = job.progress()
    assert progress.status == "stopped" and job.stop_requested
    assert 1 <= progress.epoch < 200
    assert progress.result is not None and accuracy(progress.result.classifier, small_mnist) > 0.8
    assert stopped_in < 2.0


def test_stop_while_loading_skips_training(small_mnist):
    release = threading.Event()
    job = TrainingJob(SMALL, lambda report: (release.wait(30), small_mnist)[1]).start()
    job.stop()
    release.set()
    assert job.join(timeout=30)
    progress = job.progress()
    assert progress.status == "stopped" and progress.result is None and progress.reports == ()


def test_errors_are_captured_with_their_message():
    def unavailable(report):
        raise MnistUnavailable("MNIST is not in the cache and cannot be downloaded")

    job = TrainingJob(SMALL, unavailable).start()
    assert job.join(timeout=30)
    progress = job.progress()
    assert progress.status == "failed"
    assert progress.error == "MNIST is not in the cache and cannot be downloaded"
    assert progress.result is None


def test_bad_data_fails_the_job_not_the_caller(small_mnist):
    empty = small_mnist.head(0, 10)
    job = TrainingJob(SMALL, empty).start()
    assert job.join(timeout=60)
    assert job.progress().status == "failed" and "empty" in job.progress().error


def test_two_jobs_run_side_by_side_without_touching_each_other(small_mnist):
    narrow = TrainingJob(SMALL.replace(hidden_units=(16,), epochs=200), small_mnist, name="narrow").start()
    wide = TrainingJob(SMALL.replace(hidden_units=(48,), epochs=2), small_mnist, name="wide").start()
    wide_final = watch(wide)[-1]
    assert not narrow.progress().done, "stopping or finishing one job must not end the other"
    narrow.stop()
    assert narrow.join(timeout=5)
    narrow_final = narrow.progress()

    assert wide_final.status == "completed" and not wide.stop_requested
    assert narrow_final.status == "stopped"
    assert [w.shape for w, _, _ in wide_final.classifier.layers] == [(784, 48), (48, 10)]
    assert [w.shape for w, _, _ in narrow_final.classifier.layers] == [(784, 16), (16, 10)]
    assert wide_final.result.history.config.hidden_units == (48,)
    assert narrow_final.result.history.config.hidden_units == (16,)


def test_a_job_starts_once(small_mnist):
    job = TrainingJob(SMALL.replace(epochs=1), small_mnist).start()
    with pytest.raises(RuntimeError):
        job.start()
    assert job.join(timeout=120)


@pytest.mark.parametrize("text, expected", [
    (None, None), ("", None), (" ", None), ("2000", (2000, None)), ("2000,500", (2000, 500)), (" 10 , 5 ", (10, 5)),
])
def test_parse_data_limit(text, expected):
    assert parse_data_limit(text) == expected


@pytest.mark.parametrize("text", ["abc", "1,2,3", "0", "-5,10", "10,0"])
def test_parse_data_limit_refuses_nonsense(text):
    with pytest.raises(ValueError, match="DIGITDNN_DATA_LIMIT"):
        parse_data_limit(text)


def test_shared_dataset_loads_once_for_concurrent_callers(small_mnist):
    calls = []

    def load(progress):
        calls.append(progress)
        progress("loading")
        time.sleep(0.2)
        return small_mnist

    shared = SharedDataset(limit=(100, 20), load=load)
    results, messages = [], []
    threads = [threading.Thread(target=lambda: results.append(shared(messages.append))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and messages == ["loading"]
    assert all(r is results[0] for r in results)
    assert (len(results[0].x_train), len(results[0].x_test)) == (100, 20)


def test_shared_dataset_tries_again_after_a_failure(small_mnist):
    outcomes = [MnistUnavailable("offline"), small_mnist]

    def load(progress):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    shared = SharedDataset(load=load)
    with pytest.raises(MnistUnavailable):
        shared()
    assert shared() is small_mnist


def test_jobs_sharing_one_slot_train_one_after_the_other(small_mnist):
    slots = threading.BoundedSemaphore(1)
    first = TrainingJob(SMALL.replace(epochs=200), small_mnist, slots=slots).start()
    deadline = time.monotonic() + 120
    while first.progress().status != "training":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = TrainingJob(SMALL.replace(epochs=1), small_mnist, slots=slots).start()
    third = TrainingJob(SMALL.replace(epochs=1), small_mnist, slots=slots).start()
    time.sleep(0.5)
    assert second.progress().status == "waiting" and "slot" in second.progress().message
    third.stop()  # stopping a queued job ends it without training
    assert third.join(timeout=2) and third.progress().status == "stopped" and third.progress().result is None
    first.stop()
    assert first.join(timeout=5)
    assert second.join(timeout=120) and second.progress().status == "completed"
    assert slots.acquire(blocking=False), "a finished job must give its slot back"
