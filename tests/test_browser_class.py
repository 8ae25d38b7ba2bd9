"""Corrections in a real browser: a digit drawn with the mouse, corrected with a button under the prediction, is
stored in the class's database file; several pages correcting at once lose nothing.

Needs Chromium: $DIGITDNN_CHROMIUM or /usr/bin/chromium (Debian: apt-get install chromium).
"""
import asyncio
import shutil

import pytest

import pagedriver
from digitdnn.drawings import DrawingStore
from pagedriver import PREDICTION, digit_strokes, draw, launched_chromium, open_page, served, wait_for_text

pytestmark = pytest.mark.browser

CORRECTION = ".st-key-correction"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("class-data") / "drawings.sqlite"


@pytest.fixture(scope="module")
def server(default_model, db, tmp_path_factory):
    with served(tmp_path_factory.mktemp("server"), DIGITDNN_DEFAULT_MODEL=str(default_model),
                DIGITDNN_DRAWINGS_DB=str(db), DIGITDNN_DATA_LIMIT="2000,500") as url:
        yield url


def stored(db) -> int:
    return DrawingStore(db).count() if db.exists() else 0


def test_a_drawn_digit_corrected_with_a_button_is_stored(server, db):
    before = stored(db)
    with launched_chromium() as browser:
        page = open_page(browser, server)
        draw(page, digit_strokes(3))
        wait_for_text(page, PREDICTION, r"Prediction: 3")
        page.locator(CORRECTION).get_by_role("button", name="8", exact=True).click()
        wait_for_text(page, CORRECTION, r"Stored, labelled 8 \(the network said 3\)")
    assert stored(db) == before + 1
    (drawing,) = DrawingStore(db).recent(limit=1)
    assert (drawing.label, drawing.predicted) == (8, 3)


async def correct_digits(browser, url: str, digits: list[int]) -> int:
    """One page (its own session): for each digit, draw it, press its button, wait for "Stored"; how many it sent."""
    from benchmarks.load import open_page as open_async_page

    context, page = await open_async_page(browser, url, pagedriver)
    sent = 0
    try:
        for digit in digits:
            if sent:
                await page.locator(".st-key-clear button").click()
                await pagedriver.wait_for_text_async(page, PREDICTION, "Draw a digit")
            strokes = digit_strokes(digit)
            await pagedriver.draw_async(page, strokes)
            await pagedriver.wait_for_text_async(page, PREDICTION, rf"Prediction: \d[\s\S]*· {len(strokes)} strokes? ·",
                                                 timeout=60_000)
            await page.locator(CORRECTION).get_by_role("button", name=str(digit), exact=True).click()
            sent += 1
            await pagedriver.wait_for_text_async(page, CORRECTION, rf"Stored, labelled {digit} ", timeout=60_000)
    finally:
        await context.close()
    return sent


async def class_correcting(url: str, pages: list[list[int]]) -> list[int]:
    from playwright.async_api import async_playwright

    chromium = shutil.which(pagedriver.CHROMIUM) or pagedriver.CHROMIUM
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=pagedriver.CHROMIUM_ARGS)
        try:
            return await asyncio.gather(*(correct_digits(browser, url, digits) for digits in pages))
        finally:
            await browser.close()


def test_pages_correcting_at_once_store_every_correction(server, db):
    before = stored(db)
    sent = asyncio.run(class_correcting(server, [[0, 4], [1, 5], [2, 7]]))
    assert sent == [2, 2, 2]
    assert stored(db) == before + sum(sent)
    sessions = {d.session for d in DrawingStore(db).recent(limit=sum(sent))}
    assert len(sessions) == 3  # each page its own anonymous id
