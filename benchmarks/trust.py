"""What hostile clients cost the server once the trust boundary holds: forged canvas images, upload bombs and a
class drawings table of 100,000 rows, each measured against a running page server (time and RSS).

    python -m benchmarks.trust [--quick] [--model PATH]     (or: python -m benchmarks --only trust)

Each family is its own module (benchmarks.trust_canvas, trust_upload, trust_drawings) with
`measure(quick, model_path) -> Report`; this part runs them in turn and joins their rows and notes.
"""
from __future__ import annotations

import argparse
import os
import sys

from benchmarks import trust_canvas, trust_drawings, trust_upload
from benchmarks.report import Report, format_table

FAMILIES = (trust_canvas, trust_upload, trust_drawings)


def run(quick: bool = False, model_path: str | None = None) -> Report:
    """Every family's rows in order, its notes prefixed with its module's name."""
    rows, notes = [], []
    for family in FAMILIES:
        report = family.measure(quick=quick, model_path=model_path)
        rows += report.rows
        notes += [f"{family.__name__.rsplit('.', 1)[-1]}: {note}" for note in report.notes]
    return Report(rows, notes)


def main(argv=None) -> int:
    """Run the benchmark, print its table; 1 if a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trust", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--model", default=None, help="the server's default model (default: digitdnn/assets/)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    report = run(quick=args.quick, model_path=args.model)
    print(format_table(report))
    return 0 if all(row.passed for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
