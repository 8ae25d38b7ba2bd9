"""What a run trains on, as a spec a worker rebuilds: checked from the wire, and the same data the page would use."""
import json

import numpy as np
import pytest

from digitdnn.data.shared_dataset import SharedDataset
from digitdnn.storage.drawings import DrawingStore
from digitdnn.training.run_data import DrawingsPick, RunData, base_loader, class_drawings, loader_for


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((28, 28), dtype=np.float32)


@pytest.fixture
def store(tmp_path):
    store = DrawingStore(tmp_path / "drawings.sqlite")
    for i, tab in enumerate(["a", "b", "a", "c", "b", "a"]):
        store.add(_image(i), i, session=tab)
    return store


def test_a_spec_round_trips_through_json():
    for spec in (RunData("mnist", None), RunData("pen", (500, None)),
                 RunData("mnist", (300, 50), DrawingsPick("scratch", 7)),
                 RunData("pen", None, DrawingsPick("retrain", 0, ("a", "b")))):
        assert RunData.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize("change", [
    {"base": "cifar"}, {"base": None}, {"limit": 5}, {"limit": [5]}, {"limit": [0, None]}, {"limit": [5, 0]},
    {"limit": [5.0, None]}, {"limit": [True, None]}, {"limit": [5, 6, 7]}, {"extra": 1}, {"drawings": []},
    {"drawings": {"recipe": "poison", "up_to_id": 1, "held_tabs": []}},
    {"drawings": {"recipe": "scratch", "up_to_id": -1, "held_tabs": []}},
    {"drawings": {"recipe": "scratch", "up_to_id": 2**63, "held_tabs": []}},
    {"drawings": {"recipe": "scratch", "up_to_id": "1", "held_tabs": []}},
    {"drawings": {"recipe": "scratch", "up_to_id": 1, "held_tabs": "a"}},
    {"drawings": {"recipe": "scratch", "up_to_id": 1, "held_tabs": [1]}},
    {"drawings": {"recipe": "scratch", "up_to_id": 1, "held_tabs": ["t" * 201]}},
    {"drawings": {"recipe": "scratch", "up_to_id": 1, "held_tabs": ["t"] * 1001}},
    {"drawings": {"recipe": "scratch", "up_to_id": 1}},
    {"drawings": {"recipe": "scratch", "up_to_id": 1, "held_tabs": [], "more": 1}},
])
def test_a_forged_spec_is_refused(change):
    d = RunData("mnist", (300, 50), DrawingsPick("scratch", 7)).to_dict()
    d.update(change)
    with pytest.raises(ValueError):
        RunData.from_dict(d)


def test_class_drawings_are_those_up_to_the_id_without_the_held_tabs(store):
    ids = sorted(d.id for d in store.recent())
    x, y = class_drawings(DrawingsPick("retrain", ids[4], ("b",)), store)
    assert y.tolist() == [0, 2, 3] and x.shape == (3, 28, 28) and x.dtype == np.float32
    assert class_drawings(DrawingsPick("scratch", ids[-1]), store)[1].tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="no drawings"):
        class_drawings(DrawingsPick("scratch", ids[-1], ("a", "b", "c")), store)
    with pytest.raises(ValueError, match="no drawings"):
        class_drawings(DrawingsPick("scratch", 0), store)


def test_loader_for_mixes_the_drawings_as_the_recipe_says(small_mnist, store, monkeypatch):
    x, y = store.arrays()
    base = SharedDataset(load=lambda progress: small_mnist)
    assert loader_for(base, None, x, y, seed=0) is base
    scratch = loader_for(base, DrawingsPick("scratch", 9), x, y, seed=0)(lambda message: None)
    assert len(scratch.x_train) > len(small_mnist.x_train)  # all of the base, and the drawings repeated
    np.testing.assert_array_equal(scratch.x_test, small_mnist.x_test)
    import digitdnn.training.finetune as finetune

    calls = []
    monkeypatch.setattr(finetune, "fine_tune_data", lambda *args, **kwargs: calls.append((args, kwargs)) or "mix")
    news = []
    assert loader_for(base, DrawingsPick("retrain", 9), x, y, seed=5)(news.append) == "mix"
    (args, kwargs), = calls
    assert args[2] is small_mnist and kwargs["seed"] == 5
    kwargs["progress"](0.5)
    assert news == ["drawing the pen digits: 50%"]


def test_base_loaders_are_mnist_or_mnist_and_the_pen_digits(small_mnist, monkeypatch):
    mnist = base_loader("mnist", (300, 50))
    assert isinstance(mnist, SharedDataset) and mnist.limit == (300, 50)
    import digitdnn.data.pen_training as pen_training

    joined = []
    monkeypatch.setattr(pen_training, "mnist_with_pen_digits",
                        lambda data, copies, progress: joined.append((data, copies)) or "with pen")
    news = []
    pen = base_loader("pen", (300, 50), mnist=lambda report: report("loading MNIST") or small_mnist)
    assert pen(news.append) == "with pen" and pen(news.append) == "with pen"  # drawn once, then kept
    assert joined == [(small_mnist, pen_training.PEN_DIGIT_COPIES)] and news == ["loading MNIST"]
    with pytest.raises(ValueError, match="base data"):
        base_loader("cifar", None)
