"""MNIST (or any training data) loaded once, by whichever thread asks first, then shared read-only."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digitdnn.data.mnist import MnistData

Report = Callable[[str], None]  # receives plain-text progress messages while the data loads
# A loader receives a `report(message)` function and returns the data.
DataLoader = Callable[[Report], "MnistData"]


class SharedDataset:
    """A `DataLoader` that loads once (with `load`, default load_mnist) and keeps the result, cut to `limit`.

    `limit` is (n_train, n_test or None), as settings.data_limit() gives; a failed load is tried again next call.
    """

    def __init__(self, limit: tuple[int, int | None] | None = None,
                 load: Callable[..., MnistData] | None = None) -> None:
        self.limit = limit
        self._load = load
        self._data: MnistData | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once the data is in memory (a call then returns at once)."""
        return self._data is not None

    def __call__(self, report: Report = lambda message: None) -> MnistData:
        with self._lock:  # a second caller waits for the first load instead of fetching twice
            if self._data is None:
                if self._load is not None:
                    data = self._load(progress=report)
                else:
                    from digitdnn.data.mnist import load_mnist

                    data = load_mnist(progress=report)
                self._data = data.head(*self.limit) if self.limit else data
            return self._data
