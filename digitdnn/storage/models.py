"""Save, list and load trained networks: NAME.keras with its model card NAME.json (the sidecar), atomically.

A model file is never trusted: storage.keras_check reads it without Keras (see there), so loading needs neither
Keras nor TensorFlow; a Keras model of the same layers is built only when it is asked for (to save the
classifier: see Classifier.from_layers). Anything wrong raises ``ModelLoadError`` with a one-sentence message.
What a file may cost in memory is checked before it is unpacked (a limit per model), and a server can hold the
weights of the models it loads from people's files against one budget for all its sessions (storage.weight_budget).

The sidecar holds the model card (storage.model_card) plus ``model_sha256``, which ties it to the exact model
file; a sidecar that is missing gives metadata ``{}``, one that is unreadable, invalid or written for another
model file gives ``{"damaged": reason}`` and the model still loads.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from digitdnn.model import N_PIXELS, Classifier
from digitdnn.server import settings
from digitdnn.server.settings import DEFAULT_MODEL_ENV
from digitdnn.storage.files import file_sha256, fsync, os_reason, sync_folder
from digitdnn.storage.keras_check import (
    MAX_MODEL_BYTES,
    ModelLoadError,
    checked_config,
    checked_weights,
    megabytes,
    weight_bytes,
)
from digitdnn.storage.model_card import SIDECAR_FORMAT, ModelCard, json_value
from digitdnn.storage.server_default import POINTER_FILE
from digitdnn.storage.weight_budget import WeightBudget

MAX_UPLOAD_BYTES = 64 * 2**20      # default limit of load_classifier_bytes (uploads from the page)
MAX_SIDECAR_BYTES = 16 * 2**20     # NAME.json

STAGING_PREFIX = ".digitdnn-save-"  # hidden folder a save is written in before it replaces the target
STALE_STAGING_SECONDS = 3600       # a staging folder this old was left by a process that died while saving
_LOG = logging.getLogger(__name__)


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


def save_classifier(clf: Classifier, path: str | os.PathLike, metadata: ModelCard | dict | None = None,
                    overwrite: bool = True, limits: FolderLimits | None = None, name: str | None = None) -> Path:
    """Write `clf` to PATH (".keras" is appended if missing) and its sidecar PATH.json, atomically.

    Args:
        clf: the classifier; its Keras model is saved.
        path: target file; missing folders are created.
        metadata: its ModelCard, or the card's JSON fields (config, history, test_accuracy, command, or any
            other JSON-ready key: a loaded classifier's metadata). ``created`` and ``versions`` are filled in
            when not known, ``format`` and ``model_sha256`` always set here, and a ``damaged`` flag from a
            previously read sidecar is dropped.
        overwrite: True replaces a model already at `path`. False claims the name in one step
            (a hard link that fails when the name is taken), so of several savers racing for one
            name exactly one succeeds and the others get FileExistsError; the winner's sidecar
            then replaces any sidecar left there without its model.
        limits: refuse (SaveError, nothing written) a model larger than limits.model_bytes, or one that
            would take the folder's saved models past limits.folder_bytes (savers racing may overshoot
            that by the models they save at the same moment).
        name: how error messages name the file (default: `path`; the page gives the file's name only).
    Returns:
        The path written.
    Raises:
        FileExistsError (overwrite=False) when a model named `path` exists; nothing is written.
        SaveError (an OSError) when the folder or files cannot be written. No temporary file is
        left behind, and an existing model at `path` is untouched, unless only the final step
        (replacing the sidecar) failed: then the new model is in place and the old sidecar reads
        as damaged (or is missing), because its model_sha256 no longer matches.
        TypeError when `metadata` is not JSON-serialisable (checked before anything is written).
        ValueError, nothing written, for the name of the server's default-model pointer ("server-default",
        in any case): its sidecar would replace the teacher's choice (storage.server_default).
    """
    import keras

    path = Path(path)
    if path.suffix != ".keras":
        path = path.with_name(path.name + ".keras")
    if sidecar_path(path).name.casefold() == POINTER_FILE.casefold():
        raise ValueError(f"The name “{path.stem}” is reserved: the server keeps its default model choice under "
                         "it; choose another.")
    where = name or str(path)
    card = metadata if isinstance(metadata, ModelCard) else ModelCard.from_json(metadata)
    json.dumps(card.to_json(), default=json_value)  # fail on bad metadata before touching the disk
    if not overwrite and path.exists():  # the quick answer; the link below is what makes it safe
        raise name_taken(path.stem)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(path.parent)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=path.parent))
    except OSError as exc:
        raise SaveError(f"Cannot save the model to {where}: {os_reason(exc)}.") from exc
    try:
        staged_model = staging / "model.keras"
        keras.saving.save_model(clf.model, staged_model)
        data = staged_model.read_bytes()
        _refuse_unloadable(data, where)
        sidecar = card.stamped(hashlib.sha256(data).hexdigest()).to_json()
        staged_sidecar = staging / "model.json"
        staged_sidecar.write_text(json.dumps(sidecar, indent=1, default=json_value) + "\n", encoding="utf-8")
        if limits is not None:
            _check_room(staged_model.stat().st_size + staged_sidecar.stat().st_size, path.parent, limits)
        for staged in (staged_model, staged_sidecar):
            fsync(staged)
        # Model first: a crash between the two leaves the new model with no sidecar or with the old
        # one, which model_sha256 then marks as damaged; never a half-written file under PATH.
        if overwrite:
            os.replace(staged_model, path)
        else:
            os.link(staged_model, path)  # atomic, and never replaces: the name is claimed or taken
        os.replace(staged_sidecar, sidecar_path(path))
    except FileExistsError as exc:
        raise name_taken(path.stem) from exc
    except SaveError:
        raise
    except OSError as exc:
        raise SaveError(f"Cannot save the model to {where}: {os_reason(exc)}.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sync_folder(path.parent)
    return path


def name_taken(name: str) -> FileExistsError:
    """The error of a save under a name another model holds (names are never overwritten)."""
    return FileExistsError(f"The name “{name}” is taken: a model is already saved under it; choose another.")


def _refuse_unloadable(data: bytes, where: str) -> None:
    """Never write a model that load_classifier would refuse."""
    try:
        checked_config(data, where)
    except ModelLoadError as exc:
        raise SaveError(f"Refusing to save the model to {where}: digitdnn could not load it back.") from exc


def check_model_size(size: int, limits: FolderLimits) -> None:
    """SaveError with a plain message when a saved model of `size` bytes is larger than one may be."""
    if size > limits.model_bytes:
        raise SaveError(f"This model takes {megabytes(size)}, more than the {megabytes(limits.model_bytes)} "
                        "a saved model may take here.")


def _check_room(size: int, folder: Path, limits: FolderLimits) -> None:
    """SaveError with a plain message when a saved model of `size` bytes would break the folder's limits."""
    check_model_size(size, limits)
    used = folder_bytes(folder)
    if used + size > limits.folder_bytes:
        raise SaveError(f"The models folder holds {megabytes(used)} of the {megabytes(limits.folder_bytes)} "
                        f"it may hold, and this model takes {megabytes(size)}; ask for old models to be deleted.")


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
    now = time.time()
    for staging in folder.glob(STAGING_PREFIX + "*"):
        with contextlib.suppress(OSError):
            if now - staging.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(staging)


