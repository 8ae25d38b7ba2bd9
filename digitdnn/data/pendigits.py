"""Digits written by real people with a pen (UNIPEN), as trajectories: load, split by writer, draw on a canvas.

The set (`digitdnn/assets/pen-digits/`, see its README for the source and licence) holds about 10,000
digits from five labs and about 330 writers, as pen-down points with y pointing down. A digit is
drawn the way the page's canvas would show it: its strokes scaled so that the longer side of its
box is 30%-85% of the canvas, put anywhere fully on it, painted with a round brush of 8-35 px
(at most a quarter of the digit's height) on a 280x280 canvas.

Models are measured on writers they never saw: `split_by_writer` puts every writer wholly on
one side, never a digit of one writer on both, and `calibration_indices` names a few more
writers that no model trains on, to fit the probabilities' temperature with.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitdnn.data.bundled import bundled_path
from digitdnn.imaging.brush import CANVAS, render
from digitdnn.server import settings

BUNDLED = bundled_path("pen-digits", "pen-digits-dev.npz")
ARRAYS = ("points", "stroke_starts", "sample_starts", "label", "lab", "writer", "checked")
HELD_OUT_SHARE = 0.3       # writers kept out of training, to measure on
CALIBRATION_SHARE = 0.1    # further writers kept out of training, to fit the temperature on
SPLIT_SALT = "digitdnn-writers-v1"


class PenDigitsError(ValueError):
    """The pen-digits file is missing, unreadable or not in the expected format."""


@dataclass(frozen=True)
class PenDigits:
    """Pen trajectories with their labels; digit i is strokes sample_starts[i] .. sample_starts[i+1]-1."""

    points: np.ndarray         # (P, 2) float32 x, y (y down), the tablet's own units
    stroke_starts: np.ndarray  # (S + 1,) int64 first point of each stroke, and the end
    sample_starts: np.ndarray  # (N + 1,) int64 first stroke of each digit, and the end
    label: np.ndarray          # (N,) uint8
    lab: np.ndarray            # (N,) str: the contributing lab
    writer: np.ndarray         # (N,) int32: the writer (or writing session)
    checked: np.ndarray        # (N,) bool: label checked by a person

    def __len__(self) -> int:
        return len(self.label)

    def strokes(self, i: int) -> list[np.ndarray]:
        """Digit i's strokes, each (n, 2) float32 points in the tablet's units."""
        starts = self.stroke_starts
        return [self.points[starts[k]:starts[k + 1]] for k in range(self.sample_starts[i], self.sample_starts[i + 1])]

    def subset(self, indices) -> PenDigits:
        """Only the digits `indices`, in that order."""
        strokes = [self.strokes(int(i)) for i in indices]
        flat = [s for digit in strokes for s in digit]
        return PenDigits(
            points=np.concatenate(flat) if flat else np.zeros((0, 2), np.float32),
            stroke_starts=np.concatenate([[0], np.cumsum([len(s) for s in flat])]).astype(np.int64),
            sample_starts=np.concatenate([[0], np.cumsum([len(d) for d in strokes])]).astype(np.int64),
            label=self.label[indices], lab=self.lab[indices], writer=self.writer[indices],
            checked=self.checked[indices])

    def save(self, path: str | Path) -> None:
        """Write the set as an .npz that load_pen_digits reads."""
        np.savez_compressed(path, **{name: getattr(self, name) for name in ARRAYS})


def load_pen_digits(path: str | Path | None = None) -> PenDigits:
    """Read the pen digits from `path`, `$DIGITDNN_PEN_DIGITS` or the shipped copy; PenDigitsError if bad."""
    path = Path(path or settings.pen_digits_path() or BUNDLED)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in ARRAYS if name not in data.files]
            if missing:
                raise PenDigitsError(f"{path} lacks the array(s) {', '.join(missing)}")
            arrays = {name: data[name] for name in ARRAYS}
    except (OSError, ValueError) as error:
        if isinstance(error, PenDigitsError):
            raise
        raise PenDigitsError(f"cannot read pen digits from {path}: {error}") from error
    digits = PenDigits(**arrays)
    _check(digits, path)
    return digits


def _check(digits: PenDigits, path: Path) -> None:
    n = len(digits.label)
    if digits.points.ndim != 2 or digits.points.shape[1] != 2 or not np.isfinite(digits.points).all():
        raise PenDigitsError(f"{path}: points must be finite (P, 2) coordinates")
    if len(digits.sample_starts) != n + 1 or any(len(a) != n for a in (digits.lab, digits.writer, digits.checked)):
        raise PenDigitsError(f"{path}: label, lab, writer, checked and sample_starts disagree on the number of digits")
    if not _rises(digits.stroke_starts, len(digits.points)):
        raise PenDigitsError(f"{path}: stroke_starts must rise from 0 to the number of points, a point or more each")
    if not _rises(digits.sample_starts, len(digits.stroke_starts) - 1):
        raise PenDigitsError(f"{path}: sample_starts must rise from 0 to the number of strokes, a stroke or more each")
    if n and digits.label.max() > 9:
        raise PenDigitsError(f"{path}: labels must be digits 0-9")


def _rises(starts: np.ndarray, end: int) -> bool:
    """Whether `starts` goes from 0 to `end` in steps of at least one."""
    return len(starts) >= 1 and starts[0] == 0 and starts[-1] == end and bool(np.all(np.diff(starts) >= 1))


def writer_position(writer: int) -> float:
    """A fixed number in [0, 1) for a writer id (a hash, the same on every machine): decides the writer's side."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{int(writer)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _positions(digits: PenDigits) -> np.ndarray:
    writers, inverse = np.unique(digits.writer, return_inverse=True)
    return np.array([writer_position(w) for w in writers])[inverse]


