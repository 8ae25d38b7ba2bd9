"""Save and load trained networks (.keras files with a JSON sidecar), atomically and safely.

A model file is never trusted: before Keras sees it, the zip archive is checked (entries, sizes,
integrity) and every object in its config.json is matched against a whitelist, so files with
code (Lambda layers, custom or registered classes, functions, modules outside Keras) are refused
without running anything. Only the layers the numpy ``Classifier`` understands are admitted:
InputLayer, Flatten, Dense (relu/elu/tanh/sigmoid hidden, softmax output) and Dropout, connected
one after the other. The weights are then read from the archive's HDF5 file as numpy arrays (as
Keras reads them: no links, external or virtual datasets; every array of the shape its layer
declares), so loading needs neither Keras nor TensorFlow: the network must take 28x28 (or 784)
inputs, give 10 classes and hold finite weights. A Keras model of the same layers is built only
when it is asked for (to save the classifier: see Classifier.from_layers). Anything else raises
``ModelLoadError`` with a one-sentence message.

Next to ``NAME.keras`` lives ``NAME.json`` (the sidecar): format, config, history, test_accuracy,
data_fingerprint, created, versions, command, plus ``model_sha256``, which ties it to the exact
model file; a sidecar that is missing gives metadata ``{}``, one that is unreadable, invalid or
written for another model file gives ``{"damaged": reason}`` and the model still loads.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import io
import json
import logging
import math
import os
import platform
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from digitdnn import __version__
from digitdnn.config import ACTIVATIONS, MAX_LAYERS, MAX_UNITS
from digitdnn.data.mnist import file_sha256
from digitdnn.model import IMAGE_SHAPE, N_CLASSES, N_PIXELS, Classifier
from digitdnn.server import settings
from digitdnn.server.settings import DEFAULT_MODEL_ENV

SIDECAR_FORMAT = 1
MAX_MODEL_BYTES = 256 * 2**20      # a .keras file, and everything in it unpacked (largest legal model ~215 MB)
MAX_UPLOAD_BYTES = 64 * 2**20      # default limit of load_classifier_bytes (uploads from the page)
MAX_CONFIG_BYTES = 2**20           # config.json and metadata.json inside a .keras file
MAX_SIDECAR_BYTES = 16 * 2**20     # NAME.json
MAX_FEATURES = max(N_PIXELS, MAX_UNITS)  # largest per-sample size any declared tensor shape may have

STAGING_PREFIX = ".digitdnn-save-"  # hidden folder a save is written in before it replaces the target
STALE_STAGING_SECONDS = 3600       # a staging folder this old was left by a process that died while saving
_LOG = logging.getLogger(__name__)

_REQUIRED_ENTRIES = ("config.json", "model.weights.h5")
_ALLOWED_ENTRIES = frozenset(_REQUIRED_ENTRIES + ("metadata.json",))
_SHAPE_KEYS = frozenset({"batch_shape", "batch_input_shape", "input_shape", "build_input_shape", "shape"})
_MODEL_MODULES = frozenset({"keras", "keras.models", "keras.src.models.functional", "keras.src.models.sequential"})
_MODEL_CLASSES = {"Functional": _MODEL_MODULES, "Sequential": _MODEL_MODULES}
_LAYER_CLASSES = {name: frozenset({"keras.layers"}) for name in ("InputLayer", "Flatten", "Dense", "Dropout")}
_INITIALIZERS = ("Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal",
                 "LecunUniform", "Ones", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
                 "Zeros")
_PART_CLASSES = {  # objects allowed inside layers: dtype policies, initializers, regularizers, graph links
    "DTypePolicy": frozenset({"keras", "keras.dtype_policies"}),
    "__keras_tensor__": frozenset({None}),
    **{name: frozenset({"keras.initializers"}) for name in _INITIALIZERS},
    **{name: frozenset({"keras.regularizers"}) for name in ("L1", "L2", "L1L2")},
}
_DENSE_ACTIVATIONS = frozenset(ACTIVATIONS) | {"softmax"}
_MAX_NESTING = 32  # Keras configs nest about 8 deep


class ModelLoadError(Exception):
    """A model file is missing, damaged, not a Keras model, unsafe, or not a 28x28 -> 10 digit classifier."""


class SaveError(OSError):
    """A model could not be written (see save_classifier for what is left on disk)."""


class FolderLimits(NamedTuple):
    """Caps on a models folder that many people save into: one saved model (.keras and .json), and all together."""

    model_bytes: int
    folder_bytes: int


class SavedModelFile(NamedTuple):
    """One saved model of a folder: its path, its sidecar metadata, and why that sidecar is damaged (or None)."""

    path: Path
    metadata: dict
    damaged: str | None


def default_model_path() -> Path:
    """$DIGITDNN_DEFAULT_MODEL, or the default model shipped in the package (digitdnn/assets/default.keras)."""
    return settings.default_model_path()


def sidecar_path(path: str | os.PathLike) -> Path:
    """The metadata file that belongs to a model file: NAME.keras -> NAME.json."""
    return Path(path).with_suffix(".json")


# ---------------------------------------------------------------------------------------------- save


def save_classifier(clf: Classifier, path: str | os.PathLike, metadata: dict | None = None,
                    overwrite: bool = True, limits: FolderLimits | None = None) -> Path:
    """Write `clf` to PATH (".keras" is appended if missing) and its sidecar PATH.json, atomically.

    Args:
        clf: the classifier; its Keras model is saved.
        path: target file; missing folders are created.
        metadata: sidecar fields (config, history, test_accuracy, data_fingerprint, command, or any
            other JSON-ready key); they override the defaults. ``format`` and ``model_sha256`` are
            always set here, and a ``damaged`` flag from a previously read sidecar is dropped.
        overwrite: True replaces a model already at `path`. False claims the name in one step
            (a hard link that fails when the name is taken), so of several savers racing for one
            name exactly one succeeds and the others get FileExistsError; the winner's sidecar
            then replaces any sidecar left there without its model.
        limits: refuse (SaveError, nothing written) a model larger than limits.model_bytes, or one that
            would take the folder's saved models past limits.folder_bytes (savers racing may overshoot
            that by the models they save at the same moment).
    Returns:
        The path written.
    Raises:
        FileExistsError (overwrite=False) when a model named `path` exists; nothing is written.
        SaveError (an OSError) when the folder or files cannot be written. No temporary file is
        left behind, and an existing model at `path` is untouched, unless only the final step
        (replacing the sidecar) failed: then the new model is in place and the old sidecar reads
        as damaged (or is missing), because its model_sha256 no longer matches.
        TypeError when `metadata` is not JSON-serialisable (checked before anything is written).
    """
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        path = path.with_name(path.name + ".keras")
    sidecar = _sidecar_fields(metadata)
    json.dumps(sidecar, default=_json_scalar)  # fail on bad metadata before touching the disk
    if not overwrite and path.exists():  # the quick answer; the link below is what makes it safe
        raise _name_taken(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(path.parent)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=path.parent))
    except OSError as exc:
        raise SaveError(f"Cannot save the model to {path}: {_os_reason(exc)}.") from exc
    try:
        staged_model = staging / "model.keras"
        keras.saving.save_model(clf.model, staged_model)
        data = staged_model.read_bytes()
        _refuse_unloadable(data, path)
        sidecar["model_sha256"] = hashlib.sha256(data).hexdigest()
        staged_sidecar = staging / "model.json"
        staged_sidecar.write_text(json.dumps(sidecar, indent=1, default=_json_scalar) + "\n", encoding="utf-8")
        if limits is not None:
            _check_room(staged_model.stat().st_size + staged_sidecar.stat().st_size, path.parent, limits)
        for staged in (staged_model, staged_sidecar):
            _fsync(staged)
        # Model first: a crash between the two leaves the new model with no sidecar or with the old
        # one, which model_sha256 then marks as damaged; never a half-written file under PATH.
        if overwrite:
            os.replace(staged_model, path)
        else:
            os.link(staged_model, path)  # atomic, and never replaces: the name is claimed or taken
        os.replace(staged_sidecar, sidecar_path(path))
    except FileExistsError as exc:
        raise _name_taken(path) from exc
    except SaveError:
        raise
    except OSError as exc:
        raise SaveError(f"Cannot save the model to {path}: {_os_reason(exc)}.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):  # folders cannot be opened for syncing everywhere (Windows)
        _fsync(path.parent)
    return path


def _name_taken(path: Path) -> FileExistsError:
    return FileExistsError(f"The name “{path.stem}” is taken: a model is already saved under it; choose another.")


def _sidecar_fields(metadata: dict | None) -> dict:
    import keras

    fields = {
        "format": SIDECAR_FORMAT,
        "config": None,
        "history": None,
        "test_accuracy": None,
        "data_fingerprint": None,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "versions": {
            "digitdnn": __version__,
            "python": platform.python_version(),
            "tensorflow": getattr(sys.modules.get("tensorflow"), "__version__", None),
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "command": None,
    }
    fields.update(metadata or {})
    fields["format"] = SIDECAR_FORMAT
    fields.pop("damaged", None)  # a reader's verdict on an old sidecar, not part of a new one
    return fields


def _json_scalar(value):
    """JSON fallback for numpy scalars and arrays (e.g. an accuracy computed with numpy)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"model metadata must be JSON-serialisable, got {type(value).__name__}")


