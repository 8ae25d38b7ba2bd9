"""A network's weights between a training worker and the page: an .npz of float32 arrays w0, b0, ..., wK, bK.

Only the numbers travel. What they mean (the layers' sizes and activations) is the run's TrainConfig, which the
reader has already; `from_wire` refuses, with a plain ValueError, any archive that is not exactly the arrays that
config needs (names, float32, shapes, finite values, no more bytes than they take): a value in Redis may be forged.
Nothing pickled is ever read (storage.npz_check).
"""
from __future__ import annotations

import io

import numpy as np

from digitdnn.config import TrainConfig
from digitdnn.model import N_CLASSES, N_PIXELS, Classifier
from digitdnn.storage.npz_check import NpzArchive

SLACK_BYTES = 64 * 1024  # the archive's own bytes (zip and .npy headers) allowed beyond the arrays'
WEIGHTS = "the weights"  # what messages call the archive


def to_wire(classifier: Classifier) -> bytes:
    """The classifier's weights as .npz bytes: w<i> (inputs, units) and b<i> (units,) float32 for every layer."""
    arrays: dict[str, np.ndarray] = {}
    for i, (w, b, _) in enumerate(classifier.layers):
        arrays[f"w{i}"], arrays[f"b{i}"] = np.asarray(w, np.float32), np.asarray(b, np.float32)
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **arrays)
    return out.getvalue()


def expected_shapes(cfg: TrainConfig) -> dict[str, tuple[int, ...]]:
    """The arrays a network of `cfg` has, by wire name: (784, h1), (h1,), ..., (hK, 10), (10,)."""
    sizes = [N_PIXELS, *cfg.hidden_units, N_CLASSES]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (inputs, units) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        shapes[f"w{i}"], shapes[f"b{i}"] = (inputs, units), (units,)
    return shapes


def from_wire(data: bytes, cfg: TrainConfig, metadata: dict | None = None) -> Classifier:
    """The Classifier (numpy arrays only, see Classifier.from_layers) of the weights `data` for a network of `cfg`,
    with `metadata`; ValueError with a plain sentence unless `data` is exactly what to_wire gives for such a network."""
    shapes = expected_shapes(cfg)
    limit = sum(4 * int(np.prod(shape)) for shape in shapes.values()) + SLACK_BYTES
    if not isinstance(data, bytes) or len(data) > limit:
        raise ValueError(f"{WEIGHTS} must be at most {limit} bytes of .npz for this network")
    with NpzArchive(data, name=WEIGHTS) as npz:
        if sorted(npz.members) != sorted(f"{name}.npy" for name in shapes):
            raise ValueError(f"{WEIGHTS} must hold exactly the arrays {', '.join(shapes)}")
        for name, shape in shapes.items():
            header = npz.headers[name]
            if header.dtype != np.dtype(np.float32) or header.shape != shape:
                raise ValueError(f"{WEIGHTS}: {name} must be float32 of shape {shape} for this network")
        arrays = {name: npz.load(name) for name in shapes}
    if not all(np.isfinite(array).all() for array in arrays.values()):
        raise ValueError(f"{WEIGHTS} must be finite numbers")
    count = len(cfg.hidden_units) + 1
    activations = [cfg.activation] * (count - 1) + ["softmax"]
    layers = [(arrays[f"w{i}"], arrays[f"b{i}"], activations[i]) for i in range(count)]
    return Classifier.from_layers(layers, cfg, metadata)
