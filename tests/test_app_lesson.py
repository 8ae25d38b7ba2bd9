"""The teacher's lesson and the class challenge on the page (AppTest): two sessions of one server (a teacher's and a
student's) share the class store's lesson and challenge; the student's page follows the teacher's steps, keeps what
it drew and trained, and enters its own runs; nothing moves without the teacher key."""
import pytest
from app_session import open_session, open_tab, texts
from markdown_text import shown
from streamlit.testing.v1 import AppTest
from test_app_class import KEY, draw, fake_canvas, unlock

from digitdnn.config import TrainConfig
from digitdnn.presets import PRESETS
from digitdnn.storage.model_card import ModelCard
from digitdnn.training.history import EpochReport, History
from digitdnn.ui import teacher_key
from digitdnn.ui.hyperparameters import config_from_state
from digitdnn.ui.state import SessionModel
from digitdnn.ui.text import plain
from testkit.strokes import digit_strokes

TUTORIAL = "Tutorial: SGD 0.01, 300-100"


@pytest.fixture
def environment(page_env, tmp_path, monkeypatch):
    """page_env's settings, this test's own class store (drawings file, classroom.sqlite beside it), a teacher key."""
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(tmp_path / "class-data" / "drawings.sqlite"))
    monkeypatch.delenv("DIGITDNN_DATABASE_URL", raising=False)
    monkeypatch.delenv("DIGITDNN_LESSON", raising=False)
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)


def teachers_page() -> AppTest:
    at = open_session()
    open_tab(at, "Class drawings")
    return unlock(at, KEY)


def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def rerun(at: AppTest) -> AppTest:
    """One run of the page, as its polling fragment's would be (it reruns the whole page when the lesson moved)."""
    at.run()
    assert not at.exception, at.exception
    return at


def finished_run(model_id: int, name: str, hidden_units: tuple[int, ...], accuracy: float,
                 seconds: float) -> SessionModel:
    """A record of a finished 2-epoch run, as runs.collect_finished_job keeps it (its weights released)."""
    config = TrainConfig(hidden_units=hidden_units, optimizer="adam", learning_rate=0.002, epochs=2)
    epochs = [EpochReport(epoch, 2, 0.9, 0.3, accuracy - (2 - epoch) * 0.01, 0.3, seconds / 2, 0.1)
              for epoch in (1, 2)]
    card = ModelCard.of_run(History(config, epochs, "completed"), command="digitdnn page")
    return SessionModel(model_id, name, "trained", None, card.to_json())


def said(at: AppTest) -> str:
    """The page's texts without Markdown's bold marks."""
    return texts(at).replace("**", "")


def prediction_of(at: AppTest) -> str:
    return next(str(title.value) for title in at.get("title") if "Prediction" in str(title.value))


def widget_keys(at: AppTest) -> set[str]:
    return {widget.key for widget in at.get("button") + at.get("toggle") if widget.key}


@pytest.mark.usefixtures("environment")
def test_the_teachers_steps_set_up_the_students_page_and_lose_nothing(monkeypatch):
    teacher, student = teachers_page(), open_session()
    monkeypatch.setattr("digitdnn.ui.draw.st_canvas", fake_canvas)  # draws session_state["test_digit"]
    assert "lesson_start" in widget_keys(teacher) and "Step 1 of" not in said(teacher)
    assert not {"lesson_start", "lesson_next", "lesson_follow"} & widget_keys(student)
    session = student.session_state["session"]
    session.models.append(finished_run(7, "Run 1: 784-32-10 Adam 0.002", (32,), 0.93, 4.0))
    draw(student, 3)
    models_before, prediction = list(session.models), prediction_of(student)
    assert prediction.startswith("Prediction: ")

    click(teacher, "lesson_start")
    assert "Step 1 of 8 · 784 numbers are an image" in said(teacher)
    assert teacher.session_state["tab"] == "MNIST data" and teacher.session_state["presenter"] is True
    click(teacher, "lesson_next")
    assert "Step 2 of 8 · What the network sees" in said(teacher)
    assert [teacher.session_state[k] for k in ("steps_open", "inside_open", "fool_open")] == [True, False, False]

    rerun(student)  # its fragment's poll: a new version, so the whole page reruns set up for step 2
    assert "Step 2 of 8 · What the network sees" in said(student)
    assert student.session_state["steps_open"] is True and student.session_state["input_tab"] == "Draw"
    assert student.session_state["presenter"] is False  # students' pages never change size
    assert student.toggle(key="lesson_follow").value is True and "lesson_next" not in widget_keys(student)

    click(teacher, "lesson_next")
    rerun(student)
    assert "Step 3 of 8 · The tutorial's network, trained live" in said(student)
    assert student.session_state["tab"] == "Learning curves"
    assert config_from_state(student.session_state) == PRESETS[TUTORIAL]
    assert f"(preset “{TUTORIAL}”)" in said(student.sidebar)
    assert [student.session_state[k] for k in ("steps_open", "inside_open", "fool_open")] == [False] * 3
    assert session.models == models_before and prediction_of(student) == prediction
    assert session.canvas_reloads == 0 and len(session.canvas_strokes) == len(digit_strokes(3))

    late = open_session()  # a page opened mid-lesson sets itself up for the current step
    assert "Step 3 of 8" in said(late) and late.session_state["tab"] == "Learning curves"
    assert config_from_state(late.session_state) == PRESETS[TUTORIAL]


