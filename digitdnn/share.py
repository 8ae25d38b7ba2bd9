"""A training setup in the page address: TrainConfig and presenter mode <-> query parameters.

Only what differs from the page's default settings (presets.PAGE_DEFAULT) goes into the address, e.g.
``?units=512,256&optimizer=adam&lr=0.001&epochs=5&presenter=1``. Values read from an
address are checked like any input: a value that cannot be read is refused (the default
stays), one outside what the sidebar offers is clamped or moved to the nearest option;
each case gives a message that names the parameter. The option lists are the sidebar's.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from digitdnn.config import ACTIVATIONS, MAX_LAYERS, MAX_UNITS, OPTIMIZERS, SCHEDULES, TrainConfig
from digitdnn.presets import PAGE_DEFAULT

# What the sidebar offers (digitdnn/ui/sidebar.py draws its widgets from these).
LEARNING_RATES = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
BATCH_SIZES = (16, 32, 50, 64, 100, 128, 256, 512, 1024)
L2_PENALTIES = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)
MAX_EPOCHS_SLIDER = 50
MAX_DROPOUT = 0.8
DROPOUT_STEP = 0.05
MAX_SEED = 2**31 - 1

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
_WHOLE = re.compile(r"[+-]?\d+")                                # a whole number written in digits
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")  # digits, a point, an exponent: no "1_000", "inf"
SHOWN_CHARACTERS = 30  # longer values are cut short in messages


@dataclass(frozen=True)
class Setup:
    """What a shared link carries: the training settings and whether the page is in presenter mode."""

    config: TrainConfig = PAGE_DEFAULT
    presenter: bool = False


def to_query(setup: Setup) -> dict[str, str]:
    """The query parameters for `setup`: the settings that differ from PAGE_DEFAULT, and presenter=1 if on."""
    defaults = _all_parameters(PAGE_DEFAULT)
    shared = {name: value for name, value in _all_parameters(setup.config).items() if value != defaults[name]}
    if setup.presenter:
        shared["presenter"] = "1"
    return shared


def _all_parameters(cfg: TrainConfig) -> dict[str, str]:
    return {
        "units": ",".join(str(u) for u in cfg.hidden_units),
        "activation": cfg.activation,
        "optimizer": cfg.optimizer,
        "lr": f"{cfg.learning_rate:g}",
        "schedule": cfg.schedule,
        "batch": str(cfg.batch_size),
        "epochs": str(cfg.epochs),
        "dropout": f"{cfg.dropout:g}",
        "l2": f"{cfg.l2:g}",
        "augment": "1" if cfg.augment else "0",
        "seed": str(cfg.seed),
    }


class Refused(ValueError):
    """A query value that cannot be used at all: the setting keeps its default."""


def from_query(params: Mapping[str, str | list[str]]) -> tuple[Setup, list[str]]:
    """The setup an address describes, and one message per value refused, clamped or ignored.

    Args:
        params: query parameters, each a value or the list of its values (st.query_params.get_all); a parameter
            given more than once is refused, since which value was meant is unclear.
    """
    changes: dict = {}
    messages: list[str] = []
    presenter = False
    for name, raw in params.items():
        values = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if name not in _READERS:
            messages.append(f"Unknown parameter “{_shown(name)}” ignored (known: {', '.join(_READERS)}).")
            continue
        if len(values) != 1:
            messages.append(f"Parameter “{name}”: given {len(values)} times; the default is used.")
            continue
        value = str(values[0]).strip()
        read = _READERS[name]
        try:
            result, note = read(value)
        except Refused as exc:
            messages.append(f"Parameter “{name}”: {exc}; the default is used.")
            continue
        if note:
            messages.append(f"Parameter “{name}”: {note}.")
        if name == "presenter":
            presenter = result
        else:
            changes[name] = result
    config = PAGE_DEFAULT.replace(**{_FIELDS[name]: value for name, value in changes.items()})
    return Setup(config, presenter), messages


def _shown(value: str) -> str:
    return value if len(value) <= SHOWN_CHARACTERS else value[:SHOWN_CHARACTERS] + "…"


def _integer(value: str) -> int:
    if _WHOLE.fullmatch(value):
        return int(value)
    _number(value)  # says why text that is no number at all is refused
    raise Refused(f"“{_shown(value)}” is not a whole number written in digits")


def _number(value: str) -> float:
    if not _DECIMAL.fullmatch(value):
        raise Refused(f"“{_shown(value)}” is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise Refused(f"“{_shown(value)}” is not a finite number")
    return number


def _clamped(value: str, number, low, high) -> tuple[int | float, str | None]:
    if number < low:
        return low, f"{_shown(value)} is below the minimum {low}, so {low} is used"
    if number > high:
        return high, f"{_shown(value)} is above the maximum {high}, so {high} is used"
    return number, None


def _read_units(value: str) -> tuple[tuple[int, ...], str | None]:
    parts = [p for p in value.split(",") if p.strip()]
    if not parts:
        raise Refused("no unit counts given (write e.g. units=300,100)")
    counts = [_integer(p.strip()) for p in parts]
    notes = []
    if len(counts) > MAX_LAYERS:
        notes.append(f"{len(counts)} layers are more than the maximum {MAX_LAYERS}, so the first {MAX_LAYERS} are used")
        counts = counts[:MAX_LAYERS]
    clamped = tuple(min(max(c, 1), MAX_UNITS) for c in counts)
    if clamped != tuple(counts):
        notes.append(f"unit counts must be 1 to {MAX_UNITS}, so {','.join(map(str, clamped))} is used")
    return clamped, "; ".join(notes) or None


def _read_choice(choices: tuple[str, ...]) -> Callable[[str], tuple[str, None]]:
    def read(value: str) -> tuple[str, None]:
        if value.lower() not in choices:
            raise Refused(f"“{_shown(value)}” is not one of {', '.join(choices)}")
        return value.lower(), None
    return read


def _read_option(options: tuple, integer: bool) -> Callable[[str], tuple]:
    """Read a number and move it to the nearest of `options` (nearest on a log scale when all are positive)."""
    def read(value: str):
        number = _integer(value) if integer else _number(value)
        if number < 0 or (number == 0 and min(options) > 0):
            raise Refused(f"{_shown(value)} must be positive")
        if number in options:
            return number, None
        log = min(options) > 0
        nearest = min(options, key=lambda o: abs(math.log(o / number)) if log else abs(o - number))
        return nearest, f"{_shown(value)} is not offered, so the nearest, {nearest:g}, is used"
    return read


def _read_epochs(value: str) -> tuple[int, str | None]:
    return _clamped(value, _integer(value), 1, MAX_EPOCHS_SLIDER)


def _read_dropout(value: str) -> tuple[float, str | None]:
    number, note = _clamped(value, _number(value), 0.0, MAX_DROPOUT)
    stepped = round(round(number / DROPOUT_STEP) * DROPOUT_STEP, 2)
    if note is None and not math.isclose(stepped, number, abs_tol=1e-9):
        note = f"{_shown(value)} is rounded to a step of {DROPOUT_STEP}, so {stepped:g} is used"
    return stepped, note


def _read_seed(value: str) -> tuple[int, str | None]:
    return _clamped(value, _integer(value), 0, MAX_SEED)


def _read_switch(empty_means_on: bool) -> Callable[[str], tuple[bool, None]]:
    """Read 1/0, true/false, yes/no, on/off; with empty_means_on, no value (e.g. "?presenter" alone) means on."""
    def read(value: str) -> tuple[bool, None]:
        if value.lower() in TRUE_WORDS or (empty_means_on and not value):
            return True, None
        if value.lower() in FALSE_WORDS:
            return False, None
        raise Refused(f"“{_shown(value)}” is not 1 or 0" if value else "no value given (write 1 or 0)")
    return read


_READERS: dict[str, Callable[[str], tuple]] = {
    "units": _read_units,
    "activation": _read_choice(ACTIVATIONS),
    "optimizer": _read_choice(OPTIMIZERS),
    "lr": _read_option(LEARNING_RATES, integer=False),
    "schedule": _read_choice(SCHEDULES),
    "batch": _read_option(BATCH_SIZES, integer=True),
    "epochs": _read_epochs,
    "dropout": _read_dropout,
    "l2": _read_option(L2_PENALTIES, integer=False),
    "augment": _read_switch(empty_means_on=False),
    "seed": _read_seed,
    "presenter": _read_switch(empty_means_on=True),
}
_FIELDS = {"units": "hidden_units", "activation": "activation", "optimizer": "optimizer", "lr": "learning_rate",
           "schedule": "schedule", "batch": "batch_size", "epochs": "epochs", "dropout": "dropout", "l2": "l2", "augment": "augment",
           "seed": "seed"}
PARAMETERS = tuple(_READERS)  # every query parameter a shared link may carry
