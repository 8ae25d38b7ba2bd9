"""The network: built from a TrainConfig in one place, and a fast numpy predictor for it.

Architecture (the tutorial's DNN, generalised): Input (28, 28) -> Flatten -> one Dense layer per
entry of ``cfg.hidden_units`` (each followed by Dropout when ``cfg.dropout > 0``) -> Dense(10, softmax).

Initialisation: ReLU-family layers (relu, elu) draw kernels from a normal with stddev
2 / sqrt(fan_in), truncated at two standard deviations, exactly as the tutorial did (the
truncation makes the realised standard deviation about 0.88 times that). tanh/sigmoid hidden
layers and the softmax output layer use Glorot-uniform, the initialiser designed for symmetric,
saturating units. Biases start at zero. Every random draw is seeded from ``cfg.seed``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from digitdnn.config import ACTIVATIONS, TrainConfig

if TYPE_CHECKING:
    import keras

IMAGE_SHAPE = (28, 28)
N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
N_CLASSES = 10
RELU_FAMILY = ("relu", "elu")
RANGE_SLACK = 1e-5  # rounding error tolerated outside [0, 1]
_PASS_THROUGH_LAYERS = ("InputLayer", "Flatten", "Dropout")


def layer_seeds(seed: int, count: int) -> list[int]:
    """`count` distinct, reproducible integer seeds derived from one seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count) % (2**31 - 1)]


def build_model(cfg: TrainConfig):
    """The Keras model for `cfg`; the same config (seed included) gives the same initial weights."""
    import keras

    n_hidden = len(cfg.hidden_units)
    seeds = layer_seeds(cfg.seed, 2 * n_hidden + 1)
    regularizer = (lambda: keras.regularizers.L2(cfg.l2)) if cfg.l2 > 0 else (lambda: None)

    inputs = keras.Input(shape=IMAGE_SHAPE, dtype="float32", name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    fan_in = N_PIXELS
    for i, units in enumerate(cfg.hidden_units):
        if cfg.activation in RELU_FAMILY:
            init = keras.initializers.TruncatedNormal(stddev=2.0 / np.sqrt(fan_in), seed=seeds[2 * i])
        else:
            init = keras.initializers.GlorotUniform(seed=seeds[2 * i])
        x = keras.layers.Dense(
            units,
            activation=cfg.activation,
            kernel_initializer=init,
            kernel_regularizer=regularizer(),
            name=f"hidden_{i + 1}",
        )(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, seed=seeds[2 * i + 1], name=f"dropout_{i + 1}")(x)
        fan_in = units
    outputs = keras.layers.Dense(
        N_CLASSES,
        activation="softmax",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seeds[-1]),
        kernel_regularizer=regularizer(),
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name="digitdnn")


