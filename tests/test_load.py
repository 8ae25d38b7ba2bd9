"""The classroom benchmarks in reduced form: a few browser sessions drawing while one trains, and a short soak."""
import math

import pytest


@pytest.mark.browser
def test_a_small_class_draws_while_one_trains_without_errors_or_wrong_digits(default_model):
    from benchmarks.load import measure, percentile

    tally, facts = measure(sessions=3, trainers=1, seconds=10, model_path=str(default_model), pause=1.0)
    assert tally.errors == []
    assert tally.wrong == []
    assert len(tally.latencies_ms) >= 2, "the drawing-only pages named too few digits"
    assert tally.runs_started >= 1 and tally.peak_server_mb > 0
    assert 0 < percentile(tally.latencies_ms, 50) <= percentile(tally.latencies_ms, 95)


def test_the_soak_reports_well_formed_memory_figures():
    from benchmarks.report import Row
    from benchmarks.soak import run

    report = run(quick=True, runs=3, separate_process=False)  # the child-process path is tested in test_jobs
    (row,) = report.rows
    assert isinstance(row, Row) and row.unit == "MB" and math.isfinite(row.project) and row.target == 200
    assert row.passed == (row.project <= 200)
    assert "3 runs" in report.notes[0] and "abandoned" in report.notes[0]
