"""How often something may happen: at most N events in any sliding window of W seconds, per key, for several
limits at once (a browser tab, a client address, the whole server), safe to share between threads.

    limiter = RateLimiter({"tab": 20, "server": 600}, window_seconds=60)
    refused = limiter.take({"tab": session_id, "server": ""})   # None: allowed and counted; else "tab" or "server"

An event is counted under every limit or under none: one refused by the server-wide limit does not use up its
tab's allowance. The clock is injectable (tests pass a fake one); keys whose window is empty are forgotten, so
memory stays bounded by the events of one window.
"""
from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Hashable, Mapping


class RateLimiter:
    """At most `limits[name]` events per key within any `window_seconds`, for each named limit."""

    def __init__(self, limits: Mapping[str, int], window_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        for name, most in limits.items():
            if most < 1:
                raise ValueError(f"the limit {name!r} must allow at least one event, got {most}")
        self.limits = dict(limits)
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._events: dict[tuple[str, Hashable], collections.deque[float]] = {}

    def take(self, keys: Mapping[str, Hashable]) -> str | None:
        """Count one event under each limit named in `keys` (for that key) if none of them is full, and return
        None; else count nothing and return the name of the first full limit (in the order of `keys`)."""
        unknown = set(keys) - set(self.limits)
        if unknown:
            raise KeyError(f"no such limit: {', '.join(sorted(unknown))}")
        with self._lock:
            now = self._clock()
            if any((name, key) not in self._events for name, key in keys.items()):
                self._forget_idle(now)   # a new key: so a flood of new keys cannot grow the table without end
            windows = {name: self._window((name, key), now) for name, key in keys.items()}
            for name, window in windows.items():
                if len(window) >= self.limits[name]:
                    return name
            for window in windows.values():
                window.append(now)
            return None

    def _window(self, slot: tuple[str, Hashable], now: float) -> collections.deque[float]:
        """The times of the events of `slot` within the window ending `now` (older ones dropped); under the lock."""
        window = self._events.setdefault(slot, collections.deque())
        while window and window[0] <= now - self.window_seconds:
            window.popleft()
        return window

    def _forget_idle(self, now: float) -> None:
        """Drop every key with no event in the window ending `now`; under the lock."""
        idle = [slot for slot, window in self._events.items() if not window or window[-1] <= now - self.window_seconds]
        for slot in idle:
            del self._events[slot]
