"""digitdnn.classroom.lesson_file: the shipped lesson, every plain message for a broken lesson file, and the page's
labels it names (read from digitdnn/ui's source, where the widgets are made)."""
import ast
from pathlib import Path

import pytest

from digitdnn.classroom import lesson_file
from digitdnn.classroom.lesson_file import (
    EXPANDERS,
    INPUT_TABS,
    MAX_LESSON_BYTES,
    TABS,
    LessonError,
    StepSetup,
    load_lesson,
    parse_lesson,
)
from digitdnn.data.bundled import bundled_path
from digitdnn.presets import PRESETS
from digitdnn.server import settings

UI = Path(lesson_file.__file__).resolve().parents[1] / "ui"
STEP = '[[step]]\ntitle = "A step"\nsay = ["One sentence."]\n'
HEAD = 'title = "A lesson"\n'


def widget_labels(function: str) -> dict[str, list[str]]:
    """Every `st.<function>(labels, key="...")` in digitdnn/ui: key -> its labels (written in the call, or assigned
    to the name passed, in the same module). Calls without a key are skipped."""
    found = {}
    for path in UI.glob("*.py"):
        tree = ast.parse(path.read_text())
        assigned = {node.targets[0].id: node.value for node in ast.walk(tree)
                    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == function
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "st"):
                key = next((k.value for k in node.keywords if k.arg == "key"), None)
                if not isinstance(key, ast.Constant):
                    continue
                labels = node.args[0]
                labels = assigned.get(labels.id, labels) if isinstance(labels, ast.Name) else labels
                found[key.value] = ast.literal_eval(labels)
    return found


def test_the_tabs_and_expanders_are_the_pages():
    tabs = widget_labels("tabs")
    assert tabs["tab"] == list(TABS)
    assert tabs["input_tab"] == list(INPUT_TABS)
    expanders = widget_labels("expander")
    assert [expanders["steps_open"], expanders["inside_open"], expanders["fool_open"]] == list(EXPANDERS)


def test_the_shipped_lesson_has_eight_steps_that_name_what_the_page_has():
    lesson = load_lesson(bundled_path("lesson.toml"))
    assert lesson.title == "Teaching a network to read digits" and lesson.presenter is True
    assert [step.title for step in lesson.steps][:3] == [
        "784 numbers are an image", "What the network sees", "The tutorial's network, trained live"]
    assert len(lesson.steps) == 8
    setups = [step.setup for step in lesson.steps]
    assert setups[0] == StepSetup(tab="MNIST data")
    assert setups[2] == StepSetup(tab="Learning curves", open=(), preset="Tutorial: SGD 0.01, 300-100")
    assert setups[3].open == ("Inside the network",) and setups[3].tab is None
    for step in lesson.steps:
        assert 1 <= len(step.say) <= 4 and all(sentence.endswith((".", "?")) for sentence in step.say)
        assert step.setup.preset is None or step.setup.preset in PRESETS


def test_the_default_lesson_is_the_shipped_one_unless_the_variable_names_another(monkeypatch, tmp_path):
    monkeypatch.delenv(settings.LESSON_ENV, raising=False)
    shipped = load_lesson()
    assert settings.lesson_path().name == "lesson.toml" and len(shipped.steps) == 8
    own = tmp_path / "mine.toml"
    own.write_text(HEAD + STEP)
    monkeypatch.setenv(settings.LESSON_ENV, str(own))
    lesson = load_lesson()
    assert lesson.title == "A lesson" and len(lesson.steps) == 1 and lesson.text == HEAD + STEP
    assert lesson.sha256 != shipped.sha256 and len(lesson.sha256) == 64


def test_a_minimal_lesson_leaves_the_page_as_it_is():
    lesson = parse_lesson(HEAD + STEP + STEP)
    assert lesson.presenter is False and len(lesson.steps) == 2
    assert lesson.steps[0].setup == StepSetup() and lesson.steps[0].say == ("One sentence.",)


def test_sentences_and_titles_on_several_lines_become_one_line_and_repeated_expanders_one():
    text = (HEAD + '[[step]]\ntitle = """Two\n   lines"""\nsay = ["""A long\n    sentence."""]\n'
            '[step.setup]\nopen = ["Try to fool it", "Try to fool it"]\npresenter = false\n')
    step = parse_lesson(text).steps[0]
    assert step.title == "Two lines" and step.say == ("A long sentence.",)
    assert step.setup == StepSetup(open=("Try to fool it",), presenter=False)


