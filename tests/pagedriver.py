"""Driving the page in a real browser: start `streamlit run app.py`, draw with the mouse or a finger, read the page.

Shared by the browser tests and `python -m benchmarks.page`.
"""
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from digitdnn.strokes import load_templates, smooth_stroke

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "tests" / "data" / "stroke_templates.json"
CHROMIUM = os.environ.get("DIGITDNN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# One clear writing style per digit (tests/data/stroke_templates.json), drawn 180 px high on the 280 px canvas.
STYLES = {0: "oval_counterclockwise", 1: "stick", 2: "plain", 3: "round", 4: "open",
          5: "two_strokes", 6: "straight_stem", 7: "plain", 8: "two_circles", 9: "straight_tail"}
PREDICTION = ".st-key-prediction"
CANVAS = ".st-key-canvas canvas.upper-canvas"  # the canvas's drawing layer (Playwright looks inside its shadow root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, port: int, cpus: set[int] | None = None,
                 **env_vars: str) -> tuple[subprocess.Popen, Path]:
    """`streamlit run app.py` as `make run` runs it, on `port`, with extra environment variables; log in `folder`.
    `cpus`: the cores it (and the processes it starts) may run on, as `taskset` would pin it."""
    env = dict(os.environ, DIGITDNN_MODELS_DIR=str(folder / "models"), TF_CPP_MIN_LOG_LEVEL="2", **env_vars)
    log_path = folder / "streamlit.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    return process, log_path


def stop_server(process: subprocess.Popen, timeout: float = 15) -> None:
    """End the server: terminate, and kill it if it has not gone within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    """Return once the server answers its health check; RuntimeError with its log if it died or timed out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not come up on {url}:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.05)


@contextlib.contextmanager
def served(folder: Path, **env_vars: str):
    """A running `streamlit run app.py` (start_server on a free port, waited for) for the with-block; yields its URL."""
    port = free_port()
    process, log_path = start_server(folder, port, **env_vars)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log_path, timeout=60)
        yield url
    finally:
        stop_server(process)


@contextlib.contextmanager
def launched_chromium():
    """Headless Chromium (CHROMIUM, with CHROMIUM_ARGS) through Playwright, for the with-block."""
    executable = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(executable).is_file():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: install it (Debian: apt-get install chromium) "
                           "or set DIGITDNN_CHROMIUM to a Chromium executable.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser, url: str):
    """A new page (its own session) at `url`, once the prediction container and the canvas are there."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    page.goto(url)
    page.locator(PREDICTION).wait_for()
    page.locator(CANVAS).wait_for()
    return page


def digit_strokes(digit: int, height: float = 180, left: float = 60, top: float = 50) -> list:
    """The polylines of a digit's chosen writing style, in canvas pixels."""
    template = next(t for t in load_templates(TEMPLATES) if t.label == digit and t.style == STYLES[digit])
    return [smooth_stroke(points, samples_per_segment=6) * height + (left, top) for points in template.strokes]


def draw(page, strokes) -> None:
    """Draw polylines on the canvas with the mouse: press, move along each, release (page pixels from its corner)."""
    box = page.locator(CANVAS).bounding_box()
    for line in strokes:
        page.mouse.move(box["x"] + line[0][0], box["y"] + line[0][1])
        page.mouse.down()
        for x, y in line[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()


def touch_draw(page, strokes) -> None:
    """Draw polylines with touch events (start, moves, end), as a finger on a touch screen does; the page's
    context needs has_touch=True."""
    box = page.locator(CANVAS).bounding_box()
    session = page.context.new_cdp_session(page)
    for line in strokes:
        points = [{"x": box["x"] + x, "y": box["y"] + y} for x, y in line]
        session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points[:1]})
        for point in points[1:]:
            session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def clear(page) -> None:
    page.locator(".st-key-clear button").click()
    wait_for_text(page, PREDICTION, "Draw a digit")


def predicted_digit(page, strokes: int) -> int:
    """The digit the prediction container names once the whole drawing (`strokes` strokes) was scored."""
    text = wait_for_text(page, PREDICTION, rf"Prediction: \d[\s\S]*· {strokes} strokes? ·")
    return int(re.search(r"Prediction: (\d)", text).group(1))


def wait_for_text(page, selector: str, pattern: str, timeout: float = 30_000) -> str:
    """Wait until the element's text matches the regex `pattern`; return the text."""
    page.wait_for_function(
        "([selector, pattern]) => { const e = document.querySelector(selector);"
        " return e !== null && new RegExp(pattern).test(e.innerText); }",
        arg=[selector, pattern], timeout=timeout)
    return page.locator(selector).inner_text()


# ---- the same with Playwright's async API, for driving many pages at once (benchmarks/load.py) -----------------

async def draw_async(page, strokes) -> None:
    """`draw` for an async Playwright page."""
    box = await page.locator(CANVAS).bounding_box()
    for line in strokes:
        await page.mouse.move(box["x"] + line[0][0], box["y"] + line[0][1])
        await page.mouse.down()
        for x, y in line[1:]:
            await page.mouse.move(box["x"] + x, box["y"] + y)
        await page.mouse.up()


async def wait_for_text_async(page, selector: str, pattern: str, timeout: float = 30_000) -> str:
    """`wait_for_text` for an async Playwright page."""
    await page.wait_for_function(
        "([selector, pattern]) => { const e = document.querySelector(selector);"
        " return e !== null && new RegExp(pattern).test(e.innerText); }",
        arg=[selector, pattern], timeout=timeout)
    return await page.locator(selector).inner_text()


def process_tree_rss_mb(pid: int) -> tuple[float, float]:
    """(RSS of process `pid`, RSS of it and all its descendants) in MB, from /proc (Linux); (0, 0) if it is gone."""
    def rss(p: int) -> float:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            return 0.0
        return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)

    def children(p: int) -> list[int]:
        found = []
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                found += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return found

    own, total, todo = rss(pid), 0.0, [pid]
    while todo:
        p = todo.pop()
        total += rss(p)
        todo += children(p)
    return own, total


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds of process `pid` itself, CPU seconds of its children it has waited for), from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / tick, (cutime + cstime) / tick
