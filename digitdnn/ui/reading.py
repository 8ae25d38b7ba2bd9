"""A reading: a canvas drawing, or a photo of a digit on paper, made ready for the network (the 28x28 input and
the steps that made it), which the sections under the drawing show."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from digitdnn.imaging.photo import PhotoSteps, photo_steps, read_photo
from digitdnn.imaging.preprocess import PreprocessSteps, drawing_problem, preprocess_steps


@dataclass(frozen=True)
class Reading:
    """A canvas drawing, or a photo of a digit on paper, made ready for the network."""

    steps: PreprocessSteps | None  # None when nothing (or no digit) is drawn
    strokes: int                   # strokes on the canvas (0 for a photo)
    seconds: float                 # time the preprocessing took
    problem: str | None = None     # why the ink cannot be a digit (a dot, the canvas filled), to say instead
    source: str = "drawing"        # "drawing", or "photo" (the photo tab is open)
    photo: PhotoSteps | None = None  # how the photo's ink was found, when there is a photo
    photo_name: str = ""           # its file name, as sent (show it with plain())

    def picture(self) -> np.ndarray | None:
        """What to keep beside the 28x28 input of a photo: the ink found (never the photo itself); None for a
        drawing, whose canvas the caller has."""
        return None if self.photo is None else self.photo.ink


def read_drawing(image: np.ndarray | None, strokes: int, background: tuple[int, int, int]) -> Reading:
    """Preprocess a canvas image (RGBA uint8, or None before the first stroke) on a canvas of this colour."""
    started = time.perf_counter()
    if image is None or strokes == 0:
        return Reading(None, strokes, time.perf_counter() - started)
    problem = drawing_problem(image, background=background)
    steps = None if problem else preprocess_steps(image)
    return Reading(steps, strokes, time.perf_counter() - started, problem)


def read_photo_file(data: bytes | None, name: str) -> Reading:
    """Find the digit in a photo file (PNG or JPEG bytes; None before one is given); PhotoError if unreadable."""
    started = time.perf_counter()
    if data is None:
        return Reading(None, 0, 0.0, source="photo")
    photo = photo_steps(read_photo(data))
    return Reading(photo.drawing, 0, time.perf_counter() - started, photo.problem, "photo", photo, name)
