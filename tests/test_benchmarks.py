"""The speed benchmark runs in its quick mode and prints a well-formed table (its targets are not checked here)."""
import contextlib
import io
import math

import pytest

from benchmarks import speed

FIGURES = [
    "Adam, batch 128: epoch vs model.fit",
    "Adam, batch 128: epoch vs GEMM-bound",
    "Adam, batch 128: augmented vs plain epoch",
    "SGD 0.01, batch 50: epoch vs model.fit",
    "SGD 0.01, batch 50: epoch vs GEMM-bound",
    "one drawing: to_mnist + predict_proba",
    "one drawing vs model.predict (>= 20x faster)",
    "time to 98.0% test accuracy",
]


@pytest.fixture(scope="module")
def quick_run(default_model):
    """(report, printed text) of `python -m benchmarks.speed --quick`, run in this process."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        report = speed.main(["--quick", "--model", str(default_model)])
    return report, printed.getvalue()


def test_every_figure_is_measured_once(quick_run):
    report, _ = quick_run
    assert [row.figure for row in report.rows] == FIGURES


def test_numbers_are_finite_and_positive(quick_run):
    report, _ = quick_run
    for row in report.rows:
        numbers = [row.project, row.target] + [x for x in (row.baseline, row.ratio) if x is not None]
        assert all(math.isfinite(x) and x > 0 for x in numbers), row
        assert row.unit in ("s", "ms"), row


def test_ratios_and_verdicts_follow_from_the_numbers(quick_run):
    report, _ = quick_run
    compared = [row for row in report.rows if row.baseline is not None]
    assert len(compared) == 6
    for row in report.rows:
        if row.baseline is None:
            assert row.ratio is None, row
            measured = row.project
        else:
            assert row.ratio == pytest.approx(row.project / row.baseline), row
            measured = row.ratio
        assert row.passed == (not row.failure and measured <= row.target), row


def test_time_to_accuracy_is_a_fail_when_never_reached(quick_run):
    report, _ = quick_run
    (row,) = [r for r in report.rows if r.figure.startswith("time to")]
    assert "not reached" in row.failure  # 2 epochs on 5,000 images stay far below 98%
    assert not row.passed


def test_table_is_printed_with_every_column_and_row(quick_run):
    report, printed = quick_run
    lines = printed.splitlines()
    assert lines[0].split() == ["figure", "project", "baseline", "ratio", "target", "pass/fail"]
    for row, line in zip(report.rows, lines[1:len(report.rows) + 1], strict=True):
        assert line.startswith(row.figure), line
        assert line.split()[-1] == ("pass" if row.passed else "FAIL"), line
    assert all(note in printed for note in report.notes)


def test_gemm_bound_counts_the_products_it_times():
    import numpy as np

    widths = (784, 300, 100, 10)
    products = speed.step_products(50, widths, np.random.default_rng(0))
    assert speed.product_flops(products) == speed.epoch_flops(50, 0, widths)
    assert len(products) == 8  # forward and weight gradient per layer, input gradient for the last two
