"""digitdnn.insight: weight tiles, per-unit pushes towards a digit (gradient x input), checked by hand and by
finite differences."""
import numpy as np
import pytest

from digitdnn.insight import effective_weights, mosaic, pushes, strongest_pushes, units_by_importance, weight_tiles
from digitdnn.model import Classifier

ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
}


def hand_made(layers) -> Classifier:
    """A Classifier with the given (W, b, activation) layers, no Keras model behind it."""
    clf = Classifier.__new__(Classifier)
    clf.layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64), a) for w, b, a in layers]
    return clf


def random_network(activation: str, units=(12, 7, 5), seed=0) -> Classifier:
    rng = np.random.default_rng(seed)
    sizes = (784, *units, 10)
    layers = [(rng.normal(0, 1 / np.sqrt(n), (n, m)), rng.normal(0, 0.1, m), activation)
              for n, m in zip(sizes[:-1], sizes[1:], strict=True)]
    layers[-1] = (*layers[-1][:2], "softmax")
    return hand_made(layers)


def margin_from(clf: Classifier, layer: int, activation: np.ndarray, digit: int) -> float:
    """Logit of `digit` minus the mean logit, computed onwards from hidden layer `layer`'s activation."""
    h = activation
    for w, b, name in clf.layers[layer + 1:-1]:
        h = ACTIVATIONS[name](h @ w + b)
    w_out, b_out, _ = clf.layers[-1]
    logits = h @ w_out + b_out
    return float(logits[digit] - logits.mean())


def test_weight_tiles_lay_each_units_weights_out_as_the_image():
    w = np.arange(784 * 3, dtype=np.float64).reshape(784, 3)
    clf = hand_made([(w, np.zeros(3), "relu"), (np.zeros((3, 10)), np.zeros(10), "softmax")])
    tiles = weight_tiles(clf)
    assert tiles.shape == (3, 28, 28)
    assert tiles[2, 5, 7] == w[5 * 28 + 7, 2] and tiles[0, 27, 27] == w[783, 0]


def test_pushes_of_a_hand_made_network():
    # Two ReLU units: unit 0 copies pixel 0, unit 1 is minus pixel 1 (off for ink). Unit 0 votes for 3.
    w1 = np.zeros((784, 2))
    w1[0, 0], w1[1, 1] = 2.0, -1.0
    w_out = np.zeros((2, 10))
    w_out[0, 3] = 1.0
    clf = hand_made([(w1, np.array([0.0, 0.5]), "relu"), (w_out, np.zeros(10), "softmax")])
    image = np.zeros((28, 28), np.float32)
    image[0, 0], image[0, 1] = 0.5, 0.2
    (push,) = pushes(clf, image, 3)
    # unit 0: activation 1.0, effective weight 1 - 0.1 (minus the mean over the ten digits); unit 1: 0.3 x 0
    np.testing.assert_allclose(push, [0.9, 0.0], atol=1e-6)
    (other,) = pushes(clf, image, 5)
    np.testing.assert_allclose(other, [-0.1, 0.0], atol=1e-6)


def test_last_layer_pushes_add_up_to_the_margin_less_the_output_biases():
    clf = random_network("relu")
    image = np.random.default_rng(1).random((28, 28)).astype(np.float32)
    last = clf.hidden_activations(image)[-1][0]
    _, b_out, _ = clf.layers[-1]
    for digit in (0, 4, 9):
        margin = margin_from(clf, len(clf.layers) - 2, last, digit)
        assert pushes(clf, image, digit)[-1].sum() == pytest.approx(margin - (b_out[digit] - b_out.mean()), abs=1e-6)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_effective_weights_are_the_gradient_of_the_margin(activation):
    clf = random_network(activation, seed=2)
    image = np.random.default_rng(3).random((28, 28)).astype(np.float32)
    digit, step = 7, 1e-6
    activations, weights = effective_weights(clf, image, digit)
    for layer, (a, w) in enumerate(zip(activations, weights, strict=True)):
        assert a.shape == w.shape
        for unit in range(0, a.size, 3):
            up, down = a.copy(), a.copy()
            up[unit] += step
            down[unit] -= step
            numeric = (margin_from(clf, layer, up, digit) - margin_from(clf, layer, down, digit)) / (2 * step)
            assert w[unit] == pytest.approx(numeric, rel=1e-4, abs=1e-6), (layer, unit)


def test_strongest_pushes_for_and_against_are_sorted_and_signed():
    clf = random_network("tanh", seed=4)
    image = np.random.default_rng(5).random((28, 28)).astype(np.float32)
    towards, against = strongest_pushes(clf, image, 2, count=4)
    every = sorted(np.concatenate(pushes(clf, image, 2)))
    assert len(towards) == 4 and len(against) == 4
    assert [u.push for u in towards] == pytest.approx(every[::-1][:4])
    assert [u.push for u in against] == pytest.approx(every[:4])
    assert all(u.push > 0 for u in towards) and all(u.push < 0 for u in against)
    for u in towards + against:
        assert u.push == pytest.approx(u.activation * u.weight)
        assert u.push == pytest.approx(pushes(clf, image, 2)[u.layer - 1][u.unit])


def test_units_by_importance_puts_the_largest_pushes_first():
    clf = random_network("relu", seed=6)
    image = np.random.default_rng(7).random((28, 28)).astype(np.float32)
    order = units_by_importance(clf, image, 1)
    size = np.abs(pushes(clf, image, 1)[0])[order]
    assert sorted(order) == list(range(12))
    assert (np.diff(size) <= 0).all()
    unordered = units_by_importance(clf, None, None)  # no drawing: the heaviest weights first
    norms = np.abs(clf.layers[0][0]).sum(axis=0)[unordered]
    assert (np.diff(norms) <= 0).all()


def test_a_digit_outside_0_to_9_is_refused():
    with pytest.raises(ValueError, match="0 to 9"):
        pushes(random_network("relu"), np.zeros((28, 28), np.float32), 10)


def test_mosaic_lays_tiles_out_row_by_row_with_gaps():
    tiles = np.stack([np.full((2, 3), i, np.float32) for i in range(5)])
    out = mosaic(tiles, columns=3, gap=1)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert (out[0:2, 4:7] == 1).all() and (out[3:5, 4:7] == 4).all()
    assert np.isnan(out[2]).all() and np.isnan(out[:, 3]).all()
    assert np.isnan(out[3:5, 8:]).all()  # the empty sixth place
