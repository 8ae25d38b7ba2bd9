"""A first-come, first-served queue for training runs: at most `slots` train at once, the rest wait their turn.

Shared by every session of a server (the page keeps one per process, sized by settings.training_slots());
nothing here knows about Streamlit or TensorFlow. A run joins with `join()`, waits with `wait()` until it holds a slot,
asks `place()` where it stands meanwhile, and calls `leave()` when it is done or gives up.
"""
from __future__ import annotations

import itertools
import threading
from collections import deque


class TrainingQueue:
    """At most `slots` tickets hold a slot at once; the others wait in the order they joined."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"a training queue needs at least one slot, got {slots}")
        self.slots = slots
        self._numbers = itertools.count(1)
        self._running: set[int] = set()
        self._waiting: deque[int] = deque()
        self._changed = threading.Condition()

    def join(self) -> int:
        """Queue up; returns the ticket (it holds a slot at once if one is free and nobody waits)."""
        with self._changed:
            ticket = next(self._numbers)
            self._waiting.append(ticket)
            self._admit()
            return ticket

    def wait(self, ticket: int, timeout: float | None = None) -> bool:
        """Block until `ticket` holds a slot or `timeout` seconds pass; True when it holds one."""
        with self._changed:
            return self._changed.wait_for(lambda: ticket in self._running, timeout)

    def place(self, ticket: int) -> int:
        """0 while `ticket` holds a slot (or has left), else its 1-based place among those waiting."""
        with self._changed:
            try:
                return self._waiting.index(ticket) + 1
            except ValueError:
                return 0

    def leave(self, ticket: int) -> None:
        """Give the slot back, or step out of the line; the next in line moves up. Harmless if already gone."""
        with self._changed:
            self._running.discard(ticket)
            try:
                self._waiting.remove(ticket)
            except ValueError:
                pass
            self._admit()

    @property
    def running(self) -> int:
        with self._changed:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    def _admit(self) -> None:
        while self._waiting and len(self._running) < self.slots:
            self._running.add(self._waiting.popleft())
        self._changed.notify_all()
