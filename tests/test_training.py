"""The training loop on small slices of MNIST: learning, reports, stop, divergence, determinism."""
import json
import threading

import keras
import numpy as np
import pytest

from digitdnn.config import OPTIMIZERS, TrainConfig
from digitdnn.model import build_model
from digitdnn.training import loop as training
from digitdnn.training.loop import EpochReport, History, TrainResult, make_optimizer, train

ADAM = TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=32, epochs=1)


@pytest.fixture(scope="module")
def tiny_mnist(small_mnist):
    """600 training and 300 test images, for runs whose result matters less than their behaviour."""
    return small_mnist.head(600, 300)


@pytest.fixture(scope="module")
def adam_run(small_mnist) -> TrainResult:
    """One epoch of ADAM on small_mnist."""
    return train(ADAM, data=small_mnist)


def history_rows(history: History):
    return [
        (r.epoch, round(r.train_loss, 4), round(r.train_accuracy, 4), round(r.test_loss, 4), round(r.test_accuracy, 4))
        for r in history.epochs
    ]


def test_one_epoch_of_adam_beats_chance_and_reports_consistently(small_mnist, adam_run):
    result = adam_run
    assert isinstance(result, TrainResult)
    history = result.history
    assert history.status == "completed" and "completed 1 epoch" in history.message
    (report,) = history.epochs
    assert isinstance(report, EpochReport)
    assert (report.epoch, report.epochs) == (1, 1)
    assert report.test_accuracy > 0.8
    assert 0 < report.train_loss < 2.3 and 0 < report.test_loss < 2.3  # chance is ln(10) = 2.30
    assert 0.5 < report.train_accuracy <= 1
    assert report.seconds > 0 and report.eval_seconds > 0
    assert history.best_test_accuracy == report.test_accuracy
    assert history.total_seconds == pytest.approx(report.seconds + report.eval_seconds)
    # The returned classifier is the trained network: it reproduces the reported test accuracy.
    x_test = small_mnist.x_test / np.float32(255)
    accuracy = (result.classifier.predict(x_test) == small_mnist.y_test).mean()
    assert accuracy == pytest.approx(report.test_accuracy, abs=0.002)
    assert result.classifier.metadata["config"] == ADAM.to_dict()
    assert json.loads(json.dumps(history.to_dict()))["epochs"][0]["test_accuracy"] == report.test_accuracy


def test_on_epoch_end_gets_each_epoch_and_a_snapshot_of_its_weights(tiny_mnist):
    seen = []
    x = tiny_mnist.x_test[:50] / np.float32(255)
    result = train(ADAM.replace(epochs=3), data=tiny_mnist,
                   on_epoch_end=lambda report, clf: seen.append((report, clf, clf.predict_proba(x))))
    assert [report.epoch for report, _, _ in seen] == [1, 2, 3]
    assert all(report.epochs == 3 for report, _, _ in seen)
    assert [report for report, _, _ in seen] == result.history.epochs
    # Each snapshot keeps the weights of its epoch, although training went on.
    for report, clf, probabilities_then in seen:
        np.testing.assert_array_equal(clf.predict_proba(x), probabilities_then)
        assert clf.metadata["epoch"] == report.epoch
    assert not np.allclose(seen[0][2], seen[2][2])
    np.testing.assert_allclose(seen[-1][1].predict_proba(x), result.classifier.predict_proba(x), atol=1e-6)


def test_progress_is_reported_at_least_every_50_batches(tiny_mnist):
    calls = []
    train(ADAM.replace(batch_size=4, epochs=2), data=tiny_mnist, on_progress=lambda e, f: calls.append((e, f)))
    batches_per_epoch = 600 / 4
    for epoch in (1, 2):
        fractions = [0.0] + [f for e, f in calls if e == epoch]
        assert fractions[-1] == 1.0
        assert max(np.diff(fractions)) * batches_per_epoch <= 50 + 1e-9


