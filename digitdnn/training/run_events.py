"""What a training worker tells the page about a run: one JSON text per event, written here and read back checked.

The writers (loading, training, epoch, progress, done, failed) give the JSON; `read_event` turns one back into an
Event, or raises ValueError with a plain sentence: a value in Redis may be forged, so every field is checked (its
type, range, length; floats finite) and the run's config is always the reader's own, never the wire's.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from digitdnn.config import TrainConfig
from digitdnn.training.calibration import TEMPERATURES
from digitdnn.training.history import (
    MAX_MESSAGE_CHARS,
    EpochReport,
    History,
    checked_float,
    checked_int,
    checked_keys,
    checked_text,
    parsed_json,
)

MAX_EVENT_BYTES = 128 * 1024   # a done event of MAX_EPOCHS reports is about 50 KB
MAX_TRAIN_IMAGES = 10**8       # more training images than any run here loads
FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16}")  # MnistData.fingerprint()
LOWEST_TEMPERATURE, HIGHEST_TEMPERATURE = float(TEMPERATURES[0]), float(TEMPERATURES[-1])


@dataclass(frozen=True)
class Loading:
    """The worker loads the run's data (or waits for it): news to show."""

    message: str


@dataclass(frozen=True)
class Training:
    """The data is loaded and training starts: how many images, and which data (MnistData.fingerprint())."""

    train_images: int
    fingerprint: str


@dataclass(frozen=True)
class Epoch:
    """An epoch ended (its weights are stored beside the event)."""

    report: EpochReport


@dataclass(frozen=True)
class Progress:
    """How far the current epoch has got, a share in [0, 1]."""

    epoch: int
    fraction: float


@dataclass(frozen=True)
class Done:
    """The run returned: its history and the temperature folded into its weights (None: uncalibrated)."""

    history: History
    temperature: float | None


@dataclass(frozen=True)
class Failed:
    """The run failed, for the reason given (a plain sentence)."""

    message: str


Event = Loading | Training | Epoch | Progress | Done | Failed


def loading(message: str) -> str:
    return _event("loading", message=_shortened(message))


def training(train_images: int, fingerprint: str) -> str:
    return _event("training", train_images=train_images, fingerprint=fingerprint)


def epoch(report: EpochReport) -> str:
    return _event("epoch", report=report.to_dict())


def progress(epoch: int, fraction: float) -> str:
    return _event("progress", epoch=epoch, fraction=fraction)


def done(history: History, temperature: float | None) -> str:
    return _event("done", history=history.wire_dict(), temperature=temperature)


def failed(message: str) -> str:
    return _event("failed", message=_shortened(message))


def read_event(text: str | bytes, cfg: TrainConfig) -> Event:
    """The event `text` holds, for a run of `cfg`; ValueError with a plain sentence if anything about it is wrong."""
    d = parsed_json(text, MAX_EVENT_BYTES, "a training event")
    kind = d.get("kind") if isinstance(d, dict) else None
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise ValueError(f"a training event must be one of the kinds {', '.join(_FIELDS)}")
    checked_keys(d, ["kind", *_FIELDS[kind]], f"a {kind} event")
    if kind == "loading":
        return Loading(checked_text(d["message"], "message", MAX_MESSAGE_CHARS))
    if kind == "failed":
        return Failed(checked_text(d["message"], "message", MAX_MESSAGE_CHARS))
    if kind == "training":
        fingerprint = d["fingerprint"]
        if not isinstance(fingerprint, str) or not FINGERPRINT.fullmatch(fingerprint):
            raise ValueError("fingerprint must be a data fingerprint such as sha256:0123456789abcdef")
        return Training(checked_int(d["train_images"], "train_images", 1, MAX_TRAIN_IMAGES), fingerprint)
    if kind == "epoch":
        report = EpochReport.from_dict(d["report"])
        if report.epochs != cfg.epochs:
            raise ValueError(f"an epoch report must plan the run's {cfg.epochs} epochs")
        return Epoch(report)
    if kind == "progress":
        return Progress(checked_int(d["epoch"], "epoch", 1, cfg.epochs),
                        checked_float(d["fraction"], "fraction", 0.0, 1.0))
    temperature = d["temperature"]
    return Done(History.from_dict(d["history"], cfg), None if temperature is None else
                checked_float(temperature, "temperature", LOWEST_TEMPERATURE, HIGHEST_TEMPERATURE))


_FIELDS: dict[str, list[str]] = {
    "loading": ["message"], "training": ["train_images", "fingerprint"], "epoch": ["report"],
    "progress": ["epoch", "fraction"], "done": ["history", "temperature"], "failed": ["message"],
}


def _event(kind: str, **fields: Any) -> str:
    return json.dumps({"kind": kind, **fields}, allow_nan=False)


def _shortened(message: str) -> str:
    """`message` cut to MAX_MESSAGE_CHARS (ending with an ellipsis when cut), so that its reader accepts it."""
    return message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS - 1] + "…"
