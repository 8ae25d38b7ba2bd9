"""Fine-tuning on class drawings: a new handwriting style is learned while MNIST holds; the mix keeps the training
writers' pen digits (and falls back to MNIST without them); stop, divergence, bad input."""
import logging

import numpy as np
import pytest
from pen_subset import save_small_pen

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model
from digitdnn.training import finetune
from digitdnn.training.finetune import (
    MAX_MNIST_FALL,
    fine_tune,
    fine_tune_config,
    fine_tune_data,
    mixed_data,
    mnist_fall,
)
from digitdnn.training.loop import train

BASE = TrainConfig(hidden_units=(64,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=2,
                   dropout=0.1, seed=5)


@pytest.fixture(scope="module", autouse=True)
def small_pen(tmp_path_factory):
    """The module's fine-tunes mix in a small pen set (30 digits of training writers, 10 of held-out ones, 10 of
    calibration ones), drawn into a cache folder of its own."""
    folder = tmp_path_factory.mktemp("pen")
    small = save_small_pen(folder / "pen.npz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIGITDNN_PEN_DIGITS", str(folder / "pen.npz"))
        patch.setenv("DIGITDNN_CACHE_DIR", str(folder / "cache"))
        yield small


@pytest.fixture(scope="module")
def data(mnist):
    """5,000 MNIST training images (the mix's sample) and 1,000 test images."""
    return mnist.head(5000, 1000)


@pytest.fixture(scope="module")
def base(data):
    """A small network trained on MNIST only, with its config recorded as a saved model's would be."""
    return train(BASE, data).classifier


def rotated(images: np.ndarray) -> np.ndarray:
    """The made-up style: digits written turned a quarter to the left, as floats in [0, 1]."""
    return np.rot90(images, axes=(1, 2)).astype(np.float32) / 255


def layers_equal(a: Classifier, b: Classifier) -> bool:
    return all(np.array_equal(wa, wb) and np.array_equal(ba, bb)
               for (wa, ba, _), (wb, bb, _) in zip(a.layers, b.layers, strict=True))


def test_a_new_style_is_learned_while_mnist_holds(base, data, mnist):
    drawings, labels = rotated(mnist.x_train[-300:]), mnist.y_train[-300:]   # not among the mix's 5,000
    held_back, truth = rotated(mnist.x_test[-500:]), mnist.y_test[-500:]      # not in the test slice either
    before = (base.predict(held_back) == truth).mean()
    original = [w.copy() for w, _, _ in base.layers]

    tuned, history = fine_tune(base, drawings, labels, data=data)

    after = (tuned.predict(held_back) == truth).mean()
    assert history.status == "completed" and len(history.epochs) == finetune.EPOCHS
    assert before < 0.5 and after > before + 0.3, (before, after)
    assert history.initial_test_accuracy > 0.85
    assert history.test_accuracy >= history.initial_test_accuracy - 0.03, history.to_dict()
    mnist_after = (tuned.predict(data.x_test / np.float32(255)) == data.y_test).mean()
    assert mnist_after == pytest.approx(history.test_accuracy, abs=0.002)
    # the given model is unchanged
    assert all(np.array_equal(w, o) for (w, _, _), o in zip(base.layers, original, strict=True))


def test_the_recipe_keeps_the_architecture_with_a_small_learning_rate(base):
    cfg = fine_tune_config(base)
    assert (cfg.hidden_units, cfg.activation, cfg.seed) == ((64,), "relu", 5) and base.metadata["config"]["dropout"]
    assert cfg.dropout == 0 and cfg.augment
    assert cfg.optimizer == "adam" and 1e-4 <= cfg.learning_rate <= 3e-4 and cfg.epochs == finetune.EPOCHS
    assert fine_tune_config(base, epochs=2, learning_rate=0.01).replace(epochs=2) == cfg.replace(epochs=2,
                                                                                                 learning_rate=0.01)


def test_without_a_recorded_config_the_layers_say_what_to_build():
    bare = Classifier(build_model(TrainConfig(hidden_units=(20, 10), activation="tanh", dropout=0.5)))
    cfg = fine_tune_config(bare)
    assert (cfg.hidden_units, cfg.activation, cfg.dropout) == ((20, 10), "tanh", 0.0)
    bare.metadata["config"] = {"hidden_units": [999], "l2": 1e-4, "optimizer": "unheard-of"}
    assert fine_tune_config(bare).hidden_units == (20, 10) and fine_tune_config(bare).l2 == 1e-4
    bare.metadata["config"] = {"seed": -1}
    assert fine_tune_config(bare).seed == TrainConfig().seed  # a config that does not validate is left out


def test_the_mix_is_mnist_plus_a_fair_share_of_drawings(mnist):
    drawings = rotated(mnist.x_train[:200])
    mix = mixed_data(drawings, mnist.y_train[:200], mnist, seed=1)
    n_mnist = min(finetune.MNIST_SAMPLE, len(mnist.x_train))
    share = 1 - n_mnist / len(mix.x_train)
    assert 0.1 <= share <= 0.25, share
    assert mix.x_train.dtype == np.uint8 and mix.y_train.dtype == np.uint8
    np.testing.assert_array_equal(mix.x_train[-200:], np.round(drawings * 255).astype(np.uint8))
    np.testing.assert_array_equal(mix.y_train[-200:], mnist.y_train[:200])
    assert mix.x_test is mnist.x_test and mix.y_test is mnist.y_test
    few = mixed_data(drawings[:2], mnist.y_train[:2], mnist)
    assert len(few.x_train) - n_mnist == 2 * finetune.MAX_REPEATS


def test_the_recipe_mixes_in_the_training_writers_pen_digits_and_no_one_elses(small_pen, mnist):
    from digitdnn.data.pen_training import draw_pen_digits
    from digitdnn.data.pendigits import split_by_writer

    train_part, _ = split_by_writer(small_pen)
    pen_x, pen_y, _ = draw_pen_digits(small_pen, train_part, seed=finetune.PEN_SEED)
    assert 20 < len(pen_y) <= 30 < len(small_pen.label)
    drawings, labels = rotated(mnist.x_train[:10]), mnist.y_train[:10]
    mix = fine_tune_data(drawings, labels, mnist.head(100, 50))
    assert mix.source.startswith(f"100 MNIST training images, {len(pen_y)} pen-digit drawings and 10 drawings x ")
    # every training writer's digit once (100 MNIST images ask for as many), nobody else's
    pen_part = slice(100, 100 + len(pen_y))
    assert sorted(map(bytes, mix.x_train[pen_part])) == sorted(map(bytes, pen_x))
    assert sorted(mix.y_train[pen_part]) == sorted(pen_y)
    np.testing.assert_array_equal(mix.x_train[-10:], np.round(drawings * 255).astype(np.uint8))
    few = fine_tune_data(drawings, labels, mnist.head(12, 50))  # as many pen digits as MNIST images, at most
    assert few.source.startswith("12 MNIST training images, 12 pen-digit drawings and 10 drawings x 1;")
    assert len(few.y_train) == 34 and set(map(bytes, few.x_train[12:24])) <= set(map(bytes, pen_x))


def test_without_the_pen_digits_the_recipe_mixes_mnist_alone_and_logs_why(mnist, tmp_path, monkeypatch, caplog):
    (tmp_path / "pen.npz").write_bytes(b"not a pen-digits file")
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(tmp_path / "pen.npz"))
    drawings, labels = rotated(mnist.x_train[:10]), mnist.y_train[:10]
    with caplog.at_level(logging.WARNING, logger=finetune.__name__):
        mix = fine_tune_data(drawings, labels, mnist.head(100, 50))
    alone = mixed_data(drawings, labels, mnist.head(100, 50))
    np.testing.assert_array_equal(mix.x_train, alone.x_train)
    np.testing.assert_array_equal(mix.y_train, alone.y_train)
    assert "pen-digit" not in mix.source
    assert [r.getMessage() for r in caplog.records if "the pen digits cannot be read" in r.getMessage()]


