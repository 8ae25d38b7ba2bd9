"""A server's budget of memory for the weights of models read from people's files (uploads, saved models opened).

A model's weights are reserved before it is read and given back when the model object itself is gone (garbage
collected), whichever session held it and however it was dropped, so that any number of sessions together hold at
most the budget, whatever each of them keeps. Thread-safe; no Streamlit here.
"""
from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

from digitdnn.storage.keras_check import ModelLoadError

FULL = ("The server is holding as many uploaded and opened models as it can; try again later or use a smaller "
        "model.")
T = TypeVar("T")


class BudgetFull(ModelLoadError):
    """A model's weights do not fit in what is left of the budget (the message is FULL)."""


class WeightBudget:
    """At most `capacity` bytes of weights held at once, by whichever holders."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._lock = threading.Lock()

    def held(self) -> int:
        """The bytes reserved now."""
        with self._lock:
            return self._held

    @contextlib.contextmanager
    def reserved(self, n_bytes: int) -> Iterator[Callable[[T], T]]:
        """Reserve `n_bytes` for the block (BudgetFull, nothing reserved, when they do not fit). The block gets
        `hold(obj)`, which keeps them reserved until `obj` is garbage and returns it; if the block ends without
        calling it (it raised: nothing was loaded), they are given back then."""
        with self._lock:
            if self._held + n_bytes > self.capacity:
                raise BudgetFull(FULL)
            self._held += n_bytes
        held: list[weakref.finalize] = []

        def hold(obj: T) -> T:
            assert not held, "one reservation, one holder"
            held.append(weakref.finalize(obj, self._give_back, n_bytes))
            return obj

        try:
            yield hold
        finally:
            if not held:
                self._give_back(n_bytes)

    def _give_back(self, n_bytes: int) -> None:
        with self._lock:
            self._held -= n_bytes

