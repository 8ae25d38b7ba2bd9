"""The local model shelf (storage/class_store.py's ModelShelf): saved models as .keras files with their sidecar
cards in one folder (storage/models.py), and the teacher's default as a pointer file beside them
(storage/server_default.py). Names are checked here, where they enter storage, whichever backend keeps them.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from digitdnn.storage import server_default
from digitdnn.storage.class_store import SavedModel
from digitdnn.storage.models import FolderLimits, list_models, save_classifier, saved_model_path

if TYPE_CHECKING:
    from digitdnn.model import Classifier
    from digitdnn.storage.model_card import ModelCard

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def checked_model_name(text: str) -> str:
    """`text` as a saved model's name (a safe file name, without ".keras"); ValueError with a plain message if it
    is not one."""
    name = str(text).strip().removesuffix(".keras")
    if not SAFE_NAME.fullmatch(name):
        raise ValueError("Use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit.")
    return name


class FolderShelf:
    """The saved models of the folder `folder` (created on the first save)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def list(self) -> list[SavedModel]:
        return [SavedModel(m.path.stem, m.metadata, m.damaged) for m in list_models(self.folder)]

    def save(self, classifier: Classifier, name: str, metadata: ModelCard | dict | None,
             limits: FolderLimits | None = None) -> str:
        name = checked_model_name(name)
        # The folder may be shared by several processes: the name is claimed in one step, never overwritten.
        path = save_classifier(classifier, self.folder / f"{name}.keras", metadata, overwrite=False, limits=limits,
                               name=f"{name}.keras")
        return path.stem

    def open(self, name: object) -> Path | None:
        return saved_model_path(self.folder, name)

    def chosen_default(self) -> Path | None:
        return server_default.chosen_default(self.folder)

    def chosen_default_name(self) -> str | None:
        chosen = self.chosen_default()
        return None if chosen is None else chosen.stem

    def choose_default(self, name: str) -> None:
        path = self.open(name)
        if path is None:
            raise ValueError(f"no saved model is named {name!r}")
        server_default.choose_default(self.folder, path)

    def forget_default(self) -> None:
        server_default.forget_default(self.folder)
