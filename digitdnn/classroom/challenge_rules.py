"""The rules of a class challenge: the teacher's limits, what a run brings to the leaderboard, and why an entry
is refused.

Both class-store backends (storage/classroom_sqlite.py, storage/pg/classroom.py) apply `refusal` inside the
transaction that inserts an entry, so two entries racing each other, or an entry racing the teacher's "close",
see the same rules. Nicknames are text people typed: checked here on the way in (`checked_nickname`), stored as
typed, and shown only through ui.text.plain().
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

from digitdnn.config import TrainConfig
from digitdnn.model import N_CLASSES, N_PIXELS
from digitdnn.storage.models import kept_test_accuracy
from digitdnn.training.history import checked_text

MAX_ENTRIES_PER_TAB = 5     # runs one browser tab may enter into one challenge
LEADERBOARD_ROWS = 10       # the rows the leaderboard shows
KEPT_CHALLENGES = 5         # the stores keep the newest few challenges (and their entries), deleting older ones
MAX_WEIGHTS = 1_000_000_000
MAX_SECONDS = 3600.0
MAX_MINUTES = 240.0
MAX_NICKNAME_CHARS = 24
MAX_TAB_CHARS = 64
MAX_RUN_CHARS = 120
MAX_SETTINGS_CHARS = 200
CLOSED = "The challenge is closed."
TIME_UP = "The challenge's time is up."
NEWER = "The teacher opened a new challenge meanwhile: look at its limits and enter again."


@dataclass(frozen=True)
class ChallengeLimits:
    """What the teacher allows: at most `max_weights` weights (biases included), at most `max_seconds` seconds of
    training, entries for `minutes` minutes. ValueError (a plain sentence) for limits out of range."""

    max_weights: int
    max_seconds: float
    minutes: float

    def __post_init__(self) -> None:
        if isinstance(self.max_weights, bool) or not isinstance(self.max_weights, int) \
                or not 1 <= self.max_weights <= MAX_WEIGHTS:
            raise ValueError(f"A challenge allows a whole number of 1 to {MAX_WEIGHTS:,} weights.")
        if not _number_in(self.max_seconds, 1.0, MAX_SECONDS):
            raise ValueError(f"A challenge allows 1 to {MAX_SECONDS:,.0f} seconds of training.")
        if not _number_in(self.minutes, 1.0, MAX_MINUTES):
            raise ValueError(f"A challenge lasts 1 to {MAX_MINUTES:.0f} minutes.")


class RunFigures(NamedTuple):
    """What a run brings to the leaderboard: its weights, its training seconds, its kept weights' test accuracy,
    and its settings in words (hyperparameters.describe)."""

    weights: int
    seconds: float
    test_accuracy: float
    settings: str


class EntryRecord(NamedTuple):
    """One entry as the page sends it to the store: the browser tab (Session.drawer_id, never shown), the run's
    name as listed, the nickname (checked_nickname's; "" is anonymous) and the run's figures."""

    tab: str
    run: str
    nickname: str
    figures: RunFigures


class Challenge(NamedTuple):
    """A challenge as the store sees it now (by the store's clock): open until the teacher closes it or its time
    is up. Re-exported by storage/class_store.py with the other value types of the class store."""

    id: int
    max_weights: int
    max_seconds: float
    is_open: bool
    seconds_left: float  # 0 once its time is up


def weight_count(hidden_units: Sequence[int]) -> int:
    """The weights and biases of the network with these hidden layers, 784 inputs and 10 outputs:
    (300, 100) has 266,610."""
    sizes = [N_PIXELS, *hidden_units, N_CLASSES]
    return sum((n_in + 1) * n_out for n_in, n_out in pairwise(sizes))


def run_figures(source: str, metadata: dict, settings: str) -> RunFigures:
    """The figures of a session's model (its source and model card, ui/state.SessionModel's) if it may be entered;
    ValueError with the plain reason otherwise. `settings` is the run's description, as the page words it."""
    if source != "trained":
        raise ValueError("Only runs trained in this tab can be entered; uploaded or opened models cannot.")
    if metadata.get("fine_tuned"):
        raise ValueError("A retrain on the class drawings cannot be entered: enter a run trained from scratch.")
    try:
        config = TrainConfig.from_dict(metadata["config"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("This run's settings were not recorded, so it cannot be entered.") from None
    history = metadata.get("history")
    history = history if isinstance(history, dict) else {}
    epochs = [epoch for epoch in history.get("epochs") or [] if isinstance(epoch, dict)]
    seconds: list = [epoch.get("seconds") for epoch in epochs]
    accuracy = kept_test_accuracy(metadata)
    if not epochs or accuracy is None:
        raise ValueError("This run finished no epoch, so it cannot be entered.")
    if history.get("status") == "diverged":
        raise ValueError("This run diverged, so it cannot be entered.")
    if not all(_number_in(s, 0.0, math.inf) for s in seconds) or not _number_in(accuracy, 0.0, 1.0):
        raise ValueError("This run's figures are not readable, so it cannot be entered.")
    return RunFigures(weight_count(config.hidden_units), float(sum(seconds)), float(accuracy), settings)


def checked_nickname(text: object) -> str:
    """A nickname as typed, with runs of spaces and line breaks made one space and the ends stripped ("" is
    anonymous); ValueError (a plain sentence) for control or format characters, or more than 24 characters."""
    if not isinstance(text, str):
        raise ValueError("A nickname must be a text.")
    nickname = " ".join(text.split())
    if any(unicodedata.category(char).startswith("C") for char in nickname):
        raise ValueError("A nickname cannot contain control characters.")
    return checked_text(nickname, "A nickname", MAX_NICKNAME_CHARS)


def checked_record(record: EntryRecord) -> EntryRecord:
    """`record` as a store may insert it: its nickname checked, its texts and figures within the columns' limits;
    ValueError otherwise (the stores' SQL CHECKs say the same again)."""
    tab = checked_text(record.tab, "A tab", MAX_TAB_CHARS)
    run = checked_text(record.run, "A run's name", MAX_RUN_CHARS)
    figures = record.figures
    if isinstance(figures.weights, bool) or not isinstance(figures.weights, int) or figures.weights < 1 \
            or not _number_in(figures.seconds, 0.0, math.inf) or not _number_in(figures.test_accuracy, 0.0, 1.0):
        raise ValueError("A run's figures must be its weights, training seconds and test accuracy.")
    settings = checked_text(figures.settings, "A run's settings", MAX_SETTINGS_CHARS)
    return EntryRecord(tab, run, checked_nickname(record.nickname),
                       RunFigures(figures.weights, float(figures.seconds), float(figures.test_accuracy), settings))


def refusal(challenge: Challenge, record: EntryRecord, tab_entries: int, already: bool) -> str | None:
    """Why `record` may not enter `challenge` (a plain sentence naming the run), or None: it may. `tab_entries`
    is how many runs its tab has entered already, `already` whether this run is one of them."""
    figures = record.figures
    if not challenge.is_open:
        return TIME_UP if challenge.seconds_left <= 0 else CLOSED
    if figures.weights > challenge.max_weights:
        return (f"{record.run} has {figures.weights:,} weights; this challenge allows at most "
                f"{challenge.max_weights:,}.")
    if figures.seconds > challenge.max_seconds:
        return (f"{record.run} trained for {figures.seconds:.1f} s; this challenge allows at most "
                f"{challenge.max_seconds:g} s.")
    if already:
        return f"{record.run} is on the leaderboard already."
    if tab_entries >= MAX_ENTRIES_PER_TAB:
        return f"This browser tab has entered {MAX_ENTRIES_PER_TAB} runs, the most one tab may."
    return None


def _number_in(value: object, low: float, high: float) -> bool:
    """Whether `value` is a finite int or float (never a bool) in [low, high]."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and low <= value <= high