@pytest.mark.usefixtures("environment")
def test_a_student_who_stops_following_sees_the_step_but_keeps_the_page():
    teacher, student = teachers_page(), open_session()
    click(teacher, "lesson_start")
    rerun(student)
    assert student.session_state["tab"] == "MNIST data"
    student.toggle(key="lesson_follow").set_value(False).run()
    open_tab(student, "Mistakes")

    click(teacher, "lesson_next")
    click(teacher, "lesson_next")
    rerun(student)
    assert "Step 3 of 8" in said(student)
    assert student.session_state["tab"] == "Mistakes" and config_from_state(student.session_state) != \
        PRESETS[TUTORIAL]

    student.toggle(key="lesson_follow").set_value(True).run()  # on again: the current step applies at once
    assert student.session_state["tab"] == "Learning curves"
    assert config_from_state(student.session_state) == PRESETS[TUTORIAL]


@pytest.mark.usefixtures("environment")
def test_two_teacher_tabs_never_skip_a_step_and_nothing_moves_without_the_key():
    first, second, student = teachers_page(), teachers_page(), open_session()
    click(first, "lesson_start")
    rerun(second)
    click(first, "lesson_next")
    click(second, "lesson_next")  # drawn at step 1: its move loses the compare-and-set
    assert "The lesson had moved on in another tab: it is at step 2." in said(second)
    rerun(student)
    assert "Step 2 of 8" in said(student)

    unlocked = second.session_state["session"].teacher_unlocked
    for key in ("lesson_next", "lesson_end", "challenge_open"):
        second.session_state["session"].teacher_unlocked = unlocked
        rerun(second)
        second.session_state["session"].teacher_unlocked = ""  # locked since its buttons were drawn
        click(second, key)
    rerun(student)
    assert "Step 2 of 8" in said(student)
    assert "Class challenge" not in said(student) and "challenge_enter" not in widget_keys(student)


def entry_notice(at: AppTest) -> str:
    return "\n".join(shown(str(e.value)) for kind in ("success", "error") for e in at.get(kind))


@pytest.mark.usefixtures("environment")
def test_a_student_enters_a_run_that_meets_the_limits_and_the_leaderboard_shows_it():
    teacher, student = teachers_page(), open_session()
    assert "challenge_enter" not in widget_keys(student)
    session = student.session_state["session"]
    session.models += [finished_run(7, "Run 1: 784-300-100-10 Adam 0.002", (300, 100), 0.97, 12.0),
                       finished_run(8, "Run 2: 784-32-10 Adam 0.002", (32,), 0.93, 4.0)]
    click(teacher, "challenge_open")  # the default limits: 100,000 weights, 60 s
    assert "At most 100,000 weights and 60 s of training · 20 min left" in said(teacher)

    rerun(student)
    assert student.selectbox(key="challenge_run").value == 8  # the newest run is offered first
    student.selectbox(key="challenge_run").set_value(7)
    click(student, "challenge_enter")
    assert "Run 1: 784-300-100-10 Adam 0.002 has 266,610 weights; this challenge allows at most 100,000." in \
        entry_notice(student)

    student.selectbox(key="challenge_run").set_value(8)
    student.text_input(key="challenge_nickname").input("[x](http://a)")
    click(student, "challenge_enter")
    assert "Run 2: 784-32-10 Adam 0.002 entered: 93.00% test accuracy" in entry_notice(student)
    click(student, "challenge_enter")
    assert "Run 2: 784-32-10 Adam 0.002 is on the leaderboard already." in entry_notice(student)

    rerun(teacher)
    (board,) = teacher.table
    row = board.value.iloc[0]
    assert row["Nickname"] == plain("[x](http://a)")  # shown as typed, never as a link
    assert (row["Test accuracy"], row["Weights"], row["Training"]) == ("93.00%", "25,450", "4.0 s")
    assert "1 entry" in said(teacher)
    (mine,) = student.table
    assert mine.value.iloc[0]["Nickname"].endswith("← you")

    # The picker's value names a model, but only this session's finished runs are looked up.
    session.models[-1] = SessionModel(8, "Run 2", "uploaded", None, session.models[-1].metadata)
    click(student, "challenge_enter")
    assert "Choose one of your finished runs." in entry_notice(student)

    click(teacher, "challenge_close")
    rerun(student)
    assert "challenge_enter" not in widget_keys(student) and "closed" in said(student)
