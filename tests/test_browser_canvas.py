"""Every point of the canvas draws (no hidden toolbar over it), with the mouse and with touch; Undo and Clear are
page buttons; address values show no link and fetch no image. Headless Chromium against `streamlit run app.py`."""
from urllib.parse import urlsplit

import pytest

from testkit.browser import (
    CANVAS,
    PREDICTION,
    draw,
    open_page,
    predicted_digit,
    touch_draw,
    wait_for_text,
)

pytestmark = pytest.mark.browser

SERVER_ENV = {"DIGITDNN_DATA_LIMIT": "6000,1000"}  # as test_browser.py's: modules with the same settings share a server

# A "1" whose only stroke starts in the canvas's top-right corner, where the canvas toolbar used to lie unseen.
ONE_FROM_THE_CORNER = [(262.0 - 3 * i, 6.0 + 11 * i) for i in range(25)]
CORNER_TAP = [(268.0, 14.0), (270.0, 16.0)]


def test_a_mouse_stroke_starting_in_the_top_right_corner_is_drawn_then_undone(browser, server):
    page = open_page(browser, server)
    try:
        draw(page, [ONE_FROM_THE_CORNER])
        assert predicted_digit(page, 1) == 1
        draw(page, [CORNER_TAP])
        predicted_digit(page, 2)
        page.locator(".st-key-undo button").click()
        assert predicted_digit(page, 1) == 1  # the tap undone, the 1 kept
        page.locator(".st-key-clear button").click()
        wait_for_text(page, PREDICTION, "Draw a digit")
    finally:
        page.close()


def test_a_finger_stroke_and_tap_in_the_top_right_corner_draw(browser, server):
    context = browser.new_context(viewport={"width": 412, "height": 915}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(server)
        page.locator(CANVAS).wait_for()
        touch_draw(page, [ONE_FROM_THE_CORNER])
        assert predicted_digit(page, 1) == 1
        touch_draw(page, [CORNER_TAP])  # on the old page this hit the unseen "Reset canvas" button
        assert predicted_digit(page, 2) == 1
    finally:
        context.close()


def test_address_values_show_no_link_and_fetch_no_image(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(server + "/?optimizer=%5BLog%20in%20here%5D(http%3A%2F%2Fev.il)"
                           "&activation=!%5Bx%5D(http%3A%2F%2F127.0.0.1%3A9%2Fp.png)")
        sidebar = page.locator("[data-testid=stSidebar]")
        wait_for_text(page, "[data-testid=stSidebar]", "could not be used")
        said = sidebar.inner_text().replace("\u2060", "")  # without the word joiners
        assert "“[Log in here](http://ev.il)” is not one of" in said
        assert sidebar.locator("a[href*='ev.il'], img[src*='p.png']").count() == 0
        assert not [url for url in requested if urlsplit(url).hostname == "ev.il" or urlsplit(url).path == "/p.png"]
    finally:
        page.close()


def test_undo_and_clear_each_take_one_rerun_of_the_canvas(browser, server):
    from benchmarks.record_canvas import SentFrames, canvas_strokes

    page = open_page(browser, server)
    try:
        draw(page, [ONE_FROM_THE_CORNER, CORNER_TAP])
        predicted_digit(page, 2)
        frames = SentFrames(page)
        for button, strokes_left, shown in (("undo", 1, r"· 1 stroke ·"), ("clear", 0, "Draw a digit")):
            frames.reruns.clear()
            page.locator(f".st-key-{button} button").click()
            wait_for_text(page, PREDICTION, shown)
            page.wait_for_timeout(1000)  # a second rerun, if any, would be sent by now
            # One rerun, sent by the canvas itself with its new drawing: no button press reached the server.
            assert [canvas_strokes(message) for message in frames.reruns] == [strokes_left]
            pressed = [w.id for m in frames.reruns for w in m.rerun_script.widget_states.widgets
                       if w.WhichOneof("value") == "trigger_value" and w.trigger_value]
            assert pressed == []
    finally:
        page.close()
