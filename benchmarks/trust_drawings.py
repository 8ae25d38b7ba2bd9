"""What the Class drawings tab costs the server when the class has stored 100,000 drawings (issue 21): a page
server whose database holds that many rows, and a new session that opens the tab over the page's own websocket
protocol; the rows are the seconds until its run finished and how far the server's resident memory (VmRSS, sampled
every 10 ms while it worked) rose above what it was before, for one viewer and for four at once.

    python -m benchmarks.trust_drawings [--quick] [--model PATH]     (part of: python -m benchmarks.trust)

The tab counts with SQL, scores the active model on the newest 5,000 drawings and shows one gallery page of 40;
before, it loaded every row (4-6 s and +750 MB for one viewer with 100,000 rows; four viewers: 3.4 GB at the
peak).
"""
from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.report import Report, Row, format_table
from digitdnn.storage.drawings import DrawingStore
from testkit.processes import process_tree_rss_mb
from testkit.server import running_server
from testkit.streamlit_client import PageSession, Run, StringValue, widget_key

ROWS, QUICK_ROWS = 100_000, 10_000
VIEWERS = 4
TARGET_SECONDS = 1.5
TARGET_GROWTH_MB = 100.0
TAB = "Class drawings"
COUNTED = " drawings** stored"   # the tab's first line once its run has got that far


def fill(db: Path, rows: int) -> None:
    """`rows` drawings (random ink, labels 0-9 in turn, 30 browser tabs) written straight into the table."""
    DrawingStore(db)
    rng = np.random.default_rng(0)
    with sqlite3.connect(db) as connection:
        for start in range(0, rows, 10_000):
            pixels = rng.integers(0, 256, (min(10_000, rows - start), 784), dtype=np.uint8)
            connection.executemany(
                "INSERT INTO drawings (created, label, pixels, predicted, default_predicted, session) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                ((f"2026-11-30T09:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.000+00:00", i % 10, row.tobytes(),
                  i % 10, (i * 7) % 10, f"tab-{i % 30}") for i, row in enumerate(pixels, start=start)))


class TabbedPageSession(PageSession):
    """A PageSession that also knows the page's keyed tab containers (blocks, which PageSession does not read), so
    that a run can switch tabs as a click on one does."""

    def _handle(self, message) -> None:
        super()._handle(message)
        if message.WhichOneof("type") == "delta" and message.delta.WhichOneof("type") == "add_block":
            block_id = message.delta.add_block.tab_container.id
            key = widget_key(block_id)
            if key:
                self.widgets[key] = self.run.widgets[key] = (block_id, message.delta.fragment_id)


async def view_tab(url: str, timeout: float) -> tuple[Run, float]:
    """A new session opens the tab (its first run on the default tab finished first); that run and its seconds."""
    session = TabbedPageSession(url, connect_timeout=timeout)
    await session.connect()
    try:
        if not await session.wait_for(lambda run: run.finished, timeout):
            raise TimeoutError(f"the page's first run did not finish within {timeout} s")
        sent = await session.rerun(session.states(tab=StringValue(TAB)))
        await session.wait_for(lambda run: run.finished, timeout)
        return session.run, time.perf_counter() - sent
    finally:
        await session.close()


def viewers(url: str, pid: int, count: int, timeout: float) -> tuple[list[tuple[Run, float]], float]:
    """`count` new sessions open the tab at once; what each saw and took, and the server's peak VmRSS growth."""
    before = process_tree_rss_mb(pid)[0]
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process_tree_rss_mb(pid)[0])
            done.wait(0.01)

    async def all_at_once():
        return await asyncio.gather(*(view_tab(url, timeout) for _ in range(count)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        answers = asyncio.run(all_at_once())
    finally:
        done.set()
        sampler.join()
    return list(answers), peak[0] - before


def measure(quick: bool, model_path: str | None) -> Report:
    """The Class drawings tab over ROWS stored drawings (quick: QUICK_ROWS): one viewer (after a first one has
    warmed the server up), then VIEWERS at once."""
    rows = QUICK_ROWS if quick else ROWS
    env = {"DIGITDNN_DEFAULT_MODEL": model_path} if model_path else {}
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "class-data" / "drawings.sqlite"
        started = time.perf_counter()
        fill(db, rows)
        filled = time.perf_counter() - started
        with running_server(Path(folder), timeout=120, DIGITDNN_DRAWINGS_DB=str(db), **env) as server:
            pid = server.process.pid
            viewers(server.url, pid, 1, timeout=120)           # warm up: imports, the default model, SQLite's pages
            (one,), one_growth = viewers(server.url, pid, 1, timeout=120)
            many, many_growth = viewers(server.url, pid, VIEWERS, timeout=240)
    shown = all(run.finished and not run.exceptions and any(f"{rows}{COUNTED}" in t for t in run.texts)
                for run, _ in [one, *many])
    failure = "" if shown else "a viewer did not see the tab with its count of drawings"
    label = f"Class drawings tab, {rows:,} rows"
    report_rows = [
        Row.measure(f"{label}: seconds for one viewer", "s", one[1], TARGET_SECONDS, failure=failure),
        Row.measure(f"{label}: server RSS growth, one viewer", "MB", one_growth, TARGET_GROWTH_MB, failure=failure),
        Row.measure(f"{label}: seconds for the slowest of {VIEWERS} at once", "s", max(s for _, s in many), None,
                    failure=failure),
        Row.measure(f"{label}: server RSS growth, {VIEWERS} viewers at once", "MB", many_growth,
                    VIEWERS * TARGET_GROWTH_MB, failure=failure),
    ]
    notes = [f"{rows:,} rows of random ink written straight into the table in {filled:.1f} s; each viewer is a new "
             f"session that opens the tab over the websocket; peak VmRSS sampled every 10 ms",
             "one viewer is measured after a first one warmed the server up (its imports and the default model)",
             "every viewer saw the tab with its count: " + ("yes" if shown else "NO")]
    return Report(report_rows, notes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.trust_drawings",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} rows instead of {ROWS:,}")
    parser.add_argument("--model", default=None, help="the server's default model (default: digitdnn/assets/)")
    args = parser.parse_args(argv)
    report = measure(quick=args.quick, model_path=args.model)
    print(format_table(report))
    return 0 if all(row.passed for row in report.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