def test_should_stop_at_the_first_poll_ends_the_run_at_once(tiny_mnist):
    cfg = ADAM.replace(batch_size=2, epochs=3)  # 300 batches per epoch
    progress = []
    result = train(cfg, data=tiny_mnist, should_stop=lambda: True, on_progress=lambda e, f: progress.append(f))
    assert result.history.status == "stopped"
    assert "stopped during epoch 1" in result.history.message
    assert result.history.epochs == []
    assert len(progress) == 1 and progress[0] <= 50 / 300
    assert np.isfinite(result.classifier.predict_proba(tiny_mnist.x_test / np.float32(255))).all()
    initial = build_model(cfg).get_layer("output").kernel.numpy()
    assert not np.array_equal(result.classifier.layers[-1][0], initial)  # it did train


def test_a_stop_mid_epoch_keeps_the_weights_trained_so_far(tiny_mnist):
    state = {"fraction": 0.0}
    result = train(ADAM.replace(batch_size=2, epochs=3), data=tiny_mnist,
                   on_progress=lambda e, f: state.update(fraction=f),
                   should_stop=lambda: state["fraction"] >= 0.3)
    assert result.history.status == "stopped" and result.history.epochs == []
    assert state["fraction"] < 1
    probabilities = result.classifier.predict_proba(tiny_mnist.x_test / np.float32(255))
    accuracy = (probabilities.argmax(axis=1) == tiny_mnist.y_test).mean()
    assert accuracy > 0.5  # about a hundred Adam steps: far from garbage


def test_a_stop_at_the_end_of_an_epoch_keeps_that_epochs_report(tiny_mnist):
    state = {"fraction": 0.0}
    result = train(ADAM.replace(epochs=4), data=tiny_mnist,
                   on_progress=lambda e, f: state.update(fraction=f),
                   should_stop=lambda: state["fraction"] == 1.0)
    assert result.history.status == "stopped"
    assert [r.epoch for r in result.history.epochs] == [1]
    assert "after epoch 1 of 4" in result.history.message


def test_a_stop_after_the_last_batch_of_the_run_still_completes(tiny_mnist):
    state = {"fraction": 0.0}
    result = train(ADAM.replace(epochs=1), data=tiny_mnist,
                   on_progress=lambda e, f: state.update(fraction=f),
                   should_stop=lambda: state["fraction"] == 1.0)
    assert result.history.status == "completed"
    assert [r.epoch for r in result.history.epochs] == [1]


def test_divergence_is_reported_and_finite_weights_are_kept(tiny_mnist):
    cfg = TrainConfig(optimizer="sgd", learning_rate=10.0, activation="elu", epochs=2)
    result = train(cfg, data=tiny_mnist)
    assert result.history.status == "diverged"
    assert "diverged" in result.history.message and "NaN" in result.history.message
    probabilities = result.classifier.predict_proba(tiny_mnist.x_test / np.float32(255))
    assert np.isfinite(probabilities).all()
    keras_layers = [layer for layer in build_model(cfg).layers if layer.weights]
    for (w, _, _), layer in zip(result.classifier.layers, keras_layers, strict=True):
        np.testing.assert_array_equal(w, layer.kernel.numpy())  # back to the initial weights
    assert all(np.isfinite(w).all() for w in result.classifier.model.get_weights())


