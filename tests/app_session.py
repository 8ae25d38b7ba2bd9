"""The page without a browser (streamlit.testing.v1.AppTest): open a session, rerun it (or several) until something
happens, read its text, switch its tabs, and what the canvas returns after a drawing. The fixtures that set the
page's environment are in conftest.py."""
from types import SimpleNamespace

from markdown_text import shown
from streamlit.testing.v1 import AppTest

from digitdnn.imaging.brush import render
from testkit import ROOT
from testkit.strokes import digit_strokes
from testkit.waiting import wait_until

APP = ROOT / "app.py"
TEST_DATA_LIMIT = "2000,500"


def open_session(query: dict | None = None, state: dict | None = None) -> AppTest:
    """A new session of the page (as a new browser tab), opened at an address with `query` and with `state` put in
    its session state first, rendered once without an exception."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(query or {})
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def run_all_until(pages: list[AppTest], done, timeout: float = 120.0) -> None:
    """Rerun every page (as their browsers' polling fragments would) until done() or the timeout; a timeout shows
    what their sidebars say. Half a second between reruns: a rerun takes a few tenths of a second of CPU, which the
    training being waited for needs (rerunning every 0.1 s, test_classroom's first test took half as much CPU again)."""
    def rerun_then_check():
        for at in pages:
            at.run()
            assert not at.exception, at.exception
        return done()

    def sidebars() -> str:
        return "the page(s), whose sidebars say: " + " | ".join(texts(at.sidebar)[:200] for at in pages)

    wait_until(rerun_then_check, timeout, interval=0.5, message=sidebars)


def run_until(at: AppTest, done, timeout: float = 120.0) -> AppTest:
    """Rerun the page (as the browser's polling fragment would) until done(at) or the timeout."""
    run_all_until([at], lambda: done(at), timeout)
    return at


def texts(block) -> str:
    """All markdown, titles, captions and alerts of a block, as one string of the text they show."""
    parts = [e.value for kind in ("title", "markdown", "caption", "success", "info", "warning", "error")
             for e in getattr(block, kind)]
    return shown("\n".join(str(p) for p in parts))


def open_tab(at: AppTest, label: str) -> AppTest:
    """Switch the page's tabs to `label` (only the open tab's content is made)."""
    at.session_state["tab"] = label
    return at.run()


def drawn_canvas(digit: int):
    """What the canvas component returns after drawing `digit` with the mouse."""
    strokes = digit_strokes(digit)
    return SimpleNamespace(image_data=render(strokes, canvas=(280, 280), brush=20),
                           json_data={"objects": [{}] * len(strokes)})