# ---------------------------------------------------------------------------------------------- load


def load_classifier(path: str | os.PathLike | None = None, name: str | None = None,
                    budget: WeightBudget | None = None) -> Classifier:
    """The classifier saved at `path` (None: default_model_path()), with its sidecar metadata.

    `name`: how error messages name the file (default: its path). `budget`: its weights are held against it for
    as long as the classifier lives (see weight_budget).

    Raises:
        ModelLoadError for a missing, unreadable, damaged, unsafe or unsuitable file; BudgetFull (one) when its
        weights do not fit in `budget`.
    """
    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise ModelLoadError(
                f"There is no default model at {path}; make one with `digitdnn train --out {path}` "
                f"or set {DEFAULT_MODEL_ENV} to a .keras file."
            )
    path = Path(path)
    name = name or str(path)
    try:
        if not path.is_file():
            raise ModelLoadError(f"Cannot load {name}: {'it is a folder' if path.is_dir() else 'no such file'}.")
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise ModelLoadError(f"Cannot load {name}: it is larger than {megabytes(MAX_MODEL_BYTES)}.")
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"Cannot load {name}: the file cannot be read ({os_reason(exc)}).") from exc
    metadata = _read_sidecar(sidecar_path(path), hashlib.sha256(data).hexdigest())
    return _classifier_from_bytes(data, name, metadata, None, budget)


