"""Driving the page in headless Chromium (Playwright): open it, draw with the mouse or a finger, read what it shows.

The async forms drive many pages at once (benchmarks/load.py, tests/test_browser_class.py).
"""
import contextlib
import os
import re
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("DIGITDNN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PREDICTION = ".st-key-prediction"
CANVAS = ".st-key-canvas canvas.upper-canvas"  # the canvas's drawing layer (Playwright looks inside its shadow root)


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
    """Wait until the (first) element's text matches the regex `pattern`; return that text (read in the same check:
    while Streamlit reruns, a stale copy of the element may be on the page beside the new one)."""
    return page.wait_for_function(
        "([selector, pattern]) => { const e = document.querySelector(selector);"
        " return e !== null && new RegExp(pattern).test(e.innerText) ? e.innerText : false; }",
        arg=[selector, pattern], timeout=timeout).json_value()


def pause_in(page):
    """A pause for testkit.waiting.wait_until that lets the page's Playwright events in (time.sleep holds them
    back: a sync Playwright page handles its events only inside its own calls)."""
    return lambda seconds: page.wait_for_timeout(seconds * 1000)


# ---- the same with Playwright's async API, for driving many pages at once -----------------------------------

@contextlib.asynccontextmanager
async def launched_chromium_async():
    """`launched_chromium` with Playwright's async API, for the async-with block."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=shutil.which(CHROMIUM) or CHROMIUM,
                                                    args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page_async(browser, url: str):
    """(context, page): a page in a browser context of its own (its own session, as another person's), once the
    prediction container and the canvas are there."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(60_000)
    await page.goto(url)
    await page.locator(PREDICTION).wait_for()
    await page.locator(CANVAS).wait_for()
    return context, page


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
