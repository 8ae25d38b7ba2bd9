"""Where the page's training runs train: in this server (LocalEngine: a thread per run, training in a child process,
taking turns in the server's TrainingQueue) or on a pool of training workers (training/remote_run.RemoteEngine:
Redis and RQ). The page sees the same `TrainingRun` either way: its name and settings, progress() snapshots
(jobs.JobProgress), stop(), watch(), discard(), join(). Nothing here knows about Streamlit.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from digitdnn.training.jobs import TrainingJob

if TYPE_CHECKING:
    import numpy as np

    from digitdnn.config import TrainConfig
    from digitdnn.data.shared_dataset import DataLoader
    from digitdnn.model import Classifier
    from digitdnn.training.jobs import JobProgress
    from digitdnn.training.queue import TrainingQueue
    from digitdnn.training.run_data import RunData


class TrainingRefused(ValueError):
    """A run cannot start now (the queue is full, this session has a run already, the queue cannot be reached):
    a plain sentence for the page."""


class TrainingRun(Protocol):
    """One run as the page sees it (jobs.TrainingJob documents each part)."""

    @property
    def name(self) -> str: ...
    @property
    def config(self) -> TrainConfig: ...
    @property
    def stop_requested(self) -> bool: ...
    def progress(self) -> JobProgress: ...
    def stop(self) -> None: ...
    def watch(self, image: np.ndarray | None) -> None: ...
    def discard(self) -> None: ...
    def join(self, timeout: float | None = None) -> bool: ...


class TrainingEngine(Protocol):
    """Starts the page's runs; TrainingRefused (a plain sentence) when one cannot start now."""

    def start(self, cfg: TrainConfig, spec: RunData, loader: DataLoader, *, name: str, session: str,
              initial: Classifier | None, still_wanted: Callable[[], bool] | None,
              max_seconds: float) -> TrainingRun:
        """Start a run of `cfg` on the data `spec` describes (`loader` loads that data in this process), named `name`,
        for browser session `session`; `initial`: a warm start from those weights; `still_wanted`: False once its
        page has gone; `max_seconds`: its training time limit."""
        ...


def queue_full(waiting: int) -> TrainingRefused:
    """The refusal of a run when `waiting` runs wait already (the most a server lets wait)."""
    return TrainingRefused(f"The training queue is full ({waiting} runs waiting): try again in a minute.")


class LocalEngine:
    """Runs train in this server: a TrainingJob each, in a child process, taking turns in `queue`; a run is refused
    when `max_waiting` runs wait for a slot already."""

    def __init__(self, queue: TrainingQueue, max_waiting: int) -> None:
        self.queue = queue
        self.max_waiting = max_waiting

    def start(self, cfg: TrainConfig, spec: RunData, loader: DataLoader, *, name: str, session: str,
              initial: Classifier | None, still_wanted: Callable[[], bool] | None,
              max_seconds: float) -> TrainingJob:
        """A started TrainingJob over `loader` (`spec` and `session` are for engines that train elsewhere)."""
        waiting = self.queue.waiting
        if waiting >= self.max_waiting:
            raise queue_full(waiting)
        return TrainingJob(cfg, loader, name=name, queue=self.queue, still_wanted=still_wanted,
                           max_seconds=max_seconds, separate_process=True, initial=initial).start()
