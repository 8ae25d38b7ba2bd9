"""The classroom benchmark in its quick form: the groups are held-out writers, and the table follows from the run."""
import contextlib
import io
import math

import numpy as np
import pytest

from benchmarks import classroom
from benchmarks.report import Report, Row
from digitdnn.data.pendigits import load_pen_digits, split_by_writer


@pytest.fixture(scope="module")
def quick_report(default_model):
    return classroom.run(quick=True, model_path=str(default_model))


def test_groups_are_held_out_writers_only_each_in_one_group():
    pen = load_pen_digits()
    trained_on, held_out = split_by_writer(pen)
    found = classroom.groups(pen, held_out)
    assert len(found) >= 2
    indices = np.concatenate([g.indices for g in found])
    assert len(indices) == len(set(indices.tolist())) and all(len(g.indices) >= classroom.MIN_GROUP for g in found)
    assert not set(pen.writer[indices].tolist()) & set(pen.writer[trained_on].tolist())
    labs = [set(pen.lab[g.indices].tolist()) for g in found]
    assert all(not a & b for i, a in enumerate(labs) for b in labs[i + 1:])  # a lab is in one group only


def test_the_quick_run_reports_each_figure_of_its_group(quick_report):
    figures = [row.figure for row in quick_report.rows]
    assert len(figures) == 5
    assert figures[0].endswith("wrong before fine-tuning") and figures[1].endswith("wrong after")
    assert f"other writers ({classroom.QUICK['others']} drawings), points fewer right after" in figures[2]
    assert "MNIST test error after" in figures[3] and f"fine-tune, {classroom.QUICK['stored']} drawings" in figures[4]
    for row in quick_report.rows:
        assert math.isfinite(row.project) and (row.project >= 0 or row.unit == "points"), row
        assert row.passed == (not row.failure and (row.target is None or row.project <= row.target)), row
    wrong_before, wrong_after, others_lost, mnist_error, _ = (row.project for row in quick_report.rows)
    assert wrong_before < 30 and wrong_after < 30 and mnist_error < 5  # a working model, fine-tuned sanely
    assert abs(others_lost) < 30
    assert any("-> " in note and "of other writers" in note and "store.add" in note for note in quick_report.notes)


def test_other_writers_are_held_out_and_outside_the_group():
    pen = load_pen_digits()
    _, held_out = split_by_writer(pen)
    group = classroom.groups(pen, held_out)[0]
    x, y = classroom.other_writers(pen, group, held_out, 40)
    assert x.shape[1:] == (28, 28) and 35 <= len(y) <= 40
    again_x, _ = classroom.other_writers(pen, group, held_out, 40)
    np.testing.assert_array_equal(x, again_x)  # the same drawings for every recipe measured


def test_main_prints_the_table_and_fails_when_a_target_is_missed(monkeypatch):
    missed = Report([Row.measure("g: fine-tune, 300 drawings", "s", 40.0, classroom.SECONDS)], ["a note"])
    monkeypatch.setattr(classroom, "run", lambda quick, model_path: missed)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert classroom.main(["--quick"]) == 1
    assert "g: fine-tune, 300 drawings" in printed.getvalue() and "FAIL" in printed.getvalue()
    monkeypatch.setattr(classroom, "run", lambda quick, model_path: Report([], []))
    with contextlib.redirect_stdout(io.StringIO()):
        assert classroom.main([]) == 0
