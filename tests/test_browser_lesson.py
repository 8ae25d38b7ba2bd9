"""The teacher's lesson and the class challenge in headless Chromium (issue 25's "Done when"): a teacher's page and a
student's on one server. The teacher starts the lesson and moves to step 3: within 15 s the student's lesson bar
says so and its page is set up for that step, its drawing still named. The teacher opens a challenge; the student
trains 2-epoch runs: one over the limits is refused with the reason, one within them is entered and is on the
teacher's leaderboard within 30 s. Then the lesson's eight steps as the projector shows them
(assets/views/lesson-<i>.png with DIGITDNN_UPDATE_SCREENSHOT=1).

Needs Chromium: $DIGITDNN_CHROMIUM or /usr/bin/chromium (Debian: apt-get install chromium).
"""
import re
import time

import pytest
from screenshots import save_view
from test_cluster_browser import draw_digit, press_unlock, type_key, wait_for_words

from testkit.browser import PREDICTION, open_page, wait_for_text

pytestmark = pytest.mark.browser

KEY = "the-lesson-teachers-key"
SIDEBAR = "[data-testid=stSidebar]"
LESSON = ".st-key-lesson"
LEADERBOARD = ".st-key-leaderboard"
STEPS = 8  # of the shipped lesson
FOLLOW_SECONDS = 15
BOARD_SECONDS = 30


@pytest.fixture(scope="module")
def server_env(tmp_path_factory):
    """The page server's settings: its own class store (the lesson and the challenge in classroom.sqlite beside
    the drawings), the teacher key, a small data slice (2-epoch runs of a few seconds)."""
    drawings = tmp_path_factory.mktemp("class-data") / "drawings.sqlite"
    return {"DIGITDNN_DRAWINGS_DB": str(drawings), "DIGITDNN_TEACHER_KEY": KEY, "DIGITDNN_DATA_LIMIT": "2000,500"}


def teachers_page(browser, server):
    """A page unlocked with the teacher key (the form in "Class drawings"), its lesson bar showing its buttons."""
    page = open_page(browser, server)
    type_key(page, KEY)
    press_unlock(page)
    wait_for_words(page, "Teacher controls are on")
    page.locator(LESSON).wait_for()
    return page


def press(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()


def go_to_step(page, step: int) -> None:
    """Press "Next step" and wait for the bar to show `step` (a press during the page's rerun could be lost)."""
    press(page, "Next step")
    wait_for_text(page, LESSON, rf"Step {step} of {STEPS}")


def start_the_lesson(page) -> None:
    """Start the shipped lesson at step 1 (ending one still running from an earlier test)."""
    if page.get_by_role("button", name="End the lesson").count():
        press(page, "End the lesson")
    page.get_by_role("button", name="Start the lesson").wait_for()
    press(page, "Start the lesson")
    wait_for_text(page, LESSON, rf"Step 1 of {STEPS}")


def set_slider(page, name: str, *keys: str) -> None:
    """Focus the sidebar's slider labelled `name` and press `keys` on it."""
    slider = page.locator(SIDEBAR).get_by_role("slider", name=name)
    slider.focus()
    for key in keys:
        slider.press(key)


def train(page, run: int) -> None:
    page.locator(".st-key-train button").click()
    wait_for_text(page, SIDEBAR, rf"Run {run} completed", timeout=120_000)


def enter_run(page, expected: str) -> str:
    """Press "Enter this run"; what the page says then, once it matches the regex `expected`."""
    press(page, "Enter this run")
    return wait_for_text(page, ".st-key-challenge_notice", expected)


def test_the_class_follows_the_teacher_and_enters_the_challenge(browser, server):
    student = open_page(browser, server)
    assert draw_digit(student, 3) == 3
    teacher = teachers_page(browser, server)
    start_the_lesson(teacher)
    go_to_step(teacher, 2)
    press(teacher, "Next step")
    moved = time.monotonic()
    wait_for_text(student, LESSON, rf"Step 3 of {STEPS}", timeout=FOLLOW_SECONDS * 1000)
    student.get_by_role("tab", name="Learning curves", selected=True).wait_for(timeout=5_000)
    print(f"the student's page followed in {time.monotonic() - moved:.1f} s")
    wait_for_text(student, SIDEBAR, r"\(preset “Tutorial: SGD 0\.01, 300-100”\)")
    wait_for_text(student, PREDICTION, r"Prediction: 3")  # the drawing is still there, still named

    press(teacher, "Open a challenge")  # the default limits: 100,000 weights, 60 s of training
    wait_for_text(teacher, LEADERBOARD, r"At most 100,000 weights and 60 s of training")
    student.get_by_role("button", name="Enter this run").wait_for()

    set_slider(student, "Epochs", "Home", "ArrowRight")
    wait_for_text(student, SIDEBAR, r"784 → 300 → 100 → 10 · ReLU · SGD, lr 0.01 · batch \d+ · 2 epochs")
    train(student, 1)
    refused = enter_run(student, "weights")
    assert refused == "Run 1: 784-300-100-10 SGD 0.01 has 266,610 weights; this challenge allows at most 100,000."

    set_slider(student, "Hidden layers", "Home")
    units = student.locator(".st-key-units_1 input")
    units.fill("32")
    units.press("Enter")
    wait_for_text(student, SIDEBAR, r"784 → 32 → 10 · ReLU · SGD, lr 0.01 · batch \d+ · 2 epochs")
    train(student, 2)
    nickname = student.locator(".st-key-challenge_nickname input")
    nickname.fill("Ada")
    nickname.press("Enter")
    entered = enter_run(student, "^Run 2.* entered")
    assert entered.startswith("Run 2: 784-32-10 SGD 0.01 entered: ")

    entered_at = time.monotonic()
    board = wait_for_text(teacher, LEADERBOARD, r"Ada", timeout=BOARD_SECONDS * 1000)
    print(f"on the teacher's leaderboard after {time.monotonic() - entered_at:.1f} s")
    assert re.search(r"Rank\s+Nickname[\s\S]*\b1\s+Ada\s+", board)  # ranked, as the projector shows it
    assert "25,450" in board and "1 entry" in board and "← you" not in board
    assert "Ada ← you" in wait_for_text(student, LEADERBOARD, r"Ada")
    teacher.close()
    student.close()


def test_the_lessons_steps_as_the_projector_shows_them(browser, server):
    teacher = teachers_page(browser, server)
    start_the_lesson(teacher)  # presenter mode: drawn after it, as the canvas grows
    assert draw_digit(teacher, 3) == 3
    for step in range(1, STEPS + 1):
        if step > 1:
            go_to_step(teacher, step)
        teacher.wait_for_timeout(1_500)  # the rest of the page redrawn for the step
        teacher.locator(LESSON).scroll_into_view_if_needed()
        save_view(teacher, f"lesson-{step}.png")
    assert teacher.get_by_role("button", name="Next step").is_disabled()
    teacher.close()
