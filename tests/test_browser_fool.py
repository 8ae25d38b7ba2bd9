"""The teaching views in a real browser: try to fool it after drawing, inside the network, the settings carried
by the page address (a link opens the same settings; hostile values are reported) and presenter mode.

Writes tests/artifacts/{fool,inside,presenter}.png; with DIGITDNN_UPDATE_SCREENSHOT=1 also assets/views/.
"""
import re

import pytest
from screenshots import save_view

from testkit.browser import PREDICTION, draw, open_page, wait_for_text
from testkit.strokes import digit_strokes

pytestmark = pytest.mark.browser

SERVER_ENV = {"DIGITDNN_DATA_LIMIT": "6000,1000"}  # as test_browser.py's
SIDEBAR = "[data-testid=stSidebar]"
FOOL_RESULT = ".st-key-fool_result"


def draw_digit(page, digit: int) -> None:
    strokes = digit_strokes(digit)
    draw(page, strokes)
    wait_for_text(page, PREDICTION, rf"Prediction: \d[\s\S]*· {len(strokes)} strokes? ·")


def open_expander(page, title: str):
    expander = page.locator("[data-testid=stExpander]", has_text=title)
    expander.get_by_text(title).first.click()
    return expander


def probabilities(page, selector: str = FOOL_RESULT) -> str:
    """The ten probabilities line of a verdict, once it is shown."""
    text = wait_for_text(page, selector, r"Network: \d[\s\S]*0: [\d.]+%")
    return re.search(r"0: .*9: [\d.]+%", text).group(0)


def test_fool_it_sliders_change_the_probabilities_live(browser, server):
    page = open_page(browser, server)
    draw_digit(page, 3)
    fool = open_expander(page, "Try to fool it")
    before = probabilities(page)
    assert "Network: 3" in page.locator(FOOL_RESULT).inner_text()

    rotate = page.get_by_role("slider", name="Rotate")
    rotate.focus()
    rotate.press("End")  # 180 degrees: a 3 upside down is no 3
    page.wait_for_function("([s, before]) => !document.querySelector(s).innerText.includes(before)",
                           arg=[FOOL_RESULT, before])
    rotated = probabilities(page)
    assert rotated != before
    thicken = page.get_by_role("slider", name="Thicken")
    thicken.focus()
    thicken.press("End")
    page.wait_for_function("([s, before]) => !document.querySelector(s).innerText.includes(before)",
                           arg=[FOOL_RESULT, rotated])
    print(f"\nundistorted: {before}\nrotated 180: {rotated}\n+thickened: {probabilities(page)}")

    fool.get_by_text("Show what whole-canvas resizing").click()
    naive = probabilities(page, ".st-key-fool_naive_result")
    assert "with this page's preprocessing: 3" in page.locator(".st-key-fool_naive_result").inner_text()
    print(f"whole-canvas resize: {naive}")
    fool.locator("[data-testid=stImage] img").nth(1).wait_for()
    save_view(page, "fool.png", fool)

    inside = open_expander(page, "Inside the network")
    inside.get_by_text("Against 3", exact=True).wait_for()
    inside.locator("[data-testid=stImage] img").nth(3).wait_for()
    save_view(page, "inside.png", inside)
    page.close()


def summary(page) -> str:
    return wait_for_text(page, SIDEBAR, r"784 → [\s\S]*epochs?")


def test_a_link_carries_the_settings_to_a_new_page(browser, server):
    teacher = open_page(browser, f"{server}/?units=64,32&optimizer=adam&lr=0.001&epochs=3")
    wait_for_text(teacher, SIDEBAR, r"784 → 64 → 32 → 10 · ReLU · Adam, lr 0.001 · batch \d+ · 3 epochs")
    epochs = teacher.get_by_role("slider", name="Epochs")
    epochs.focus()
    epochs.press("ArrowRight")  # 4 epochs: the address follows
    wait_for_text(teacher, SIDEBAR, r"· 4 epochs")
    teacher.wait_for_url(re.compile(r"epochs=4"))
    link = teacher.url
    assert "units=64%2C32" in link or "units=64,32" in link

    student = open_page(browser, link)
    assert re.search(r"784 → 64 → 32 → 10 · ReLU · Adam, lr 0.001 · batch \d+ · 4 epochs", summary(student))
    assert student.url == link
    teacher.close()
    student.close()


def test_hostile_values_in_the_address_are_reported(browser, server):
    page = open_page(browser, f"{server}/?units=-5&epochs=1000000000&optimizer=turbo&seed=%3Cscript%3E")
    text = wait_for_text(page, SIDEBAR, r"could not be used")
    for name in ("units", "epochs", "optimizer", "seed"):
        assert f"Parameter “{name}”" in text
    assert re.search(r"784 → 1 → 10 · ReLU · .* · 50 epochs", summary(page))
    page.close()


def test_presenter_mode_enlarges_the_drawing_and_hides_the_advanced_controls(browser, server):
    page = open_page(browser, f"{server}/?presenter=1")
    canvas = page.locator(".st-key-canvas canvas.upper-canvas").bounding_box()
    assert canvas["width"] >= 400
    assert page.get_by_role("slider", name="Hidden layers").count() == 0
    assert page.get_by_role("slider", name="Epochs").count() == 1
    draw_digit(page, 7)
    heading = page.locator(f"{PREDICTION} h1").first
    assert float(heading.evaluate("h => parseFloat(getComputedStyle(h).fontSize)")) >= 55  # Streamlit's: 44 px
    save_view(page, "presenter.png")
    page.close()
