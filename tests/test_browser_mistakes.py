"""The teaching views in a real browser: the confusion matrix and its gallery (a clicked cell and the
selectboxes), the MNIST browser, watch it learn during a run, and a screenshot of each view.

Screenshots go to tests/artifacts/; with DIGITDNN_UPDATE_SCREENSHOT=1 also to assets/views/
(mistakes.png, data.png, watch.png, compare.png) for docs/teaching.md.
"""
import io
import re

import numpy as np
import pytest
from PIL import Image
from screenshots import save_view

from testkit.browser import PREDICTION, draw, wait_for_text
from testkit.strokes import digit_strokes
from testkit.waiting import wait_until

pytestmark = pytest.mark.browser

SERVER_ENV = {"DIGITDNN_DATA_LIMIT": "6000,1000"}  # as test_browser.py's: a run of a few seconds an epoch
SIDEBAR = "[data-testid=stSidebar]"
TABS = ".st-key-tab"  # the tabs under the drawing (the drawing has its own: Draw, Photo or file)
CHART = ".st-key-confusion_chart"
CELL = ".st-key-mistakes_cell"


def matrix_box(chart_png: bytes) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the 10x10 cells in a screenshot of the heatmap: the columns and rows
    that are blue almost all the way (the colour legend beside it is shorter)."""
    rgb = np.asarray(Image.open(io.BytesIO(chart_png)).convert("RGB")).astype(int)
    blue = (rgb[..., 2] - rgb[..., 0] > 15) & (rgb.sum(axis=2) < 740)
    columns = np.flatnonzero(blue.sum(axis=0) > 0.8 * blue.sum(axis=0).max())
    rows = np.flatnonzero(blue[:, columns[0]:columns[-1] + 1].sum(axis=1) > 0.6 * len(columns))
    return columns[0], rows[0], columns[-1] + 1, rows[-1] + 1


def painted_matrix(chart) -> tuple[int, int, int, int]:
    """matrix_box of the heatmap once it is painted: two screenshots in a row find the same cells."""
    boxes: list = [None]

    def settled():
        try:
            boxes.append(matrix_box(chart.screenshot()))
        except IndexError:  # nothing blue yet
            boxes.append(None)
        return boxes[-1] is not None and boxes[-1] == boxes[-2] and boxes[-1]

    return wait_until(settled, 15, interval=0.1, message="the confusion matrix to be painted")


def cell_gallery(page, true: int, predicted: int) -> tuple[int, list[str]]:
    """Wait until the chosen cell is (true, predicted) and its gallery is drawn; return the cell's image count
    (from its heading) and the gallery's captions."""
    kind = "named correctly" if true == predicted else f"taken for {predicted}"
    text = wait_for_text(page, CELL, rf"\d+ test images? of {true} {kind}")
    count = int(re.search(rf"(\d+) test images? of {true} {kind}", text).group(1))
    shown = min(count, 24)
    page.wait_for_function(
        "([selector, shown, prefix]) => { const c = [...document.querySelectorAll(selector)];"
        " return c.length === shown && c.every(e => e.innerText.startsWith(prefix)); }",
        arg=[f"{CELL} [data-testid=stImageContainer]", shown, f"said {predicted} "])
    captions = page.locator(f"{CELL} [data-testid=stImageContainer]")
    return count, [captions.nth(i).inner_text() for i in range(shown)]


def chosen(page, key: str) -> str:
    """The value a selectbox shows (its text, or its input's value)."""
    shown = page.locator(f".st-key-{key}").evaluate(
        "e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")
    return "".join(re.findall(r"\d", shown))


def choose(page, label: str, value: int) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=str(value), exact=True).click()


