"""TrainConfig: every hyperparameter of a training run, validated in one place."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
SCHEDULES = ("constant", "cosine")  # the learning rate over the run: kept, or cosine-decayed to 0 at the last step

MAX_LAYERS = 4
MAX_UNITS = 4096
MAX_EPOCHS = 200
MAX_BATCH_SIZE = 8192


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run; defaults are the tutorial's 784-300-100-10 network."""

    hidden_units: tuple[int, ...] = (300, 100)  # 1 to 4 hidden layers, a funnel by default
    activation: str = "relu"                    # relu, elu, tanh or sigmoid
    optimizer: str = "sgd"                      # sgd, momentum, nesterov, adam or rmsprop
    learning_rate: float = 0.01                 # the tutorial's gradient-descent step
    batch_size: int = 50                        # mini-batch size
    epochs: int = 10                            # passes over the training set
    dropout: float = 0.0                        # drop rate after each hidden layer, in [0, 1)
    l2: float = 0.0                             # L2 weight penalty on the kernels
    seed: int = 42                              # same seed and config -> same history
    augment: bool = False                       # random shift/scale/rotate/thickness/elastic
    schedule: str = "constant"                  # learning rate over the run: constant or cosine (to 0 at the end)
    momentum: float = field(default=0.9, repr=False)  # used by momentum and nesterov

    def __post_init__(self) -> None:
        units = self.hidden_units
        if isinstance(units, int):
            units = (units,)
        try:
            units = tuple(int(u) for u in units)
        except (TypeError, ValueError):
            raise ValueError(f"hidden_units must be a sequence of integers, got {self.hidden_units!r}") from None
        object.__setattr__(self, "hidden_units", units)
        if not 1 <= len(units) <= MAX_LAYERS:
            raise ValueError(f"hidden_units must have 1 to {MAX_LAYERS} layers, got {len(units)}")
        if any(not 1 <= u <= MAX_UNITS for u in units):
            raise ValueError(f"hidden_units must each be 1 to {MAX_UNITS}, got {units}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        _check_number("learning_rate", self.learning_rate, low=0.0, high=10.0, low_open=True)
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH_SIZE)
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _check_number("l2", self.l2, low=0.0, high=1.0)
        _check_number("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _check_int("seed", self.seed, 0, 2**31 - 1)
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be True or False, got {self.augment!r}")

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (hidden_units as a list)."""
        d = dataclasses.asdict(self)
        d["hidden_units"] = list(self.hidden_units)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build from a dict such as to_dict() gives; unknown keys raise ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


def _check_number(name: str, value, low: float, high: float, low_open=False, high_open=False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if value != value or too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value}")
