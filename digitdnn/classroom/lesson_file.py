"""The teacher's lesson file (TOML): its steps, each with sentences for the projector and how the page is set up.

A step's setup names the page's lower tab, input tab, open expanders and sidebar preset; parse_lesson checks every
name against the page (TABS, INPUT_TABS, EXPANDERS: tests/test_lesson_file.py compares them with digitdnn/ui) and
digitdnn.presets, so a typo is reported when the file is checked, not in front of the class. Errors are LessonError,
one plain sentence naming the file but never its folder. The format is in digitdnn/assets/lesson.toml.
"""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from digitdnn.presets import PRESETS
from digitdnn.server import settings

TABS = ("Learning curves", "Runs and models", "Mistakes", "MNIST data", "Class drawings")  # the page's lower tabs
INPUT_TABS = ("Draw", "Photo or file")
EXPANDERS = ("How the drawing becomes 28 x 28", "Inside the network", "Try to fool it")
MAX_STEPS = 20
MAX_LESSON_BYTES = 65536
MAX_TITLE_CHARS = 80
MAX_SENTENCES = 4
MAX_SENTENCE_CHARS = 300

_LESSON_KEYS = ("title", "presenter", "step")
_STEP_KEYS = ("title", "say", "setup")
_SETUP_KEYS = ("tab", "input", "open", "preset", "presenter")


class LessonError(ValueError):
    """The lesson file cannot be used; the message says why in one plain sentence."""


@dataclass(frozen=True)
class StepSetup:
    """How a step sets the page up; None leaves that part as it is. `open`: exactly these expanders open."""

    tab: str | None = None
    input: str | None = None
    open: tuple[str, ...] | None = None
    preset: str | None = None
    presenter: bool | None = None  # the teacher's page only; None: the lesson's own setting


@dataclass(frozen=True)
class Step:
    title: str
    say: tuple[str, ...]
    setup: StepSetup


@dataclass(frozen=True)
class Lesson:
    title: str
    steps: tuple[Step, ...]
    presenter: bool
    sha256: str  # of `text`: what the class store keeps and every page compares
    text: str


def load_lesson(path: Path | None = None) -> Lesson:
    """The lesson in `path`, by default settings.lesson_path() ($DIGITDNN_LESSON, else the shipped lesson)."""
    path = settings.lesson_path() if path is None else path
    try:
        with path.open("rb") as file:
            data = file.read(MAX_LESSON_BYTES + 1)
    except OSError as error:
        raise LessonError(f"{path.name} cannot be read: {_reason(error)}.") from None
    if len(data) > MAX_LESSON_BYTES:
        raise LessonError(f"{path.name} is larger than {MAX_LESSON_BYTES // 1024} KB.")
    try:
        text = data.decode("utf-8-sig")  # a byte order mark, as some editors write, is not part of the text
    except UnicodeDecodeError:
        raise LessonError(f"{path.name} is not UTF-8 text.") from None
    return parse_lesson(text, path.name)


def parse_lesson(text: str, source: str = "The lesson file") -> Lesson:
    """The lesson written in `text` (a lesson file's content), checked; `source` names it in the messages."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise LessonError(f"{source} is not UTF-8 text.") from None
    if size > MAX_LESSON_BYTES:
        raise LessonError(f"{source} is larger than {MAX_LESSON_BYTES // 1024} KB.")
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LessonError(f"{source} is not valid TOML: {error}.") from None
    _known_keys(table, _LESSON_KEYS, f"{source}:", "(a lesson has title, presenter and step)")
    title = _title(table.get("title"), f"{source}:")
    presenter = _flag(table.get("presenter", False), f"{source}:")
    steps = table.get("step", [])
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise LessonError(f"{source}: each step must be a [[step]] table.")
    if not 1 <= len(steps) <= MAX_STEPS:
        raise LessonError(f"{source} must have 1 to {MAX_STEPS} steps ([[step]] tables); it has {len(steps)}.")
    parsed = tuple(_step(step, f"Step {number}:") for number, step in enumerate(steps, start=1))
    return Lesson(title, parsed, presenter, hashlib.sha256(text.encode("utf-8")).hexdigest(), text)


def _step(table: dict, where: str) -> Step:
    _known_keys(table, _STEP_KEYS, where, "(a step has title, say and setup)")
    say = table.get("say")
    sentences = tuple(_one_line(sentence) for sentence in say) if isinstance(say, list) else ()
    if not 1 <= len(sentences) <= MAX_SENTENCES or not all(0 < len(s) <= MAX_SENTENCE_CHARS for s in sentences):
        raise LessonError(f'{where} "say" must be 1 to {MAX_SENTENCES} sentences of at most '
                          f"{MAX_SENTENCE_CHARS} characters.")
    return Step(_title(table.get("title"), where), sentences, _setup(table.get("setup", {}), where))


def _setup(table: object, where: str) -> StepSetup:
    if not isinstance(table, dict):
        raise LessonError(f'{where} "setup" must be a table: [step.setup] followed by its keys.')
    _known_keys(table, _SETUP_KEYS, where, "in its setup (a setup has tab, input, open, preset and presenter)")
    opened = table.get("open")
    if opened is not None:
        if not isinstance(opened, list):
            raise LessonError(f'{where} "open" must be a list of expanders, such as ["Inside the network"].')
        for name in opened:
            if name not in EXPANDERS:
                raise LessonError(f'{where} "open" names {_shown(name)}, which is not one of {", ".join(EXPANDERS)}.')
        opened = tuple(dict.fromkeys(opened))
    presenter = table.get("presenter")
    return StepSetup(
        tab=_one_of(table.get("tab"), TABS, f"{where} tab", ", ".join(TABS)),
        input=_one_of(table.get("input"), INPUT_TABS, f"{where} input", ", ".join(INPUT_TABS)),
        open=opened,
        preset=_one_of(table.get("preset"), tuple(PRESETS), f"{where} preset",
                       f"the sidebar's presets ({', '.join(map(_shown, PRESETS))})"),
        presenter=None if presenter is None else _flag(presenter, where),
    )


def _known_keys(table: dict, keys: tuple[str, ...], where: str, which: str) -> None:
    for key in table:
        if key not in keys:
            raise LessonError(f"{where} unknown key {_shown(key)} {which}.")


def _title(value: object, where: str) -> str:
    title = _one_line(value)
    if not 0 < len(title) <= MAX_TITLE_CHARS:
        raise LessonError(f'{where} "title" must be a text of 1 to {MAX_TITLE_CHARS} characters.')
    return title


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise LessonError(f'{where} "presenter" must be true or false.')
    return value


def _one_of(value: object, names: tuple[str, ...], what: str, listed: str) -> str | None:
    if value is None or isinstance(value, str) and value in names:
        return value
    raise LessonError(f"{what} {_shown(value)} is not one of {listed}.")


def _one_line(value: object) -> str:
    """A text with its runs of whitespace (a multi-line string's line breaks too) as single spaces; "" if not text."""
    return " ".join(value.split()) if isinstance(value, str) else ""


def _shown(value: object) -> str:
    """A value as the file wrote it, near enough: texts in double quotes."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a folder"
    if isinstance(error, PermissionError):
        return "permission denied"
    return (error.strerror or "an input/output error").lower()