def _refuse_unloadable(data: bytes, path: Path) -> None:
    """Never write a model that load_classifier would refuse."""
    try:
        _check_config(_read_archive(data, str(path)), str(path))
    except ModelLoadError as exc:
        raise SaveError(f"Refusing to save the model to {path}: digitdnn could not load it back.") from exc


def _check_room(size: int, folder: Path, limits: FolderLimits) -> None:
    """SaveError with a plain message when a saved model of `size` bytes would break the folder's limits."""
    if size > limits.model_bytes:
        raise SaveError(f"This model takes {_megabytes(size)}, more than the {_megabytes(limits.model_bytes)} "
                        "a saved model may take here.")
    used = folder_bytes(folder)
    if used + size > limits.folder_bytes:
        raise SaveError(f"The models folder holds {_megabytes(used)} of the {_megabytes(limits.folder_bytes)} "
                        f"it may hold, and this model takes {_megabytes(size)}; ask for old models to be deleted.")


def folder_bytes(folder: str | os.PathLike) -> int:
    """What the saved models (.keras and .json files) in `folder` take; staging folders and other files not counted."""
    total = 0
    for path in Path(folder).glob("*"):
        with contextlib.suppress(OSError):
            if path.suffix in (".keras", ".json") and path.is_file():
                total += path.stat().st_size
    return total


