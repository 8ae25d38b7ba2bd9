"""The model new page sessions start with when a teacher chose one: a small file in the models folder names it.

The shipped default (digitdnn/assets/default.keras, or $DIGITDNN_DEFAULT_MODEL) is never changed; choosing a
model writes POINTER_FILE (JSON: {"model": "NAME.keras"}) beside the saved models, and forgetting
the choice removes it. Only a plain file name inside the same folder is followed. A model saved as
"server-default" would write its sidecar over the pointer, so storage.models refuses that name.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from digitdnn.storage.files import atomic_write

POINTER_FILE = "server-default.json"
MAX_POINTER_BYTES = 4096
_LOG = logging.getLogger(__name__)


def chosen_default(models_dir: str | os.PathLike) -> Path | None:
    """The model a teacher made the server's default, if that choice and its file are there; else None."""
    pointer = Path(models_dir) / POINTER_FILE
    try:
        if pointer.stat().st_size > MAX_POINTER_BYTES:
            return None
        name = json.loads(pointer.read_text(encoding="utf-8")).get("model")
    except FileNotFoundError:  # no teacher's choice
        return None
    except (OSError, ValueError, AttributeError):
        _LOG.warning("the server's default model choice %s is unreadable; using the shipped default", pointer,
                     exc_info=True)
        return None
    if not isinstance(name, str) or Path(name).name != name or not name.endswith(".keras"):
        return None
    model = Path(models_dir) / name
    return model if model.is_file() else None


def choose_default(models_dir: str | os.PathLike, model: str | os.PathLike) -> None:
    """Make `model` (a .keras file in `models_dir`) the default of new sessions; the pointer is replaced atomically."""
    folder, model = Path(models_dir), Path(model)
    if model.parent.resolve() != folder.resolve() or model.suffix != ".keras":
        raise ValueError(f"the server's default must be a .keras file in {folder}, got {model}")
    pointer = json.dumps({"model": model.name}).encode()
    atomic_write(folder / POINTER_FILE, lambda file: file.write(pointer))


def forget_default(models_dir: str | os.PathLike) -> None:
    """New sessions start with the shipped default again (the chosen model's file stays)."""
    (Path(models_dir) / POINTER_FILE).unlink(missing_ok=True)
