"""Held-back drawings: a share of the class's browser tabs that a fine-tune does not train on, to measure it.

A retrain is judged on drawings it did not learn, from people it did not learn from: the split is by browser tab
(the `session` column of the drawings database; drawings stored without one count as one group, ""), never by
drawing, so no writer's drawings land on both sides. A tab is held back when a hash of its id, salted with SALT,
falls below HELD_BACK_SHARE: the same tabs always give the same split, a new tab never moves an old one, and each
tab is held back (or not) whole. With two or more tabs at least one is held back and at least one trained on; with
one tab, or fewer than MIN_DRAWINGS on either side, nothing is held back, and `Split.nothing_held_back` says why.

A retrained model that names fewer of the held-back drawings than the model it started from (MAX_FEWER_NAMED
fewer is still a tie) must not replace it unless someone insists (`why_held_back`, beside finetune.mnist_fall).
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from digitdnn.evaluation import evaluate
from digitdnn.training.finetune import mnist_fall

HELD_BACK_SHARE = 0.2   # of the tabs: held back, chosen by hash
MIN_DRAWINGS = 10       # held back (to measure) and left (to train on), or nothing is held back
# Salt of the tab hash: changing it changes which tabs are held back, so a model retrained before could then be
# measured on drawings it trained on. Salted so that the split owes nothing to any other use of the tab ids.
SALT = b"digitdnn held-back tabs v1:"
# Held-back drawings the retrained model may name fewer of and still replace its start. Zero: both models are
# measured on the same drawings, so "fewer" is a count, not an estimate; the drawings are the handwriting the retrain
# is for, so a loss there is not a trade (unlike MNIST's, see finetune.MAX_MNIST_FALL); and a retrain held back by
# mistake costs a teacher's "Use it anyway", while one let through by mistake is the silent loss this guards against.
# A tie keeps the retrained model: it has learned the trained-on tabs' drawings as well.
MAX_FEWER_NAMED = 0


def tab_hash(tab: str) -> float:
    """A stable number in [0, 1) for a tab id (salted sha256): the tab is held back when it is below the share."""
    digest = hashlib.sha256(SALT + tab.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Split:
    """Which drawings are held back (not trained on), by tab."""

    held: np.ndarray                # (N,) bool: this drawing is held back
    tabs: int                       # tabs (groups) with drawings
    held_tabs: int                  # of them held back (0 when nothing is)
    nothing_held_back: str | None   # why nothing is held back ("all drawings come from one tab"), else None

    @property
    def held_drawings(self) -> int:
        return int(self.held.sum())

    def describe(self) -> str:
        """One clause for a person: what is held back, or that nothing is and why."""
        if self.nothing_held_back:
            return f"nothing held back: {self.nothing_held_back}"
        return (f"holding back {self.held_drawings} drawings from {_tabs(self.held_tabs)} of {self.tabs} "
                f"(not trained on, to measure)")


def split_by_tab(tabs, share: float = HELD_BACK_SHARE, minimum: int = MIN_DRAWINGS) -> Split:
    """Hold back the drawings of a share of the tabs.

    Args:
        tabs: (N,) the tab id of each drawing (str; None or "" for none: one group).
        share: a tab is held back when tab_hash(id) < share.
        minimum: drawings needed on each side, or nothing is held back.
    """
    ids = np.array(["" if tab is None else str(tab) for tab in tabs], dtype=object)
    nothing = np.zeros(len(ids), bool)
    if not len(ids):
        return Split(nothing, 0, 0, "there are no drawings")
    names, group, sizes = np.unique(ids, return_inverse=True, return_counts=True)
    if len(names) < 2:
        why = "all drawings come from one tab" if names[0] else \
            "none of the drawings records the browser tab it came from"
        return Split(nothing, 1, 0, why)
    hashes = np.array([tab_hash(name) for name in names])
    order = np.argsort(hashes, kind="stable")
    chosen = [i for i in order if hashes[i] < share] or [order[0]]
    if len(chosen) == len(names):  # someone must be trained on: the tab hashed highest
        chosen = chosen[:-1]
    held = np.isin(group, chosen)
    held_count = int(sizes[chosen].sum())
    if held_count < minimum:
        return Split(nothing, len(names), 0, f"the {_tabs(len(chosen))} it would hold back "
                     f"{'has' if len(chosen) == 1 else 'have'} {held_count} drawing{'' if held_count == 1 else 's'}, "
                     f"fewer than the {minimum} it takes to measure")
    if len(ids) - held_count < minimum:
        return Split(nothing, len(names), 0, f"holding back {_tabs(len(chosen))} would leave "
                     f"{len(ids) - held_count} drawings to train on, fewer than {minimum}")
    return Split(held, len(names), len(chosen), None)


@dataclass(frozen=True)
class Measured:
    """The model a fine-tune started from and the one it made, on drawings the fine-tune did not train on."""

    drawings: int
    tabs: int
    named_before: int   # by the model it started from
    named_after: int    # by the fine-tuned model

    @property
    def before(self) -> float:
        return self.named_before / self.drawings

    @property
    def after(self) -> float:
        return self.named_after / self.drawings

    @property
    def worse(self) -> bool:
        return self.named_after < self.named_before - MAX_FEWER_NAMED

    @property
    def source(self) -> str:
        return f"{self.drawings} drawings from {_tabs(self.tabs)}"

    def where(self) -> str:
        return f"on {self.source} it did not train on"

    def fall(self) -> str | None:
        """Why the fine-tuned model must not replace its start, as a clause about the fine-tuned model; None when it
        named as many (within MAX_FEWER_NAMED)."""
        if not self.worse:
            return None
        return f"{self.where()}, it named {self.after:.1%} and the model it started from {self.before:.1%}"

    def to_json(self) -> dict:
        return {"drawings": self.drawings, "tabs": self.tabs, "named_before": self.named_before,
                "named_after": self.named_after}

    @classmethod
    def from_json(cls, record) -> Measured | None:
        """The figures to_json wrote; None for anything else (a model card is not trusted to be well formed)."""
        if not isinstance(record, Mapping):
            return None
        values = [record.get(key) for key in ("drawings", "tabs", "named_before", "named_after")]
        counts = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v >= 0]
        if len(counts) != len(values):
            return None
        drawings, tabs, before, after = counts
        if drawings == 0 or tabs == 0 or before > drawings or after > drawings:
            return None
        return cls(drawings, tabs, before, after)


def measure(start, tuned, x: np.ndarray, y: np.ndarray, tabs: int) -> Measured:
    """How many of the held-back drawings x (labels y, from `tabs` tabs) each model names."""
    return Measured(len(y), tabs, evaluate(start, x, y).correct, evaluate(tuned, x, y).correct)


def fine_tuned_record(drawings: int, split: Split, unseen: Measured | None) -> dict:
    """What a fine-tuned model's card keeps (under `fine_tuned`) of its drawings: how many it trained on, and both
    models on the held-back ones (`held_back`), or why nothing was held back (`nothing_held_back`)."""
    if unseen is None:
        return {"drawings": drawings, "nothing_held_back": split.nothing_held_back}
    return {"drawings": drawings, "held_back": unseen.to_json()}


def unseen_of(fine_tuned) -> Measured | None:
    """The held-back figures of a model card's `fine_tuned` (as fine_tuned_record wrote it); None if there are
    none."""
    return Measured.from_json(fine_tuned.get("held_back")) if isinstance(fine_tuned, Mapping) else None


def why_held_back(unseen: Measured | None, mnist_before: float | None, mnist_after: float | None) -> str | None:
    """Why a fine-tuned model must not replace the model it started from (fewer held-back drawings named, MNIST
    fell, or both), as a clause about the fine-tuned model; None when it may."""
    reasons = [unseen.fall() if unseen else None, mnist_fall(mnist_before, mnist_after)]
    found = [reason for reason in reasons if reason]
    return ", and ".join(found) or None


def kept_sentence(unseen: Measured | None, nothing_held_back: str | None, mnist_before: float | None,
                  mnist_after: float | None, new: str = "the retrained one") -> str:
    """Which model is kept and why, in one sentence for a person ("Kept the model you started from: on 42 drawings
    from 2 tabs it did not train on, it named 95.2% and the retrained one 92.9%.")."""
    fell = mnist_fall(mnist_before, mnist_after)
    if (unseen and unseen.worse) or fell:
        reasons = [f"{unseen.where()}, it named {unseen.before:.1%} and {new} {unseen.after:.1%}"
                   if unseen and unseen.worse else None, fell]
        return "Kept the model you started from: " + ", and ".join(r for r in reasons if r) + "."
    if unseen:
        return (f"Kept {_the(new)}: {unseen.where()}, it named {unseen.after:.1%} and the model you started from "
                f"{unseen.before:.1%}.")
    mnist = "" if mnist_before is None or mnist_after is None or math.isnan(mnist_after) else \
        f", and MNIST test accuracy held ({mnist_before:.1%} before, {mnist_after:.1%} after)"
    return f"Kept {_the(new)}: nothing was held back to measure it ({nothing_held_back}){mnist}."


def _the(new: str) -> str:
    """ "the retrained one" -> "the retrained model"."""
    return new.removesuffix(" one") + " model"


def _tabs(n: int) -> str:
    return f"{n} tab{'' if n == 1 else 's'}"
