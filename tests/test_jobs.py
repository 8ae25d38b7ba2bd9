"""TrainingJob: training in a background thread, progress snapshots, stop, errors, isolation."""
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from digitdnn.config import TrainConfig
from digitdnn.data.mnist import MnistUnavailable
from digitdnn.training.calibration import with_temperature
from digitdnn.training.history import EpochReport, History, TrainResult
from digitdnn.training.jobs import FINISHED_STATES, RUNNING_STATES, JobProgress, TrainingJob
from digitdnn.training.queue import TrainingQueue
from digitdnn.training.stop_rules import ABANDONED_MESSAGE
from testkit.waiting import wait_until

SMALL = TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=2)
LONG = SMALL.replace(hidden_units=(512,), batch_size=16, epochs=200)  # a run that goes on until it is stopped


def watch(job: TrainingJob, timeout: float = 120.0) -> list:
    """Every distinct progress snapshot the job publishes until it ends."""
    seen = []

    def done() -> bool:
        progress = job.progress()
        if not seen or progress is not seen[-1]:
            seen.append(progress)
        return progress.done

    wait_until(done, timeout, interval=0.002, message=lambda: f"the job to end; its status {job.progress().status}")
    return seen


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
    wait_until(lambda: job.progress().epoch >= 1 or job.progress().done, message="an epoch")
    assert not job.progress().done, job.progress()
    job.stop()
    epochs_when_asked = job.progress().epoch
    assert job.join(timeout=60), "still running a minute after stop()"
    progress = job.progress()
    assert progress.status == "stopped" and job.stop_requested
    # Stop is seen between compiled chunks (here each a whole epoch): the run ends after the chunk under way, or the
    # next one when the stop came while an epoch's report was being published.
    assert 1 <= progress.epoch <= epochs_when_asked + 2, "the run went on after the stop"
    assert progress.result is not None and accuracy(progress.result.classifier, small_mnist) > 0.8


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
    assert narrow.join(timeout=60)
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


def test_jobs_sharing_one_slot_queue_in_order_and_see_their_place_move_up(small_mnist):
    queue = TrainingQueue(1)
    first = TrainingJob(LONG, small_mnist, queue=queue).start()
    wait_until(lambda: first.progress().status == "training", message="the first job to train")
    second = TrainingJob(SMALL.replace(epochs=1), small_mnist, queue=queue).start()
    wait_until(lambda: second.progress().place == 1, message="the second job to queue")
    third = TrainingJob(SMALL.replace(epochs=1), small_mnist, queue=queue).start()
    fourth = TrainingJob(SMALL.replace(epochs=1), small_mnist, queue=queue).start()
    wait_until(lambda: fourth.progress().place == 3 and second.progress().waiting == 3, message="four queued")
    assert (second.progress().status, second.progress().message) == ("waiting", "waiting: place 1 of 3 in the queue")
    assert (third.progress().place, fourth.progress().message) == (2, "waiting: place 3 of 3 in the queue")

    third.stop()  # a waiting job that is stopped leaves the line without training; those behind move up
    assert third.join(timeout=30) and third.progress().status == "stopped" and third.progress().result is None
    wait_until(lambda: fourth.progress().place == 2, 30, message="the fourth job to move up")
    assert fourth.progress().message == "waiting: place 2 of 2 in the queue"
    assert (queue.running, queue.waiting) == (1, 2)

    first.stop()
    assert first.join(timeout=60)
    assert second.join(timeout=120) and second.progress().status == "completed"
    assert fourth.join(timeout=120) and fourth.progress().status == "completed"
    assert (queue.running, queue.waiting) == (0, 0), "a finished job must give its slot back"
    assert second.progress().place == 0 and second.progress().waiting == 0


