"""The page benchmark runs in its quick mode against a real server and browser and prints a well-formed
table (its targets are not checked here)."""
import contextlib
import io
import math

import pytest

from benchmarks import page

pytestmark = pytest.mark.browser

FIGURES = [
    "page: mouse-up to prediction shown, p50",
    "page: mouse-up to prediction shown, p95",
    "server: canvas update to prediction sent, p50",
    "server: canvas update to prediction sent, p95",
    "server CPU per digit named (Clear between)",
    "startup: launch to 'Draw a digit' shown",
    "first drawing after startup vs later ones, p50",
    "server RSS with 2 sessions",
    "server RSS per extra session",
]


@pytest.fixture(scope="module")
def quick_run(default_model):
    """(report, printed text) of `python -m benchmarks.page --quick`, run in this process."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        report = page.main(["--quick", "--model", str(default_model)])
    return report, printed.getvalue()


def test_every_figure_is_measured_once(quick_run):
    report, _ = quick_run
    assert [row.figure for row in report.rows] == FIGURES


def test_rows_are_well_formed(quick_run):
    report, _ = quick_run
    for row in report.rows:
        assert row.unit in ("s", "ms", "MB"), row
        assert math.isfinite(row.project) and row.project >= 0, row
        assert math.isfinite(row.target) and row.target > 0, row
        measured = row.project if row.baseline is None else row.ratio
        assert row.passed == (not row.failure and measured <= row.target), row
    by_name = {row.figure: row for row in report.rows}
    assert [row.figure for row in report.rows if row.baseline is not None] == [FIGURES[6]]
    assert by_name[FIGURES[6]].ratio == pytest.approx(by_name[FIGURES[6]].project / by_name[FIGURES[6]].baseline)
    assert 0 < by_name[FIGURES[0]].project <= by_name[FIGURES[1]].project
    assert 0 < by_name[FIGURES[2]].project <= by_name[FIGURES[3]].project
    assert by_name[FIGURES[4]].project > 0 and by_name[FIGURES[5]].project > 0
    assert by_name[FIGURES[7]].project > 50  # a Python server with Streamlit and pandas is not tiny


def test_table_is_printed_with_every_column_and_row(quick_run):
    report, printed = quick_run
    lines = printed.splitlines()
    assert lines[0].split() == ["figure", "project", "baseline", "ratio", "target", "pass/fail"]
    for row, line in zip(report.rows, lines[1:len(report.rows) + 1], strict=True):
        assert line.startswith(row.figure), line
        assert line.split()[-1] == ("pass" if row.passed else "FAIL"), line
    assert all(note in printed for note in report.notes)