def keras_model_for(layers) -> keras.Model:
    """A Keras model that can hold these (W, b, activation) layers: 28x28 input, Flatten, one Dense per layer
    (weights not set: see load_layers)."""
    import keras

    inputs = keras.Input(shape=IMAGE_SHAPE, dtype="float32", name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    for i, (w, _, activation) in enumerate(layers[:-1], start=1):
        x = keras.layers.Dense(w.shape[1], activation=activation, name=f"hidden_{i}")(x)
    outputs = keras.layers.Dense(N_CLASSES, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name="digitdnn")


def dense_layers(model) -> list[tuple[Any, str]]:
    """The model's Dense layers with their activation names; ValueError if it is not our architecture."""
    found = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            if not layer.use_bias:
                raise ValueError(f"Dense layer {layer.name!r} has no bias")
            found.append((layer, layer.get_config()["activation"]))
        elif kind not in _PASS_THROUGH_LAYERS:
            raise ValueError(f"unsupported layer {layer.name!r} of type {kind}: expected Flatten, Dense, Dropout")
    if not found:
        raise ValueError("the model has no Dense layers")
    *hidden, (output, output_activation) = found
    if output_activation != "softmax" or output.units != N_CLASSES:
        raise ValueError(f"the last Dense layer must be softmax with {N_CLASSES} units")
    for layer, activation in hidden:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unsupported activation {activation!r} in layer {layer.name!r}")
    return found


def _activate(z: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0, out=z)
    if name == "elu":
        return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    if name == "tanh":
        return np.tanh(z, out=z)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic
    raise ValueError(f"unsupported activation {name!r}")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def as_batch(x) -> np.ndarray:
    """Images as a (N, 784) float32 batch; accepts (28, 28), (N, 28, 28) or (N, 784) floats in [0, 1]."""
    x = np.asarray(x)
    if x.dtype.kind not in "fb":
        raise ValueError(
            f"images must be floats in [0, 1], got dtype {x.dtype} (divide uint8 images by 255)"
        )
    if x.shape == IMAGE_SHAPE:
        x = x.reshape(1, N_PIXELS)
    elif x.ndim == 3 and x.shape[1:] == IMAGE_SHAPE:
        x = x.reshape(len(x), N_PIXELS)
    elif not (x.ndim == 2 and x.shape[1] == N_PIXELS):
        raise ValueError(f"images must have shape (28, 28), (N, 28, 28) or (N, 784), got {x.shape}")
    x = x.astype(np.float32, copy=False)
    if x.size and not (np.isfinite(x).all() and x.min() >= -RANGE_SLACK and x.max() <= 1.0 + RANGE_SLACK):
        raise ValueError("image values must be finite and in [0, 1]")
    return x


class Classifier:
    """A trained network as numpy arrays: fast predictions without calling Keras.

    ``layers`` is a list of (W, b, activation) numpy copies, hidden layers first, softmax last.
    They are taken when the Classifier is made; call ``refresh()`` after the model changes.
    ``Classifier.snapshot(model)`` copies the weights now and leaves ``model`` free to keep training.
    ``Classifier.from_layers(layers, config)`` holds the weights alone, no Keras model (nor TensorFlow).
    """

    layers: list[tuple[np.ndarray, np.ndarray, str]]

    def __init__(self, model, metadata: dict | None = None):
        self._model = model
        self._source = None
        self._config: TrainConfig | None = None
        self.metadata = dict(metadata or {})
        self.refresh()

    @classmethod
    def snapshot(cls, model, metadata: dict | None = None) -> Classifier:
        """A Classifier frozen at `model`'s current weights; its own Keras model is cloned on first use."""
        clf = cls.__new__(cls)
        clf._model = None
        clf._source = model
        clf.metadata = dict(metadata or {})
        clf.layers = _copy_layers(model)
        return clf

    @classmethod
    def from_layers(cls, layers: list[tuple[np.ndarray, np.ndarray, str]], config: TrainConfig | None = None,
                    metadata: dict | None = None) -> Classifier:
        """A Classifier of these weights that holds no Keras model: ``model`` builds one for `config` (without one:
        Flatten and one Dense per layer, see keras_model_for) each time it is asked for (to save it) and keeps
        none. TensorFlow never gives back memory it once allocated, so a server that holds many models (the
        page's sessions) holds them this way, as numpy arrays only; and it needs no TensorFlow to predict."""
        clf = cls.__new__(cls)
        clf._model, clf._source, clf._config = None, None, config
        clf.metadata = dict(metadata or {})
        clf.layers = layers
        return clf

    @property
    def model(self):
        """The Keras model whose weights equal ``layers`` (for saving and Keras-side evaluation)."""
        if self._model is None and self._source is None:  # from_layers: built now, not kept
            model = keras_model_for(self.layers) if self._config is None else build_model(self._config)
            load_layers(model, self.layers)
            return model
        if self._model is None:
            import keras

            clone = keras.models.clone_model(self._source)
            load_layers(clone, self.layers)
            self._model, self._source = clone, None
        return self._model

    def refresh(self) -> None:
        """Copy the weights again from ``model`` (after it was trained or changed)."""
        self.layers = _copy_layers(self.model)

    def _forward(self, x) -> tuple[list[np.ndarray], np.ndarray]:
        h = as_batch(x)
        hidden = []
        *hidden_layers, (w_out, b_out, _) = self.layers
        for w, b, activation in hidden_layers:
            h = _activate(h @ w + b, activation)
            hidden.append(h)
        return hidden, _softmax(h @ w_out + b_out)

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities, shape (N, 10) float32, for images (28, 28), (N, 28, 28) or (N, 784)."""
        return self._forward(x)[1]

    def predict(self, x) -> np.ndarray:
        """The most probable digit for each image, shape (N,)."""
        return self.predict_proba(x).argmax(axis=1)

    def hidden_activations(self, x) -> list[np.ndarray]:
        """The output of every hidden layer, each (N, units), for showing the inside of the network."""
        return self._forward(x)[0]


def load_layers(model, layers: list[tuple[np.ndarray, np.ndarray, str]]) -> None:
    """Set `model`'s Dense weights from (W, b, activation) tuples such as ``Classifier.layers``."""
    for (layer, _), (w, b, _) in zip(dense_layers(model), layers, strict=True):
        layer.set_weights([w, b])


def _copy_layers(model) -> list[tuple[np.ndarray, np.ndarray, str]]:
    return [
        (np.array(layer.kernel.numpy(), dtype=np.float32), np.array(layer.bias.numpy(), dtype=np.float32), act)
        for layer, act in dense_layers(model)
    ]
