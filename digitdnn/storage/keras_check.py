"""The whitelist check of a `.keras` archive, so a model file is read without trusting it or running Keras.

The zip archive is checked (entries, sizes, integrity) and every object in its config.json is matched against a
whitelist, so files with code (Lambda layers, custom or registered classes, functions, modules outside Keras) are
refused without running anything. Only the layers the numpy ``Classifier`` understands are admitted: InputLayer,
Flatten, Dense (relu/elu/tanh/sigmoid hidden, softmax output) and Dropout, connected one after the other. The
weights are then read from the archive's HDF5 file as numpy arrays (as Keras reads them: no links, external or
virtual datasets; every array of the shape its layer declares). What a file may cost in memory is known before
any of it is unpacked: the sizes its zip directory declares (a read never goes past them) and the weights its
layers' sizes make must both fit a limit. Anything else raises ``ModelLoadError`` with a one-sentence message.
"""
from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np

from digitdnn.config import ACTIVATIONS, MAX_LAYERS, MAX_UNITS
from digitdnn.model import IMAGE_SHAPE, N_CLASSES, N_PIXELS

MAX_MODEL_BYTES = 256 * 2**20      # default limit: a .keras file, what it unpacks to, its weights (largest legal
                                   # model ~215 MB)
MAX_CONFIG_BYTES = 2**20           # config.json and metadata.json inside a .keras file
MAX_FEATURES = max(N_PIXELS, MAX_UNITS)  # largest per-sample size any declared tensor shape may have

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


Layers = list[tuple[np.ndarray, np.ndarray, str]]  # (W, b, activation) of each Dense layer, input to output


def checked_layers(data: bytes, name: str, limit: int | None = None) -> Layers:
    """The Dense layers of the .keras file `data`, once its archive, config and weights passed every check.

    `name` is the file's name in error messages; `limit` as in checked_config. Raises ModelLoadError.
    """
    return checked_weights(data, checked_config(data, name, limit), name)


def checked_config(data: bytes, name: str, limit: int | None = None) -> dict:
    """The config.json of the .keras file `data`, once the archive and every object in it passed the whitelist.

    `limit` (default MAX_MODEL_BYTES): the most the archive may unpack to, by the sizes its zip directory declares,
    and the most its weights may take in memory (weight_bytes), both known before anything is unpacked.
    """
    limit = MAX_MODEL_BYTES if limit is None else limit
    config = _read_archive(data, name, limit)
    _check_config(config, name)
    needed = weight_bytes(config, name)
    if needed > limit:
        raise ModelLoadError(f"Cannot load {name}: its weights would take {megabytes(needed)} of memory, more than "
                             f"the {megabytes(limit)} a model may take here.")
    return config


def weight_bytes(config: dict, name: str) -> int:
    """The memory the weights and biases of a checked config's Dense layers take as float32 (from its layers'
    sizes: nothing is read)."""
    units = [n for n, _ in _dense_chain(config, name)]
    return 4 * sum((fan_in + 1) * n for fan_in, n in zip([N_PIXELS, *units[:-1]], units, strict=True))


def checked_weights(data: bytes, config: dict, name: str) -> Layers:
    """The Dense layers of the .keras file `data` whose config passed checked_config: weights read and checked."""
    layers = _read_weights(data, [activation for _, activation in _dense_chain(config, name)], name)
    if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b, _ in layers):
        raise ModelLoadError(f"Cannot load {name}: its weights contain NaN or infinite values.")
    return layers


def megabytes(n_bytes: int) -> str:
    """A size for a message: "256 MB", "1 MB", "0.5 MB"."""
    size = n_bytes / 2**20
    return f"{size:,.0f} MB" if size >= 10 else f"{size:.2g} MB"


# ------------------------------------------------------------------------------ checks before Keras


def _read_archive(data: bytes, name: str, limit: int) -> dict:
    """The parsed config.json of a .keras archive, after checking entries, sizes (at most `limit` unpacked) and
    checksums."""
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
            if sum(entry.file_size for entry in entries) > limit:
                raise ModelLoadError(f"Cannot load {name}: it would unpack to more than {megabytes(limit)}.")
            if any(entry.file_size > MAX_CONFIG_BYTES for entry in entries if entry.filename.endswith(".json")):
                raise ModelLoadError(
                    f"Cannot load {name}: its description is larger than {megabytes(MAX_CONFIG_BYTES)}.")
            if archive.testzip() is not None:
                raise zipfile.BadZipFile("checksum mismatch")
            config_bytes = _read_entry(archive, "config.json")
    except ModelLoadError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError (encrypted)
        raise ModelLoadError(f"Cannot load {name}: it is damaged (its zip archive cannot be read).") from exc
    try:
        return json.loads(config_bytes)
    except (ValueError, RecursionError) as exc:
        raise ModelLoadError(f"Cannot load {name}: it is damaged (its config.json is not valid JSON).") from exc


def _read_entry(archive: zipfile.ZipFile, entry: str) -> bytes:
    """An entry's bytes, never more than the size the zip directory declares (which the checks above bounded)."""
    declared = archive.getinfo(entry).file_size
    with archive.open(entry) as member:
        data = member.read(declared + 1)
    if len(data) != declared:
        raise zipfile.BadZipFile(f"{entry} does not have the size its directory declares")
    return data


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


def _dense_chain(config: dict, name: str) -> list[tuple[int, str]]:
    """The units and activation of each Dense layer, input to output, once the checked config is known to be one
    chain: an input of 28x28 (then flattened before the first Dense) or 784 values, each layer fed by the one
    before it only, Dense layers with a bias, the last one softmax with 10 units."""
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
    return dense


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


def _read_weights(data: bytes, activations: list[str], name: str) -> Layers:
    """(W, b, activation) of each Dense layer from model.weights.h5, where Keras keeps them ("layers/dense",
    "layers/dense_1", ... in order), each checked to be a plain dataset of the shape the chain gives it."""
    import h5py

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive, \
                h5py.File(io.BytesIO(_read_entry(archive, "model.weights.h5")), "r") as weights:
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
            or node.dtype.itemsize > 8 or node.size > MAX_UNITS * MAX_FEATURES:
        raise ModelLoadError(f"Cannot load {name}: its weights file holds {path} in a form digitdnn does not read.")
    return node

