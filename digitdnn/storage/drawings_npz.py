"""The class's drawings as one .npz file: what `digitdnn drawings export` writes and `import` reads back.

Arrays: x float32 (n, 28, 28), y int64, ids int64, predicted and default_predicted int64 (-1: none; what the
session's model and the server's default model said), probabilities float32 (n, 10)
(NaN: none), model, session, time (str; "": none), and the canvas PNGs as png_bytes uint8 (all concatenated)
with png_offsets int64 (n + 1): PNG i is png_bytes[png_offsets[i]:png_offsets[i + 1]] (empty: none). An import
needs only x and y; their dtypes, shapes and unpacked sizes are checked from the archive's headers before any array
is read (storage.npz_check), and nothing pickled is ever loaded.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from digitdnn.model import IMAGE_SHAPE, N_CLASSES
from digitdnn.storage.drawing_rows import MAX_TEXT_CHARS, MAX_TIME_CHARS, Drawing, checked_row, checked_time, utc_now
from digitdnn.storage.files import atomic_write
from digitdnn.storage.npz_check import ArrayHeader, NpzArchive

MAX_IMPORT_DRAWINGS = 100_000      # drawings in one import: years of a class of 30 storing a few a minute
MAX_IMPORT_BYTES = 2**30           # the arrays of one import, unpacked (100,000 float32 drawings are 314 MB)

# name: (allowed dtype kinds, shape of one drawing's entry, most characters of a text; 0: not text)
_LAYOUT = {
    "x": ("fu", IMAGE_SHAPE, 0), "y": ("iu", (), 0), "ids": ("iu", (), 0), "predicted": ("iu", (), 0),
    "default_predicted": ("iu", (), 0),
    "probabilities": ("f", (N_CLASSES,), 0), "model": ("U", (), MAX_TEXT_CHARS),
    "session": ("U", (), MAX_TEXT_CHARS), "time": ("U", (), MAX_TIME_CHARS), "png_bytes": ("u", (), 0),
    "png_offsets": ("iu", (), 0),
}
_KIND_WORDS = {"fu": "floats or uint8", "iu": "integers", "f": "floats", "U": "text", "u": "uint8"}


def write_export(path: str | os.PathLike, drawings: list[Drawing], pngs: list[bytes]) -> None:
    """Write the drawings and their canvas PNGs (b"": none) to an .npz, whole or not at all."""
    arrays = {
        "x": np.stack([d.x for d in drawings]) if drawings else np.zeros((0, *IMAGE_SHAPE), np.float32),
        "y": np.array([d.label for d in drawings], np.int64),
        "ids": np.array([d.id for d in drawings], np.int64),
        "predicted": np.array([-1 if d.predicted is None else d.predicted for d in drawings], np.int64),
        "default_predicted": np.array([-1 if d.default_predicted is None else d.default_predicted
                                       for d in drawings], np.int64),
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
    """The values of INSERT_COLUMNS per drawing of an export (an older export without default_predicted: None),
    every value checked; ValueError naming what is wrong with the file.

    The arrays' dtypes, shapes and unpacked sizes are checked from the archive's headers before any is loaded:
    at most MAX_IMPORT_DRAWINGS drawings and MAX_IMPORT_BYTES of arrays unpacked.
    """
    with NpzArchive(path) as npz:
        n = _checked_layout(path, npz.headers)
        arrays = {name: npz.load(name) for name in _LAYOUT if name in npz.headers}
    x = arrays["x"]
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    predicted = arrays.get("predicted", np.full(n, -1))
    default_predicted = arrays.get("default_predicted", np.full(n, -1))
    probabilities = arrays.get("probabilities", np.full((n, N_CLASSES), np.nan))
    texts = {name: arrays.get(name, np.full(n, "")) for name in ("model", "session", "time")}
    png_bytes = arrays.get("png_bytes", np.zeros(0, np.uint8)).tobytes()
    offsets = arrays.get("png_offsets", np.zeros(n + 1, np.int64))
    if n and (offsets[0] != 0 or offsets[-1] != len(png_bytes) or (np.diff(offsets) < 0).any()):
        raise ValueError(f"{path}: png_offsets must rise from 0 to the length of png_bytes")
    rows = []
    now = utc_now()
    for i in range(n):
        p = probabilities[i]
        png = png_bytes[offsets[i]:offsets[i + 1]]
        created = str(texts["time"][i])
        try:
            row = checked_row(x[i], arrays["y"][i], None if predicted[i] < 0 else predicted[i],
                              None if np.isnan(p).all() else p, str(texts["model"][i]) or None,
                              str(texts["session"][i]) or None, png or None,
                              None if default_predicted[i] < 0 else default_predicted[i])
            rows.append((checked_time("time", created) if created else now, *row))
        except ValueError as exc:
            raise ValueError(f"{path}: drawing {i}: {exc}") from None
    return rows


def _checked_layout(path, headers: dict[str, ArrayHeader]) -> int:
    """How many drawings the archive holds, after checking every known array's dtype, shape and size."""
    for name in ("x", "y"):
        if name not in headers:
            raise ValueError(f"{path} has no array {name!r}")
    if len(headers["y"].shape) != 1:
        raise ValueError(f"{path}: y must be a list of labels, got shape {headers['y'].shape}")
    n = headers["y"].shape[0]
    if n > MAX_IMPORT_DRAWINGS:
        raise ValueError(f"{path} holds {n} drawings; at most {MAX_IMPORT_DRAWINGS} can be imported at once")
    unpacked = 0
    for name, (kinds, row_shape, max_chars) in _LAYOUT.items():
        header = headers.get(name)
        if header is None:
            continue
        if header.dtype.kind not in kinds or (name in ("x", "png_bytes") and header.dtype.kind == "u"
                                              and header.dtype.itemsize != 1):
            raise ValueError(f"{path}: {name} has dtype {header.dtype}; expected {_KIND_WORDS[kinds]}")
        if max_chars and header.dtype.itemsize > 4 * max_chars:
            raise ValueError(f"{path}: {name} holds texts of up to {header.dtype.itemsize // 4} characters; "
                             f"at most {max_chars} are allowed")
        rows = n + 1 if name == "png_offsets" else n
        if name != "png_bytes" and header.shape != (rows, *row_shape):
            raise ValueError(f"{path}: {name} must have shape {(rows, *row_shape)}, got {header.shape}")
        if name == "png_bytes" and len(header.shape) != 1:
            raise ValueError(f"{path}: png_bytes must be one row of bytes, got shape {header.shape}")
        unpacked += header.unpacked_bytes
    if unpacked > MAX_IMPORT_BYTES:
        raise ValueError(f"{path} unpacks to {unpacked / 2**20:.0f} MB of arrays; at most "
                         f"{MAX_IMPORT_BYTES // 2**20} MB can be imported at once")
    return n
