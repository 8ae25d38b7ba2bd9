"""Saving and loading models: round trips, atomic writes, and every kind of bad file refused plainly."""
import datetime
import json
import os
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model
from digitdnn.storage import models as store
from digitdnn.storage.models import ModelLoadError, SaveError

IMAGES = np.random.default_rng(7).random((6, 28, 28), dtype=np.float32)


@pytest.fixture(scope="module")
def clf():
    """The tutorial's 784-300-100-10 network, untrained."""
    return Classifier(build_model(TrainConfig(seed=3)))


@pytest.fixture
def saved(clf, tmp_path):
    """A model saved by save_classifier, with a sidecar."""
    return store.save_classifier(clf, tmp_path / "models" / "good.keras", {"test_accuracy": 0.5})


def keras_file(path, *layers, inputs=(28, 28)):
    """A Sequential model saved by Keras itself (so that store's own checks are bypassed)."""
    model = keras.Sequential([keras.Input(inputs), *layers])
    keras.saving.save_model(model, path)
    return path


def rewrite_config(src, dst, edit):
    """Copy a .keras file, changing its config.json with edit(config)."""
    with zipfile.ZipFile(src) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    edit(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return dst


def refusal(path) -> str:
    """The ModelLoadError message for loading path, checked to be one plain sentence naming the file."""
    with pytest.raises(ModelLoadError) as info:
        store.load_classifier(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and message.endswith("."), message
    return message


def leftovers(folder):
    """Anything in folder besides finished models and sidecars (staging folders, temp files)."""
    return [p.name for p in folder.iterdir() if p.suffix not in (".keras", ".json") or p.name.startswith(".")]


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


# ------------------------------------------------------------------------------------------ atomicity


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


# ------------------------------------------------------------------------------------- refused files


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
    assert path == Path(store.__file__).parent / "assets" / "default.keras" and path.is_file()
    assert store.sidecar_path(path).is_file()


def test_truncated_garbage_png_and_text_files(saved, tmp_path):
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    png = tmp_path / "picture.keras"
    Image.new("L", (28, 28)).save(png, format="PNG")
    text = tmp_path / "notes.keras"
    text.write_text("this is not a model\n")
    for path in (truncated, garbage, png, text):
        assert "not a Keras model file" in refusal(path)


def test_corrupted_bytes_inside_the_archive(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte in the weights
    flipped = tmp_path / "flipped.keras"
    flipped.write_bytes(bytes(data))
    assert "damaged" in refusal(flipped)


def test_zip_without_config_and_with_unexpected_files(saved, tmp_path):
    no_config = tmp_path / "no_config.keras"
    with zipfile.ZipFile(no_config, "w") as archive:
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n")
    assert "no config.json" in refusal(no_config)

    extra = tmp_path / "extra.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(extra, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("assets/payload.py", b"print('hi')")
    assert "assets/payload.py" in refusal(extra)


def test_weights_that_are_not_hdf5(saved, tmp_path):
    bad = tmp_path / "bad_weights.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(bad, "w") as dst:
        dst.writestr("config.json", src.read("config.json"))
        dst.writestr("model.weights.h5", b"not hdf5 at all")
    assert "its weights cannot be read" in refusal(bad)


def test_zip_bomb_is_refused_without_unpacking(tmp_path):
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("config.json", "w") as f:
            for _ in range(100):
                f.write(b" " * 2**20)  # 100 MB of spaces, about 100 KB compressed
        archive.writestr("model.weights.h5", b"")
    assert bomb.stat().st_size < 2**20
    assert "larger than 1 MB" in refusal(bomb)


def test_files_beyond_the_size_limits(saved, tmp_path, monkeypatch):
    packed = tmp_path / "packed.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    with zipfile.ZipFile(packed) as archive:
        assert packed.stat().st_size < sum(entry.file_size for entry in archive.infolist())
    monkeypatch.setattr(store, "MAX_MODEL_BYTES", packed.stat().st_size)
    assert "larger than" in refusal(saved)
    assert "would unpack to more than" in refusal(packed)


def test_lambda_model_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "marker"
    touch = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]")
    path = keras_file(tmp_path / "lambda.keras", keras.layers.Flatten(), keras.layers.Lambda(touch),
                      keras.layers.Dense(10, activation="softmax"))
    assert marker.exists()  # building the model ran the lambda: the file really carries this code
    marker.unlink()
    assert "'Lambda'" in refusal(path)
    assert not marker.exists()
    keras.saving.load_model(path, safe_mode=False)  # the hazard being defended against
    assert marker.exists()


@keras.saving.register_keras_serializable(package="digitdnn_test")
class ScaledDense(keras.layers.Dense):
    """A custom registered layer: loading it would import and run this module's code."""


def test_custom_registered_layer_is_refused(tmp_path):
    path = keras_file(tmp_path / "custom.keras", keras.layers.Flatten(), ScaledDense(10, activation="softmax"))
    assert "'ScaledDense'" in refusal(path)


def _set_dense(key, value):
    def edit(config):
        config["config"]["layers"][-1]["config"][key] = value
    return edit


def _set_layer(key, value):
    def edit(config):
        config["config"]["layers"][-1][key] = value
    return edit


def _set_input_shape(config):
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 100000, 100000]


def _add_outer_object(config):
    config["build_config"] = {"module": "builtins", "class_name": "exec", "config": "print(1)"}


HOSTILE_EDITS = {
    "module outside keras": (_set_layer("module", "os"), "module 'os'"),
    "function as initializer": (_set_dense("kernel_initializer", {
        "module": "builtins", "class_name": "function", "config": "exec", "registered_name": "function"}),
        "class 'function'"),
    "registered custom name": (_set_layer("registered_name", "evil>Dense"), "custom class 'evil>Dense'"),
    "activation by dotted name": (_set_dense("activation", "keras.utils.get_file"),
                                  "activation 'keras.utils.get_file'"),
    "initializer by name": (_set_dense("kernel_initializer", "glorot_uniform"), "kernel_initializer by name"),
    "huge layer": (_set_dense("units", 10**9), "1000000000 units"),
    "huge input": (_set_input_shape, "tensor shape"),
    "object outside the layers": (_add_outer_object, "class 'exec'"),
}


@pytest.mark.parametrize("case", HOSTILE_EDITS)
def test_hostile_configs_are_refused_before_keras_sees_them(case, saved, tmp_path, monkeypatch):
    edit, expected = HOSTILE_EDITS[case]
    path = rewrite_config(saved, tmp_path / "hostile.keras", edit)

    def keras_must_not_run(*args, **kwargs):
        raise AssertionError("Keras was asked to load a refused file")

    monkeypatch.setattr(keras.saving, "load_model", keras_must_not_run)
    assert expected in refusal(path)


def _value_paths(value, path=()):
    """Every key/index path into a JSON value."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield path + (key,)
        yield from _value_paths(item, path + (key,))


def test_damaged_configs_raise_only_model_load_error(saved, tmp_path):
    with zipfile.ZipFile(saved) as archive:
        original = json.loads(archive.read("config.json"))
    paths = list(_value_paths(original))
    junk = [None, [], {}, "x", "relu", 0, -1, 10**12, 2.5, True, [None, 784], [[[[]]]], {"class_name": "Dense"}]
    rng = np.random.default_rng(11)
    outcomes = set()
    for i in range(40):
        def edit(config):
            *parents, last = paths[rng.integers(len(paths))]
            target = config
            for key in parents:
                target = target[key]
            target[last] = junk[rng.integers(len(junk))]
        path = rewrite_config(saved, tmp_path / f"fuzz{i}.keras", edit)
        try:
            store.load_classifier(path)
            outcomes.add("loaded")
        except ModelLoadError:
            outcomes.add("refused")
    assert outcomes == {"loaded", "refused"}


def test_wrong_input_and_output_shapes(tmp_path):
    big_images = keras_file(tmp_path / "32x32.keras", keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="softmax"), inputs=(32, 32))
    assert "not 28x28 images" in refusal(big_images)
    five = keras_file(tmp_path / "five.keras", keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax"))
    assert "not 10 classes" in refusal(five)


def test_model_that_was_never_built(tmp_path):
    unbuilt = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    with pytest.warns(UserWarning, match="not yet been built"):
        keras.saving.save_model(unbuilt, tmp_path / "unbuilt.keras")
    assert "shape of its input" in refusal(tmp_path / "unbuilt.keras")


def test_output_without_softmax_and_non_finite_weights(tmp_path):
    logits = keras_file(tmp_path / "logits.keras", keras.layers.Flatten(), keras.layers.Dense(10, activation="elu"))
    assert "softmax" in refusal(logits)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model.layers[0].kernel.assign(np.full((784, 10), np.nan, dtype=np.float32))
    keras.saving.save_model(model, tmp_path / "nan.keras")
    assert "NaN" in refusal(tmp_path / "nan.keras")


def test_shared_layer_that_the_numpy_pass_would_misread(tmp_path):
    inputs = keras.Input((784,))
    shared = keras.layers.Dense(784, activation="relu")
    outputs = keras.layers.Dense(10, activation="softmax")(shared(shared(inputs)))
    keras.saving.save_model(keras.Model(inputs, outputs), tmp_path / "shared.keras")
    assert "cannot run" in refusal(tmp_path / "shared.keras")


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


def test_weights_so_large_that_outputs_overflow_are_called_unusable(tmp_path):
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    for layer in model.layers:
        layer.kernel.assign(np.full(layer.kernel.shape, 3e38, dtype=np.float32))
    keras.saving.save_model(model, tmp_path / "huge.keras")
    assert "weights are unusable" in refusal(tmp_path / "huge.keras")


# ------------------------------------------------------------------------------ loading without Keras


def test_loading_imports_neither_keras_nor_tensorflow(saved):
    import subprocess
    import sys

    script = ("import sys; from digitdnn.storage.models import load_classifier; load_classifier(sys.argv[1]); "
              "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script, str(saved)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_loaded_classifier_builds_its_keras_model_when_saved(clf, saved, tmp_path):
    loaded = store.load_classifier(saved)
    np.testing.assert_allclose(loaded.model(IMAGES).numpy(), clf.predict_proba(IMAGES), atol=1e-5)
    again = store.load_classifier(store.save_classifier(loaded, tmp_path / "again.keras"))
    np.testing.assert_array_equal(again.predict_proba(IMAGES), loaded.predict_proba(IMAGES))


def _with_weights(src, dst, edit):
    """Copy a .keras file, changing its weights file with edit(h5py.File)."""
    import h5py

    with zipfile.ZipFile(src) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    weights = dst.with_suffix(".h5")
    weights.write_bytes(entries["model.weights.h5"])
    with h5py.File(weights, "r+") as file:
        edit(file)
    entries["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return dst


def test_weights_that_link_to_another_file_are_refused(saved, tmp_path):
    import h5py

    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as file:
        file["kernel"] = np.zeros((784, 300), np.float32)

    def link_out(file):
        del file["layers/dense/vars/0"]
        file["layers/dense/vars/0"] = h5py.ExternalLink(str(secret), "kernel")

    assert "links elsewhere" in refusal(_with_weights(saved, tmp_path / "linked.keras", link_out))


def test_weights_of_the_wrong_shape_are_refused(saved, tmp_path):
    def shrink(file):
        del file["layers/dense_1/vars/1"]
        file["layers/dense_1/vars/1"] = np.zeros(99, np.float32)

    assert "do not fit its layers" in refusal(_with_weights(saved, tmp_path / "shrunk.keras", shrink))


def test_a_layer_fed_by_another_than_the_one_before_is_refused(saved, tmp_path):
    def skip_the_hidden_layers(config):
        layers = config["config"]["layers"]
        layers[-1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = layers[1]["config"]["name"]

    assert "cannot run" in refusal(rewrite_config(saved, tmp_path / "skip.keras", skip_the_hidden_layers))
