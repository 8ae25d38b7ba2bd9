"""Closed browser sessions give their memory back: what a session holds is released once its page has gone.

A Streamlit server keeps a closed tab's session for minutes (in case it reconnects), and with it
every model the session holds, easily hundreds of MB. `ClosedSessionSweeper` watches sessions,
each with a check that says whether its page is still open, and calls a session's release
function once that check has said no for `after` seconds in a row, from a daemon thread that looks
every `every` seconds. No Streamlit here: the page supplies the checks and the release functions.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

RELEASE_AFTER_SECONDS = 10.0  # a page closed this long (not a brief reconnect) gives back what it held
SWEEP_SECONDS = 2.0
_LOG = logging.getLogger(__name__)


@dataclass
class _Watched:
    still_open: Callable[[], bool]
    release: Callable[[], None]
    closed_since: float | None = None


class ClosedSessionSweeper:
    """Calls each watched session's release() once, after its page has been closed for `after` seconds."""

    def __init__(self, after: float = RELEASE_AFTER_SECONDS, every: float = SWEEP_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.after, self.every, self._clock = after, every, clock
        self._watched: dict[Hashable, _Watched] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, key: Hashable, still_open: Callable[[], bool], release: Callable[[], None]) -> None:
        """Watch a session (again: the new check and release replace the old); starts the sweeping thread."""
        with self._lock:
            self._watched[key] = _Watched(still_open, release)
            if self._thread is None:
                self._thread = threading.Thread(target=self._sweep_forever, name="digitdnn-session-sweeper",
                                                daemon=True)
                self._thread.start()

    def watching(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._watched

    def sweep(self) -> list[Hashable]:
        """One look at every watched session: release (and stop watching) those closed long enough; their keys."""
        now = self._clock()
        with self._lock:
            watched = list(self._watched.items())
        released = []
        for key, session in watched:
            if _open(session.still_open):
                session.closed_since = None
                continue
            if session.closed_since is None:
                session.closed_since = now
            if now - session.closed_since >= self.after:
                with self._lock:
                    if self._watched.get(key) is session:
                        del self._watched[key]
                session.release()
                released.append(key)
        return released

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(self.every)
            try:
                self.sweep()
            except Exception:  # one failed release must not end the sweeping for every other session
                _LOG.exception("releasing a closed session failed")


def _open(still_open: Callable[[], bool]) -> bool:
    try:
        return bool(still_open())
    except Exception:  # a broken check must not release a session that may be in use
        return True
