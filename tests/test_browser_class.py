"""Corrections in a real browser: a digit drawn with the mouse, corrected with a button under the prediction, is
stored in the class's database file; several pages correcting at once lose nothing.

Needs Chromium: $DIGITDNN_CHROMIUM or /usr/bin/chromium (Debian: apt-get install chromium).
"""
import asyncio

import pytest

from digitdnn.storage.drawings import DrawingStore
from testkit.browser import (
    PREDICTION,
    draw,
    draw_async,
    launched_chromium,
    launched_chromium_async,
    open_page,
    open_page_async,
    wait_for_text,
    wait_for_text_async,
)
from testkit.strokes import digit_strokes

pytestmark = pytest.mark.browser

CORRECTION = ".st-key-correction"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("class-data") / "drawings.sqlite"


@pytest.fixture(scope="module")
def server_env(db):
    """The page server's settings: the class's drawings database, a small data slice."""
    return {"DIGITDNN_DRAWINGS_DB": str(db), "DIGITDNN_DATA_LIMIT": "2000,500"}


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
    context, page = await open_page_async(browser, url)
    sent = 0
    try:
        for digit in digits:
            if sent:
                await page.locator(".st-key-clear button").click()
                await wait_for_text_async(page, PREDICTION, "Draw a digit")
            strokes = digit_strokes(digit)
            await draw_async(page, strokes)
            await wait_for_text_async(page, PREDICTION, rf"Prediction: \d[\s\S]*· {len(strokes)} strokes? ·",
                                      timeout=60_000)
            await page.locator(CORRECTION).get_by_role("button", name=str(digit), exact=True).click()
            sent += 1
            await wait_for_text_async(page, CORRECTION, rf"Stored, labelled {digit} ", timeout=60_000)
    finally:
        await context.close()
    return sent


async def class_correcting(url: str, pages: list[list[int]]) -> list[int]:
    async with launched_chromium_async() as browser:
        return await asyncio.gather(*(correct_digits(browser, url, digits) for digits in pages))


def test_pages_correcting_at_once_store_every_correction(server, db):
    before = stored(db)
    sent = asyncio.run(class_correcting(server, [[0, 4], [1, 5], [2, 7]]))
    assert sent == [2, 2, 2]
    assert stored(db) == before + sum(sent)
    sessions = {d.session for d in DrawingStore(db).recent(limit=sum(sent))}
    assert len(sessions) == 3  # each page its own anonymous id