def test_a_calibrated_model_is_trained_without_its_temperature_and_keeps_it(base, data, mnist):
    from digitdnn.training.calibration import with_temperature

    drawings, labels = rotated(mnist.x_train[:100]), mnist.y_train[:100]
    seen = []
    plain, _ = fine_tune(base, drawings, labels, data=data, epochs=1)
    calibrated, _ = fine_tune(with_temperature(base, 2.0), drawings, labels, data=data, epochs=1,
                              on_epoch_end=lambda report, clf: seen.append(clf))
    assert calibrated.metadata["temperature"] == 2.0 and seen[0].metadata["temperature"] == 2.0
    (w_plain, b_plain, _), (w_calibrated, b_calibrated, _) = plain.layers[-1], calibrated.layers[-1]
    np.testing.assert_allclose(w_calibrated, w_plain / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b_calibrated, b_plain / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(seen[0].layers[-1][0], w_calibrated, rtol=1e-5, atol=1e-6)


def test_should_stop_ends_it_at_the_first_poll(base, data, mnist):
    _, history = fine_tune(base, rotated(mnist.x_train[:50]), mnist.y_train[:50], data=data, should_stop=lambda: True)
    assert history.status == "stopped" and history.epochs == []
    assert history.message.startswith("stopped during epoch 1, after 1 of")
    assert history.test_accuracy == history.initial_test_accuracy


def test_divergence_is_reported_and_the_starting_weights_kept(base, data, mnist):
    tuned, history = fine_tune(base, rotated(mnist.x_train[:50]), mnist.y_train[:50], data=data, epochs=1,
                               learning_rate=5.0)
    assert history.status == "diverged" and "diverged" in history.message
    assert layers_equal(tuned, base)


@pytest.mark.parametrize("x, y, field", [
    (np.zeros((3, 28, 28), np.uint8), [1, 2, 3], "x"),
    (np.zeros((3, 28, 27), np.float32), [1, 2, 3], "x"),
    (np.full((3, 28, 28), np.nan, np.float32), [1, 2, 3], "x"),
    (np.zeros((0, 28, 28), np.float32), [], "x"),
    (np.zeros((3, 28, 28), np.float32), [1, 2], "y"),
    (np.zeros((3, 28, 28), np.float32), [1, 2, 10], "y"),
    (np.zeros((3, 28, 28), np.float32), [1.0, 2.0, 3.0], "y"),
])
def test_bad_drawings_or_labels_are_refused_naming_them(base, x, y, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        fine_tune(base, x, np.array(y), data=None)


def test_mixed_data_can_keep_all_of_mnist(small_mnist):
    x = small_mnist.x_test[:40] / np.float32(255)
    y = small_mnist.y_test[:40].astype(int)
    mixed = mixed_data(x, y, small_mnist, mnist_sample=None)
    n = len(small_mnist.x_train)
    np.testing.assert_array_equal(mixed.x_train[:n], small_mnist.x_train)  # every MNIST image, in order
    drawings = len(mixed.y_train) - n
    assert drawings % 40 == 0 and drawings / len(mixed.y_train) == pytest.approx(finetune.DRAWINGS_SHARE, abs=0.02)


def test_a_poisoned_fine_tune_is_caught_by_its_fall_on_mnist(base, data, mnist):
    """Right drawings plus many ones labelled 7 (as a student who wants to spoil the class's model stores them): the
    drawings' own accuracy rises, which reads as progress, while MNIST falls; mnist_fall says so with both figures."""
    right = slice(-300, None)                                         # not among the mix's 5,000
    ones = np.flatnonzero(mnist.y_train[:-300] == 1)[-1000:]
    drawings = np.concatenate([mnist.x_train[right], mnist.x_train[ones]]).astype(np.float32) / 255
    labels = np.concatenate([mnist.y_train[right], np.full(len(ones), 7, np.uint8)])

    tuned, history = fine_tune(base, drawings, labels, data=data, epochs=2)

    on_drawings = [(clf.predict(drawings) == labels).mean() for clf in (base, tuned)]
    assert on_drawings[1] > on_drawings[0] + 0.15, on_drawings    # "progress" on what it was trained on
    before, after = history.initial_test_accuracy, history.test_accuracy
    assert after < before - MAX_MNIST_FALL, (before, after)
    assert mnist_fall(before, after) == (f"MNIST test accuracy fell from {before:.1%} to {after:.1%} "
                                         "(more than 1.5 points)")


def test_mnist_fall_allows_at_most_one_and_a_half_points():
    assert MAX_MNIST_FALL == 0.015
    assert mnist_fall(0.9907, 0.8811) == "MNIST test accuracy fell from 99.1% to 88.1% (more than 1.5 points)"
    assert mnist_fall(0.99, 0.975) is None and mnist_fall(0.99, 0.999) is None   # 1.5 points exactly; a rise
    assert mnist_fall(0.99, 0.9749) is not None
    assert mnist_fall(None, 0.5) is None and mnist_fall(0.99, None) is None       # not a warm start; no result
    assert mnist_fall(0.99, float("nan")) == ("MNIST test accuracy fell from 99.0% to not a number "
                                              "(more than 1.5 points)")
