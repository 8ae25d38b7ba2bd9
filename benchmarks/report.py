"""The benchmarks' common table: one Row per figure, a Report of rows and notes, and its text form."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the table. The target is on the ratio project/baseline, or on the project figure
    itself when there is no baseline; lower is better for every figure."""

    figure: str
    unit: str                 # of project and baseline: "s", "ms" or "MB"
    project: float
    baseline: float | None
    ratio: float | None       # project / baseline
    target: float | None      # the ratio (or, without a baseline, the project figure) must be at most this;
                              # None: a figure reported for its own sake, with no target to meet
    passed: bool
    failure: str = ""         # why the row fails whatever its numbers say (e.g. an accuracy never reached)

    @classmethod
    def measure(cls, figure: str, unit: str, project: float, target: float | None, baseline: float | None = None,
                failure: str = "") -> Row:
        """A row with its ratio and verdict worked out (without a target it passes unless it failed outright)."""
        ratio = None if baseline is None else project / baseline
        measured = project if ratio is None else ratio
        within = target is None or measured <= target
        return cls(figure, unit, project, baseline, ratio, target, not failure and within, failure)


@dataclass(frozen=True)
class Report:
    """The benchmark's rows, and the facts a reader needs to judge them (one line each)."""

    rows: list[Row]
    notes: list[str]


def format_table(report: Report) -> str:
    """The rows as an aligned text table, the notes below it."""
    def number(value: float | None, unit: str = "") -> str:
        if value is None:
            return "-"
        return f"{value:#.3g} {unit}".rstrip() if value < 10 else f"{value:.1f} {unit}".rstrip()

    header = ("figure", "project", "baseline", "ratio", "target", "pass/fail")
    def verdict(row: Row) -> tuple[str, str]:
        if row.target is None:
            return "-", "FAIL" if row.failure else "-"
        unit = "" if row.baseline is not None else row.unit
        return f"<= {number(row.target, unit)}", "pass" if row.passed else "FAIL"

    lines = [(r.figure, number(r.project, r.unit), number(r.baseline, r.unit), number(r.ratio), *verdict(r))
             for r in report.rows]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
            for row in [header, *lines]]
    return "\n".join(text + [""] + [f"- {note}" for note in report.notes])
