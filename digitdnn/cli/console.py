"""What the `digitdnn` commands share: usage errors, progress on stderr, epoch lines, a clean stop on Ctrl-C."""
from __future__ import annotations

import argparse
import signal
import sys


class UsageError(Exception):
    """A command-line value argparse accepted but the program cannot use (exit status 2)."""


def say(message: str) -> None:
    """A progress line, on stderr so that stdout holds only results."""
    print(message, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def print_epoch(report) -> None:
    """One line per finished epoch: accuracy and loss on the training and test images, and the time it took."""
    print(f"epoch {report.epoch}/{report.epochs}  train acc {report.train_accuracy:.4f} loss "
          f"{report.train_loss:.4f}  test acc {report.test_accuracy:.4f} loss {report.test_loss:.4f}  "
          f"{report.seconds:.2f}s", flush=True)


class StopOnInterrupt:
    """While active, the first Ctrl-C asks training to stop cleanly; a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        say("stopping after the current batch and saving (Ctrl-C again to abort)")

    def __enter__(self) -> StopOnInterrupt:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        signal.signal(signal.SIGINT, self._previous)
