"""A clock for code that takes one (`clock=`, as time.monotonic): it moves only when a test moves it, so tests of
waits and time limits run at once and never sleep."""


class ManualClock:
    """Reads `now` (seconds); a test sets or advances it."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now