def test_two_slots_let_two_jobs_train_at_once(small_mnist):
    queue = TrainingQueue(2)
    jobs = [TrainingJob(LONG, small_mnist, queue=queue).start() for _ in range(3)]
    wait_until(lambda: [j.progress().status for j in jobs] == ["training", "training", "waiting"]
               and jobs[2].progress().place == 1, message="two training, one waiting")
    jobs[0].stop()
    wait_until(lambda: jobs[2].progress().status == "training", message="the third job to start")
    for job in jobs:
        job.stop()
        assert job.join(timeout=60)
    assert (queue.running, queue.waiting) == (0, 0)


def test_a_job_nobody_wants_any_more_stops_and_frees_its_slot(small_mnist):
    queue = TrainingQueue(1)
    page_open = threading.Event()
    page_open.set()
    trainer = TrainingJob(LONG, small_mnist, queue=queue, still_wanted=page_open.is_set,
                          abandon_after=0.5).start()
    waiter_open = threading.Event()
    waiter_open.set()
    waiter = TrainingJob(SMALL.replace(epochs=200), small_mnist, queue=queue, still_wanted=waiter_open.is_set,
                         abandon_after=0.5).start()
    wait_until(lambda: trainer.progress().epoch >= 1 and waiter.progress().place == 1, message="one trains, one waits")

    waiter_open.clear()  # the waiting page closes: it leaves the queue
    assert waiter.join(timeout=30)
    assert (waiter.progress().status, waiter.progress().message) == ("stopped", ABANDONED_MESSAGE)
    assert waiter.abandoned and queue.waiting == 0

    assert not trainer.progress().done and not trainer.abandoned  # the grace period and a reconnect: test_stop_rules
    page_open.clear()  # the training page closes: the run ends and the slot is free
    assert trainer.join(timeout=30)
    progress = trainer.progress()
    assert (progress.status, progress.message) == ("stopped", ABANDONED_MESSAGE) and trainer.abandoned
    assert progress.result is not None and progress.epoch >= 1
    assert (queue.running, queue.waiting) == (0, 0)


def test_a_failing_still_wanted_check_does_not_end_the_run(small_mnist):
    def broken():
        raise RuntimeError("no runtime")

    job = TrainingJob(SMALL.replace(epochs=1), small_mnist, still_wanted=broken, abandon_after=0).start()
    assert job.join(timeout=120) and job.progress().status == "completed"


@pytest.fixture(scope="module")
def trained_in_a_thread(small_mnist) -> JobProgress:
    """The last progress of a SMALL run on small_mnist in a thread."""
    final = watch(TrainingJob(SMALL, small_mnist).start())[-1]
    assert final.status == "completed", final.error
    return final


def test_a_run_in_a_child_process_reports_like_one_in_a_thread(small_mnist, trained_in_a_thread):
    seen = watch(TrainingJob(SMALL, small_mnist, separate_process=True).start())
    final, reference = seen[-1], trained_in_a_thread
    assert final.status == "completed", final.error
    assert [r.epoch for r in final.reports] == [1, 2] and final.fraction == 1.0
    assert any(p.status == "training" and 0 < p.fraction < 1 for p in seen)
    # same config and seed: the same weights, trained in the child, usable (and saveable) here; and calibrated there
    x = small_mnist.x_test[:50] / np.float32(255)
    temperature = final.classifier.metadata["temperature"]
    np.testing.assert_allclose(final.classifier.predict_proba(x),
                               with_temperature(reference.classifier, temperature).predict_proba(x), atol=1e-4)
    assert final.classifier.model.count_params() == reference.classifier.model.count_params()


