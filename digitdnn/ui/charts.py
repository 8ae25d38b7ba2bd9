"""Altair charts for the page: learning curves with literature lines, runs overlaid, the ten probabilities,
the confusion matrix, and a drawing's probabilities epoch by epoch."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import altair as alt
import numpy as np
import pandas as pd

METRICS = {"accuracy": "Accuracy", "loss": "Loss"}
# Test accuracy of fully connected networks on MNIST in the literature: (accuracy, label, full reference).
LITERATURE = (
    (0.9695, "LeCun 1998, 300-100: 96.95%", "LeCun et al. 1998, 300-100 units: 96.95%"),
    (0.984, "Simard 2003, 800 units: 98.4%", "Simard et al. 2003, 800 units: 98.4%"),
    (0.9905, "Srivastava 2014, dropout: 99.05%", "Srivastava et al. 2014, dropout and max-norm: 99.05%"),
)
# Where each label sits so that the three stay apart however close the lines are drawn:
# (align, dy, x) = LeCun below its line on the left, Simard below on the right, Srivastava above on the left.
_LABEL_PLACES: tuple[tuple[Literal["left", "right"], int, float | Literal["width"]], ...] = (
    ("left", 9, 0), ("right", 9, "width"), ("left", -5, 0))
DIGIT_COLOURS = alt.Scale(domain=[str(d) for d in range(10)], scheme="category10")
# Reference lines and their labels: a grey with about the same contrast (4.3:1 and 4.4:1) on the light theme's white
# and on the dark theme's near-black background, so that they read in both.
NEUTRAL_GREY = "#7a7a7a"


def literature_lines() -> alt.LayerChart:
    """Dashed horizontal rules at the published test accuracies, each labelled with its source."""
    frame = pd.DataFrame(LITERATURE, columns=["accuracy", "label", "reference"])
    rules = alt.Chart(frame).mark_rule(strokeDash=[4, 4], color=NEUTRAL_GREY).encode(
        y="accuracy:Q", tooltip=["reference"])
    labels = [
        alt.Chart(frame.iloc[[i]]).mark_text(align=align, dy=dy, x=x, fontSize=11, color=NEUTRAL_GREY).encode(
            y="accuracy:Q", text="label", tooltip=["reference"])
        for i, (align, dy, x) in enumerate(_LABEL_PLACES)
    ]
    return alt.LayerChart(layer=[rules, *labels])


def _with_literature(chart: alt.Chart, metric: str, title: str, description: str) -> alt.Chart | alt.LayerChart:
    """The chart titled `title` and described (for screen readers) by `description`, with the literature lines
    added when it shows accuracy."""
    if metric != "accuracy":
        return chart.properties(title=title, description=description)
    published = "; ".join(reference for _, _, reference in LITERATURE)
    return alt.LayerChart(layer=[chart, literature_lines()]).properties(
        title=title, description=f"{description} Dashed lines: published results ({published}).")


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


def learning_curve(epochs: Sequence[Mapping], metric: str = "accuracy",
                   planned: int | None = None) -> alt.Chart | alt.LayerChart:
    """Train and test `metric` per epoch for one run; the x axis spans the planned epochs."""
    frame = pd.DataFrame(curve_rows(epochs), columns=["run", "epoch", "set", "accuracy", "loss"])
    last = max(planned or 0, len(epochs), 1)
    chart = (
        alt.Chart(frame)
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
    name = METRICS[metric].lower()
    description = f"Line chart of the {name} on the training and the test images after each epoch. "
    if epochs:
        latest = epochs[-1]
        description += (f"After epoch {latest['epoch']} of {last}: test {_value(latest['test_' + metric], metric)}, "
                        f"training {_value(latest['train_' + metric], metric)}.")
    else:
        description += "No epoch has finished yet."
    return _with_literature(chart, metric, f"{METRICS[metric]} per epoch", description)


def _value(value: float, metric: str) -> str:
    return f"{value:.2%}" if metric == "accuracy" else f"{value:.3f}"


def runs_overlay(curves: Mapping[str, Sequence[Mapping]], metric: str = "accuracy") -> alt.Chart | alt.LayerChart:
    """Test (solid) and train (dashed) `metric` of several runs on one chart, one colour per run."""
    rows = [row for run, epochs in curves.items() for row in curve_rows(epochs, run)]
    frame = pd.DataFrame(rows, columns=["run", "epoch", "set", "accuracy", "loss"])
    chart = (
        alt.Chart(frame)
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
    finals = [f"{run}: test {_value(float(epochs[-1]['test_' + metric]), metric)} after epoch {epochs[-1]['epoch']}"
              for run, epochs in curves.items() if epochs]
    description = (f"Line chart of the {METRICS[metric].lower()} per epoch of {len(curves)} runs, one colour per run, "
                   f"test solid and training dashed. " + "; ".join(finals) + ".")
    return _with_literature(chart, metric, f"{METRICS[metric]}: runs compared (test solid, train dashed)",
                            description)


def probability_bars(probabilities: np.ndarray, height: int = 180) -> dict:
    """The ten class probabilities as bars, the most probable digit highlighted: a Vega-Lite spec for
    st.vega_lite_chart, written out rather than built with Altair, as it is redrawn at every stroke (design
    notes: docs/design-notes.md)."""
    p = np.asarray(probabilities, dtype=float).reshape(10)
    top = int(p.argmax())
    return {
        "description": f"Bar chart of the network's probability for each digit 0 to 9; the highest is {top} "
                       f"({p[top]:.0%}).",
        "height": height,
        "layer": [{
            "data": {"values": [{"digit": str(d), "probability": float(p[d]), "top": d == top} for d in range(10)]},
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "digit", "type": "nominal", "sort": None, "axis": {"labelAngle": 0}},
                "y": {"field": "probability", "type": "quantitative", "scale": {"domain": [0, 1]},
                      "axis": {"format": "%"}},
                "color": {"condition": {"test": "datum.top", "value": "#e4572e"}, "value": "#8aa1b1"},
                "tooltip": [{"field": "digit", "type": "nominal"},
                            {"field": "probability", "type": "quantitative", "format": ".1%"}],
            },
        }],
    }


def confusion_heatmap(matrix: np.ndarray, chosen: tuple[int, int] | None = None,
                      selection: str = "cell") -> alt.LayerChart:
    """A 10x10 confusion matrix: rows true digits, columns predicted, colour and text the counts.

    Clicking a cell selects it (point selection `selection` on the fields "true" and "predicted");
    the `chosen` (true, predicted) cell is outlined. The colour scale is logarithmic so that mistakes
    (a few) show beside the diagonal (hundreds).
    """
    matrix = np.asarray(matrix)
    frame = pd.DataFrame([{"true": t, "predicted": p, "count": int(matrix[t, p]), "chosen": (t, p) == chosen}
                          for t in range(10) for p in range(10)])
    pick = alt.selection_point(name=selection, fields=["true", "predicted"], on="click", clear=False)
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:O", title="true digit"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("count:Q", title="images", scale=alt.Scale(type="symlog", scheme="blues")),
        stroke=alt.condition("datum.chosen", alt.value("#e4572e"), alt.value("#ffffff")),
        strokeWidth=alt.condition("datum.chosen", alt.value(3), alt.value(1)),
        tooltip=["true", "predicted", "count"],
    ).add_params(pick)
    counts = base.mark_text(fontSize=12).encode(
        text="count:Q",
        color=alt.condition(alt.datum.count > matrix.max() / 8, alt.value("white"), alt.value("#333333")),
    )
    right = int(np.trace(matrix))
    description = (f"Confusion matrix: for each true digit (rows) how many images the network named as each digit "
                   f"(columns); {right} of {int(matrix.sum())} are on the diagonal, named right.")
    return alt.LayerChart(layer=[cells, counts]).properties(width=380, height=380, description=description)


def probabilities_by_epoch(record: Mapping[int, np.ndarray | Sequence[float]]) -> alt.LayerChart:
    """The ten probabilities of one drawing after each epoch, one line per digit, the likely digits named
    at the last epoch."""
    frame = pd.DataFrame([{"epoch": epoch, "digit": str(d), "probability": float(p[d])}
                          for epoch, p in sorted(record.items()) for d in range(10)],
                         columns=["epoch", "digit", "probability"])
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("digit:N", scale=DIGIT_COLOURS, legend=None),
    )
    lines = base.mark_line(point=True).encode(
        tooltip=["epoch", "digit", alt.Tooltip("probability:Q", format=".1%")])
    last = frame[(frame["epoch"] == frame["epoch"].max()) & (frame["probability"] >= 0.05)]
    names = base.mark_text(align="left", dx=6, fontSize=13, fontWeight="bold").encode(text="digit:N") \
        .properties(data=last)
    if frame.empty:
        said = "No epoch has finished yet."
    else:
        final = frame[frame["epoch"] == frame["epoch"].max()].sort_values("probability").iloc[-1]
        said = f"After epoch {final['epoch']} the most likely digit is {final['digit']} ({final['probability']:.0%})."
    description = ("Line chart of your drawing's probability for each digit after each epoch, one line per digit. "
                   + said)
    return alt.LayerChart(layer=[lines, names]).properties(title="Your drawing by epoch", height=260,
                                                           description=description)
