"""`python -m benchmarks` / `digitdnn bench`: parts joined into one table, exit status from the verdicts."""
import sys
import types

import pytest

import benchmarks.__main__ as bench
from benchmarks.report import Report, Row
from digitdnn.cli import main as cli_main


def fake_part(monkeypatch, name: str, rows: list[Row]) -> None:
    """Register a benchmark part `name` whose run() returns `rows` and one note."""
    module = types.ModuleType(f"fake_{name}")
    module.run = lambda quick, model_path: Report(rows, [f"quick={quick}"])
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(bench.PARTS, name, module.__name__)


def test_parts_are_joined_in_order_with_their_notes(monkeypatch):
    fake_part(monkeypatch, "first", [Row.measure("a", "ms", 1.0, 2.0)])
    fake_part(monkeypatch, "second", [Row.measure("b", "s", 3.0, 2.0), Row.measure("c", "MB", 1.0, 0.5, 4.0)])
    report = bench.run(["first", "second"], quick=True)
    assert [row.figure for row in report.rows] == ["a", "b", "c"]
    assert report.notes == ["first: quick=True", "second: quick=True"]


def test_exit_status_is_1_when_a_target_is_missed(monkeypatch, capsys):
    fake_part(monkeypatch, "good", [Row.measure("fast enough", "ms", 1.0, 2.0)])
    fake_part(monkeypatch, "bad", [Row.measure("too slow", "ms", 3.0, 2.0)])
    assert bench.main(["--only", "good"]) == 0
    assert bench.main(["--only", "good", "bad"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("machine: ")
    assert "too slow" in captured.err and "fast enough" not in captured.err


def test_digitdnn_bench_passes_its_options_on(monkeypatch, capsys):
    fake_part(monkeypatch, "good", [Row.measure("fast enough", "ms", 1.0, 2.0)])
    assert cli_main(["bench", "--only", "good", "--quick"]) == 0
    assert "fast enough" in capsys.readouterr().out


def test_digitdnn_bench_refuses_an_unknown_part(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["bench", "--only", "nonsense"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_other_commands_still_refuse_unknown_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["data", "--quick"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --quick" in capsys.readouterr().err


def test_a_figure_without_a_target_is_reported_and_never_missed(monkeypatch, capsys):
    from benchmarks.report import format_table

    reported = Row.measure("latency under load", "ms", 5000.0, None)
    broken = Row.measure("latency, nothing measured", "ms", float("nan"), None, failure="no prediction was measured")
    assert reported.passed and not broken.passed
    lines = format_table(Report([reported, broken], [])).splitlines()
    assert lines[1].split()[-2:] == ["-", "-"] and lines[2].split()[-1] == "FAIL"
    fake_part(monkeypatch, "informative", [reported])
    assert bench.main(["--only", "informative"]) == 0


FIGURES_PAGE = ("# Benchmarks\n\nProse before.\n\n<!-- begin benchmarks -->\nold figures\n<!-- end benchmarks -->\n"
                "\nProse after.\n")


def test_a_full_run_writes_its_table_into_the_docs_page_and_nothing_else(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "PARTS", {})
    fake_part(monkeypatch, "good", [Row.measure("fast enough", "ms", 1.0, 2.0)])
    page = tmp_path / "benchmarks.md"
    page.write_text(FIGURES_PAGE)
    assert bench.main(["--docs", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Benchmarks\n\nProse before.\n\n<!-- begin benchmarks -->\nFrom one full run on ")
    assert text.endswith("```\n<!-- end benchmarks -->\n\nProse after.\n")
    assert "old figures" not in text and "quick=False" not in text  # the table, not the notes
    (line,) = [line for line in text.splitlines() if line.startswith("fast enough")]
    assert line.split()[-1] == "pass"


def test_a_partial_or_quick_run_leaves_the_docs_page_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(bench, "PARTS", {})
    fake_part(monkeypatch, "first", [Row.measure("a", "ms", 1.0, 2.0)])
    fake_part(monkeypatch, "second", [Row.measure("b", "ms", 1.0, 2.0)])
    page = tmp_path / "benchmarks.md"
    page.write_text(FIGURES_PAGE)
    assert bench.main(["--docs", str(page), "--only", "first"]) == 0
    assert bench.main(["--docs", str(page), "--quick"]) == 0
    assert page.read_text() == FIGURES_PAGE


def test_a_full_run_refuses_to_start_without_a_block_to_write_into(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bench, "PARTS", {})
    ran = []
    module = types.ModuleType("fake_watched")
    module.run = lambda quick, model_path: ran.append(quick) or Report([], [])
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(bench.PARTS, "watched", module.__name__)
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\n<!-- end benchmarks -->\n<!-- begin benchmarks -->\n")
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--docs", str(page)])
    assert exit_.value.code == 2 and not ran
    assert "no single block" in capsys.readouterr().err


def test_the_repository_page_has_the_block_a_full_run_writes_into():
    from benchmarks import docs_page

    docs_page.check_block(docs_page.PAGE, "benchmarks")
