"""The teacher key's back-off, shared by every session of one server process: guessing the key from new sessions
gets no more tries than guessing it from one.

After each wrong key, the next try is not even checked until a wait is over, twice as long after every further
wrong key (FIRST_WAIT_SECONDS, 4, 8, ...). Two waits are kept:

- server-wide: the next try from ANY session waits, capped at SERVER_MAX_WAIT_SECONDS (60 s). The cap is low
  because this wait holds the teacher up too: a student who types wrong keys can keep the teacher waiting at most
  a minute after each of them, while guessing stays at most one try a minute (about 1,440 a day).
- per client address, when the page knows it (st.context.ip_address: none for this machine's own browser; behind
  a reverse proxy, the proxy's address unless it passes the client's on in X-Forwarded-For from this machine): the
  next try from that address waits up to MAX_WAIT_SECONDS (10 minutes), so one student's guesses soon leave the
  teacher's address free to try. Everyone behind one address (a proxy, a school's NAT) shares its wait.

The right key (after the waits) resets the server-wide wait and that address's, and says how many wrong keys
were tried on the server since the previous unlock. Each wrong key is logged as a warning with the time and the
address (never the key typed). Waits are timed by `clock` (seconds, only differences count).
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

FIRST_WAIT_SECONDS = 2.0
SERVER_MAX_WAIT_SECONDS = 60.0
MAX_WAIT_SECONDS = 600.0
MAX_ADDRESSES = 10_000  # addresses whose wrong keys are remembered; the oldest are forgotten first

_LOG = logging.getLogger(__name__)


def wait_seconds(failures: int, cap: float = MAX_WAIT_SECONDS) -> float:
    """How long the next try waits after `failures` wrong keys in a row: 0, 2, 4, 8, ... up to `cap`."""
    return 0.0 if failures < 1 else min(FIRST_WAIT_SECONDS * 2.0 ** min(failures - 1, 64), cap)


class Outcome(enum.Enum):
    REFUSED = "refused"  # tried during a wait: not checked
    WRONG = "wrong"
    RIGHT = "right"


@dataclass(frozen=True)
class KeyCheck:
    """What one try of the key came to. `seconds`: REFUSED, the wait left; WRONG, the wait before this client's
    next try. `wrong_keys`: RIGHT, the wrong keys tried on the server since the previous unlock."""

    outcome: Outcome
    seconds: float = 0.0
    wrong_keys: int = 0


@dataclass
class _Backoff:
    failures: int = 0                    # wrong keys in a row
    not_before: float = float("-inf")    # clock() before which no try is checked


class KeyGuard:
    """The server's back-off for the teacher key (see the module's docstring); safe to share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 server_max_wait: float = SERVER_MAX_WAIT_SECONDS, address_max_wait: float = MAX_WAIT_SECONDS):
        self._clock = clock
        self._server_max_wait, self._address_max_wait = server_max_wait, address_max_wait
        self._lock = threading.Lock()
        self._server = _Backoff()
        self._addresses: dict[str, _Backoff] = {}
        self._wrong_since_unlock = 0

    def check(self, right: bool, address: str | None) -> KeyCheck:
        """One try of the key from `address` (None: unknown). `right`: whether the key typed is the server's; it
        is not looked at while a wait is on (the try is refused, and counts for nothing)."""
        with self._lock:
            now = self._clock()
            backoffs = [self._server] + ([self._addresses[address]] if address in self._addresses else [])
            left = max(b.not_before for b in backoffs) - now
            if left > 0:
                return KeyCheck(Outcome.REFUSED, seconds=left)
            if right:
                wrong_keys, self._wrong_since_unlock = self._wrong_since_unlock, 0
                self._server = _Backoff()
                if address is not None:
                    self._addresses.pop(address, None)
                return KeyCheck(Outcome.RIGHT, wrong_keys=wrong_keys)
            self._wrong_since_unlock += 1
            wait = self._fail(self._server, now, self._server_max_wait)
            if address is not None:
                wait = max(wait, self._fail(self._address(address), now, self._address_max_wait))
            _LOG.warning("wrong teacher key at %s from %s (%d since the last unlock); the next try waits %g s",
                         datetime.now().astimezone().isoformat(timespec="seconds"), address or "an unknown address",
                         self._wrong_since_unlock, wait)
            return KeyCheck(Outcome.WRONG, seconds=wait)

    def _address(self, address: str) -> _Backoff:
        if address not in self._addresses and len(self._addresses) >= MAX_ADDRESSES:
            del self._addresses[next(iter(self._addresses))]
        return self._addresses.setdefault(address, _Backoff())

    @staticmethod
    def _fail(backoff: _Backoff, now: float, cap: float) -> float:
        backoff.failures += 1
        wait = wait_seconds(backoff.failures, cap)
        backoff.not_before = now + wait
        return wait
