"""An .npz archive read without trusting it: each array's dtype, shape and unpacked size come from its .npy header
and the zip directory, so a caller can refuse a file before any array data is read (a 3 MB file may unpack to
gigabytes). Pickled arrays are never loaded; every failure is a ValueError with a plain sentence. The archive may be
a file or bytes held in memory (a worker's weights from Redis).
"""
from __future__ import annotations

import io
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

# What a damaged or hostile zip can raise from the standard library while it is read.
_UNREADABLE = (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class ArrayHeader:
    """One array of an archive, as its header declares it."""

    shape: tuple[int, ...]
    dtype: np.dtype
    unpacked_bytes: int   # the larger of what the header declares and what the zip directory says


class NpzArchive:
    """An .npz file opened for checked reading: ``headers`` first, then ``load(name)`` for the arrays wanted.

    `source` is a file's path, the archive's bytes or a binary file object; messages name it by `name` (default:
    the path, or "the archive").
    """

    def __init__(self, source: str | os.PathLike | bytes | IO[bytes], name: str | None = None):
        self.path: str | os.PathLike
        opened: str | os.PathLike | IO[bytes]
        if isinstance(source, (str, os.PathLike)):
            self.path, opened = name or source, source
        else:
            self.path, opened = name or "the archive", io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            self._zip = zipfile.ZipFile(opened)
        except _UNREADABLE as exc:
            raise ValueError(f"{self.path} is not a readable .npz file: {exc}") from exc
        self.members = [info.filename for info in self._zip.infolist()]  # every file of the zip, repeats included
        try:
            self.headers = {info.filename.removesuffix(".npy"): self._header(info)
                            for info in self._zip.infolist() if info.filename.endswith(".npy")}
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc) -> None:
        self._zip.close()

    def _header(self, info: zipfile.ZipInfo) -> ArrayHeader:
        """Read one member's .npy header (a few hundred bytes), never its data."""
        try:
            with self._zip.open(info) as member:
                version = npy_format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = npy_format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = npy_format.read_array_header_2_0(member)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
        except _UNREADABLE as exc:
            raise ValueError(f"{self.path}: {info.filename} is not a readable array: {exc}") from exc
        if any(size < 0 for size in shape):
            raise ValueError(f"{self.path}: {info.filename} declares a negative size {shape}")
        if dtype.hasobject:
            raise ValueError(f"{self.path}: {info.filename} holds Python objects, which are never loaded")
        declared = math.prod(shape) * dtype.itemsize
        return ArrayHeader(tuple(shape), dtype, max(declared, info.file_size))

    def load(self, name: str) -> np.ndarray:
        """The array `name` (its header already checked by the caller), read with allow_pickle=False."""
        try:
            with self._zip.open(name + ".npy") as member:
                return npy_format.read_array(member, allow_pickle=False)
        except _UNREADABLE as exc:
            raise ValueError(f"{self.path}: {name} is not a readable array: {exc}") from exc
