"""What a run trains on, as a spec that a training worker rebuilds: the base data and the class's drawings picked.

A page holds the data it trains on; a worker elsewhere gets only a RunData (inside run_request's JSON) and builds
the same loader from it: `base_loader` (MNIST, or MNIST and pen digits, both cut to the server's data limit),
`class_drawings` (the drawings the page saw: those up to one id, without the tabs held back) and `loader_for` (the
drawings mixed in: finetune's recipes). `from_dict` checks everything, as for any value from the wire.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from digitdnn.data.shared_dataset import DataLoader, SharedDataset
from digitdnn.storage.drawing_rows import MAX_TEXT_CHARS
from digitdnn.training.history import checked_int, checked_keys, checked_text

if TYPE_CHECKING:
    from digitdnn.storage.class_store import Drawings

BASES = ("mnist", "pen")           # MNIST alone, or MNIST and the training writers' pen digits
RECIPES = ("scratch", "retrain")   # the drawings mixed into all of the base, or finetune's mix
MAX_HELD_TABS = 1000               # browser tabs a retrain may hold back
MAX_TAB_CHARS = MAX_TEXT_CHARS     # a tab's name, as long as the drawings store keeps one
MAX_ID = 2**63 - 1                 # the largest drawing id either database gives


@dataclass(frozen=True)
class DrawingsPick:
    """The class's drawings a run trains on: those with id <= up_to_id whose tab is not in held_tabs, mixed in
    by `recipe` ("scratch": all of the base data and the drawings; "retrain": finetune.fine_tune_data)."""

    recipe: Literal["scratch", "retrain"]
    up_to_id: int
    held_tabs: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"recipe": self.recipe, "up_to_id": self.up_to_id, "held_tabs": list(self.held_tabs)}

    @classmethod
    def from_dict(cls, d: Any) -> DrawingsPick:
        """The pick to_dict() gave, checked (ValueError with a plain sentence)."""
        checked_keys(d, ["recipe", "up_to_id", "held_tabs"], "the drawings of a run")
        if d["recipe"] not in RECIPES:
            raise ValueError(f"a run's drawings recipe must be one of {', '.join(RECIPES)}")
        tabs = d["held_tabs"]
        if not isinstance(tabs, list) or len(tabs) > MAX_HELD_TABS:
            raise ValueError(f"held_tabs must be a list of at most {MAX_HELD_TABS} tabs")
        return cls(d["recipe"], checked_int(d["up_to_id"], "up_to_id", 0, MAX_ID),
                   tuple(checked_text(tab, "a held tab", MAX_TAB_CHARS) for tab in tabs))


@dataclass(frozen=True)
class RunData:
    """A run's training data: the base ("mnist" or "pen"), its limit (settings.data_limit(): (n_train, n_test or
    None), or None for all of it) and the class's drawings, if any."""

    base: Literal["mnist", "pen"]
    limit: tuple[int, int | None] | None
    drawings: DrawingsPick | None = None

    def to_dict(self) -> dict:
        return {"base": self.base, "limit": None if self.limit is None else list(self.limit),
                "drawings": None if self.drawings is None else self.drawings.to_dict()}

    @classmethod
    def from_dict(cls, d: Any) -> RunData:
        """The spec to_dict() gave, checked: no unknown key, a known base, a limit of one or two ints >= 1 (the
        second may be null); ValueError with a plain sentence otherwise."""
        checked_keys(d, ["base", "limit", "drawings"], "a run's data")
        if d["base"] not in BASES:
            raise ValueError(f"a run's base data must be one of {', '.join(BASES)}")
        limit = d["limit"]
        if limit is not None:
            if not isinstance(limit, list) or len(limit) != 2:
                raise ValueError("a run's data limit must be [n_train, n_test or null]")
            limit = (checked_int(limit[0], "n_train", 1),
                     None if limit[1] is None else checked_int(limit[1], "n_test", 1))
        drawings = None if d["drawings"] is None else DrawingsPick.from_dict(d["drawings"])
        return cls(d["base"], limit, drawings)


PEN_LOADING = "drawing the pen digits: {:.0%}"  # the news while the pen digits are drawn


def base_loader(base: str, limit: tuple[int, int | None] | None, mnist: DataLoader | None = None) -> SharedDataset:
    """The loader of `base`: MNIST cut to `limit` (SharedDataset), or that MNIST and PEN_DIGIT_COPIES drawings of
    every training writer's pen digit (data.pen_training.mnist_with_pen_digits). `mnist`: the MNIST loader the pen
    digits join (a server's shared one, so that MNIST is held once), else a new one of `limit`."""
    if base == "mnist":
        return SharedDataset(limit)
    if base != "pen":
        raise ValueError(f"the base data must be one of {', '.join(BASES)}")

    def load(progress):
        from digitdnn.data.pen_training import PEN_DIGIT_COPIES, mnist_with_pen_digits

        data = (mnist or SharedDataset(limit))(progress)
        return mnist_with_pen_digits(data, copies=PEN_DIGIT_COPIES,
                                     progress=lambda done: progress(PEN_LOADING.format(done)))

    return SharedDataset(None, load=load)


def class_drawings(pick: DrawingsPick, drawings: Drawings) -> tuple[np.ndarray, np.ndarray]:
    """The drawings `pick` names, from `drawings` (x float32 (n, 28, 28), y (n,)): those up to its id, without the
    held tabs'. ValueError when none are left; the store's own errors (DrawingStoreError...) pass through."""
    x, y, tabs = drawings.arrays_with_tabs(up_to=pick.up_to_id)
    if pick.held_tabs:
        kept = ~np.isin(tabs, list(pick.held_tabs))
        x, y = x[kept], y[kept]
    if not len(y):
        raise ValueError("the class has stored no drawings for this run")
    return x, y


def loader_for(base: DataLoader, pick: DrawingsPick | None, x: np.ndarray, y: np.ndarray, *,
               seed: int) -> DataLoader:
    """What a run trains on: `base` alone (no pick), or with the drawings (x, y) mixed in: for "scratch", all of
    `base`'s training images and the drawings (finetune.mixed_data); for "retrain", finetune.fine_tune_data, the mix
    of `digitdnn finetune` (a sample of MNIST and of the pen digits, drawn once and kept, with the drawings)."""
    if pick is None:
        return base
    from digitdnn.training.finetune import fine_tune_data, mixed_data

    if pick.recipe == "scratch":
        return lambda report: mixed_data(x, y, base(report), mnist_sample=None)
    return lambda report: fine_tune_data(x, y, base(report), seed=seed,
                                         progress=lambda done: report(PEN_LOADING.format(done)))
