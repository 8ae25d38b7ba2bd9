"""What a training run reports: one EpochReport per epoch, the run's History, and the TrainResult it returns.

Apart from digitdnn.training.loop so that the page's server, which receives these from training
processes, reads them without importing TensorFlow.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier


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


class TrainResult(NamedTuple):
    classifier: Classifier
    history: History
