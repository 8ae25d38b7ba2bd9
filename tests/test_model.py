"""The network built from a TrainConfig, and the numpy Classifier checked against Keras itself."""

import keras
import numpy as np
import pytest

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model

TRUNCATED_STD_FACTOR = 0.8796  # std of a normal truncated at +-2 standard deviations


def dense(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def randomise_biases(model, seed=0):
    """Initial biases are zero; make them matter so the comparisons below test them too."""
    rng = np.random.default_rng(seed)
    for layer in dense(model):
        layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype(np.float32))


def test_layers_follow_the_config():
    model = build_model(TrainConfig(hidden_units=(50, 40, 30), activation="tanh", dropout=0.25))
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    layers = dense(model)
    assert [layer.name for layer in layers] == ["hidden_1", "hidden_2", "hidden_3", "output"]
    assert [layer.units for layer in layers] == [50, 40, 30, 10]
    assert [layer.kernel.shape for layer in layers] == [(784, 50), (50, 40), (40, 30), (30, 10)]
    assert [layer.get_config()["activation"] for layer in layers] == ["tanh", "tanh", "tanh", "softmax"]
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.rate for d in dropouts] == [0.25, 0.25, 0.25]
    assert all(layer.kernel_regularizer is None for layer in layers)


def test_no_dropout_layers_without_dropout_and_l2_when_asked():
    model = build_model(TrainConfig(l2=1e-3))
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    for layer in dense(model):
        assert layer.kernel_regularizer.get_config()["l2"] == pytest.approx(1e-3)


@pytest.mark.parametrize("activation", ["relu", "elu"])
def test_relu_family_kernels_are_the_tutorials_truncated_normal(activation):
    hidden_1, hidden_2, _ = dense(build_model(TrainConfig(hidden_units=(300, 100), activation=activation)))
    for layer, fan_in in ((hidden_1, 784), (hidden_2, 300)):
        w = layer.kernel.numpy()
        stddev = 2 / np.sqrt(fan_in)
        assert w.std() == pytest.approx(stddev * TRUNCATED_STD_FACTOR, rel=0.03)
        assert np.abs(w).max() <= 2 * stddev + 1e-6  # truncated at two standard deviations
        assert abs(w.mean()) < 0.05 * stddev
        assert not layer.bias.numpy().any()


def test_tanh_and_output_layers_use_glorot():
    hidden_1, output = dense(build_model(TrainConfig(hidden_units=(300,), activation="tanh")))
    for layer, (fan_in, fan_out) in ((hidden_1, (784, 300)), (output, (300, 10))):
        limit = np.sqrt(6 / (fan_in + fan_out))
        w = layer.kernel.numpy()
        assert w.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
        assert np.abs(w).max() <= limit


def test_same_seed_same_weights_other_seed_other_weights():
    first, again = build_model(TrainConfig(seed=3)), build_model(TrainConfig(seed=3))
    other = build_model(TrainConfig(seed=4))
    for a, b, c in zip(first.get_weights(), again.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
        if a.any():
            assert not np.array_equal(a, c)
    kernels = [layer.kernel.numpy() for layer in dense(first)]
    assert not np.allclose(kernels[1][:100, :10], kernels[2][:100, :10])  # layers get their own seeds


@pytest.mark.parametrize("activation", ["relu", "elu", "tanh", "sigmoid"])
def test_numpy_forward_pass_matches_keras(activation, small_mnist):
    model = build_model(TrainConfig(hidden_units=(64, 32), activation=activation, dropout=0.5))
    randomise_biases(model)
    clf = Classifier(model)
    rng = np.random.default_rng(1)
    for x in (rng.random((16, 28, 28), dtype=np.float32), small_mnist.x_test[:64] / np.float32(255)):
        expected = model(x, training=False).numpy()
        got = clf.predict_proba(x)
        assert got.dtype == np.float32 and got.shape == (len(x), 10)
        np.testing.assert_allclose(got, expected, atol=1e-5)
        np.testing.assert_array_equal(clf.predict(x), expected.argmax(axis=1))


def test_hidden_activations_match_keras_intermediate_outputs(small_mnist):
    model = build_model(TrainConfig(hidden_units=(40, 20), activation="elu"))
    randomise_biases(model)
    x = small_mnist.x_test[:8] / np.float32(255)
    probe = keras.Model(model.input, [model.get_layer("hidden_1").output, model.get_layer("hidden_2").output])
    expected = [a.numpy() if hasattr(a, "numpy") else a for a in probe(x)]
    got = Classifier(model).hidden_activations(x)
    assert [a.shape for a in got] == [(8, 40), (8, 20)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-5)


def test_accepts_one_image_a_batch_or_flat_rows():
    clf = Classifier(build_model(TrainConfig(hidden_units=(16,))))
    x = np.random.default_rng(2).random((5, 28, 28)).astype(np.float32)
    batch = clf.predict_proba(x)
    np.testing.assert_allclose(clf.predict_proba(x[0]), batch[:1], atol=1e-7)
    np.testing.assert_allclose(clf.predict_proba(x.reshape(5, 784)), batch, atol=1e-7)
    np.testing.assert_allclose(clf.predict_proba(x.astype(np.float64)), batch, atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-6)
    assert clf.predict_proba(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.zeros((28, 27), np.float32), "shape"),
        (np.zeros((2, 28, 28, 1), np.float32), "shape"),
        (np.zeros(784, np.float32), "shape"),
        (np.zeros((28, 28), np.uint8), "255"),
        (np.full((28, 28), 2.0, np.float32), "[0, 1]"),
        (np.full((28, 28), np.nan, np.float32), "finite"),
    ],
)
def test_bad_input_is_a_clear_value_error(bad, words):
    clf = Classifier(build_model(TrainConfig(hidden_units=(8,))))
    with pytest.raises(ValueError, match=words.replace("[", r"\[")):
        clf.predict_proba(bad)