def _remove_stale_staging(folder: Path) -> None:
    """Delete staging folders that processes killed while saving left behind (never listed or loaded anyway)."""
    now = datetime.datetime.now().timestamp()
    for staging in folder.glob(STAGING_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if now - staging.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(staging)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


# ---------------------------------------------------------------------------------------------- load


def load_classifier(path: str | os.PathLike | None = None) -> Classifier:
    """The classifier saved at `path` (None: default_model_path()), with its sidecar metadata.

    Raises:
        ModelLoadError for a missing, unreadable, damaged, unsafe or unsuitable file.
    """
    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise ModelLoadError(
                f"There is no default model at {path}; make one with `digitdnn train --out {path}` "
                f"or set {DEFAULT_MODEL_ENV} to a .keras file."
            )
    path = Path(path)
    name = str(path)
    try:
        if not path.is_file():
            raise ModelLoadError(f"Cannot load {name}: {'it is a folder' if path.is_dir() else 'no such file'}.")
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise ModelLoadError(f"Cannot load {name}: it is larger than {_megabytes(MAX_MODEL_BYTES)}.")
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"Cannot load {name}: the file cannot be read ({_os_reason(exc)}).") from exc
    metadata = _read_sidecar(sidecar_path(path), hashlib.sha256(data).hexdigest())
    return _classifier_from_bytes(data, name, metadata)


