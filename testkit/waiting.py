"""Waiting for something to happen: poll a condition until it holds, or fail saying what never happened.

The one polling loop of the tests and benchmarks; helpers that do more between checks (rerun a page, collect
progress snapshots) pass it a condition that does that.
"""
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 120.0, interval: float = 0.05,
               message: str | Callable[[], str] = "the condition",
               pause: Callable[[float], object] = time.sleep) -> T:
    """Call `condition` until it returns something true, and return that; it is called at once and then every
    `interval` seconds. After `timeout` seconds, an AssertionError "timed out after N s waiting for <message>"
    (`message` may be a function, called then, to describe the state the wait ended in). `pause` passes the time
    between checks (testkit.browser.pause_in(page) lets a Playwright page's events in meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        pause(interval)
