"""Every benchmark in one table.

    python -m benchmarks [--quick] [--only PART ...] [--model PATH]     (or: digitdnn bench ...)

Runs the parts in order (training and prediction speed, the page in a browser, ...) and prints
one table: figure, project, baseline, ratio, target, pass/fail, with each part's notes below.
A full run (every part, not --quick) also writes its table into docs/benchmarks.md (--docs: another page).
Exits with status 1 when a target is missed, 0 when all are met.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

from benchmarks import docs_page
from benchmarks.report import Report, format_table

# name -> module with run(quick: bool, model_path) -> Report; the order of the table.
PARTS = {
    "speed": "benchmarks.speed",   # training epochs vs model.fit and GEMM, one drawing, time to 98%
    "best": "benchmarks.best",     # the "Best ..." preset: last-epoch accuracy, training time, time to 99%
    "page": "benchmarks.page",     # the page in headless Chromium: latency, server CPU per digit, startup, memory
    "soak": "benchmarks.soak",     # 50 training runs in one server process: memory growth
    "sessions": "benchmarks.sessions",  # sessions train big networks and close: server memory given back
    "load": "benchmarks.load",     # 20 browser sessions drawing while 3 train: errors, latency, memory
    "students": "benchmarks.students",  # students over the websocket protocol, server on its own core
    "classroom": "benchmarks.classroom",  # fine-tuning on held-out writers' drawings: before/after, MNIST, seconds
    "trust": "benchmarks.trust",  # hostile clients: forged canvas pictures, upload bombs, 100,000 class drawings
    "workers": "benchmarks.workers",  # 20 runs drained by 1 then 2 training workers; students while workers train
}


def machine() -> str:
    """One line naming the machine the figures come from."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    meminfo = Path("/proc/meminfo")
    lines = meminfo.read_text().splitlines() if meminfo.exists() else []
    total_kib = next((int(line.split()[1]) for line in lines if line.startswith("MemTotal:")), 0)
    memory = f", {total_kib / 2**20:.0f} GiB" if total_kib else ""
    return f"{platform.machine()}, {cores} cores{memory}, Python {platform.python_version()}, {platform.system()}"


def run(parts: list[str], quick: bool = False, model_path: str | None = None) -> Report:
    """Run the named parts and join their rows and notes (each note prefixed with its part)."""
    rows, notes = [], []
    for name in parts:
        report = importlib.import_module(PARTS[name]).run(quick=quick, model_path=model_path)
        rows += report.rows
        notes += [f"{name}: {note}" for note in report.notes]
    return Report(rows, notes)


def main(argv=None) -> int:
    """Run the benchmarks, print the table; 1 if any target is missed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data slices and few samples (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(PARTS), default=list(PARTS), metavar="PART",
                        help=f"run only these parts ({', '.join(PARTS)})")
    parser.add_argument("--model", default=None, help="the page's default model (default: digitdnn/assets/)")
    parser.add_argument("--docs", type=Path, default=docs_page.PAGE,
                        help="the page a full run writes its table into (default: docs/benchmarks.md)")
    args = parser.parse_args(argv)
    full_run = not args.quick and set(args.only) == set(PARTS)
    if full_run:
        try:
            docs_page.check_block(args.docs, "benchmarks")
        except ValueError as error:
            parser.error(str(error))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"machine: {machine()}", flush=True)
    load_before, started = os.getloadavg()[0], time.monotonic()
    report = run(args.only, quick=args.quick, model_path=args.model)
    print(format_table(report))
    if full_run:
        table = format_table(Report(report.rows, []))
        docs_page.write_block(args.docs, "benchmarks", docs_page.figures(
            machine(), load_before, os.getloadavg()[0], (time.monotonic() - started) / 60, table))
        print(f"\nthe table is written into {args.docs}")
    missed = [row.figure for row in report.rows if not row.passed]
    if missed:
        print(f"\n{len(missed)} target(s) missed: {'; '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
