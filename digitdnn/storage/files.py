"""Files written whole or not at all, their hashes, and OS errors as words a message can hold."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, mode: int | None = None) -> None:
    """Fill `path` through `write(file)`: a hidden temporary file beside it is written, synced to disk and renamed
    over `path`, so readers see the old file or the new one, never half of one.

    Args:
        path: the file to write; missing folders are created.
        write: writes the content to the binary file it is given.
        mode: permissions for the new file (default: the temporary file's, readable by its owner only).
    Raises:
        OSError (the temporary file removed, `path` untouched) when the folder or file cannot be written; anything
        `write` raises, likewise.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    sync_folder(path.parent)


def fsync(path: Path) -> None:
    """Flush a file's bytes to disk (OSError when the disk refuses them)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where folders can be opened for that (not on Windows)."""
    with contextlib.suppress(OSError):
        fsync(folder)


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def os_reason(error: OSError) -> str:
    """Why an operation on a file failed, in lower-case words for a sentence: "no space left on device"."""
    return (error.strerror or str(error)).lower()
