"""Saving and loading models: round trips, model cards, atomic writes, faults of the disk and of processes killed
while saving, and damaged sidecars (on the page too). The checks of the .keras files themselves: test_keras_check.py."""
import datetime
import errno
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from markdown_text import shown
from streamlit.testing.v1 import AppTest
from test_keras_check import refusal

import digitdnn
from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model
from digitdnn.storage import models as store
from digitdnn.storage.files import atomic_write, os_reason
from digitdnn.storage.keras_check import ModelLoadError
from digitdnn.storage.model_card import ModelCard
from digitdnn.storage.models import SaveError
from digitdnn.training.history import EpochReport, History

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
IMAGES = np.random.default_rng(7).random((6, 28, 28), dtype=np.float32)


def leftovers(folder):
    """Anything in folder besides finished models and sidecars (staging folders, temp files)."""
    return [p.name for p in folder.iterdir() if p.suffix not in (".keras", ".json") or p.name.startswith(".")]


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


# ------------------------------------------------------------------------------------------ round trip


def test_round_trip_gives_identical_predictions_and_metadata(clf, tmp_path):
    cfg = TrainConfig(seed=3)
    metadata = {"config": cfg.to_dict(), "history": {"status": "completed", "epochs": []},
                "test_accuracy": np.float32(0.25), "command": "digitdnn train", "note": "mine"}
    path = store.save_classifier(clf, tmp_path / "new" / "folder" / "model", metadata)
    assert path == tmp_path / "new" / "folder" / "model.keras"
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.json", "model.keras"]

    loaded = store.load_classifier(path)
    np.testing.assert_array_equal(loaded.predict_proba(IMAGES), clf.predict_proba(IMAGES))
    meta = loaded.metadata
    assert TrainConfig.from_dict(meta["config"]) == cfg
    assert (meta["history"], meta["test_accuracy"], meta["command"], meta["note"]) == (
        metadata["history"], 0.25, "digitdnn train", "mine")
    assert meta["format"] == 1 and meta["data_fingerprint"] is None
    assert meta["versions"]["keras"] == keras.__version__ and meta["versions"]["tensorflow"]
    created = datetime.datetime.fromisoformat(meta["created"])
    assert abs(datetime.datetime.now(datetime.UTC) - created).total_seconds() < 60
    assert store.read_metadata(path) == meta


def test_round_trip_of_compiled_model_with_dropout_l2_and_flat_input(tmp_path):
    model = build_model(TrainConfig(hidden_units=(20, 10), activation="tanh", dropout=0.3, l2=1e-3, seed=1))
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    flat = keras.Sequential([keras.Input((784,)), keras.layers.Dense(16, activation="elu"),
                             keras.layers.Dense(10, activation="softmax")])
    for name, original in (("compiled", model), ("flat", flat)):
        path = store.save_classifier(Classifier(original), tmp_path / name)
        loaded = store.load_classifier(path)
        np.testing.assert_allclose(loaded.predict_proba(IMAGES), Classifier(original).predict_proba(IMAGES))


def test_caller_metadata_wins_but_format_checksum_and_damage_are_the_stores(clf, tmp_path):
    path = store.save_classifier(clf, tmp_path / "m.keras", {"created": "yesterday", "format": 99,
                                                            "model_sha256": "forged", "damaged": "old news"})
    meta = store.read_metadata(path)
    assert meta["created"] == "yesterday" and meta["format"] == 1 and meta["model_sha256"] != "forged"
    assert "damaged" not in meta and store.list_models(tmp_path)[0].damaged is None


def test_metadata_that_is_not_json_is_refused_before_writing(clf, tmp_path):
    with pytest.raises(TypeError):
        store.save_classifier(clf, tmp_path / "out" / "m.keras", {"config": object()})
    assert not (tmp_path / "out").exists()


def test_the_name_of_the_servers_default_choice_is_refused_before_writing(clf, tmp_path):
    from digitdnn.storage.server_default import POINTER_FILE, choose_default, chosen_default

    folder = tmp_path / "models"
    chosen = store.save_classifier(clf, folder / "chosen.keras")
    choose_default(folder, chosen)
    for name in ["server-default", "server-default.keras", "Server-Default"]:
        with pytest.raises(ValueError, match="is reserved"):
            store.save_classifier(clf, folder / name, overwrite=False)
    assert sorted(p.name for p in folder.iterdir()) == ["chosen.json", "chosen.keras", POINTER_FILE]
    assert chosen_default(folder) == chosen


