"""digitdnn: draw a digit, train the network.

Heavy modules (TensorFlow) are imported on first use, so `import digitdnn`
and the data/preprocessing functions stay fast.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "TrainConfig": "digitdnn.config",
    "load_mnist": "digitdnn.data.mnist",
    "MnistData": "digitdnn.data.mnist",
    "MnistUnavailable": "digitdnn.data.mnist",
    "to_mnist": "digitdnn.imaging.preprocess",
    "preprocess_steps": "digitdnn.imaging.preprocess",
    "read_photo": "digitdnn.imaging.photo",
    "photo_to_mnist": "digitdnn.imaging.photo",
    "photo_steps": "digitdnn.imaging.photo",
    "PhotoError": "digitdnn.imaging.photo",
    "Classifier": "digitdnn.model",
    "build_model": "digitdnn.model",
    "train": "digitdnn.training.loop",
    "EpochReport": "digitdnn.training.history",
    "History": "digitdnn.training.history",
    "TrainResult": "digitdnn.training.history",
    "evaluate": "digitdnn.evaluation",
    "Evaluation": "digitdnn.evaluation",
    "load_classifier": "digitdnn.storage.models",
    "save_classifier": "digitdnn.storage.models",
    "ModelLoadError": "digitdnn.storage.keras_check",
    "ModelCard": "digitdnn.storage.model_card",
    "DrawingStore": "digitdnn.storage.drawings",
    "DrawingStoreError": "digitdnn.storage.drawings",
    "fine_tune": "digitdnn.training.finetune",
}

__all__ = [
    "Classifier",
    "DrawingStore",
    "DrawingStoreError",
    "EpochReport",
    "Evaluation",
    "History",
    "MnistData",
    "MnistUnavailable",
    "ModelCard",
    "ModelLoadError",
    "PhotoError",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "evaluate",
    "fine_tune",
    "load_classifier",
    "load_mnist",
    "photo_steps",
    "photo_to_mnist",
    "preprocess_steps",
    "read_photo",
    "save_classifier",
    "to_mnist",
    "train",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'digitdnn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
