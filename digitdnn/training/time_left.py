"""How far a training run has got and how long it has left, at the pace it has kept so far."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TimeLeft:
    """Estimates a run's seconds left from its pace since the first report it was given.

    The pace is measured from the first report on, not from the start, so that the one-off work
    before it (compiling the first training step) does not inflate the estimate.
    """

    epochs: int
    clock: Callable[[], float] = time.perf_counter
    _origin: tuple[float, float] | None = field(default=None, init=False, repr=False)  # (time, fraction) first seen

    def update(self, epochs_done: int, fraction_of_epoch: float) -> tuple[float, float | None]:
        """(fraction of the whole run done, in [0, 1]; seconds left, None until the run has moved since its
        first report) after `epochs_done` whole epochs and `fraction_of_epoch` of the next."""
        fraction = min(1.0, (epochs_done + fraction_of_epoch) / max(self.epochs, 1))
        now = self.clock()
        if self._origin is None:
            self._origin = (now, fraction)
        origin_time, origin_fraction = self._origin
        if fraction <= origin_fraction:
            return fraction, None
        return fraction, (now - origin_time) / (fraction - origin_fraction) * (1.0 - fraction)