# ------------------------------------------------------------------------------------------ model cards


def test_the_shipped_default_models_sidecar_is_a_card_that_writes_back_the_same_keys():
    sidecar = json.loads((Path(digitdnn.__file__).parent / "assets" / "default.json").read_text())
    card = ModelCard.from_json(sidecar)
    assert card.to_json() == sidecar and card.extra == {}
    assert card.pen_digits["copies"] == 12 and card.temperature == sidecar["temperature"]
    assert card.pen_digits["styles"]["crossed zero"] == 0.3
    assert TrainConfig.from_dict(card.config).hidden_units == (1200, 400)


def test_the_card_of_a_run_is_saved_with_the_keys_sidecars_have(clf, tmp_path):
    history = History(TrainConfig(epochs=1), [EpochReport(1, 1, 0.5, 1.5, 0.6, 1.2, 2.0, 0.1)], "completed")
    card = ModelCard.of_run(history, command="digitdnn page", data_fingerprint="sha256:0123", train_images=100)
    assert card.test_accuracy == 0.6 and ModelCard.of_run(history, command="x", test_accuracy=0.7).test_accuracy == 0.7
    meta = store.read_metadata(store.save_classifier(clf, tmp_path / "run.keras", card))
    assert set(meta) == {"format", "config", "history", "test_accuracy", "data_fingerprint", "created", "versions",
                         "command", "train_images", "model_sha256"}
    assert TrainConfig.from_dict(meta["config"]) == TrainConfig(epochs=1)
    assert (meta["test_accuracy"], meta["train_images"], meta["command"]) == (0.6, 100, "digitdnn page")
    assert meta["history"]["epochs"][0]["test_loss"] == 1.2 and meta["versions"]["digitdnn"] == digitdnn.__version__
    assert ModelCard.from_json(meta).stamped(meta["model_sha256"]).to_json() == meta  # saving it again keeps it


def test_a_card_keeps_keys_it_does_not_know_but_not_a_readers_verdict():
    card = ModelCard.from_json({"format": 1, "note": "mine", "damaged": "old news", "test_accuracy": 0.5})
    assert card.extra == {"note": "mine"} and card.test_accuracy == 0.5
    written = card.to_json()
    assert written["note"] == "mine" and written["format"] == 1 and "damaged" not in written
    assert written["config"] is None and "temperature" not in written  # the keys every sidecar has, and only those


# ------------------------------------------------------------------------------------------ atomicity


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "pointer.json"
    atomic_write(target, lambda file: file.write(b"old"))

    def disk_full(file):
        file.write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as info:
        atomic_write(target, disk_full)
    assert os_reason(info.value) == "no space left on device"
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["pointer.json"]


def test_failed_replace_keeps_previous_model_and_leaves_no_temp_files(clf, saved, monkeypatch):
    before = saved.read_bytes(), store.sidecar_path(saved).read_bytes()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SaveError, match="permission denied") as info:
        store.save_classifier(clf, saved, {"test_accuracy": 0.9})
    assert isinstance(info.value, OSError) and str(saved) in str(info.value)
    assert (saved.read_bytes(), store.sidecar_path(saved).read_bytes()) == before
    assert leftovers(saved.parent) == []