def load_classifier_bytes(data: bytes, name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> Classifier:
    """A classifier from the bytes of a .keras file (an upload); `name` is used in error messages.

    The size limit is checked first; the metadata is ``{}`` (an upload has no sidecar).
    """
    if len(data) > max_bytes:
        raise ModelLoadError(f"Cannot load {name}: it is larger than the {_megabytes(max_bytes)} upload limit.")
    return _classifier_from_bytes(bytes(data), name, {})


def _classifier_from_bytes(data: bytes, name: str, metadata: dict) -> Classifier:
    config = _read_archive(data, name)
    _check_config(config, name)
    activations = _dense_chain(config, name)
    layers = _read_weights(data, activations, name)
    if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b, _ in layers):
        raise ModelLoadError(f"Cannot load {name}: its weights contain NaN or infinite values.")
    classifier = Classifier.from_layers(layers, None, metadata)
    with np.errstate(all="ignore"):
        probe = classifier.predict_proba(np.random.default_rng(0).random((4, N_PIXELS), dtype=np.float32))
    if not np.isfinite(probe).all():
        raise ModelLoadError(f"Cannot load {name}: its weights are unusable (so large that its outputs overflow).")
    return classifier


def _megabytes(n_bytes: int) -> str:
    megabytes = n_bytes / 2**20
    return f"{megabytes:,.0f} MB" if megabytes >= 10 else f"{megabytes:.2g} MB"


# ------------------------------------------------------------------------------ checks before Keras


def _read_archive(data: bytes, name: str) -> dict:
    """The parsed config.json of a .keras archive, after checking entries, sizes and checksums."""
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelLoadError(f"Cannot load {name}: it is not a Keras model file (or it was cut short).")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = [entry.filename for entry in entries]
            missing = [entry for entry in _REQUIRED_ENTRIES if entry not in names]
            if missing:
                raise ModelLoadError(f"Cannot load {name}: it is not a Keras model file (no {missing[0]} inside).")
            unexpected = sorted(set(names) - _ALLOWED_ENTRIES)
            if unexpected or len(set(names)) != len(names):
                what = ", ".join(unexpected) or "duplicate entries"
                raise ModelLoadError(f"Cannot load {name}: it holds files a digitdnn model does not have ({what}).")
            if sum(entry.file_size for entry in entries) > MAX_MODEL_BYTES:
                raise ModelLoadError(f"Cannot load {name}: it would unpack to more than {_megabytes(MAX_MODEL_BYTES)}.")
            if any(entry.file_size > MAX_CONFIG_BYTES for entry in entries if entry.filename.endswith(".json")):
                raise ModelLoadError(
                    f"Cannot load {name}: its description is larger than {_megabytes(MAX_CONFIG_BYTES)}.")
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("checksum mismatch")
            config_bytes = archive.read("config.json")
    except ModelLoadError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError (encrypted)
        raise ModelLoadError(f"Cannot load {name}: it is damaged (its zip archive cannot be read).") from exc
    try:
        return json.loads(config_bytes)
    except (ValueError, RecursionError) as exc:
        raise ModelLoadError(f"Cannot load {name}: it is damaged (its config.json is not valid JSON).") from exc


def _check_config(config, name: str) -> None:
    """Refuse any object, layer or size outside the whitelist; nothing is imported or built."""
    if not isinstance(config, dict):
        raise ModelLoadError(f"Cannot load {name}: its config.json does not describe a model.")
    _check_object(config, _MODEL_CLASSES, name)
    body = config.get("config")
    if not isinstance(body, dict):
        body = {}
    layers = body.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelLoadError(f"Cannot load {name}: its config.json declares no layers.")
    n_dense = 0
    for layer in layers:
        if not isinstance(layer, dict):
            raise ModelLoadError(f"Cannot load {name}: its config.json has a malformed layer.")
        _check_object(layer, _LAYER_CLASSES, name)
        if layer["class_name"] == "Dense":
            _check_dense(layer.get("config"), name)
            n_dense += 1
        _check_parts({k: v for k, v in layer.items() if k not in ("module", "class_name", "registered_name")}, name)
    if n_dense > MAX_LAYERS + 1:
        raise ModelLoadError(f"Cannot load {name}: it has {n_dense} Dense layers, more than {MAX_LAYERS + 1}.")
    # compile_config is skipped: with compile=False Keras discards it unread.
    _check_parts({k: v for k, v in config.items() if k not in ("module", "class_name", "registered_name",
                                                                "config", "compile_config")}, name)
    _check_parts({k: v for k, v in body.items() if k != "layers"}, name)


