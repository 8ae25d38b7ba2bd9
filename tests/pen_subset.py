"""A small pen-digits set for tests: a few digits of the bundled set's training, held-out and calibration writers."""
from pathlib import Path

import numpy as np

from digitdnn.data.pendigits import PenDigits, calibration_indices, load_pen_digits, split_by_writer


def save_small_pen(path: Path, training: int = 30, held_out: int = 10, calibration: int = 10) -> PenDigits:
    """Save (and return) the first digits of each group of writers of the bundled set at `path` (an .npz that
    DIGITDNN_PEN_DIGITS can name); split_by_writer puts each writer on the same side as in the bundled set."""
    pen = load_pen_digits()
    train, held = split_by_writer(pen)
    small = pen.subset(np.sort(np.concatenate([train[:training], held[:held_out],
                                               calibration_indices(pen)[:calibration]])))
    small.save(path)
    return small
