"""The page on the screens a classroom has: phone, tablet (portrait and landscape), laptop and projector (presenter
mode, and that mode on a phone too). On each, the canvas is whole, nothing scrolls sideways, a digit drawn with a
finger (the mouse on laptop and projector) is named on one line in sight of the canvas, and Undo and Clear work by
touch. One server, one Chromium, a context per screen.

Writes tests/artifacts/devices/<screen>.png; with DIGITDNN_UPDATE_SCREENSHOT=1 also assets/devices/.
"""
import os
import shutil
from dataclasses import dataclass

import pytest

from testkit import ROOT
from testkit.browser import (
    CANVAS,
    PREDICTION,
    draw,
    predicted_digit,
    touch_draw,
    wait_for_text,
)
from testkit.strokes import digit_strokes

pytestmark = pytest.mark.browser

SERVER_ENV = {"DIGITDNN_DATA_LIMIT": "6000,1000"}  # as test_browser.py's: modules with the same settings share a server

ARTIFACTS = ROOT / "tests" / "artifacts" / "devices"
SCREENSHOTS = ROOT / "assets" / "devices"
TEMPLATE_CANVAS = 280  # digit_strokes' default size and place are for a 280 px canvas


@dataclass(frozen=True)
class Screen:
    name: str
    width: int
    height: int
    touch: bool
    digit: int
    query: str = ""


SCREENS = [Screen("phone", 390, 844, True, 7), Screen("tablet-portrait", 820, 1180, True, 4),
           Screen("tablet-landscape", 1180, 820, True, 5), Screen("laptop", 1366, 768, False, 2),
           Screen("projector", 1920, 1080, False, 3, "?presenter=1"),
           Screen("phone-presenter", 390, 844, True, 8, "?presenter=1")]  # the projector's big canvas, shrunk to fit

# Sideways overflow: the document, Streamlit's scrolling main area, and the drawing row's boxes that scroll or clip.
OVERFLOW_JS = """() => {
    const wide = e => e.scrollWidth > e.clientWidth + 1;
    // (a box 1 px wide is text kept for screen readers only, hidden on purpose)
    const clips = e => e instanceof HTMLElement && e.clientWidth > 1 && getComputedStyle(e).overflowX !== "visible";
    const main = document.querySelector("[data-testid=stMain]");
    const row = [...document.querySelectorAll(".st-key-drawing_row *")].filter(e => clips(e) && wide(e))
        .map(e => `${e.tagName} ${e.dataset.testid} ${e.scrollWidth} > ${e.clientWidth}`);
    return {document: document.documentElement.scrollWidth, inner: window.innerWidth, main: wide(main), row: row};
}"""
# How many lines a heading's text takes, from its line boxes.
LINES_JS = """e => { const range = document.createRange(); range.selectNodeContents(e);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; }"""


def strokes_for(box: dict, digit: int) -> list:
    """The digit's strokes at the place and size they have on a 280 px canvas, scaled to the canvas as shown."""
    scale = box["width"] / TEMPLATE_CANVAS
    return [line * scale for line in digit_strokes(digit)]


def press(page, selector: str, touch: bool) -> None:
    """Tap (a finger) or click (a mouse) a button."""
    if touch:
        page.locator(selector).tap()
    else:
        page.locator(selector).click()


def save_screenshot(page, name: str) -> None:
    """The screen as seen into tests/artifacts/devices/; also into assets/devices/ when DIGITDNN_UPDATE_SCREENSHOT=1."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")
    if os.environ.get("DIGITDNN_UPDATE_SCREENSHOT") == "1":
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / f"{name}.png", SCREENSHOTS / f"{name}.png")


@pytest.mark.parametrize("screen", SCREENS, ids=[s.name for s in SCREENS])
def test_the_canvas_fits_and_a_drawn_digit_is_named(browser, server, screen):
    context = browser.new_context(viewport={"width": screen.width, "height": screen.height},
                                  has_touch=screen.touch, is_mobile=screen.touch)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(server + "/" + screen.query)
        page.locator(PREDICTION).wait_for()
        canvas = page.locator(CANVAS)
        canvas.scroll_into_view_if_needed()
        box, host = canvas.bounding_box(), page.locator(".st-key-canvas").bounding_box()
        assert box["width"] >= 250, f"a canvas {box['width']:.0f} px wide is too small to draw on"
        assert 0 <= box["x"] and box["x"] + box["width"] <= screen.width, f"canvas cut at the side: {box}"
        assert 0 <= box["y"] and box["y"] + box["height"] <= screen.height, f"canvas taller than the screen: {box}"
        assert box["x"] + box["width"] <= host["x"] + host["width"] + 1, f"canvas cut by its own box: {box}, {host}"

        strokes = strokes_for(box, screen.digit)
        (touch_draw if screen.touch else draw)(page, strokes)
        assert predicted_digit(page, len(strokes)) == screen.digit
        heading = page.locator(f"{PREDICTION} h1")
        assert heading.inner_text() == f"Prediction: {screen.digit}"
        assert heading.evaluate(LINES_JS) == 1, "the prediction breaks over lines"
        seen = heading.bounding_box()
        assert seen["y"] + seen["height"] <= screen.height, "the prediction is not in sight with the canvas"
        overflow = page.evaluate(OVERFLOW_JS)
        assert overflow["document"] <= screen.width and overflow["inner"] == screen.width, overflow
        assert not overflow["main"] and not overflow["row"], f"something scrolls sideways: {overflow}"
        for button in ("undo", "clear"):
            label = page.locator(f".st-key-{button} button")
            assert label.evaluate("b => b.scrollWidth <= b.clientWidth"), f"{button}'s label is cut"
            assert label.bounding_box()["height"] >= 40, f"{button} is too small for a finger"
        save_screenshot(page, screen.name)

        press(page, ".st-key-undo button", screen.touch)
        wait_for_text(page, PREDICTION, rf"· {len(strokes) - 1} strokes? ·" if len(strokes) > 1 else "Draw a digit")
        press(page, ".st-key-clear button", screen.touch)
        wait_for_text(page, PREDICTION, "Draw a digit")
    finally:
        context.close()
