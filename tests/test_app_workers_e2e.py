"""The page through real training workers ($DIGITDNN_QUEUE_URL, a `digitdnn worker` subprocess; AppTest): a run
shows its place or its epochs, its curves grow, the drawing is re-scored each epoch and the finished model becomes
active; Stop keeps the weights so far; a diverged run is reported; a retrain on the class's drawings (read by the
worker from the same SQLite file) ends with its before and after, and Train can include the drawings; a worker
killed mid-run fails the run on the page within a minute, and Train works again once a new worker runs.

One worker serves the module (the last test kills it and starts another); the page and the worker share the
drawings file and a small set of pen digits."""
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from app_session import TEST_DATA_LIMIT, drawn_canvas, open_session, open_tab, run_until, texts
from pen_subset import save_small_pen
from queue_server import start_worker, stop_worker
from test_app import trained_models, training_over
from test_app_class import add_mnist_drawings, table
from test_app_teaching import chart_data

from digitdnn.evaluation import evaluate
from digitdnn.parameters import BATCH_SIZES, MAX_EPOCHS_SLIDER
from digitdnn.presets import DEFAULT_PRESET, PRESETS
from digitdnn.training.queue_link import QueueLink
from digitdnn.training.remote_run import WORKER_DIED
from testkit.waiting import wait_until

pytestmark = pytest.mark.cluster

RUN_SECONDS = 120  # the longest a test waits for a run (a loaded machine: a run takes 10-20 s when idle)
LONG_EPOCHS = {"preset": DEFAULT_PRESET, "batch_size": min(BATCH_SIZES)}  # on LONG_DATA: about a second each
LONG_DATA = 20000  # training images (the tiny preset on the tests' 2,000 trains an epoch in a twentieth of a second)


class Worker:
    """The module's `digitdnn worker` subprocess (start() again after it was killed)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder, self.starts = url, folder, 0
        self.process: subprocess.Popen | None = None
        self.env: dict[str, str | None] = {
            "DIGITDNN_DRAWINGS_DB": str(folder / "drawings.sqlite"), "DIGITDNN_PEN_DIGITS": str(folder / "pen.npz"),
            "DIGITDNN_DATA_LIMIT": TEST_DATA_LIMIT, "DIGITDNN_DATABASE_URL": None, "DIGITDNN_QUEUE_URL": None}

    def start(self) -> None:
        self.starts += 1
        self.process = start_worker(self.url, f"e2e{self.starts}", self.folder / "worker.log", self.env)

    def log(self) -> str:
        return (self.folder / "worker.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            stop_worker(self.process)


@pytest.fixture(scope="module")
def worker(redis_server, tmp_path_factory):
    if not redis_server.running():
        redis_server.start()
    folder = tmp_path_factory.mktemp("workers-e2e")
    save_small_pen(folder / "pen.npz")  # the retrain's pen digits: a few, for speed
    process = Worker(redis_server.url, folder)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def page(page_env, worker, monkeypatch):
    """A page whose runs train on the module's worker, with a drawing of a 3 on its canvas."""
    for name, value in worker.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("DIGITDNN_QUEUE_URL", worker.url)
    link = QueueLink(worker.url)
    wait_until(lambda: link.workers() > 0, timeout=30, message="a training worker registered on the queue")
    link.redis.close()
    at = open_session()
    # The page has imported digitdnn.ui.draw (importing the canvas component needs a running page).
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", lambda **kwargs: drawn_canvas(3))
    at.run()
    return at


def following(job) -> list[tuple[str, int]]:
    """(status, number of epoch reports) of `job`'s progress, sampled every 50 ms (by a thread) until it is done:
    what the page's reruns would show, however late they come."""
    samples: list[tuple[str, int]] = []

    def sample() -> None:
        deadline = time.monotonic() + RUN_SECONDS
        while not job.progress().done and time.monotonic() < deadline:
            progress = job.progress()
            samples.append((progress.status, len(progress.reports)))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    return samples


def train(page, preset: str = "Tiny", **values):
    """Set the sidebar to `preset` and `values` (widget key: value), press Train; the run it started."""
    page.selectbox(key="preset").set_value(preset).run()
    for key, value in values.items():
        widget = page.select_slider(key=key) if key in ("learning_rate", "batch_size") else page.slider(key=key)
        widget.set_value(value)
    page.run()
    page.button(key="train").click().run()
    assert not page.exception, page.exception
    job = page.session_state["session"].job
    assert job is not None, texts(page.sidebar)
    return job