def _check_object(obj: dict, allowed: dict, name: str) -> None:
    """One serialised Keras object: its class must be allowed here, from Keras's own module, not custom."""
    class_name = obj.get("class_name")
    if not isinstance(class_name, str) or class_name not in allowed:
        raise ModelLoadError(f"Cannot load {name}: it uses the class {class_name!r}, which digitdnn does not allow.")
    module = obj.get("module")
    if not isinstance(module, (str, type(None))) or module not in allowed[class_name]:
        raise ModelLoadError(f"Cannot load {name}: it refers to the module {module!r}, which digitdnn does not allow.")
    registered = obj.get("registered_name")
    if registered not in (None, class_name):
        raise ModelLoadError(
            f"Cannot load {name}: it contains the custom class {registered!r}, which digitdnn does not allow.")


def _check_parts(value, name: str, depth: int = 0) -> None:
    """Walk nested config values: every object must be an allowed part, every shape small."""
    if depth > _MAX_NESTING:
        raise ModelLoadError(f"Cannot load {name}: its config.json nests values too deeply.")
    if isinstance(value, dict):
        if "class_name" in value:
            _check_object(value, _PART_CLASSES, name)
        for key, item in value.items():
            if key in _SHAPE_KEYS:
                _check_shape(item, name)
            _check_parts(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_parts(item, name, depth + 1)


def _check_shape(shape, name: str) -> None:
    """A declared tensor shape: positive integer sizes, at most MAX_FEATURES values per sample."""
    if shape is None:
        return
    dims = shape if isinstance(shape, list) else None
    if not dims or len(dims) > 4 or any(d is not None and (type(d) is not int or d < 1) for d in dims):
        raise ModelLoadError(f"Cannot load {name}: it declares an invalid tensor shape {shape!r}.")
    if math.prod(d or 1 for d in dims[1:]) > MAX_FEATURES:
        raise ModelLoadError(f"Cannot load {name}: it declares a tensor shape {shape!r} larger than digitdnn allows.")


def _check_dense(config, name: str) -> None:
    """A Dense layer the numpy forward pass can run: bounded units, a known activation, no extras."""
    if not isinstance(config, dict):
        raise ModelLoadError(f"Cannot load {name}: its config.json has a malformed Dense layer.")
    units = config.get("units")
    if type(units) is not int or not 1 <= units <= MAX_UNITS:
        raise ModelLoadError(f"Cannot load {name}: a Dense layer has {units!r} units, not 1 to {MAX_UNITS}.")
    activation = config.get("activation")
    if not isinstance(activation, str) or activation not in _DENSE_ACTIVATIONS:
        raise ModelLoadError(
            f"Cannot load {name}: a Dense layer uses the activation {activation!r}, which digitdnn does not run.")
    if config.get("lora_rank") or config.get("quantization_config") is not None:
        raise ModelLoadError(f"Cannot load {name}: a Dense layer is quantized or has LoRA weights.")
    for key, value in config.items():
        by_name = not (value is None or isinstance(value, dict))
        if key.endswith(("_initializer", "_regularizer", "_constraint")) and by_name:
            raise ModelLoadError(
                f"Cannot load {name}: a Dense layer gives {key} by name, which digitdnn does not allow.")


# ------------------------------------------------------------------------------ the layers and their weights


def _dense_chain(config: dict, name: str) -> list[str]:
    """The activations of the Dense layers, input to output, once the checked config is known to be one chain:
    an input of 28x28 (then flattened before the first Dense) or 784 values, each layer fed by the one before
    it only, Dense layers with a bias, the last one softmax with 10 units."""
    try:
        body = config["config"]
        layers = body["layers"]
        if layers[0]["class_name"] != "InputLayer":
            raise ModelLoadError(f"Cannot load {name}: it does not declare the shape of its input.")
        shape = tuple(layers[0]["config"]["batch_shape"][1:])
        if config["class_name"] == "Functional":
            _check_links(body, layers, name)
        flat = shape == (N_PIXELS,)
        if not flat and shape != IMAGE_SHAPE:
            raise ModelLoadError(f"Cannot load {name}: it takes inputs of shape {shape}, not 28x28 images.")
        dense: list[tuple[int, str]] = []
        for layer in layers[1:]:
            kind, layer_config = layer["class_name"], layer["config"]
            if kind == "InputLayer" or (kind == "Flatten" and (flat or dense)) or (kind == "Dense" and not flat):
                raise ModelLoadError(f"Cannot load {name}: its layers are connected in a way digitdnn cannot run.")
            flat = flat or kind == "Flatten"
            if kind == "Dense":
                if layer_config.get("use_bias") is False:
                    raise ModelLoadError(f"Cannot load {name}: a Dense layer has no bias.")
                dense.append((layer_config["units"], layer_config["activation"]))
    except ModelLoadError:
        raise
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelLoadError(f"Cannot load {name}: its config.json does not describe a model digitdnn can run.") \
            from exc
    if not dense:
        raise ModelLoadError(f"Cannot load {name}: it has no Dense layer.")
    *hidden, (units, activation) = dense
    if units != N_CLASSES:
        raise ModelLoadError(f"Cannot load {name}: it gives outputs of shape ({units},), not {N_CLASSES} classes.")
    if activation != "softmax" or any(a not in ACTIVATIONS for _, a in hidden):
        raise ModelLoadError(f"Cannot load {name}: its last layer must be softmax and only it.")
    return [a for _, a in dense]


def _check_links(body: dict, layers: list, name: str) -> None:
    """A functional model's graph: one input, one output (the last layer), each layer called once on the one
    before it (a shared or skipped layer would be misread by the numpy forward pass)."""
    names = [layer["config"]["name"] for layer in layers]
    ends = [body["input_layers"], body["output_layers"]]
    ends = [end[0] if end and isinstance(end[0], list) and len(end) == 1 else end for end in ends]
    if ends != [[names[0], 0, 0], [names[-1], 0, 0]] or len(set(names)) != len(names):
        raise ModelLoadError(
            f"Cannot load {name}: it has several inputs or outputs, not one image in and 10 classes out.")
    for previous, layer in zip(names[:-1], layers[1:], strict=True):
        nodes = layer["inbound_nodes"]
        if len(nodes) != 1 or len(nodes[0]["args"]) != 1 or \
                nodes[0]["args"][0]["config"]["keras_history"][0] != previous:
            raise ModelLoadError(f"Cannot load {name}: its layers are connected in a way digitdnn cannot run.")


def _read_weights(data: bytes, activations: list[str], name: str) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(W, b, activation) of each Dense layer from model.weights.h5, where Keras keeps them ("layers/dense",
    "layers/dense_1", ... in order), each checked to be a plain dataset of the shape the chain gives it."""
    import h5py

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")),
                                                                     "r") as weights:
            layers, fan_in = [], N_PIXELS
            for index, activation in enumerate(activations):
                group = f"layers/dense{f'_{index}' if index else ''}/vars"
                kernel = _dataset(weights, f"{group}/0", name)
                units = kernel.shape[1] if len(kernel.shape) == 2 else -1
                bias = _dataset(weights, f"{group}/1", name)
                if kernel.shape != (fan_in, units) or bias.shape != (units,) or \
                        (index == len(activations) - 1 and units != N_CLASSES):
                    raise ModelLoadError(f"Cannot load {name}: its weights do not fit its layers.")
                layers.append((np.asarray(kernel[()], np.float32), np.asarray(bias[()], np.float32), activation))
                fan_in = units
            return layers
    except ModelLoadError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, TypeError for damaged files
        raise ModelLoadError(f"Cannot load {name}: its weights cannot be read.") from exc


def _dataset(weights, path: str, name: str):
    """The HDF5 dataset at `path`, refused if any step is a link, or it is external or virtual, or not numbers."""
    import h5py

    node = weights
    for part in path.split("/"):
        if part not in node or node.get(part, getlink=True).__class__ is not h5py.HardLink:
            raise ModelLoadError(f"Cannot load {name}: its weights file lacks {path} or links elsewhere.")
        node = node[part]
    if not isinstance(node, h5py.Dataset) or node.external or node.is_virtual or node.dtype.kind != "f" \
            or node.size > MAX_UNITS * MAX_FEATURES:
        raise ModelLoadError(f"Cannot load {name}: its weights file holds {path} in a form digitdnn does not read.")
    return node


# ------------------------------------------------------------------------------------------ metadata


def read_metadata(path: str | os.PathLike) -> dict:
    """The sidecar metadata of the model at `path`: {} if there is none, {"damaged": reason} if it is bad."""
    model_path = Path(path).with_suffix(".keras")
    return _read_sidecar(sidecar_path(model_path), _model_sha256(model_path))


def kept_test_accuracy(metadata: dict) -> float | None:
    """Test accuracy of the weights a sidecar describes (not the best epoch's: training keeps the last).

    In order: the history's ``test_accuracy`` (recorded by History.to_dict), else its last epoch's
    (sidecars written before that field existed; a run keeps its last finished epoch's weights),
    else the sidecar's own ``test_accuracy`` (a measurement, e.g. an upload's or a model without history).
    """
    history = metadata.get("history")
    if not isinstance(history, dict):
        history = {}
    epochs = [e for e in history.get("epochs") or [] if isinstance(e, dict)]
    for candidate in (history.get("test_accuracy"), epochs[-1].get("test_accuracy") if epochs else None,
                      metadata.get("test_accuracy")):
        if isinstance(candidate, (int, float)) and not isinstance(candidate, bool):
            return float(candidate)
    return None


def list_models(folder: str | os.PathLike) -> list[SavedModelFile]:
    """The saved models (*.keras) in `folder`, sorted by name; staging folders and hidden files are skipped.

    Only the sidecars are read (and each model's hash, cached while the file is unchanged): a listed
    model may still fail to load.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.keras")):
        if path.name.startswith(".") or not path.is_file():
            continue
        metadata = read_metadata(path)
        entries.append(SavedModelFile(path, metadata, metadata.get("damaged")))
    return entries


def _read_sidecar(path: Path, model_sha256: str | None) -> dict:
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return {"damaged": f"{path.name} is larger than {_megabytes(MAX_SIDECAR_BYTES)}."}
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        _LOG.warning("the sidecar %s cannot be read", path, exc_info=True)
        return {"damaged": f"{path.name} cannot be read ({_os_reason(exc)})."}
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        _LOG.warning("the sidecar %s is not valid JSON", path, exc_info=True)
        return {"damaged": f"{path.name} is not valid JSON."}
    if not isinstance(metadata, dict):
        return {"damaged": f"{path.name} does not hold a JSON object."}
    if metadata.get("format") != SIDECAR_FORMAT:
        return {"damaged": f"{path.name} has the unknown format {metadata.get('format')!r}."}
    recorded = metadata.get("model_sha256")
    if recorded is not None and model_sha256 is not None and recorded != model_sha256:
        return {"damaged": f"{path.name} was written for a different model file."}
    return metadata


def _model_sha256(path: Path) -> str | None:
    """The model file's sha256, None if it cannot be read; cached per (path, mtime, size) for list_models."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _cached_file_sha256(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _cached_file_sha256(path: str, mtime_ns: int, size: int) -> str | None:
    try:
        return file_sha256(Path(path))
    except OSError:
        return None
