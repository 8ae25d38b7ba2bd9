"""`digitdnn lesson check [FILE]`: is a lesson file fit for the class (digitdnn/classroom/lesson_file.py)?"""
from __future__ import annotations

import argparse
from pathlib import Path

from digitdnn.classroom.lesson_file import LessonError, load_lesson
from digitdnn.cli.console import UsageError
from digitdnn.server import settings


def add_lesson_command(commands) -> None:
    """The `lesson` subcommand and its `check`."""
    lesson = commands.add_parser("lesson", help="check a lesson file (the steps the teacher leads)",
                                 description="The lesson the teacher leads from the page.")
    actions = lesson.add_subparsers(title="actions", dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="check a lesson file: its TOML, steps, tabs, expanders and presets",
        description="Read a lesson file as the page would and say whether it is fine, or what to fix (exit 2).")
    check.add_argument("file", nargs="?", type=Path,
                       help=f"the lesson file (default ${settings.LESSON_ENV}, else the lesson shipped with "
                            "digitdnn)")
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Print `NAME: N steps, fine.`, or fail with the lesson's own message."""
    path = args.file if args.file is not None else settings.lesson_path()
    try:
        lesson = load_lesson(path)
    except LessonError as error:
        raise UsageError(str(error)) from None
    print(f"{path.name}: {len(lesson.steps)} steps, fine.")
    return 0