def test_a_run_on_a_worker_shows_its_progress_grows_its_curves_and_becomes_the_active_model(page, worker,
                                                                                         monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", f"{LONG_DATA},500")  # epochs long enough to be seen one by one
    open_tab(page, "Learning curves")
    job = train(page, **LONG_EPOCHS, epochs=3)
    assert type(job).__name__ == "RemoteRun"
    assert page.button(key="train").disabled and not page.button(key="stop").disabled
    followed = following(job)
    said = []

    def seen(at) -> bool:
        said.append(texts(at.sidebar) + "\n".join(bar.proto.text for bar in at.sidebar.get("progress")))
        return training_over(at)

    run_until(page, seen, timeout=RUN_SECONDS)
    assert any("Run 1: Loading the training data…" in s for s in said)
    assert any("Run 1: epoch " in s and " of 3" in s for s in said), said  # the progress bar while it trains
    statuses = [status for status, _ in followed]
    assert statuses.index("loading data") < statuses.index("training")
    assert [count for _, count in followed if count] == sorted(count for _, count in followed if count)
    assert any(0 < count < 3 for _, count in followed), followed  # the curves grew before the run ended

    (run,) = trained_models(page)
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3]
    assert run.config == PRESETS[DEFAULT_PRESET].replace(epochs=3, batch_size=min(BATCH_SIZES))
    assert run.metadata["train_images"] == LONG_DATA and run.test_accuracy > 0.5
    assert page.session_state["active_model"] == run.id
    assert list(table(page, "source")["source"]) == ["default", "trained"]  # listed under Runs and models
    assert "Run 1 completed" in texts(page.sidebar) and "It is now the active model." in texts(page.sidebar)
    watched = page.session_state["session"].watched
    assert watched.run == "Run 1" and sorted(watched.probabilities) == [1, 2, 3]  # re-scored after every epoch
    assert all(p.shape == (10,) and abs(p.sum() - 1) < 1e-4 for p in watched.probabilities.values())
    lines, _ = chart_data(page, "Your drawing by epoch")
    assert set(lines["epoch"]) == {1, 2, 3}
    assert f"run {job.run} completed in " in worker.log()  # it trained on the worker


def test_stop_keeps_the_weights_trained_so_far(page, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", f"{LONG_DATA},500")  # a run far too long to end by itself
    job = train(page, **LONG_EPOCHS, epochs=MAX_EPOCHS_SLIDER)
    run_until(page, lambda at: job.progress().epoch >= 1, timeout=RUN_SECONDS)
    page.button(key="stop").click().run()
    assert job.stop_requested
    epochs_when_asked = job.progress().epoch
    run_until(page, training_over, timeout=RUN_SECONDS)

    (run,) = trained_models(page)
    assert run.history["status"] == "stopped"
    # the worker may have ended one more epoch than the page had heard of, and stops within the next
    assert 1 <= len(run.epochs) <= epochs_when_asked + 2, "the run went on past the epoch it was in"
    assert "Run 1 stopped" in texts(page.sidebar)
    assert page.session_state["active_model"] == run.id


def test_a_diverged_run_is_reported_and_not_made_active(page):
    train(page, "Default: 300-100, Nesterov", learning_rate=1.0, epochs=2)
    run_until(page, training_over, timeout=RUN_SECONDS)
    errors = " ".join(e.value for e in page.sidebar.error)
    assert "Run 1 diverged in epoch 1" in errors and "no model to keep" in errors
    assert trained_models(page) == []
    assert page.session_state["active_model"] == page.session_state["session"].models[0].id


def test_a_retrain_on_the_class_drawings_and_a_run_that_includes_them(page, worker, mnist, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", "600,500")  # the retrain's share of MNIST: small, for speed
    x, y = add_mnist_drawings(worker.folder / "drawings.sqlite", mnist, 30, start=1000)
    open_tab(page, "Class drawings")
    default = page.session_state["session"].models[0]
    page.button(key="retrain").click().run()
    job = page.session_state["session"].job
    assert type(job).__name__ == "RemoteRun" and job.name == "Run 1 (retrained on 30 class drawings)"
    run_until(page, training_over, timeout=RUN_SECONDS)

    retrained = page.session_state["session"].models[-1]
    assert retrained.source == "trained" and retrained.name.startswith("Run 1 (retrained on 30 class drawings): ")
    assert page.session_state["active_model"] == retrained.id
    history = retrained.history
    assert history["status"] == "completed" and history["initial_test_accuracy"] is not None  # a warm start
    before_after = table(page, "before")
    assert list(before_after.index) == ["MNIST test (500 images)", "30 drawings (trained on)"]
    assert before_after.loc["30 drawings (trained on)", "before"] == pytest.approx(
        evaluate(default.classifier, x, y).accuracy)
    assert before_after.loc["30 drawings (trained on)", "after"] == pytest.approx(
        evaluate(retrained.classifier, x, y).accuracy)
    assert before_after.loc["MNIST test (500 images)", "after"] == pytest.approx(history["test_accuracy"])
    assert any(s.value.startswith("Kept the retrained model") for s in page.success)

    page.checkbox(key="with_class_drawings").check().run()
    train(page, epochs=1)
    run_until(page, training_over, timeout=RUN_SECONDS)
    run = page.session_state["session"].models[-1]
    assert run.name.startswith("Run 2 (+30 class drawings): ")
    assert run.metadata["train_images"] > 600  # the MNIST slice, and the drawings (repeated) on top


def test_a_killed_worker_fails_the_run_within_a_minute_and_a_new_worker_trains_again(page, worker, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", f"{LONG_DATA},500")  # a run far too long to end by itself
    job = train(page, **LONG_EPOCHS, epochs=MAX_EPOCHS_SLIDER)
    run_until(page, lambda at: job.progress().epoch >= 1, timeout=RUN_SECONDS)
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait()
    run_until(page, training_over, timeout=60)
    assert f"Run 1 failed: {WORKER_DIED}" in texts(page.sidebar)
    assert trained_models(page) == [] and page.session_state["active_model"] == page.session_state["session"].models[
        0].id

    worker.start()  # a worker that starts later takes the next run
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", TEST_DATA_LIMIT)
    train(page, epochs=1)
    run_until(page, training_over, timeout=RUN_SECONDS)
    (run,) = trained_models(page)
    assert run.name.startswith("Run 2: ") and run.history["status"] == "completed"
    assert page.session_state["active_model"] == run.id