def test_crash_inside_keras_save_keeps_previous_model(clf, saved, monkeypatch):
    before = saved.read_bytes()

    def half_write(model, path):
        with open(path, "wb") as f:
            f.write(before[: len(before) // 2])
        raise RuntimeError("disk pulled out")

    monkeypatch.setattr(keras.saving, "save_model", half_write)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        store.save_classifier(clf, saved)
    assert saved.read_bytes() == before
    assert leftovers(saved.parent) == []
    store.load_classifier(saved)


def test_crash_between_model_and_sidecar_marks_old_sidecar_damaged(saved, monkeypatch):
    other = Classifier(build_model(TrainConfig(hidden_units=(8,), seed=5)))
    real_replace = os.replace
    calls = []

    def crash_on_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(SaveError):
        store.save_classifier(other, saved, {"test_accuracy": 0.1})
    monkeypatch.undo()
    loaded = store.load_classifier(saved)  # the new model, with the old model's sidecar
    np.testing.assert_array_equal(loaded.predict_proba(IMAGES), other.predict_proba(IMAGES))
    assert "different model file" in loaded.metadata["damaged"]
    assert leftovers(saved.parent) == []


def test_save_where_no_folder_can_be_made_raises_save_error(clf, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    target = blocker / "model.keras"
    with pytest.raises(SaveError) as info:
        store.save_classifier(clf, target)
    assert isinstance(info.value, OSError) and str(target) in str(info.value)


def test_save_refuses_a_model_it_could_not_load_back(tmp_path):
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    clf = Classifier(model)
    model.add(keras.layers.Lambda(lambda x: x))  # changed after the Classifier was made
    with pytest.raises(SaveError, match="could not load it back"):
        store.save_classifier(clf, tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


# ---- a full or read-only disk, a process killed while saving -------------------------------------------------


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
    with pytest.raises(SaveError, match=rf"^Cannot save the model to good\.keras: {expected}\.$"):  # as the page
        store.save_classifier(clf, saved, {"test_accuracy": 0.9}, name="good.keras")               # names it
    assert contents(folder) == before and sorted(p.name for p in folder.iterdir()) == ["good.json", "good.keras"]
    assert store.load_classifier(saved).metadata["test_accuracy"] == 0.5


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


# ------------------------------------------------------------------------------------- loading


def test_missing_file_and_folder(tmp_path):
    assert "no such file" in refusal(tmp_path / "absent.keras")
    (tmp_path / "dir.keras").mkdir()
    assert "folder" in refusal(tmp_path / "dir.keras")


def test_missing_default_model_says_how_to_make_one(tmp_path, monkeypatch):
    target = tmp_path / "default.keras"
    monkeypatch.setenv(store.DEFAULT_MODEL_ENV, str(target))
    assert store.default_model_path() == target
    with pytest.raises(ModelLoadError, match=r"digitdnn train --out .*default\.keras"):
        store.load_classifier()


def test_default_model_is_loaded_from_the_environment_path(clf, tmp_path, monkeypatch):
    path = store.save_classifier(clf, tmp_path / "default.keras")
    monkeypatch.setenv(store.DEFAULT_MODEL_ENV, str(path))
    np.testing.assert_array_equal(store.load_classifier().predict(IMAGES), clf.predict(IMAGES))


def test_default_model_path_is_package_data(monkeypatch):
    monkeypatch.delenv(store.DEFAULT_MODEL_ENV, raising=False)
    path = store.default_model_path()
    assert path == Path(digitdnn.__file__).parent / "assets" / "default.keras" and path.is_file()
    assert store.sidecar_path(path).is_file()


def test_weights_so_large_that_outputs_overflow_are_called_unusable(tmp_path):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    for layer in model.layers:
        layer.kernel.assign(np.full(layer.kernel.shape, 3e38, dtype=np.float32))
    keras.saving.save_model(model, tmp_path / "huge.keras")
    assert "weights are unusable" in refusal(tmp_path / "huge.keras")


# ------------------------------------------------------------------------------------ sidecars, lists


def test_missing_and_corrupt_sidecars_do_not_stop_loading(clf, saved):
    sidecar = store.sidecar_path(saved)
    sidecar.write_text('{"format": 1, "config": ')
    loaded = store.load_classifier(saved)
    assert loaded.metadata == {"damaged": "good.json is not valid JSON."}
    np.testing.assert_array_equal(loaded.predict(IMAGES), clf.predict(IMAGES))
    sidecar.write_text('{"format": 7}')
    assert "unknown format 7" in store.read_metadata(saved)["damaged"]
    sidecar.unlink()
    assert store.load_classifier(saved).metadata == {}


def test_list_models_skips_temp_files_and_flags_damaged_sidecars(clf, tmp_path):
    folder = tmp_path / "models"
    store.save_classifier(clf, folder / "b_good", {"test_accuracy": 0.75})
    store.save_classifier(clf, folder / "a_damaged")
    (folder / "a_damaged.json").write_text("[1, 2")
    store.save_classifier(clf, folder / "c_bare")
    (folder / "c_bare.json").unlink()
    staging = folder / (store.STAGING_PREFIX + "crashed")
    staging.mkdir()
    (staging / "model.keras").write_bytes(b"half")
    (folder / ".hidden.keras").write_bytes(b"half")
    (folder / "orphan.json").write_text("{}")

    entries = store.list_models(folder)
    assert [e.path.name for e in entries] == ["a_damaged.keras", "b_good.keras", "c_bare.keras"]
    assert [e.damaged for e in entries] == ["a_damaged.json is not valid JSON.", None, None]
    assert entries[1].metadata["test_accuracy"] == 0.75 and entries[2].metadata == {}
    assert store.list_models(tmp_path / "absent") == []


def test_only_a_listed_models_name_finds_its_file(saved, tmp_path):
    folder = saved.parent
    (folder / "trap.keras").mkdir()
    (folder / ".hidden.keras").write_bytes(b"half")
    (tmp_path / "private.keras").write_bytes(saved.read_bytes())
    assert store.saved_model_path(folder, "good") == saved
    for value in [str(saved), "good.keras", "./good", "good/", "../private", str(tmp_path / "private.keras"),
                  "trap", ".hidden", "", ".", "..", "/etc/passwd", "/proc/self/environ", "missing", None, 3]:
        assert store.saved_model_path(folder, value) is None, value
    assert store.saved_model_path(tmp_path / "absent", "good") is None


# -------------------------------------------------------------------------------------------- uploads


def test_upload_round_trip_leaves_no_temp_files(clf, saved, tmp_path, monkeypatch):
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp_root))
    loaded = store.load_classifier_bytes(saved.read_bytes(), "upload.keras")
    np.testing.assert_array_equal(loaded.predict_proba(IMAGES), clf.predict_proba(IMAGES))
    assert loaded.metadata == {}
    with pytest.raises(ModelLoadError, match="^Cannot load evil.keras: it is not a Keras model file"):
        store.load_classifier_bytes(b"GIF89a", "evil.keras")
    assert list(temp_root.iterdir()) == []


def test_upload_size_limit_is_checked_first():
    with pytest.raises(ModelLoadError, match=r"^Cannot load big\.keras: .*upload limit\.$"):
        store.load_classifier_bytes(b"x" * 1001, "big.keras", max_bytes=1000)


def test_kept_test_accuracy_is_of_the_weights_not_the_best_epoch():
    epochs = [{"epoch": 1, "test_accuracy": 0.9}, {"epoch": 2, "test_accuracy": 0.7}]
    old_page_sidecar = {"test_accuracy": 0.9, "history": {"epochs": epochs, "best_test_accuracy": 0.9}}
    assert store.kept_test_accuracy(old_page_sidecar) == 0.7  # a run keeps its last epoch's weights
    warm_start = {"test_accuracy": None, "history": {"epochs": [], "test_accuracy": 0.95}}
    assert store.kept_test_accuracy(warm_start) == 0.95
    assert store.kept_test_accuracy({"test_accuracy": 0.5}) == 0.5 and store.kept_test_accuracy({}) is None


# ------------------------------------------------------------------------------ loading without Keras


def test_loading_imports_neither_keras_nor_tensorflow(saved):
    script = ("import sys; from digitdnn.storage.models import load_classifier; load_classifier(sys.argv[1]); "
              "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script, str(saved)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_loaded_classifier_builds_its_keras_model_when_saved(clf, saved, tmp_path):
    loaded = store.load_classifier(saved)
    np.testing.assert_allclose(loaded.model(IMAGES).numpy(), clf.predict_proba(IMAGES), atol=1e-5)
    again = store.load_classifier(store.save_classifier(loaded, tmp_path / "again.keras"))
    np.testing.assert_array_equal(again.predict_proba(IMAGES), loaded.predict_proba(IMAGES))


# ---- on the page: a save that fails, damaged sidecars ---------------------------------------------------------


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
    assert "Not saved. Cannot save the model to lesson-1.keras: read-only file system." in errors, errors
    assert str(tmp_path) not in errors  # the server's folders are not shown to students
    assert store.list_models(tmp_path / "models") == []


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
    picker.set_value(saved.stem).run()
    assert "Its metadata is damaged: good.json is not valid JSON." in shown(" ".join(w.value for w in at.warning))
    at.button(key="open").click().run()
    assert [m.source for m in at.session_state["session"].models] == ["default", "opened"]
    at.selectbox(key="saved_model").set_value(broken.stem).run()
    at.button(key="open").click().run()
    assert not at.exception
    errors = shown(" ".join(e.value for e in at.error))
    assert "Cannot open it. Cannot load broken.keras: it is not a Keras model file" in errors, errors
    assert str(saved.parent) not in errors  # the server's folders are not shown to students
    assert [m.source for m in at.session_state["session"].models] == ["default", "opened"]