def test_same_seed_same_history_also_in_parallel_threads_other_seed_differs(tiny_mnist):
    cfg = ADAM.replace(epochs=2, dropout=0.2, augment=True, batch_size=64)
    alone = history_rows(train(cfg, data=tiny_mnist).history)
    results = {}

    def run(name, config):
        results[name] = history_rows(train(config, data=tiny_mnist).history)

    threads = [threading.Thread(target=run, args=("same", cfg)),
               threading.Thread(target=run, args=("other", cfg.replace(seed=cfg.seed + 1)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(alone) == 2
    assert results["same"] == alone
    assert results["other"] != alone


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(optimizer, tiny_mnist):
    cfg = TrainConfig(optimizer=optimizer, learning_rate=0.01, batch_size=50, epochs=1, l2=1e-4)
    result = train(cfg, data=tiny_mnist.head(200, 100))
    (report,) = result.history.epochs
    assert result.history.status == "completed"
    assert np.isfinite(report.train_loss) and np.isfinite(report.test_loss)
    initial = build_model(cfg).get_weights()
    trained = result.classifier.model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(initial, trained, strict=True))


def test_optimizers_are_configured_as_named():
    cfg = TrainConfig(learning_rate=0.05, momentum=0.8)
    momentum = make_optimizer(cfg.replace(optimizer="momentum"))
    nesterov = make_optimizer(cfg.replace(optimizer="nesterov"))
    assert isinstance(make_optimizer(cfg), keras.optimizers.SGD) and make_optimizer(cfg).momentum == 0
    assert (momentum.momentum, momentum.nesterov) == (0.8, False)
    assert (nesterov.momentum, nesterov.nesterov) == (0.8, True)
    assert isinstance(make_optimizer(cfg.replace(optimizer="adam")), keras.optimizers.Adam)
    assert isinstance(make_optimizer(cfg.replace(optimizer="rmsprop")), keras.optimizers.RMSprop)
    assert float(make_optimizer(cfg.replace(optimizer="adam")).learning_rate) == pytest.approx(0.05)


def test_a_cosine_schedule_falls_from_the_rate_to_zero_over_the_given_steps():
    cfg = TrainConfig(optimizer="adam", learning_rate=0.01, schedule="cosine")
    optimizer = make_optimizer(cfg, total_steps=10)
    rates = []
    for step in (0, 5, 10, 12):
        optimizer.iterations.assign(step)
        rates.append(float(optimizer.learning_rate))
    assert rates == pytest.approx([0.01, 0.005, 0.0, 0.0], abs=1e-7)
    with pytest.raises(ValueError, match="steps"):
        make_optimizer(cfg)


def test_a_cosine_run_ends_at_a_learning_rate_of_zero(tiny_mnist, monkeypatch):
    made = []

    def recording(cfg, total_steps=None):
        made.append(make_optimizer(cfg, total_steps))
        return made[-1]

    monkeypatch.setattr(training, "make_optimizer", recording)
    cfg = TrainConfig(optimizer="adam", learning_rate=0.01, batch_size=64, epochs=2, schedule="cosine")
    result = train(cfg, data=tiny_mnist.head(300, 100))  # 5 batches an epoch, the last one short
    assert result.history.status == "completed"
    assert int(made[0].iterations) == 10 and float(made[0].learning_rate) == pytest.approx(0.0, abs=1e-7)


def test_rejects_data_that_is_not_uint8_images(tiny_mnist):
    class Floats:
        x_train = tiny_mnist.x_train / 255.0
        y_train = tiny_mnist.y_train
        x_test = tiny_mnist.x_test
        y_test = tiny_mnist.y_test

    with pytest.raises(ValueError, match="uint8"):
        train(ADAM, data=Floats())


def test_history_test_accuracy_is_the_last_epochs_the_weights_returned(tiny_mnist):
    result = train(ADAM.replace(epochs=2), data=tiny_mnist)
    history = result.history
    assert history.test_accuracy == history.epochs[-1].test_accuracy
    assert history.to_dict()["test_accuracy"] == history.test_accuracy
    x_test = tiny_mnist.x_test / np.float32(255)
    accuracy = (result.classifier.predict(x_test) == tiny_mnist.y_test).mean()
    assert accuracy == pytest.approx(history.test_accuracy, abs=0.004)


def test_a_warm_start_continues_from_the_given_weights(small_mnist, adam_run):
    first = adam_run
    x_test = small_mnist.x_test / np.float32(255)
    start_accuracy = (first.classifier.predict(x_test) == small_mnist.y_test).mean()
    stopped = train(ADAM, data=small_mnist, initial=first.classifier, should_stop=lambda: True)
    # Stopped before an epoch ended: the starting weights come back, with their accuracy.
    assert stopped.history.epochs == []
    assert stopped.history.initial_test_accuracy == pytest.approx(start_accuracy, abs=0.002)
    assert stopped.history.test_accuracy == stopped.history.initial_test_accuracy
    continued = train(ADAM.replace(learning_rate=1e-4), data=small_mnist, initial=first.classifier)
    assert continued.history.epochs[-1].test_accuracy >= start_accuracy - 0.02  # a warm start, not a fresh network
    fresh = train(ADAM.replace(learning_rate=1e-4), data=small_mnist)
    assert continued.history.epochs[-1].test_accuracy > fresh.history.epochs[-1].test_accuracy + 0.05


def test_a_warm_start_must_match_the_config(tiny_mnist):
    first = train(ADAM.replace(hidden_units=(32,)), data=tiny_mnist)
    with pytest.raises(ValueError, match="hidden layers"):
        train(ADAM, data=tiny_mnist, initial=first.classifier)
