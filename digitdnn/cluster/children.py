"""A program the cluster keeps running: started in its own process group with its output in a log file, stopped
with its whole group, restarted after a back-off when it dies (1 s, then twice as long after each quick death,
up to a minute; a run that lasted a minute starts the back-off again).
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
STABLE_SECONDS = 60.0  # a child that ran this long before dying is restarted after FIRST_DELAY_SECONDS again
STOP_SECONDS = 15.0    # how long a child may take to end after SIGTERM before it is killed
_PR_SET_PDEATHSIG = 1


class ClusterUnavailable(RuntimeError):
    """A part of the cluster cannot start: a plain sentence that says what to do."""


def find_program(name: str, install_hint: str) -> str:
    """The path of program `name` on PATH, or ClusterUnavailable naming what to install."""
    found = shutil.which(name)
    if found is None:
        raise ClusterUnavailable(f"{name} was not found: {install_hint}.")
    return found


def answers_health(url: str, timeout: float = 2.0) -> bool:
    """True when GET `url`/_stcore/health answers 200 (Streamlit's health check, also through the proxy)."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def _end_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the supervisor dies, so nothing is left behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """One supervised program: `command` with `env`, its output appended to `log_path`."""

    def __init__(self, name: str, command: list[str], log_path: Path, env: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.command, self.log_path, self.env, self.clock = name, command, log_path, env, clock
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.quick_deaths = 0  # deaths in a row, each after less than STABLE_SECONDS of running
        self.restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_end_with_parent)
        self.started_at = self.clock()
        self.restart_at = None

    def exit_status(self) -> int | None:
        """None while it runs (or was never started), else its exit status (-N: killed by signal N)."""
        return self.process.poll() if self.process else None

    def revive(self) -> str | None:
        """Called by the watch loop: when the child has died, schedule its restart after the back-off, and start it
        when that is over. Returns a line for the log when something happened, else None."""
        status = self.exit_status()
        if status is None:
            return None
        now = self.clock()
        if self.restart_at is None:
            self.quick_deaths = 0 if now - self.started_at >= STABLE_SECONDS else self.quick_deaths + 1
            delay = min(FIRST_DELAY_SECONDS * 2 ** max(self.quick_deaths - 1, 0), MAX_DELAY_SECONDS)
            self.restart_at = now + delay
            return f"{self.name} exited ({_status_words(status)}): restarting it in {delay:g} s"
        if now < self.restart_at:
            return None
        self.start()
        return f"{self.name} restarted (pid {self.pid})"

    def terminate(self) -> None:
        """SIGTERM to its process group (its own children too), without waiting."""
        if self.process is not None:
            self._signal_group(signal.SIGTERM)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """`terminate`, and SIGKILL to the group after `timeout` seconds."""
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        self._signal_group(signal.SIGKILL)  # whatever of its group outlived it

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


def _status_words(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"
