"""The whitelist check of .keras files (storage.keras_check): every kind of bad or hostile file is refused in one
plain sentence, before Keras or any code in the file runs."""
import json
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from PIL import Image

from digitdnn.storage import keras_check
from digitdnn.storage import models as store
from digitdnn.storage.keras_check import ModelLoadError


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


def keras_must_not_run(monkeypatch):
    """Make any attempt to load a file with Keras fail the test."""
    def load_model(*args, **kwargs):
        raise AssertionError("Keras was asked to load a refused file")

    monkeypatch.setattr(keras.saving, "load_model", load_model)


# ------------------------------------------------------------------------------------- the archive


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
    for module in (store, keras_check):  # the file's size is checked on loading, what it unpacks to in the check
        monkeypatch.setattr(module, "MAX_MODEL_BYTES", packed.stat().st_size)
    assert "larger than" in refusal(saved)
    assert "would unpack to more than" in refusal(packed)


# ------------------------------------------------------------------------------- what a file may cost in memory

PAGE_LIMIT = 64 * 2**20  # what one uploaded model may unpack to and take in memory on the page (DIGITDNN_MODEL_MAX_MB)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> bytes:
    """The upload bomb of issue 21: the largest network allowed, zero weights, deflated (0.2 MB -> 214 MB)."""
    from benchmarks.trust_upload import bomb_keras

    return bomb_keras(tmp_path_factory.mktemp("bomb") / "bomb.keras").read_bytes()


def refused_with_peak(load) -> tuple[str, int]:
    """The ModelLoadError message of load(), and the most memory Python and numpy held meanwhile (bytes)."""
    tracemalloc.start()
    try:
        with pytest.raises(ModelLoadError) as info:
            load()
        return str(info.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def unwritten_weights_keras(path: Path, units: list[int]) -> bytes:
    """A .keras file whose config.json and model.weights.h5 declare layers of `units` whose data was never written
    (HDF5 then reads zeros): the archive unpacks to a few KB, the weights to whatever the layers make."""
    from benchmarks.trust_upload import network_config

    h5_path = path.with_suffix(".h5")
    with h5py.File(h5_path, "w") as weights:
        for index, (fan_in, n) in enumerate(zip([784, *units], [*units, 10], strict=True)):
            group = weights.create_group(f"layers/dense{f'_{index}' if index else ''}/vars")
            group.create_dataset("0", (fan_in, n), "<f4")
            group.create_dataset("1", (n,), "<f4")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(network_config(units)))
        archive.write(h5_path, "model.weights.h5")
    return path.read_bytes()


def test_the_upload_bomb_is_refused_from_its_zip_directory_before_anything_is_unpacked(bomb):
    assert len(bomb) < 0.25 * 2**20
    message, peak = refused_with_peak(lambda: store.load_classifier_bytes(bomb, "bomb.keras", limit=PAGE_LIMIT))
    assert message == "Cannot load bomb.keras: it would unpack to more than 64 MB.", message
    assert peak < 4 * 2**20, peak


def test_layers_too_large_for_the_limit_are_refused_before_their_weights_are_read(tmp_path):
    from digitdnn.config import MAX_LAYERS, MAX_UNITS

    small = unwritten_weights_keras(tmp_path / "small.keras", [8])
    assert store.load_classifier_bytes(small, "small.keras", limit=PAGE_LIMIT).layers[0][0].shape == (784, 8)
    huge = unwritten_weights_keras(tmp_path / "huge.keras", [MAX_UNITS] * MAX_LAYERS)
    assert len(huge) < 2**20
    message, peak = refused_with_peak(lambda: store.load_classifier_bytes(huge, "huge.keras", limit=PAGE_LIMIT))
    assert message == ("Cannot load huge.keras: its weights would take 204 MB of memory, more than the 64 MB a model "
                       "may take here."), message
    assert peak < 4 * 2**20, peak


def test_the_weights_a_config_declares_are_what_loading_holds(saved):
    with zipfile.ZipFile(saved) as archive:
        config = json.loads(archive.read("config.json"))
    layers = store.load_classifier(saved).layers
    assert keras_check.weight_bytes(config, "good.keras") == sum(w.nbytes + b.nbytes for w, b, _ in layers)


def test_a_read_stops_at_the_size_the_zip_directory_declares(saved, tmp_path):
    """The weights entry deflates its real bytes followed by 50 MB of zeros, but its directory (and local header)
    declare only the real bytes, with their checksum: the model loads and the zeros are never inflated."""
    with zipfile.ZipFile(saved) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    weights = entries["model.weights.h5"]
    lying = tmp_path / "lying.keras"
    with zipfile.ZipFile(lying, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data + bytes(50 * 2**20) if name == "model.weights.h5" else data)
    data = bytearray(lying.read_bytes())
    declared = struct.pack("<II", zlib.crc32(weights), len(weights))
    name = b"model.weights.h5"
    for signature, crc_at, size_at, name_at in ((b"PK\x03\x04", 14, 22, 30), (b"PK\x01\x02", 16, 24, 46)):
        start = data.find(signature)
        while data[start + name_at:start + name_at + len(name)] != name:
            start = data.find(signature, start + 1)
        data[start + crc_at:start + crc_at + 4] = declared[:4]
        data[start + size_at:start + size_at + 4] = declared[4:]
    tracemalloc.start()
    try:
        loaded = store.load_classifier_bytes(bytes(data), "lying.keras")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [w.shape for w, _, _ in loaded.layers] == [w.shape for w, _, _ in store.load_classifier(saved).layers]
    assert peak < 20 * 2**20, peak


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
def test_bad_uploads_are_refused_in_one_sentence(case, saved, tmp_path, monkeypatch):
    make, expected = UPLOADS[case]
    data = make(saved, tmp_path)
    keras_must_not_run(monkeypatch)
    with pytest.raises(ModelLoadError) as info:
        store.load_classifier_bytes(data, "upload.keras")
    message = str(info.value)
    assert message.startswith("Cannot load upload.keras: ") and "\n" not in message, message
    assert expected in message, message


# ------------------------------------------------------------------------------------- the config


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
    keras_must_not_run(monkeypatch)
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


def test_a_layer_fed_by_another_than_the_one_before_is_refused(saved, tmp_path):
    def skip_the_hidden_layers(config):
        layers = config["config"]["layers"]
        layers[-1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = layers[1]["config"]["name"]

    assert "cannot run" in refusal(rewrite_config(saved, tmp_path / "skip.keras", skip_the_hidden_layers))


# ------------------------------------------------------------------------------------- the weights


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
