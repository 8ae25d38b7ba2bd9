"""A training setup in the page address: TrainConfig and presenter mode <-> query parameters.

Only what differs from the page's default settings (presets.PAGE_DEFAULT) goes into the address, e.g.
``?units=512,256&optimizer=adam&lr=0.001&epochs=5&presenter=1``. Values read from an
address are checked like any input: a value that cannot be read is refused (the default
stays), one outside what the sidebar offers is clamped or moved to the nearest option;
each case gives a message that names the parameter. Names, options and bounds come from
digitdnn.parameters, the table the sidebar draws its widgets from.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from digitdnn.config import MAX_LAYERS, TrainConfig
from digitdnn.parameters import BY_ADDRESS, PARAMETERS, Parameter
from digitdnn.presets import PAGE_DEFAULT

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
    return {p.address: _written(getattr(cfg, p.field)) for p in PARAMETERS}


def _written(value: object) -> str:
    """A setting as an address writes it: units as "300,100", a switch as 1 or 0, numbers without trailing zeros."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return f"{value:g}" if isinstance(value, float) else str(value)


class Refused(ValueError):
    """A query value that cannot be used at all: the setting keeps its default."""


def from_query(params: Mapping[str, str | list[str]]) -> tuple[Setup, list[str]]:
    """The setup an address describes, and one message per value refused, clamped or ignored.

    Args:
        params: query parameters, each a value or the list of its values (st.query_params.get_all); a parameter
            given more than once is refused, since which value was meant is unclear.
    """
    changes: dict[str, object] = {}
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
    config = PAGE_DEFAULT.replace(**{BY_ADDRESS[name].field: value for name, value in changes.items()})
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


def _clamped(value: str, number: float, low: float, high: float) -> tuple[float, str | None]:
    if number < low:
        return low, f"{_shown(value)} is below the minimum {low}, so {low} is used"
    if number > high:
        return high, f"{_shown(value)} is above the maximum {high}, so {high} is used"
    return number, None


def _read_units(value: str, low: int, high: int) -> tuple[tuple[int, ...], str | None]:
    parts = [p for p in value.split(",") if p.strip()]
    if not parts:
        raise Refused("no unit counts given (write e.g. units=300,100)")
    counts = [_integer(p.strip()) for p in parts]
    notes = []
    if len(counts) > MAX_LAYERS:
        notes.append(f"{len(counts)} layers are more than the maximum {MAX_LAYERS}, so the first {MAX_LAYERS} are used")
        counts = counts[:MAX_LAYERS]
    clamped = tuple(min(max(c, low), high) for c in counts)
    if clamped != tuple(counts):
        notes.append(f"unit counts must be {low} to {high}, so {','.join(map(str, clamped))} is used")
    return clamped, "; ".join(notes) or None


def _read_choice(choices: tuple[str, ...]) -> Callable[[str], tuple[str, None]]:
    def read(value: str) -> tuple[str, None]:
        if value.lower() not in choices:
            raise Refused(f"“{_shown(value)}” is not one of {', '.join(choices)}")
        return value.lower(), None
    return read


def _read_option(options: tuple, integer: bool) -> Callable[[str], tuple]:
    """Read a number and move it to the nearest of `options` (nearest on a log scale when all are positive)."""
    def read(value: str) -> tuple:
        number: float = _integer(value) if integer else _number(value)
        if number < 0 or (number == 0 and min(options) > 0):
            raise Refused(f"{_shown(value)} must be positive")
        if number in options:
            return number, None
        log = min(options) > 0
        nearest = min(options, key=lambda o: abs(math.log(o / number)) if log else abs(o - number))
        return nearest, f"{_shown(value)} is not offered, so the nearest, {nearest:g}, is used"
    return read


def _read_range(low: float, high: float, step: float | None) -> Callable[[str], tuple]:
    """Read a number (a whole one when the bounds are whole), clamp it to [low, high] and round it to `step`."""
    integer = isinstance(low, int) and isinstance(high, int)

    def read(value: str) -> tuple:
        number, note = _clamped(value, _integer(value) if integer else _number(value), low, high)
        if step is None:
            return number, note
        stepped = round(round(number / step) * step, 2)
        if note is None and not math.isclose(stepped, number, abs_tol=1e-9):
            note = f"{_shown(value)} is rounded to a step of {step}, so {stepped:g} is used"
        return stepped, note
    return read


def _read_switch(empty_means_on: bool) -> Callable[[str], tuple[bool, None]]:
    """Read 1/0, true/false, yes/no, on/off; with empty_means_on, no value (e.g. "?presenter" alone) means on."""
    def read(value: str) -> tuple[bool, None]:
        if value.lower() in TRUE_WORDS or (empty_means_on and not value):
            return True, None
        if value.lower() in FALSE_WORDS:
            return False, None
        raise Refused(f"“{_shown(value)}” is not 1 or 0" if value else "no value given (write 1 or 0)")
    return read


def _reader(p: Parameter) -> Callable[[str], tuple]:
    """How the address's value of `p` is read, from what the sidebar offers for it."""
    if p.kind == "units":
        return lambda value: _read_units(value, int(p.low), int(p.high))
    if p.kind == "choice":
        return _read_choice(p.options)
    if p.kind == "scale":
        return _read_option(p.options, integer=all(isinstance(o, int) for o in p.options))
    if p.kind == "range":
        return _read_range(p.low, p.high, p.step)
    return _read_switch(empty_means_on=False)


_READERS: dict[str, Callable[[str], tuple]] = {p.address: _reader(p) for p in PARAMETERS}
_READERS["presenter"] = _read_switch(empty_means_on=True)
ADDRESS_NAMES = tuple(_READERS)  # every query parameter a shared link may carry
