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

The rule is one pure function, `decide`: KeyGuard keeps its state in this process's memory, storage/pg/keys.py's
PgKeyGuard in the class database, so that every page replica counts the same wrong keys.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

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


@dataclass(frozen=True)
class Backoff:
    """One wait: wrong keys in a row, and the time before which no try is checked (Backoff() is no wait)."""

    failures: int = 0
    not_before: float = float("-inf")


class Decision(NamedTuple):
    """What one try comes to, and the state after it (see decide)."""

    check: KeyCheck
    server: Backoff
    address: Backoff | None
    wrong_since_unlock: int


def decide(server: Backoff, address: Backoff | None, wrong_since_unlock: int, right: bool, now: float,
           server_max_wait: float = SERVER_MAX_WAIT_SECONDS, address_max_wait: float = MAX_WAIT_SECONDS) -> Decision:
    """The rule of the module's docstring for one try at `now`, as a pure function: `server`, the server-wide wait;
    `address`, the try's address's (Backoff() when it has none yet; None when the address is unknown);
    `wrong_since_unlock`, the wrong keys since the last unlock. Returns the outcome and the new state (an address's
    Backoff() may be forgotten)."""
    left = max(server.not_before, float("-inf") if address is None else address.not_before) - now
    if left > 0:
        return Decision(KeyCheck(Outcome.REFUSED, seconds=left), server, address, wrong_since_unlock)
    if right:
        return Decision(KeyCheck(Outcome.RIGHT, wrong_keys=wrong_since_unlock), Backoff(),
                        None if address is None else Backoff(), 0)
    wait = wait_seconds(server.failures + 1, server_max_wait)
    server = Backoff(server.failures + 1, now + wait)
    if address is not None:
        address_wait = wait_seconds(address.failures + 1, address_max_wait)
        address, wait = Backoff(address.failures + 1, now + address_wait), max(wait, address_wait)
    return Decision(KeyCheck(Outcome.WRONG, seconds=wait), server, address, wrong_since_unlock + 1)


def log_wrong_key(address: str | None, wrong_since_unlock: int, wait: float) -> None:
    """The warning every wrong key leaves: when, from where, how many since the last unlock (never the key)."""
    _LOG.warning("wrong teacher key at %s from %s (%d since the last unlock); the next try waits %g s",
                 datetime.now().astimezone().isoformat(timespec="seconds"), address or "an unknown address",
                 wrong_since_unlock, wait)


class KeyGuard:
    """The server's back-off for the teacher key (see the module's docstring), in this process's memory; safe to
    share between threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 server_max_wait: float = SERVER_MAX_WAIT_SECONDS, address_max_wait: float = MAX_WAIT_SECONDS):
        self._clock = clock
        self._server_max_wait, self._address_max_wait = server_max_wait, address_max_wait
        self._lock = threading.Lock()
        self._server = Backoff()
        self._addresses: dict[str, Backoff] = {}
        self._wrong_since_unlock = 0

    def check(self, right: bool, address: str | None) -> KeyCheck:
        """One try of the key from `address` (None: unknown). `right`: whether the key typed is the server's; it
        is not looked at while a wait is on (the try is refused, and counts for nothing)."""
        with self._lock:
            known = None if address is None else self._addresses.get(address, Backoff())
            decision = decide(self._server, known, self._wrong_since_unlock, right, self._clock(),
                              self._server_max_wait, self._address_max_wait)
            self._server, self._wrong_since_unlock = decision.server, decision.wrong_since_unlock
            if address is not None and decision.address is not None:
                self._remember(address, decision.address)
            if decision.check.outcome is Outcome.WRONG:
                log_wrong_key(address, self._wrong_since_unlock, decision.check.seconds)
            return decision.check

    def _remember(self, address: str, backoff: Backoff) -> None:
        if backoff == Backoff():
            self._addresses.pop(address, None)
            return
        if address not in self._addresses and len(self._addresses) >= MAX_ADDRESSES:
            del self._addresses[next(iter(self._addresses))]
        self._addresses[address] = backoff
