"""Weights between a worker and the page: exactly the float32 arrays of the run's config, anything else refused."""
import io
import zipfile

import numpy as np
import pytest

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier
from digitdnn.training.weights_wire import expected_shapes, from_wire, to_wire

CFG = TrainConfig(hidden_units=(6, 4), activation="tanh", epochs=1)


def _classifier(cfg: TrainConfig = CFG, seed: int = 0) -> Classifier:
    rng = np.random.default_rng(seed)
    shapes = expected_shapes(cfg)
    count = len(cfg.hidden_units) + 1
    return Classifier.from_layers(
        [(rng.normal(size=shapes[f"w{i}"]).astype(np.float32), rng.normal(size=shapes[f"b{i}"]).astype(np.float32),
          cfg.activation if i < count - 1 else "softmax") for i in range(count)], cfg)


def _npz(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _arrays(classifier: Classifier) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(to_wire(classifier))) as npz:
        return {name: npz[name] for name in npz.files}


def test_weights_round_trip_with_the_readers_activations_and_metadata():
    original = _classifier()
    back = from_wire(to_wire(original), CFG, {"temperature": 1.5})
    assert [a for _, _, a in back.layers] == ["tanh", "tanh", "softmax"]
    for (w, b, _), (w2, b2, _) in zip(original.layers, back.layers, strict=True):
        assert w2.dtype == np.float32 and np.array_equal(w, w2) and np.array_equal(b, b2)
    assert back.metadata == {"temperature": 1.5}
    image = np.random.default_rng(1).random((3, 28, 28), dtype=np.float32)
    assert np.allclose(original.predict_proba(image), back.predict_proba(image))


def test_the_activation_comes_from_the_config_never_the_wire():
    relu = CFG.replace(activation="relu")
    assert [a for _, _, a in from_wire(to_wire(_classifier()), relu).layers] == ["relu", "relu", "softmax"]


def test_weights_of_another_network_are_refused():
    with pytest.raises(ValueError, match="w0 must be float32 of shape"):
        from_wire(to_wire(_classifier(CFG.replace(hidden_units=(7, 4)))), CFG)
    with pytest.raises(ValueError, match="exactly the arrays"):
        from_wire(to_wire(_classifier(CFG.replace(hidden_units=(6,)))), CFG)


def test_an_extra_or_missing_array_is_refused():
    arrays = _arrays(_classifier())
    with pytest.raises(ValueError, match="exactly the arrays"):
        from_wire(_npz(**arrays, extra=np.zeros(1, np.float32)), CFG)
    del arrays["b2"]
    with pytest.raises(ValueError, match="exactly the arrays"):
        from_wire(_npz(**arrays), CFG)


def test_a_repeated_or_foreign_member_is_refused():
    wire = to_wire(_classifier())
    out = io.BytesIO(wire)
    with zipfile.ZipFile(out, "a") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("w0.npy", archive.read("w0.npy"))
    with pytest.raises(ValueError, match="exactly the arrays"):
        from_wire(out.getvalue(), CFG)
    out = io.BytesIO(wire)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr("readme.txt", b"hello")
    with pytest.raises(ValueError, match="exactly the arrays"):
        from_wire(out.getvalue(), CFG)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, ">f4"])
def test_an_array_of_another_dtype_is_refused(dtype):
    arrays = _arrays(_classifier())
    arrays["w1"] = arrays["w1"].astype(dtype)
    with pytest.raises(ValueError, match="w1 must be float32"):
        from_wire(_npz(**arrays), CFG)


def test_pickled_objects_are_never_loaded():
    arrays = _arrays(_classifier())
    arrays["b0"] = np.array([object()] * 4, dtype=object)
    with pytest.raises(ValueError, match="Python objects"):
        from_wire(_npz(**arrays), CFG)


def test_non_finite_weights_are_refused():
    arrays = _arrays(_classifier())
    arrays["w2"][0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        from_wire(_npz(**arrays), CFG)


def test_oversized_or_unreadable_data_is_refused_before_it_is_read():
    wire = to_wire(_classifier())
    with pytest.raises(ValueError, match="at most"):
        from_wire(wire + b"\0" * (65 * 1024), CFG)
    with pytest.raises(ValueError, match="at most"):
        from_wire(bytearray(wire), CFG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a readable .npz"):
        from_wire(b"not a zip at all", CFG)
    with pytest.raises(ValueError, match="not a readable"):
        from_wire(wire[: len(wire) // 2], CFG)
