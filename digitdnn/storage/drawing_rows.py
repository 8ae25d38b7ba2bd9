"""One drawing as the drawings table stores it: checked column values in, a ``Drawing`` out.

Every value a student's page or an imported file gives is checked here (ValueError naming the field), so the
table holds only 28x28 images as 784 bytes, labels 0-9, ten float32 probabilities, short texts and PNG files.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np

from digitdnn.model import IMAGE_SHAPE, N_CLASSES, RANGE_SLACK

MAX_PNG_BYTES = 4 * 2**20        # a canvas PNG (a 280x280 canvas is about 10 KB)
MAX_TEXT_CHARS = 200             # model name, session id
MAX_TIME_CHARS = 40              # a stored time: "2026-12-02T18:25:53.123+00:00" is 29
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
INSERT_COLUMNS = "created, label, pixels, predicted, probabilities, model, session, image_png, default_predicted"
READ_COLUMNS = "id, created, label, pixels, predicted, probabilities, model, session, default_predicted"


@dataclass(frozen=True)
class Drawing:
    """One stored drawing, without its canvas PNG."""

    id: int
    x: np.ndarray = field(repr=False)   # (28, 28) float32 in [0, 1]
    label: int
    predicted: int | None
    probabilities: np.ndarray | None = field(repr=False)  # (10,) float32
    model: str | None
    session: str | None
    time: str                           # UTC, ISO 8601
    default_predicted: int | None = None  # what the server's default model said (None: not recorded)


@dataclass(frozen=True)
class TabSummary:
    """The drawings of one browser tab (the `session` column; "" for drawings stored without one)."""

    session: str
    drawings: int
    disagreeing: int   # drawings whose label differs from the server default model's answer (else the session's)
    last: str          # when its newest drawing was stored: UTC, ISO 8601


def checked_row(x, label, predicted, probabilities, model, session, image_png, default_predicted=None) -> tuple:
    """The checked column values of one drawing (all but `id` and `created`, in the order of INSERT_COLUMNS);
    ValueError naming a bad field."""
    return (checked_digit("label", label), _pixels(x), _optional_digit("predicted", predicted),
            None if probabilities is None else _probabilities(probabilities), _text("model", model),
            _text("session", session), _png(image_png), _optional_digit("default_predicted", default_predicted))


def _pixels(x) -> bytes:
    x = np.asarray(x)
    if x.shape != IMAGE_SHAPE:
        raise ValueError(f"x must have shape (28, 28), got {x.shape}")
    if x.dtype.kind != "f":
        raise ValueError(f"x must be floats in [0, 1], got dtype {x.dtype}")
    if not (np.isfinite(x).all() and x.min() >= -RANGE_SLACK and x.max() <= 1 + RANGE_SLACK):
        raise ValueError("x must be finite and in [0, 1]")
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8).tobytes()


def pixels_to_images(blobs: list[bytes], stored: bool = False) -> np.ndarray:
    """Stored pixel blobs as float32 (n, 28, 28) images in [0, 1] (stored: as the uint8 grey levels stored)."""
    pixels = np.frombuffer(b"".join(blobs), np.uint8).reshape(-1, *IMAGE_SHAPE)
    return pixels.copy() if stored else pixels.astype(np.float32) / 255.0


def checked_integer(name: str, value) -> int:
    """`value` as an int; ValueError naming the field if it is not an integer (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def checked_digit(name: str, value) -> int:
    """`value` as a digit 0-9; ValueError naming the field otherwise."""
    value = checked_integer(name, value)
    if not 0 <= value < N_CLASSES:
        raise ValueError(f"{name} must be a digit 0-9, got {value}")
    return value


def _optional_digit(name: str, value) -> int | None:
    return None if value is None else checked_digit(name, value)


def _probabilities(values) -> bytes:
    try:
        p = np.asarray(values, np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError("probabilities must be 10 numbers") from None
    if p.shape != (N_CLASSES,):
        raise ValueError(f"probabilities must be 10 numbers, got {p.size}")
    if not (np.isfinite(p).all() and p.min() >= 0 and p.max() <= 1 + RANGE_SLACK):
        raise ValueError("probabilities must be finite and in [0, 1]")
    return p.astype("<f4").tobytes()


def _text(name: str, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"{name} must be a string of at most {MAX_TEXT_CHARS} characters")
    return value


def _png(data) -> bytes | None:
    if data is None:
        return None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"image_png must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(PNG_SIGNATURE) or len(data) > MAX_PNG_BYTES:
        raise ValueError(f"image_png must be a PNG file of at most {MAX_PNG_BYTES // 2**20} MB")
    return data


def drawing_from_row(row) -> Drawing:
    """A Drawing from the columns READ_COLUMNS."""
    id_, created, label, pixels, predicted, probabilities, model, session, default_predicted = row
    p = None if probabilities is None else np.frombuffer(probabilities, "<f4").astype(np.float32)
    return Drawing(id_, pixels_to_images([pixels])[0], label, predicted, p, model, session, created,
                   default_predicted)


def checked_time(name: str, value) -> str:
    """An ISO 8601 time (no offset: UTC) as the table stores it, UTC with milliseconds; ValueError otherwise."""
    problem = f"{name} must be an ISO 8601 time of at most {MAX_TIME_CHARS} characters"
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        raise ValueError(problem)
    try:
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError):
        raise ValueError(problem) from None


def utc_now() -> str:
    """The time a drawing is stored: UTC, ISO 8601 with milliseconds."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