def test_confusion_matrix_cells_show_their_images(browser_page):
    page = browser_page
    page.get_by_role("tab", name="Mistakes").click()
    wait_for_text(page, TABS, r"on 1,000 MNIST test images: accuracy \d+\.\d+%")
    chart = page.locator(f"{CHART} canvas, {CHART} svg.marks").first
    chart.wait_for(state="visible")

    # Click the cell "true 5, predicted 5": the selectboxes follow and the gallery shows the 5s named 5.
    left, top, right, bottom = painted_matrix(chart)
    x, y = left + (right - left) * 0.55, top + (bottom - top) * 0.55  # column 5, row 5 of 10
    chart.click(position={"x": float(x), "y": float(y)})
    count, captions = cell_gallery(page, 5, 5)
    assert count > 50 and len(captions) == 24 and not any(" is " in c for c in captions), captions
    assert (chosen(page, "mistakes_true"), chosen(page, "mistakes_predicted")) == ("5", "5")

    # The selectboxes choose a cell too: 5s taken for 3 (a few, or none on the shipped model's slice).
    choose(page, "Predicted digit", 3)
    count, captions = cell_gallery(page, 5, 3)  # a few, or none on the shipped model's slice
    assert all("is 5" in c for c in captions)
    if not count:
        assert "No images here" in page.locator(CELL).inner_text()
    confident = page.locator(".st-key-mistakes_confident [data-testid=stImageContainer]")
    assert confident.count() >= 1 and all(" is " in t for t in confident.all_inner_texts())
    save_view(page, "mistakes.png", page.locator(TABS))


def test_the_data_tab_by_digit_with_the_numbers(browser_page):
    page = browser_page
    page.get_by_role("tab", name="MNIST data").click()
    page.get_by_role("radio", name="3").or_(page.locator(".st-key-data_digit button", has_text="3")).first.click()
    wait_for_text(page, TABS, r"images of 3 in the training set")
    page.wait_for_function("() => { const c = [...document.querySelectorAll('.st-key-data_grid "
                           "[data-testid=stImageContainer]')]; return c.length === 40 && "
                           "c.every(e => e.innerText.endsWith('· 3')); }")
    page.locator("[data-testid=stImageContainer]", has_text="From the numbers").wait_for()
    save_view(page, "data.png", page.locator(TABS))


def test_watching_a_run_and_the_literature_lines(browser_page):
    page = browser_page
    # The default model's accuracy curve carries the three reference lines, labelled.
    for label in ("LeCun 1998", "Simard 2003", "Srivastava 2014"):
        page.locator(f"{TABS} svg text", has_text=label).first.wait_for()
    # Draw a 3, train a few epochs of the page's network: the drawing's probabilities by epoch appear.
    assert "press Train" in page.locator(TABS).inner_text()
    strokes = digit_strokes(3)
    page.locator(".st-key-canvas").scroll_into_view_if_needed()
    draw(page, strokes)
    wait_for_text(page, PREDICTION, rf"Prediction: \d[\s\S]*· {len(strokes)} strokes? ·")
    # Small batches make the epochs longer, so that the page redraws after more of them.
    page.get_by_role("slider", name="Batch size").focus()
    page.keyboard.press("Home")
    epochs = page.get_by_role("slider", name="Epochs")
    epochs.focus()
    epochs.press("Home")
    for _ in range(5):
        epochs.press("ArrowRight")
    wait_for_text(page, SIDEBAR, r"batch 16 · 6 epochs\b")
    page.locator(".st-key-train button").click()
    wait_for_text(page, SIDEBAR, r"Run 1 completed", timeout=120_000)
    text = wait_for_text(page, TABS, r"Run 1 after epoch 6: \d")
    assert "Each line is one digit's probability" in text
    page.locator(f"{TABS} [data-testid=stVegaLiteChart]:visible").nth(2).wait_for()
    save_view(page, "watch.png", page.locator(TABS))

    page.get_by_role("tab", name="Runs and models").click()
    page.locator("[data-testid=stDataFrame]:visible").first.wait_for()
    page.locator(f"{TABS} svg text:visible", has_text="Srivastava 2014").first.wait_for()
    save_view(page, "compare.png", page.locator(TABS))