@pytest.mark.parametrize("text, message", [
    (HEAD + "[[step]\n", "lesson.toml is not valid TOML: "),
    (HEAD, "lesson.toml must have 1 to 20 steps ([[step]] tables); it has 0."),
    (HEAD + STEP * 21, "lesson.toml must have 1 to 20 steps ([[step]] tables); it has 21."),
    (HEAD + 'step = "x"\n', "lesson.toml: each step must be a [[step]] table."),
    (STEP, 'lesson.toml: "title" must be a text of 1 to 80 characters.'),
    (HEAD + 'presenter = "yes"\n' + STEP, 'lesson.toml: "presenter" must be true or false.'),
    (HEAD + 'steps = 3\n' + STEP, 'lesson.toml: unknown key "steps" (a lesson has title, presenter and step).'),
    (HEAD + STEP * 2 + 'expandr = 1\n', 'Step 2: unknown key "expandr" (a step has title, say and setup).'),
    (HEAD + STEP * 2 + 'title = "x"\n', "lesson.toml is not valid TOML: Cannot overwrite a value"),
    (HEAD + '[[step]]\ntitle = "' + "x" * 81 + '"\nsay = ["s"]\n',
     'Step 1: "title" must be a text of 1 to 80 characters.'),
    (HEAD + '[[step]]\ntitle = " "\nsay = ["s"]\n', 'Step 1: "title" must be a text of 1 to 80 characters.'),
    (HEAD + '[[step]]\ntitle = "t"\n', 'Step 1: "say" must be 1 to 4 sentences of at most 300 characters.'),
    (HEAD + '[[step]]\ntitle = "t"\nsay = "One."\n',
     'Step 1: "say" must be 1 to 4 sentences of at most 300 characters.'),
    (HEAD + '[[step]]\ntitle = "t"\nsay = ["a", "b", "c", "d", "e"]\n',
     'Step 1: "say" must be 1 to 4 sentences of at most 300 characters.'),
    (HEAD + '[[step]]\ntitle = "t"\nsay = ["' + "x" * 301 + '"]\n',
     'Step 1: "say" must be 1 to 4 sentences of at most 300 characters.'),
    (HEAD + '[[step]]\ntitle = "t"\nsay = [3]\n', 'Step 1: "say" must be 1 to 4 sentences of at most 300'),
    (HEAD + STEP + 'setup = "tab"\n', 'Step 1: "setup" must be a table: [step.setup] followed by its keys.'),
    (HEAD + STEP + '[step.setup]\ntabs = "Mistakes"\n',
     'Step 1: unknown key "tabs" in its setup (a setup has tab, input, open, preset and presenter).'),
    (HEAD + STEP * 2 + '[step.setup]\ntab = "Mistake"\n',
     'Step 2: tab "Mistake" is not one of Learning curves, Runs and models, Mistakes, MNIST data, Class drawings.'),
    (HEAD + STEP + '[step.setup]\ntab = 3\n', "Step 1: tab 3 is not one of Learning curves, "),
    (HEAD + STEP + '[step.setup]\ninput = "Camera"\n', 'Step 1: input "Camera" is not one of Draw, Photo or file.'),
    (HEAD + STEP + '[step.setup]\npreset = "Fast"\n',
     'Step 1: preset "Fast" is not one of the sidebar\'s presets ("Default: 300-100, Nesterov", "Tutorial: SGD '
     '0.01, 300-100", "Fast: Adam", '),
    (HEAD + STEP + '[step.setup]\nopen = ["Inside the network", "Fool it"]\n',
     'Step 1: "open" names "Fool it", which is not one of How the drawing becomes 28 x 28, Inside the network, '
     'Try to fool it.'),
    (HEAD + STEP + '[step.setup]\nopen = "Inside the network"\n',
     'Step 1: "open" must be a list of expanders, such as ["Inside the network"].'),
    (HEAD + STEP + '[step.setup]\npresenter = 1\n', 'Step 1: "presenter" must be true or false.'),
])
def test_a_broken_lesson_is_told_in_one_plain_sentence(text, message):
    with pytest.raises(LessonError) as raised:
        parse_lesson(text, "lesson.toml")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value) and str(raised.value).endswith(".")


def test_tomls_own_message_says_where_the_mistake_is():
    with pytest.raises(LessonError, match=r"^The lesson file is not valid TOML: Expected '=' after a key in a "
                                          r"key/value pair \(at line 3, column 7\)\.$"):
        parse_lesson(HEAD + "[[step]]\ntitle \n")


@pytest.mark.parametrize("content, message", [
    (None, "lost.toml cannot be read: no such file."),
    ("folder", "lost.toml cannot be read: it is a folder."),
    (b"\xff\xfe" + (HEAD + STEP).encode(), "lost.toml is not UTF-8 text."),
    ((HEAD + STEP).encode() + b"#" * MAX_LESSON_BYTES, "lost.toml is larger than 64 KB."),
])
def test_a_file_that_cannot_be_read_is_named_without_its_folder(tmp_path, content, message):
    path = tmp_path / "lost.toml"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(LessonError) as raised:
        load_lesson(path)
    assert str(raised.value) == message and str(tmp_path) not in str(raised.value)


def test_a_byte_order_mark_is_no_mistake_and_64_kb_is_allowed(tmp_path):
    path = tmp_path / "bom.toml"
    text = HEAD + STEP + "#" * (MAX_LESSON_BYTES - 3 - len(HEAD + STEP))
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    lesson = load_lesson(path)
    assert lesson.title == "A lesson" and lesson.text == text
    assert parse_lesson(text + "###").sha256 != lesson.sha256  # 64 KB exactly
    with pytest.raises(LessonError, match="^The lesson file is larger than 64 KB.$"):
        parse_lesson(text + "####")
