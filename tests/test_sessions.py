"""A closed session's holdings are released once, `after` seconds after its page closed; open ones never."""
from digitdnn.server.sessions import ClosedSessionSweeper
from testkit.clock import ManualClock
from testkit.waiting import wait_until


def test_a_session_closed_long_enough_is_released_once():
    clock, pages, released = ManualClock(), {"a": True, "b": True}, []
    sweeper = ClosedSessionSweeper(after=10, every=3600, clock=clock)
    for key in pages:
        sweeper.watch(key, lambda key=key: pages[key], lambda key=key: released.append(key))
    pages["a"] = False
    assert sweeper.sweep() == []                    # closed just now: a reconnect may still come
    clock.now = 9.9
    assert sweeper.sweep() == [] and released == []
    clock.now = 10.0
    assert sweeper.sweep() == ["a"] and released == ["a"]
    clock.now = 100.0
    assert sweeper.sweep() == [] and released == ["a"] and not sweeper.watching("a")
    assert sweeper.watching("b")                    # open all along


def test_a_page_back_within_the_wait_starts_it_again():
    clock, page, released = ManualClock(), {"open": False}, []
    sweeper = ClosedSessionSweeper(after=10, every=3600, clock=clock)
    sweeper.watch("s", lambda: page["open"], lambda: released.append("s"))
    sweeper.sweep()
    clock.now, page["open"] = 8.0, True
    sweeper.sweep()
    clock.now, page["open"] = 12.0, False
    sweeper.sweep()
    clock.now = 21.0
    assert sweeper.sweep() == [] and released == []
    clock.now = 22.0
    assert sweeper.sweep() == ["s"]


def test_a_broken_check_counts_as_open():
    def broken() -> bool:
        raise RuntimeError("runtime gone")

    sweeper = ClosedSessionSweeper(after=0, every=3600)
    sweeper.watch("s", broken, lambda: None)
    assert sweeper.sweep() == [] and sweeper.watching("s")


def test_the_thread_releases_without_anyone_asking():
    released = []
    sweeper = ClosedSessionSweeper(after=0, every=0.05)
    sweeper.watch("s", lambda: False, lambda: released.append("s"))
    wait_until(lambda: released, 5, interval=0.02, message="the sweeper's thread to release the session")
    assert released == ["s"]


def test_a_discarded_job_ends_and_keeps_no_weights(small_mnist):
    from digitdnn.config import TrainConfig
    from digitdnn.training.jobs import TrainingJob

    job = TrainingJob(TrainConfig(hidden_units=(8,), batch_size=16, epochs=50), small_mnist).start()
    wait_until(lambda: job.progress().epoch >= 1, message="an epoch")
    assert job.progress().classifier is not None
    job.discard()
    assert job.join(timeout=60)
    progress = job.progress()
    assert progress.status == "stopped" and progress.classifier is None and progress.result is None


def test_a_classifier_from_layers_keeps_no_keras_model_and_saves_the_same_network(tmp_path):
    import numpy as np

    from digitdnn.config import TrainConfig
    from digitdnn.model import Classifier, build_model
    from digitdnn.storage.models import load_classifier, save_classifier

    cfg = TrainConfig(hidden_units=(16, 8), activation="tanh", dropout=0.2, seed=4)
    source = Classifier(build_model(cfg))
    held = Classifier.from_layers(source.layers, cfg, {"note": "kept"})
    assert held._model is None and held._source is None
    assert held.model is not held.model  # built when asked for, never kept
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    loaded = load_classifier(save_classifier(held, tmp_path / "m.keras", held.metadata))
    np.testing.assert_allclose(loaded.predict_proba(x), source.predict_proba(x), atol=1e-6)
    assert loaded.metadata["note"] == "kept"
