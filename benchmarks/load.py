"""A classroom on one server: many browser sessions drawing at once while some of them train.

    python -m benchmarks.load [--sessions 20] [--trainers 3] [--seconds 90] [--quick] [--model PATH]

Starts `streamlit run app.py` (testkit/server.py, with .streamlit/config.toml) on loopback and
opens --sessions pages in one headless Chromium (a browser context each: separate sessions, as
separate people). Every page draws clear digits with the mouse (one writing style per digit,
tests/data/stroke_templates.json), each at a different place, reads the prediction and looks at it
for --pause seconds (2 to 2x that, at random; 0: draw without a break) before the next; the first
--trainers pages press Train again and again (on a small data slice, so that runs end) and draw
meanwhile. For --seconds it measures:

- prediction latency: from the mouse-up of a digit's last stroke to the page naming it, p50/p95,
  over the drawing-only pages (the trainers' are counted apart: their drawings are scored by
  their own half-trained runs);
- errors: timeouts, Streamlit exceptions on a page, failed runs (must be 0);
- wrong predictions: digits the default model names wrongly on the drawing-only pages (must be 0);
- peak memory of the server process, and of it with its training child processes;
- the training queue: most runs seen waiting at once, the places shown, runs finished.

--quick: 4 sessions, 1 trainer, 30 s. Needs Chromium ($DIGITDNN_CHROMIUM or /usr/bin/chromium).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.report import Report, Row, format_table
from testkit import ROOT
from testkit.browser import PREDICTION, draw_async, launched_chromium_async, open_page_async, wait_for_text_async
from testkit.processes import cpu_seconds, process_tree_rss_mb
from testkit.server import running_server
from testkit.strokes import digit_strokes

DATA_LIMIT = "3000,500"          # trainers' runs last ~10-20 s on 2 cores, so that several end within a minute
TRAIN_PRESET_EPOCHS = 15         # the page's default preset
MAX_SHIFT = 20.0                 # px each way from where the browser tests draw (180 px high, left 60, top 50)
OPENING_AT_ONCE = 4              # pages opened concurrently before the test (then all draw at once)
SIDEBAR = "[data-testid=stSidebar]"
PLACE = re.compile(r"waiting: place (\d+) of (\d+) in the queue")
RUN_OVER = re.compile(r"Run \d+ (completed|stopped|diverged|failed)")


@dataclass
class Tally:
    """What all sessions saw, gathered as they go."""

    latencies_ms: list[float] = field(default_factory=list)          # drawing-only pages
    trainer_latencies_ms: list[float] = field(default_factory=list)
    predictions: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    places: set[tuple[int, int]] = field(default_factory=set)
    max_waiting: int = 0
    runs_finished: int = 0
    runs_started: int = 0
    peak_server_mb: float = 0.0
    peak_total_mb: float = 0.0
    server_cpu_s: float = 0.0          # the server process itself (pages, predictions), during the test
    training_cpu_s: float = 0.0        # its training processes that ended during the test
    elapsed: float = 0.0               # seconds from the last page opened to the last digit named


async def draw_and_read(page, digit: int, shift: tuple[float, float]) -> tuple[int, float]:
    """Clear, draw `digit`, and return (the digit the page names, seconds from the last mouse-up)."""
    await page.locator(".st-key-clear button").click()  # the canvas empties itself (digitdnn/ui/draw.py)
    await wait_for_text_async(page, PREDICTION, "Draw a digit")
    strokes = digit_strokes(digit, left=60 + shift[0], top=50 + shift[1])
    await draw_async(page, strokes)
    drawn = time.perf_counter()
    count = len(strokes)
    text = await wait_for_text_async(page, PREDICTION,
                                            rf"Prediction: \d[\s\S]*· {count} strokes? ·", timeout=60_000)
    return int(re.search(r"Prediction: (\d)", text).group(1)), time.perf_counter() - drawn


async def session(index: int, trains: bool, page, deadline: float, pause: float, tally: Tally) -> None:
    """One person: draw digit after digit until the deadline; a trainer also keeps a run going."""
    rng = np.random.default_rng(index)
    digit = index % 10
    started_here = [0]
    try:
        while time.monotonic() < deadline:
            if trains:
                await keep_training(page, index, tally, started_here)
            shift = tuple(rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=2))
            try:
                named, seconds = await draw_and_read(page, digit, shift)
            except Exception as exc:
                tally.errors.append(f"session {index}: digit {digit} not named ({type(exc).__name__})")
                continue
            if await page.locator("[data-testid=stException]").count():
                tally.errors.append(f"session {index}: the page shows an exception")
            tally.predictions += 1
            if trains:
                tally.trainer_latencies_ms.append(seconds * 1000)
            else:
                tally.latencies_ms.append(seconds * 1000)
                if named != digit:
                    tally.wrong.append(f"session {index}: drew {digit}, page said {named}")
            digit = (digit + 1) % 10
            await asyncio.sleep(rng.uniform(pause, 2 * pause))
        if trains:
            await keep_training(page, index, tally, started_here, start=False)
    except Exception as exc:  # the page broke down
        tally.errors.append(f"session {index}: {type(exc).__name__}: {exc}"[:300])


async def keep_training(page, index: int, tally: Tally, started_here: list[int], start: bool = True) -> None:
    """Note the queue place shown; press Train when this page has no run going (its previous one has ended)."""
    sidebar = await page.locator(SIDEBAR).inner_text()
    for place, waiting in PLACE.findall(sidebar):
        tally.places.add((int(place), int(waiting)))
        tally.max_waiting = max(tally.max_waiting, int(waiting))
    train = page.locator(".st-key-train button")
    if await train.is_enabled():
        over = RUN_OVER.search(sidebar)
        if over and over.group(1) == "failed":
            tally.errors.append(f"session {index}: a run failed")
        if started_here[0] and over:
            tally.runs_finished += 1
            started_here[0] = 0
        if start:
            await train.click()
            tally.runs_started += 1
            started_here[0] = 1


async def watch_memory(pid: int, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        own, total = process_tree_rss_mb(pid)
        tally.peak_server_mb = max(tally.peak_server_mb, own)
        tally.peak_total_mb = max(tally.peak_total_mb, total)
        await asyncio.sleep(0.5)


async def drive(url: str, pid: int, sessions: int, trainers: int, seconds: float, pause: float) -> Tally:
    tally = Tally()
    async with launched_chromium_async() as browser:
        watcher = asyncio.create_task(watch_memory(pid, time.monotonic() + 3600, tally))
        opening = asyncio.Semaphore(OPENING_AT_ONCE)

        async def opened(index: int):
            async with opening:
                try:
                    return await open_page_async(browser, url)
                except Exception as exc:  # the page never came up
                    tally.errors.append(f"session {index}: page did not open ({type(exc).__name__}: {exc})"[:300])
                    return None

        pages = await asyncio.gather(*(opened(index) for index in range(sessions)))
        server_before, training_before = cpu_seconds(pid)
        started = time.monotonic()
        await asyncio.gather(*(session(index, index < trainers, opened[1], started + seconds, pause, tally)
                               for index, opened in enumerate(pages) if opened is not None))
        tally.elapsed = time.monotonic() - started
        server_after, training_after = cpu_seconds(pid)
        tally.server_cpu_s = server_after - server_before
        tally.training_cpu_s = training_after - training_before
        watcher.cancel()
        for opened in pages:
            if opened is not None:
                await opened[0].close()
    return tally


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def measure(sessions: int, trainers: int, seconds: float, model_path: str | None = None,
            pause: float = 2.0) -> tuple[Tally, dict]:
    model = Path(model_path) if model_path else ROOT / "digitdnn" / "assets" / "default.keras"
    with tempfile.TemporaryDirectory(prefix="digitdnn-load-") as folder, \
            running_server(Path(folder), DIGITDNN_DEFAULT_MODEL=str(model), DIGITDNN_DATA_LIMIT=DATA_LIMIT) as server:
        tally = asyncio.run(drive(server.url, server.process.pid, sessions, trainers, seconds, pause))
        log = server.log_path.read_text(errors="replace")
    tracebacks = log.split("Traceback (most recent call last)")[1:]
    if tracebacks:
        last = " | ".join(line.strip() for line in tracebacks[-1].strip().splitlines()[-3:])
        tally.errors.append(f"{len(tracebacks)} traceback(s) in the server log, the last ending: {last}"[:400])
    return tally, {"elapsed": tally.elapsed, "slots": os.cpu_count() or 1, "pause": pause}


def run(quick: bool = False, model_path: str | None = None, sessions: int | None = None,
        trainers: int | None = None, seconds: float | None = None, pause: float = 2.0) -> Report:
    """The load test as rows of the benchmarks' table."""
    sessions = sessions or (4 if quick else 20)
    trainers = min(sessions, trainers if trainers is not None else (1 if quick else 3))
    seconds = seconds or (30 if quick else 90)
    tally, facts = measure(sessions, trainers, seconds, model_path, pause)
    label = f"load, {sessions} sessions, {trainers} training"
    per_digit = tally.server_cpu_s / max(tally.predictions, 1)
    no_latency = "no prediction was measured" if not tally.latencies_ms else ""
    rows = [
        Row.measure(f"{label}: prediction p50", "ms", percentile(tally.latencies_ms, 50), None, failure=no_latency),
        Row.measure(f"{label}: prediction p95", "ms", percentile(tally.latencies_ms, 95), None,
                    failure=no_latency),
        Row.measure(f"{label}: errors", "", float(len(tally.errors)), 0.0),
        Row.measure(f"{label}: wrong predictions", "", float(len(tally.wrong)), 0.0, failure=no_latency),
    ]
    notes = [
        f"{sessions} Chromium sessions for {facts['elapsed']:.0f} s on loopback, {trainers} pressing Train "
        f"again and again (data slice {DATA_LIMIT}, {facts['slots']} training slots), a digit each every "
        f"{facts['pause']:g}-{2 * facts['pause']:g} s plus the time to draw and name it; {tally.predictions} digits "
        f"named; latency p50 {percentile(tally.latencies_ms, 50):.0f} ms, p95 "
        f"{percentile(tally.latencies_ms, 95):.0f} ms, max {max(tally.latencies_ms, default=float('nan')):.0f} ms "
        f"(trainers' pages: p50 {percentile(tally.trainer_latencies_ms, 50):.0f} ms, p95 "
        f"{percentile(tally.trainer_latencies_ms, 95):.0f} ms)",
        f"peak RSS {tally.peak_server_mb:.0f} MB for the server, {tally.peak_total_mb:.0f} MB with its "
        f"training processes; queue: {tally.runs_started} runs started, {tally.runs_finished} seen ending, "
        f"at most {tally.max_waiting} waiting, places shown "
        f"{', '.join(f'{p} of {n}' for p, n in sorted(tally.places)) or 'none'}",
        f"CPU over the test: server {tally.server_cpu_s:.0f} s ({per_digit * 1000:.0f} ms per digit named), "
        f"its finished training processes {tally.training_cpu_s:.0f} s, in {facts['elapsed']:.0f} s on "
        f"{facts['slots']} cores shared with the {sessions} browser pages",
    ]
    notes += [problem for problem in (tally.errors + tally.wrong)[:10]]
    return Report(rows, notes)


def main(argv=None) -> Report:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, help="browser sessions (default 20, --quick 4)")
    parser.add_argument("--trainers", type=int, help="of which keep training (default 3, --quick 1)")
    parser.add_argument("--seconds", type=float, help="how long they draw (default 90, --quick 30)")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between a digit named and the next (2)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", help="the default model the server opens with (default: the shipped one)")
    args = parser.parse_args(argv)
    report = run(args.quick, args.model, args.sessions, args.trainers, args.seconds, args.pause)
    print(format_table(report))
    return report


if __name__ == "__main__":
    raise SystemExit(0 if all(row.passed for row in main().rows) else 1)
