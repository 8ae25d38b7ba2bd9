"""Altair charts for the page: learning curves, runs overlaid, the ten probabilities."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

METRICS = {"accuracy": "Accuracy", "loss": "Loss"}


def curve_rows(epochs: Sequence[Mapping], run: str = "") -> list[dict]:
    """Long-format rows (run, epoch, set, accuracy, loss) from per-epoch report dicts."""
    rows = []
    for e in epochs:
        for subset in ("train", "test"):
            rows.append({
                "run": run,
                "epoch": int(e["epoch"]),
                "set": subset,
                "accuracy": float(e[f"{subset}_accuracy"]),
                "loss": float(e[f"{subset}_loss"]),
            })
    return rows


def learning_curve(epochs: Sequence[Mapping], metric: str = "accuracy", planned: int | None = None) -> alt.Chart:
    """Train and test `metric` per epoch for one run; the x axis spans the planned epochs."""
    frame = pd.DataFrame(curve_rows(epochs), columns=["run", "epoch", "set", "accuracy", "loss"])
    last = max(planned or 0, len(epochs), 1)
    return (
        alt.Chart(frame, title=f"{METRICS[metric]} per epoch")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[1, max(last, 2)]), axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(f"{metric}:Q", title=METRICS[metric], scale=alt.Scale(zero=False)),
            color=alt.Color("set:N", title=None,
                            scale=alt.Scale(domain=["train", "test"], range=["#f58518", "#4c78a8"])),
            tooltip=["epoch", "set", alt.Tooltip(f"{metric}:Q", format=".4f")],
        )
        .properties(height=260)
    )


def runs_overlay(curves: Mapping[str, Sequence[Mapping]], metric: str = "accuracy") -> alt.Chart:
    """Test (solid) and train (dashed) `metric` of several runs on one chart, one colour per run."""
    rows = [row for run, epochs in curves.items() for row in curve_rows(epochs, run)]
    frame = pd.DataFrame(rows, columns=["run", "epoch", "set", "accuracy", "loss"])
    return (
        alt.Chart(frame, title=f"{METRICS[metric]}: runs compared (test solid, train dashed)")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(f"{metric}:Q", title=METRICS[metric], scale=alt.Scale(zero=False)),
            color=alt.Color("run:N", title="run"),
            strokeDash=alt.StrokeDash("set:N", title=None, scale=alt.Scale(domain=["test", "train"])),
            tooltip=["run", "epoch", "set", alt.Tooltip(f"{metric}:Q", format=".4f")],
        )
        .properties(height=300)
    )


def probability_bars(probabilities: np.ndarray) -> alt.Chart:
    """The ten class probabilities as bars, the most probable digit highlighted."""
    p = np.asarray(probabilities, dtype=float).reshape(10)
    frame = pd.DataFrame({"digit": [str(d) for d in range(10)], "probability": p, "top": p == p.max()})
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.condition("datum.top", alt.value("#e4572e"), alt.value("#8aa1b1")),
            tooltip=["digit", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=180)
    )
