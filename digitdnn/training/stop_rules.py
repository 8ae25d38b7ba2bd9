"""When a background training run must end: asked to stop, past its time limit, or its page has gone.

`StopRules` is a small state machine with no threads and an injectable clock, so that each rule can be
tested by moving a fake clock. The job asks it at every poll; the first reason given is kept.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

StopReason = Literal["requested", "time limit", "abandoned"]

ABANDON_AFTER_SECONDS = 3.0  # still wanted = False this long (not a brief reconnect) abandons the run
ABANDONED_MESSAGE = "stopped: its page was closed"


@dataclass
class StopRules:
    """Decides whether a run must stop now, and why.

    The rules, in order: stop was requested; the run has trained `max_seconds` (counted from
    `training_started()`, so time spent waiting for a slot is free); its page has said it no longer
    wants the result for `abandon_after` seconds in a row (a shorter absence is a reconnect).
    """

    max_seconds: float | None = None
    abandon_after: float = ABANDON_AFTER_SECONDS
    clock: Callable[[], float] = time.monotonic
    reason: StopReason | None = field(default=None, init=False)  # the first reason given, kept
    _training_since: float | None = field(default=None, init=False, repr=False)
    _unwanted_since: float | None = field(default=None, init=False, repr=False)

    def training_started(self) -> None:
        """Start counting toward the time limit."""
        self._training_since = self.clock()

    def reason_to_stop(self, requested: bool, wanted: Callable[[], bool] | None = None) -> StopReason | None:
        """Why the run must stop now (kept once given), or None to go on.

        Args:
            requested: stop() has been called.
            wanted: asked (only when the other rules do not already stop the run) whether anyone still waits
                for the result; None when nobody can tell.
        """
        if self.reason is None:
            self.reason = self._first_rule_that_applies(requested, wanted)
        return self.reason

    def _first_rule_that_applies(self, requested: bool, wanted: Callable[[], bool] | None) -> StopReason | None:
        if requested:
            return "requested"
        now = self.clock()
        if self.max_seconds is not None and self._training_since is not None \
                and now - self._training_since >= self.max_seconds:
            return "time limit"
        if wanted is None or wanted():
            self._unwanted_since = None
            return None
        if self._unwanted_since is None:
            self._unwanted_since = now
        return "abandoned" if now - self._unwanted_since >= self.abandon_after else None

    def message(self) -> str | None:
        """What the page shows for why the run stopped, when the rules (not the training) stopped it."""
        if self.reason == "abandoned":
            return ABANDONED_MESSAGE
        if self.reason == "time limit":
            return f"stopped: the server's time limit for a run ({self.max_seconds:g} s) was reached"
        return None