def test_numerically_stable_with_huge_weights():
    model = build_model(TrainConfig(hidden_units=(8,)))
    output = model.get_layer("output")
    output.kernel.assign(output.kernel.numpy() * 1e6)
    p = Classifier(model).predict_proba(np.ones((3, 28, 28), np.float32))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)


def test_weights_are_copies_refreshed_on_demand():
    model = build_model(TrainConfig(hidden_units=(16,)))
    clf = Classifier(model, metadata={"note": "x"})
    x = np.random.default_rng(3).random((4, 28, 28)).astype(np.float32)
    before = clf.predict_proba(x)
    output = model.get_layer("output")
    output.bias.assign(np.arange(10, dtype=np.float32))
    np.testing.assert_array_equal(clf.predict_proba(x), before)
    clf.refresh()
    np.testing.assert_allclose(clf.predict_proba(x), model(x).numpy(), atol=1e-5)
    assert clf.metadata == {"note": "x"} and clf.model is model


def test_snapshot_keeps_its_weights_and_builds_a_matching_model():
    model = build_model(TrainConfig(hidden_units=(16,), dropout=0.2))
    randomise_biases(model)
    snap = Classifier.snapshot(model, {"epoch": 1})
    x = np.random.default_rng(4).random((4, 28, 28)).astype(np.float32)
    before = snap.predict_proba(x)
    model.get_layer("output").bias.assign(np.arange(10, dtype=np.float32))  # training goes on
    np.testing.assert_array_equal(snap.predict_proba(x), before)
    assert snap.model is not model
    np.testing.assert_allclose(snap.model(x).numpy(), before, atol=1e-5)
    assert [layer.name for layer in snap.model.layers] == [layer.name for layer in model.layers]
    assert snap.metadata == {"epoch": 1}


def test_from_layers_without_a_config_builds_a_plain_keras_model_of_its_layers():
    model = build_model(TrainConfig(hidden_units=(16, 8), activation="elu", dropout=0.3))
    randomise_biases(model)
    clf = Classifier.from_layers(Classifier(model).layers, metadata={"epoch": 2})
    x = np.random.default_rng(5).random((4, 28, 28)).astype(np.float32)
    built = clf.model
    np.testing.assert_allclose(built(x).numpy(), model(x).numpy(), atol=1e-5)
    assert [type(layer).__name__ for layer in built.layers] == ["InputLayer", "Flatten", "Dense", "Dense", "Dense"]
    assert clf.metadata == {"epoch": 2} and clf.model is not built  # built when asked for, never kept


def test_rejects_models_of_another_architecture():
    inputs = keras.Input((28, 28))
    x = keras.layers.Flatten()(inputs)
    with pytest.raises(ValueError, match="softmax"):
        Classifier(keras.Model(inputs, keras.layers.Dense(10)(x)))
    conv = keras.layers.Conv1D(4, 3)(inputs)
    with pytest.raises(ValueError, match="Conv1D"):
        Classifier(keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(conv))))
