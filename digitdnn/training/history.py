"""What a training run reports: one EpochReport per epoch, the run's History, and the TrainResult it returns.

Apart from digitdnn.training.loop so that the page's server, which receives these from training
processes, reads them without importing TensorFlow. `from_dict` reads them back from a worker's JSON, checked
like anything from the wire (the checked_* helpers, which the other wire formats share): a forged value is a
ValueError with a plain sentence, never a report.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from digitdnn.config import MAX_EPOCHS, TrainConfig
from digitdnn.model import Classifier

MAX_MESSAGE_CHARS = 300  # a run's message, as a worker may send it
FINISHED = ("completed", "stopped", "diverged")  # how a run that returned ended
MAX_SECONDS = 1e7  # an epoch's seconds on the wire (about four months: anything longer is forged)


@dataclass
class EpochReport:
    """Accuracy, loss and timing after one epoch.

    Train accuracy and loss are running means over the epoch's batches (as trained, with dropout
    and augmentation active); test figures are measured after the epoch. Losses are the
    cross-entropy alone, without the L2 penalty.
    """

    epoch: int                 # 1-based
    epochs: int                # planned in total
    train_accuracy: float
    train_loss: float
    test_accuracy: float
    test_loss: float
    seconds: float             # training time of this epoch (the first one includes compiling)
    eval_seconds: float        # time spent measuring test accuracy and loss

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> EpochReport:
        """The report to_dict() gave, checked: exactly its keys, 1 <= epoch <= epochs <= MAX_EPOCHS, accuracies in
        [0, 1], losses and seconds finite and >= 0; ValueError otherwise."""
        checked_keys(d, [f.name for f in dataclasses.fields(cls)], "an epoch report")
        epochs = checked_int(d["epochs"], "epochs", 1, MAX_EPOCHS)
        return cls(
            epoch=checked_int(d["epoch"], "epoch", 1, epochs),
            epochs=epochs,
            train_accuracy=checked_float(d["train_accuracy"], "train_accuracy", 0.0, 1.0),
            train_loss=checked_float(d["train_loss"], "train_loss", 0.0),
            test_accuracy=checked_float(d["test_accuracy"], "test_accuracy", 0.0, 1.0),
            test_loss=checked_float(d["test_loss"], "test_loss", 0.0),
            seconds=checked_float(d["seconds"], "seconds", 0.0, MAX_SECONDS),
            eval_seconds=checked_float(d["eval_seconds"], "eval_seconds", 0.0, MAX_SECONDS),
        )


@dataclass
class History:
    """A run: its config, one report per finished epoch, and how it ended."""

    config: TrainConfig
    epochs: list[EpochReport] = field(default_factory=list)
    status: str = "running"    # running | completed | stopped | diverged
    message: str = ""
    initial_test_accuracy: float | None = None  # of the starting weights, for a warm start (fine-tuning)

    @property
    def best_test_accuracy(self) -> float | None:
        """The best epoch's test accuracy (a curve's peak, not necessarily the weights returned)."""
        return max((r.test_accuracy for r in self.epochs), default=None)

    @property
    def test_accuracy(self) -> float | None:
        """Test accuracy of the weights the run returns: its last finished epoch's, as `train` keeps them.

        A run that finished no epoch returns its starting weights: the warm start's accuracy, or None.
        """
        return self.epochs[-1].test_accuracy if self.epochs else self.initial_test_accuracy

    @property
    def total_seconds(self) -> float:
        return sum(r.seconds + r.eval_seconds for r in self.epochs)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {
            "config": self.config.to_dict(),
            "epochs": [r.to_dict() for r in self.epochs],
            "status": self.status,
            "message": self.message,
            "best_test_accuracy": self.best_test_accuracy,
            "test_accuracy": self.test_accuracy,
            "initial_test_accuracy": self.initial_test_accuracy,
            "total_seconds": self.total_seconds,
        }

    def wire_dict(self) -> dict:
        """The run's own fields without its config (the reader has it): what from_dict reads."""
        return {"epochs": [r.to_dict() for r in self.epochs], "status": self.status, "message": self.message,
                "initial_test_accuracy": self.initial_test_accuracy}

    @classmethod
    def from_dict(cls, d: Any, config: TrainConfig) -> History:
        """A finished run's history as wire_dict() gave it, for `config` (the reader's own, never the wire's):
        exactly those keys, a FINISHED status, a message of at most MAX_MESSAGE_CHARS, reports numbered 1, 2, ...
        with `config.epochs` planned, at most that many; ValueError otherwise."""
        checked_keys(d, ["epochs", "status", "message", "initial_test_accuracy"], "a run's history")
        if d["status"] not in FINISHED:
            raise ValueError(f"a run's status must be one of {', '.join(FINISHED)}")
        reports = d["epochs"]
        if not isinstance(reports, list) or len(reports) > config.epochs:
            raise ValueError(f"a run's epochs must be a list of at most {config.epochs} reports")
        epochs = [EpochReport.from_dict(r) for r in reports]
        if [(r.epoch, r.epochs) for r in epochs] != [(n, config.epochs) for n in range(1, len(epochs) + 1)]:
            raise ValueError(f"a run's reports must be its epochs 1, 2, ... of {config.epochs}, in order")
        initial = d["initial_test_accuracy"]
        return cls(config, epochs, d["status"], checked_text(d["message"], "message", MAX_MESSAGE_CHARS),
                   None if initial is None else checked_float(initial, "initial_test_accuracy", 0.0, 1.0))


class TrainResult(NamedTuple):
    classifier: Classifier
    history: History


def checked_keys(d: Any, names: list[str], what: str) -> None:
    """ValueError unless `d` is a dict with exactly these keys."""
    if not isinstance(d, dict):
        raise ValueError(f"{what} must be a JSON object")
    if set(d) != set(names):
        raise ValueError(f"{what} must have exactly the keys {', '.join(names)}")


def checked_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    """`value` if it is an integer (never a bool) in [low, high]; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be an integer {bound}")
    return value


def checked_float(value: Any, name: str, low: float | None = None, high: float | None = None) -> float:
    """`value` as a float if it is a finite number (never a bool) in [low, high]; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (low is not None and value < low) or (high is not None and value > high):
        bounds = ([] if low is None else [f"at least {low}"]) + ([] if high is None else [f"at most {high}"])
        raise ValueError(f"{name} must be a finite number {' and '.join(bounds)}".rstrip())
    return float(value)


def checked_text(value: Any, name: str, max_chars: int) -> str:
    """`value` if it is a string of at most `max_chars` characters; ValueError otherwise."""
    if not isinstance(value, str) or len(value) > max_chars:
        raise ValueError(f"{name} must be a text of at most {max_chars} characters")
    return value


def parsed_json(text: str | bytes, max_bytes: int, what: str) -> Any:
    """`text` parsed as JSON if it is at most `max_bytes` long, without NaN or Infinity; ValueError otherwise (a
    deep nest included)."""
    if not isinstance(text, (str, bytes)) or len(text) > max_bytes:
        raise ValueError(f"{what} must be a JSON text of at most {max_bytes} bytes")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ValueError(f"{what} is not valid JSON") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")