def load_classifier_bytes(data: bytes, name: str, max_bytes: int = MAX_UPLOAD_BYTES, limit: int | None = None,
                          budget: WeightBudget | None = None) -> Classifier:
    """A classifier from the bytes of a .keras file (an upload); `name` is used in error messages.

    The file's size limit (`max_bytes`) is checked first, then what it unpacks to and what its weights take in
    memory (at most `limit`, default MAX_MODEL_BYTES), before anything is unpacked. `budget`: as in
    load_classifier. The metadata is ``{}`` (an upload has no sidecar).
    """
    if len(data) > max_bytes:
        raise ModelLoadError(f"Cannot load {name}: it is larger than the {megabytes(max_bytes)} upload limit.")
    return _classifier_from_bytes(bytes(data), name, {}, limit, budget)


def _classifier_from_bytes(data: bytes, name: str, metadata: dict, limit: int | None,
                           budget: WeightBudget | None) -> Classifier:
    config = checked_config(data, name, limit)
    reserved = budget.reserved(weight_bytes(config, name)) if budget else contextlib.nullcontext(_unbudgeted)
    with reserved as hold:
        classifier = Classifier.from_layers(checked_weights(data, config, name), None, metadata)
        with np.errstate(all="ignore"):
            probe = classifier.predict_proba(np.random.default_rng(0).random((4, N_PIXELS), dtype=np.float32))
        if not np.isfinite(probe).all():
            raise ModelLoadError(
                f"Cannot load {name}: its weights are unusable (so large that its outputs overflow).")
        return hold(classifier)


def _unbudgeted(classifier: Classifier) -> Classifier:
    return classifier


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
    entries = []
    for path in _saved_model_files(Path(folder)):
        metadata = read_metadata(path)
        entries.append(SavedModelFile(path, metadata, metadata.get("damaged")))
    return entries


def saved_model_path(folder: str | os.PathLike, name: object) -> Path | None:
    """The file of the model list_models(folder) lists under `name` (its file's stem); None for any other value.

    `name` comes from a client and is only ever compared with the listed names, never used as a path: a path,
    `../x`, a folder or a name not listed all give None.
    """
    return next((path for path in _saved_model_files(Path(folder)) if path.stem == name), None)


def _saved_model_files(folder: Path) -> list[Path]:
    """The *.keras files directly in `folder` that are listed, sorted by name (no hidden files, no folders)."""
    if not folder.is_dir():
        return []
    return [path for path in sorted(folder.glob("*.keras")) if not path.name.startswith(".") and path.is_file()]


def _read_sidecar(path: Path, model_sha256: str | None) -> dict:
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return {"damaged": f"{path.name} is larger than {megabytes(MAX_SIDECAR_BYTES)}."}
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        _LOG.warning("the sidecar %s cannot be read", path, exc_info=True)
        return {"damaged": f"{path.name} cannot be read ({os_reason(exc)})."}
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
