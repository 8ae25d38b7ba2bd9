"""The class's drawings as one .npz file: what `digitdnn drawings export` writes and `import` reads back.

Arrays: x float32 (n, 28, 28), y int64, ids int64, predicted int64 (-1: none), probabilities float32 (n, 10)
(NaN: none), model, session, time (str; "": none), and the canvas PNGs as png_bytes uint8 (all concatenated)
with png_offsets int64 (n + 1): PNG i is png_bytes[png_offsets[i]:png_offsets[i + 1]] (empty: none). It loads
with allow_pickle=False; an import needs only x and y.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from digitdnn.model import IMAGE_SHAPE, N_CLASSES
from digitdnn.storage.drawing_rows import Drawing, checked_row, utc_now
from digitdnn.storage.files import atomic_write


def write_export(path: str | os.PathLike, drawings: list[Drawing], pngs: list[bytes]) -> None:
    """Write the drawings and their canvas PNGs (b"": none) to an .npz, whole or not at all."""
    arrays = {
        "x": np.stack([d.x for d in drawings]) if drawings else np.zeros((0, *IMAGE_SHAPE), np.float32),
        "y": np.array([d.label for d in drawings], np.int64),
        "ids": np.array([d.id for d in drawings], np.int64),
        "predicted": np.array([-1 if d.predicted is None else d.predicted for d in drawings], np.int64),
        "probabilities": np.array([np.full(N_CLASSES, np.nan, np.float32) if d.probabilities is None
                                   else d.probabilities for d in drawings], np.float32).reshape(-1, N_CLASSES),
        "model": np.array([d.model or "" for d in drawings], str),
        "session": np.array([d.session or "" for d in drawings], str),
        "time": np.array([d.time for d in drawings], str),
        "png_bytes": np.frombuffer(b"".join(pngs), np.uint8),
        "png_offsets": np.cumsum([0] + [len(p) for p in pngs], dtype=np.int64),
    }
    atomic_write(Path(path), lambda file: np.savez_compressed(file, allow_pickle=False, **arrays))


def read_export(path: str | os.PathLike) -> list[tuple]:
    """(created, label, pixels, predicted, probabilities, model, session, image_png) per drawing of an export,
    every value checked; ValueError naming what is wrong with the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable .npz file: {exc}") from exc
    for name in ("x", "y"):
        if name not in arrays:
            raise ValueError(f"{path} has no array {name!r}")
    x, y = arrays["x"], arrays["y"]
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    n = len(y)
    if len(x) != n:
        raise ValueError(f"{path}: x has {len(x)} images but y has {n} labels")
    predicted = arrays.get("predicted", np.full(n, -1))
    probabilities = arrays.get("probabilities", np.full((n, N_CLASSES), np.nan))
    texts = {name: arrays.get(name, np.full(n, "")) for name in ("model", "session", "time")}
    offsets = arrays.get("png_offsets", np.zeros(n + 1, np.int64))
    png_bytes = arrays.get("png_bytes", np.zeros(0, np.uint8)).tobytes()
    for name, values in [("predicted", predicted), ("probabilities", probabilities), *texts.items()]:
        if len(values) != n:
            raise ValueError(f"{path}: {name} has {len(values)} entries for {n} drawings")
    if len(offsets) != n + 1:
        raise ValueError(f"{path}: png_offsets must have {n + 1} entries")
    rows = []
    now = utc_now()
    for i in range(n):
        p = probabilities[i]
        png = png_bytes[offsets[i]:offsets[i + 1]]
        row = checked_row(x[i], y[i], None if predicted[i] < 0 else predicted[i], None if np.isnan(p).all() else p,
                          str(texts["model"][i]) or None, str(texts["session"][i]) or None, png or None)
        rows.append((str(texts["time"][i]) or now, *row))
    return rows
