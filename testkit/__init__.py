"""Tooling shared by the tests and the benchmarks, kept out of the installed library.

strokes       mouse-like drawings of digits (templates, a seeded generator, the stored set)
server        `streamlit run app.py` on a free port: start, wait until healthy, stop; a pool shared by test modules
streamlit_client  the page's own websocket protocol without a browser: a session's reruns, texts and widgets
forged_client     a tab that sends whatever widget values a test chooses (values the page never offers)
browser       headless Chromium through Playwright: open the page, draw with mouse or finger, read it
processes     memory and CPU time of a process and its children, from /proc
waiting       wait_until: poll a condition until it holds, or fail saying what never happened
clock         ManualClock: a clock that moves only when a test moves it
paper_photos  synthetic phone photos of pen digits written on paper
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the checkout: app.py, tests/, benchmarks/
