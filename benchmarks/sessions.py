"""Server memory when sessions train big networks and close: what a session keeps, and what its closing frees.

    python -m benchmarks.sessions [--quick]

A real `streamlit run app.py` (the page's own settings, one training slot) driven by headless
Chromium. One after another, 1 + SESSIONS sessions each open the page with a big network in its
address (4 hidden layers of 4,096 units: the largest the page offers, 214 MB of weights), train
it for one epoch on a small slice, train it again (two runs: more than one model in memory),
download the active model, and close their tab. The server process's resident memory (VmRSS; its
training children excluded) is read once the page has been loaded (no training yet),
RELEASE_SECONDS after the first session closed (what stays for good: TensorFlow keeps the memory
it used to write the model files, and reuses it), as the last closes, and RELEASE_SECONDS later.
The growth from after the first session to the end must stay under TARGET_GROWTH_MB: closed
sessions must not keep their models. --quick: 1 + 1 sessions of 2 x 1,024 units, one run each.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.report import Report, Row, format_table
from testkit.browser import CANVAS, launched_chromium, wait_for_text
from testkit.processes import process_tree_rss_mb
from testkit.server import running_server

TARGET_GROWTH_MB = 300.0
RELEASE_SECONDS = 30.0          # after the last tab closed, how long the server may take to free its models
SESSIONS, QUICK_SESSIONS = 3, 1
UNITS, QUICK_UNITS = "4096,4096,4096,4096", "1024,1024"
DATA_LIMIT = "1000,500"
RUNS_PER_SESSION, QUICK_RUNS_PER_SESSION = 2, 1


def server_rss_mb(pid: int) -> float:
    return process_tree_rss_mb(pid)[0]


def train_once(page, run: int) -> None:
    """Press Train and wait until the sidebar reports run `run` completed."""
    page.locator(".st-key-train button").click()
    wait_for_text(page, "[data-testid=stSidebar]", rf"Run {run} completed", timeout=600_000)


def one_session(browser, url: str, units: str, seed: int, runs: int, download: bool) -> None:
    """Open the page with `units` in its address, train `runs` times, download the active model, close the tab."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/?units={units}&epochs=1&batch=128&seed={seed}")
        page.locator(CANVAS).wait_for()
        for run in range(1, runs + 1):
            train_once(page, run)
        if download:
            page.get_by_text("Runs and models").click()
            download_active_model(page)
    finally:
        context.close()


def download_active_model(page, attempts: int = 3) -> None:
    """Click the download button until the file arrives (a click during a rerun can hit a link already replaced)."""
    for attempt in range(1, attempts + 1):
        page.wait_for_timeout(1000)  # let the rerun after the run's end settle
        try:
            with page.expect_download(timeout=180_000) as downloaded:
                page.locator(".st-key-download button").click()
            downloaded.value.path()  # waits until the whole file has arrived
            return
        except Exception:  # Playwright's TimeoutError: no download started
            if attempt == attempts:
                raise


def wait_for_release(pid: int, baseline: float, seconds: float) -> tuple[float, float]:
    """Poll the server's RSS for up to `seconds` (ending early once it is back near `baseline`):
    (RSS at the end, seconds it took)."""
    started = time.monotonic()
    while True:
        rss = server_rss_mb(pid)
        waited = time.monotonic() - started
        if rss - baseline < TARGET_GROWTH_MB / 2 or waited >= seconds:
            return rss, waited
        time.sleep(1.0)


def run(quick: bool = False, model_path: str | None = None) -> Report:
    """The soak as rows of the benchmarks' table (model_path: the page's default model, else assets/)."""
    sessions, units, runs = (QUICK_SESSIONS, QUICK_UNITS, QUICK_RUNS_PER_SESSION) if quick else \
        (SESSIONS, UNITS, RUNS_PER_SESSION)
    env = {"DIGITDNN_DATA_LIMIT": DATA_LIMIT, "DIGITDNN_TRAINING_SLOTS": "1"}
    if model_path:
        env["DIGITDNN_DEFAULT_MODEL"] = str(model_path)
    with tempfile.TemporaryDirectory(prefix="digitdnn-sessions-bench-") as tmp, launched_chromium() as browser, \
            running_server(Path(tmp), **env) as server:
        url, pid = server.url, server.process.pid
        one_session(browser, url, units, seed=0, runs=0, download=False)  # the page and its model loaded
        before = server_rss_mb(pid)
        one_session(browser, url, units, seed=0, runs=runs, download=True)
        time.sleep(RELEASE_SECONDS)
        baseline = server_rss_mb(pid)
        started = time.monotonic()
        for index in range(sessions):
            one_session(browser, url, units, seed=index + 1, runs=runs, download=True)
        trained = time.monotonic() - started
        closed = server_rss_mb(pid)
        end, waited = wait_for_release(pid, baseline, RELEASE_SECONDS)
    layers = units.count(",") + 1
    size = f"{layers} x {int(units.split(',')[0]):,}"
    rows = [Row.measure(f"sessions: server RSS kept by the first ({size})", "MB", baseline - before, None),
            Row.measure(f"sessions: server RSS growth over {sessions} more", "MB", end - baseline, TARGET_GROWTH_MB)]
    notes = [f"1 + {sessions} sessions one after another, each training a {size} network {runs} times "
             f"for 1 epoch on {DATA_LIMIT} images and downloading it, then closing its tab ({trained:.0f} s for the "
             f"last {sessions}); server RSS (its training children excluded) {before:.0f} MB with the page loaded, "
             f"before the first, "
             f"{baseline:.0f} MB {RELEASE_SECONDS:.0f} s after it closed, {closed:.0f} MB as the last tab closed, "
             f"{end:.0f} MB {waited:.0f} s later"]
    return Report(rows, notes)


def main(argv=None) -> Report:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sessions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"1 + {QUICK_SESSIONS} sessions of {QUICK_UNITS} units")
    parser.add_argument("--model", default=None, help="the page's default model (default: assets/)")
    args = parser.parse_args(argv)
    report = run(args.quick, args.model)
    print(format_table(report))
    return report


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(0 if all(row.passed for row in main().rows) else 1)
