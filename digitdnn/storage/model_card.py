"""A saved model's card: what made it, on which data, and how well it does; saved beside it as NAME.json.

Built in one place (`ModelCard.of_run`) for every model a run makes, on the command line or on the page. On disk
it is the sidecar's JSON object, whose keys stay those of every sidecar written so far (so older saved models and
the shipped digitdnn/assets/default.json still load); keys it does not know are kept in `extra`.
"""
from __future__ import annotations

import dataclasses
import datetime
import platform
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from digitdnn import __version__

if TYPE_CHECKING:
    from digitdnn.training.history import History

SIDECAR_FORMAT = 1
_ALWAYS = ("config", "history", "test_accuracy", "data_fingerprint", "created", "versions", "command")
_NOT_FIELDS = ("format", "damaged")  # the card's format is this module's; "damaged" is a reader's verdict


@dataclass(frozen=True)
class ModelCard:
    """What a saved model's sidecar says about it. None: not known (or not part of how it was made)."""

    config: dict | None = None            # TrainConfig.to_dict() of the run that made it
    history: dict | None = None           # History.to_dict(): each epoch's accuracy and loss, how the run ended
    test_accuracy: float | None = None    # of the weights saved, on the test images of its data
    data_fingerprint: str | None = None   # MnistData.fingerprint() of the data it was trained and tested on
    command: str | None = None            # the command line that made it ("digitdnn page" for the page)
    created: str | None = None            # UTC, ISO 8601; set when first saved
    versions: dict | None = None          # digitdnn, python, tensorflow, keras, numpy; set when first saved
    model_sha256: str | None = None       # the model file's hash, which ties this card to it; set on every save
    data_source: str | None = None        # where its training data came from, in words
    train_images: int | None = None       # how many images it was trained on (the page's runs)
    pen_digits: dict | None = None        # the pen digits added to MNIST (data.pen_training.pen_digits_record)
    temperature: float | None = None      # the calibration temperature folded into its output layer
    fine_tuned: dict | None = None        # the model it started from and the drawings it was fine-tuned on
    extra: dict = field(default_factory=dict)  # any other key of the sidecar, kept as it was

    @classmethod
    def of_run(cls, history: History, *, command: str, test_accuracy: float | None = None, **fields: Any) -> ModelCard:
        """The card of the model a training or fine-tuning run returned.

        Args:
            history: the run's History: its config and epochs.
            command: what started the run.
            test_accuracy: the kept weights' test accuracy when measured apart (default: the history's).
            fields: any other field of the card (data_fingerprint, data_source, pen_digits, ...).
        """
        if test_accuracy is None:
            test_accuracy = history.test_accuracy
        return cls(config=history.config.to_dict(), history=history.to_dict(), test_accuracy=test_accuracy,
                   command=command, **fields)

    @classmethod
    def from_json(cls, sidecar: dict | None) -> ModelCard:
        """The card a sidecar's JSON object (or a classifier's metadata dict) describes."""
        sidecar = {key: value for key, value in (sidecar or {}).items() if key not in _NOT_FIELDS}
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(**{key: value for key, value in sidecar.items() if key in known},
                   extra={key: value for key, value in sidecar.items() if key not in known})

    def to_json(self) -> dict:
        """The sidecar's JSON object: format, the keys every sidecar has (None when unknown), and those set."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        sidecar: dict = {"format": SIDECAR_FORMAT}
        sidecar.update({key: values.pop(key) for key in _ALWAYS})
        sidecar.update(self.extra)
        sidecar.update({key: value for key, value in values.items() if value is not None})
        return sidecar

    def stamped(self, model_sha256: str) -> ModelCard:
        """The card as saved with a model file of this hash: created and versions filled in if not known yet."""
        import keras

        created = self.created or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        versions = self.versions or {
            "digitdnn": __version__,
            "python": platform.python_version(),
            "tensorflow": getattr(sys.modules.get("tensorflow"), "__version__", None),
            "keras": keras.__version__,
            "numpy": np.__version__,
        }
        return dataclasses.replace(self, created=created, versions=versions, model_sha256=model_sha256)


def json_value(value):
    """json.dumps fallback for numpy scalars and arrays (e.g. an accuracy computed with numpy)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"model metadata must be JSON-serialisable, got {type(value).__name__}")