def split_by_writer(digits: PenDigits) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices): HELD_OUT_SHARE of the writers held out, each writer wholly on one side.

    The CALIBRATION_SHARE of writers that `calibration_indices` gives are on neither side.
    """
    position = _positions(digits)
    return (np.flatnonzero(position >= HELD_OUT_SHARE + CALIBRATION_SHARE),
            np.flatnonzero(position < HELD_OUT_SHARE))


def calibration_indices(digits: PenDigits) -> np.ndarray:
    """The digits of the writers kept for fitting a temperature: neither trained on nor measured."""
    position = _positions(digits)
    return np.flatnonzero((position >= HELD_OUT_SHARE) & (position < HELD_OUT_SHARE + CALIBRATION_SHARE))


def place_on_canvas(strokes: list[np.ndarray], rng: np.random.Generator,
                    canvas: tuple[int, int] = CANVAS) -> tuple[list[np.ndarray], float]:
    """Strokes moved onto a canvas as a person would draw them there, and the brush diameter.

    The longer side of the digit's box becomes 30%-85% of the canvas (its aspect kept, shrunk if
    it would not fit), the digit lies anywhere fully on the canvas, and the brush is 8-35 px on a
    280 px canvas, at most a quarter of the digit's height.
    """
    width, height = canvas
    side = min(canvas)
    every = np.concatenate(strokes).astype(np.float64)
    low, high = every.min(axis=0), every.max(axis=0)
    extent = np.maximum(high - low, 1e-6)
    longer = rng.uniform(0.3, 0.85) * side
    scale = longer / extent.max()
    brush = min(rng.uniform(8, 35) * side / 280, max(extent[1] * scale, longer / 3) / 4)
    margin = brush / 2 + 1
    room = np.array([width, height]) - 2 * margin
    scale = min(scale, *(room / extent))
    free = np.maximum(room - extent * scale, 0)
    corner = margin + rng.uniform(0, 1, size=2) * free
    placed = [((s - low) * scale + corner).astype(np.float32) for s in strokes]
    return placed, float(brush)


def render_digit(strokes: list[np.ndarray], rng: np.random.Generator, canvas: tuple[int, int] = CANVAS) -> np.ndarray:
    """A pen digit as the page's canvas returns it: white ink on black, (H, W, 4) uint8 RGBA."""
    placed, brush = place_on_canvas(strokes, rng, canvas)
    return render(placed, canvas=canvas, brush=brush)
