"""Screenshots of the page in the browser tests: into tests/artifacts/, and into assets/ (the pictures of
docs/teaching.md) when DIGITDNN_UPDATE_SCREENSHOT=1."""
import os
import shutil

from testkit import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
VIEWS = ROOT / "assets" / "views"
VIEWPORT = {"width": 1400, "height": 1000}  # testkit.browser.open_page's
TALL_VIEWPORT = {"width": 1400, "height": 2400}  # an element taller than the screen is shot whole
# The pictures in sight in the page's tabs are loaded and decoded.
TAB_PICTURES_LOADED = ("() => [...document.querySelectorAll('.st-key-tab img')]"
                       ".filter(i => i.offsetParent !== null).every(i => i.complete && i.naturalWidth > 0)")


def save_view(page, name: str, locator=None) -> None:
    """A screenshot of `locator` (else of the whole page) into tests/artifacts/<name>, once the page is idle and the
    pictures in its tabs are loaded; also into assets/views/ when DIGITDNN_UPDATE_SCREENSHOT=1."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.mouse.move(1390, 990)  # no hover controls in the picture
    page.wait_for_load_state("networkidle")
    page.wait_for_function(TAB_PICTURES_LOADED)
    page.set_viewport_size(TALL_VIEWPORT if locator else VIEWPORT)
    (locator or page).screenshot(path=ARTIFACTS / name)
    page.set_viewport_size(VIEWPORT)
    if os.environ.get("DIGITDNN_UPDATE_SCREENSHOT") == "1":
        VIEWS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, VIEWS / name)