def training_children() -> list[int]:
    """Process ids of this process's `python -m digitdnn.training.process` children."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:  # a thread that ended while we looked
            continue
        for pid in children:
            try:
                if b"digitdnn.training.process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:  # a child that ended while we looked
                pass
    return found


def test_a_run_in_a_child_process_stops_fails_and_survives_the_child_dying(small_mnist):
    stopped = TrainingJob(LONG, small_mnist, separate_process=True).start()
    empty = TrainingJob(SMALL, small_mnist.head(0, 10), separate_process=True).start()  # both children start at once
    assert empty.join(timeout=60)
    assert empty.progress().status == "failed" and "empty" in empty.progress().error

    wait_until(lambda: stopped.progress().epoch >= 1, message="an epoch in the child")
    stopped.stop()
    assert stopped.join(timeout=10) and stopped.progress().status == "stopped"
    assert stopped.progress().result.classifier.metadata["temperature"] > 0  # a stopped run is calibrated too
    assert training_children() == [], "the children must have exited"

    page_open = threading.Event()
    page_open.set()
    abandoned = TrainingJob(LONG, small_mnist, separate_process=True, still_wanted=page_open.is_set,
                            abandon_after=0.2).start()
    wait_until(lambda: abandoned.progress().status == "training" and training_children(), message="a child")
    page_open.clear()  # nobody wants the result: the child is killed, not asked to finish its chunk
    assert abandoned.join(timeout=10)
    assert (abandoned.progress().status, abandoned.progress().message) == ("stopped", ABANDONED_MESSAGE)
    assert abandoned.progress().result is None and training_children() == []

    killed = TrainingJob(LONG, small_mnist, separate_process=True).start()
    wait_until(lambda: killed.progress().status == "training" and training_children(), message="a child")
    for pid in training_children():
        os.kill(pid, signal.SIGKILL)
    assert killed.join(timeout=10)
    assert killed.progress().status == "failed" and "ended unexpectedly (exit code -9)" in killed.progress().error


def test_a_run_past_the_time_limit_stops_and_keeps_its_weights(small_mnist):
    job = TrainingJob(LONG, small_mnist, max_seconds=1.0).start()
    assert job.join(timeout=30)
    progress = job.progress()
    assert progress.status == "stopped" and progress.result is not None
    assert progress.message == "stopped: the server's time limit for a run (1 s) was reached"


def test_a_watched_drawing_is_scored_after_every_epoch_and_a_new_one_starts_again(small_mnist):
    drawing = small_mnist.x_test[0].astype(np.float32) / 255.0
    other = small_mnist.x_test[1].astype(np.float32) / 255.0
    job = TrainingJob(SMALL.replace(epochs=3), small_mnist)
    job.watch(drawing)
    job.start()
    assert job.join(120)
    progress = job.progress()
    assert [epoch for epoch, _ in progress.watched] == [1, 2, 3]  # every epoch, however short
    np.testing.assert_allclose(progress.watched[-1][1], progress.classifier.predict_proba(drawing)[0], rtol=1e-5)
    job.watch(drawing)  # the same drawing again: nothing changes
    assert job.progress().watched == progress.watched
    job.watch(other)  # a new drawing: the record starts again, from the latest weights
    (epoch, probabilities), = job.progress().watched
    assert epoch == 3 and np.allclose(probabilities, progress.classifier.predict_proba(other)[0])
    job.watch(None)
    assert job.progress().watched == ()


class BlockingClassifier:
    """Scores a drawing only once released: stands for a slow prediction on a busy server."""

    def __init__(self):
        self.scoring, self.release = threading.Event(), threading.Event()

    def predict_proba(self, x):
        self.scoring.set()
        assert self.release.wait(60)
        return np.full((1, 10), 0.1, np.float32)


def progress_within(job: TrainingJob, seconds: float = 10.0) -> JobProgress:
    """job.progress() from another thread; fails if it has not returned within `seconds` (it waited for a lock)."""
    got = []
    poll = threading.Thread(target=lambda: got.append(job.progress()), daemon=True)
    poll.start()
    poll.join(seconds)
    assert got, "progress() was blocked while the watched drawing was scored"
    return got[0]


def test_page_polls_are_not_blocked_while_the_watched_drawing_is_scored(small_mnist, monkeypatch):
    classifier = BlockingClassifier()

    def one_epoch(cfg, data, on_epoch_end, should_stop, on_progress, initial):
        report = EpochReport(1, 1, 0.9, 0.3, 0.9, 0.3, 1.0, 0.1)
        on_epoch_end(report, classifier)
        return TrainResult(classifier, History(cfg, [report], "completed", "completed 1 epoch"))

    monkeypatch.setattr("digitdnn.training.loop.train", one_epoch)
    drawing = small_mnist.x_test[0].astype(np.float32) / 255.0
    job = TrainingJob(SMALL.replace(epochs=1), small_mnist)
    job.watch(drawing)
    job.start()
    assert classifier.scoring.wait(60)  # the epoch's end scores the watched drawing...
    assert progress_within(job).epoch == 0  # ...while the page reads the progress
    classifier.release.set()
    assert job.join(60)
    assert [epoch for epoch, _ in job.progress().watched] == [1]

    classifier.scoring.clear()
    classifier.release.clear()
    watcher = threading.Thread(target=job.watch, args=(small_mnist.x_test[1] / np.float32(255),), daemon=True)
    watcher.start()
    assert classifier.scoring.wait(60)  # a new drawing is scored with the latest weights...
    assert progress_within(job).watched == ()  # ...while the page reads the progress
    classifier.release.set()
    watcher.join(60)
    assert [epoch for epoch, _ in job.progress().watched] == [1]


def test_statuses_are_running_or_finished():
    assert set(RUNNING_STATES).isdisjoint(FINISHED_STATES)
    assert not JobProgress().done and JobProgress().status in RUNNING_STATES
    assert all(JobProgress(status=status).done for status in FINISHED_STATES)


def test_a_warm_start_in_a_child_process_continues_from_the_given_weights(small_mnist, trained_in_a_thread):
    initial = trained_in_a_thread.classifier
    frozen = SMALL.replace(optimizer="sgd", learning_rate=1e-9, epochs=1)  # steps too small to move the weights
    warm_job = TrainingJob(frozen, small_mnist, initial=initial, separate_process=True).start()
    fresh_job = TrainingJob(frozen, small_mnist, separate_process=True).start()  # from scratch, in a child alongside
    final = watch(warm_job)[-1]
    assert final.status == "completed", final.error
    history = final.result.history
    assert history.initial_test_accuracy == pytest.approx(accuracy(initial, small_mnist), abs=1e-6)
    x = small_mnist.x_test[:50] / np.float32(255)
    temperature = final.classifier.metadata["temperature"]  # the run ends calibrated
    np.testing.assert_allclose(final.classifier.predict_proba(x),
                               with_temperature(initial, temperature).predict_proba(x), atol=1e-4)
    fresh = watch(fresh_job)[-1]  # near chance
    assert fresh.result.history.initial_test_accuracy is None
    assert accuracy(fresh.classifier, small_mnist) < accuracy(initial, small_mnist) - 0.3


def test_a_run_in_a_child_process_leaves_tensorflow_out_of_the_parent(mnist):
    """The page's server receives epochs, reports and weights without importing TensorFlow (it would make every
    page run slower: Streamlit then clears Keras's session after each one)."""
    import subprocess
    import sys

    script = """if True:
        import sys
        from digitdnn.config import TrainConfig
        from digitdnn.data.mnist import load_mnist
        from digitdnn.training.jobs import TrainingJob
        job = TrainingJob(TrainConfig(hidden_units=(16,), epochs=2), load_mnist().head(500, 100),
                          separate_process=True).start()
        job.join(120)
        progress = job.progress()
        import numpy as np
        print(progress.status, len(progress.reports),
              progress.result.classifier.predict_proba(np.zeros((1, 28, 28), np.float32)).shape,
              sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
    """
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert out.stdout.split() == ["completed", "2", "(1,", "10)", "[]"], out.stdout + out.stderr[-2000:]
