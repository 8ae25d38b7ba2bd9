"""The figures a full benchmark run writes into docs/benchmarks.md, between two marks, leaving the prose around them.

The page holds `<!-- begin NAME -->` and `<!-- end NAME -->` lines; a run replaces what lies between them, so the
page's text is edited by hand and its figures only by a run (the README holds no figures a run would rewrite).
"""
from __future__ import annotations

from pathlib import Path

from testkit import ROOT

PAGE = ROOT / "docs" / "benchmarks.md"


def marks(name: str) -> tuple[str, str]:
    """The lines that open and close the block `name`."""
    return f"<!-- begin {name} -->", f"<!-- end {name} -->"


def check_block(page: Path, name: str) -> None:
    """Raise ValueError unless `page` holds the block `name` exactly once, so a long run is not lost at its end."""
    lines = page.read_text(encoding="utf-8").splitlines() if page.is_file() else []
    begin, end = marks(name)
    if lines.count(begin) != 1 or lines.count(end) != 1 or lines.index(begin) > lines.index(end):
        raise ValueError(f"{page} has no single block to write the figures into: a line {begin!r}, "
                         f"later a line {end!r}")


def write_block(page: Path, name: str, body: str) -> None:
    """Replace what lies between the marks of block `name` in `page` with `body` (written whole, then renamed)."""
    check_block(page, name)
    lines = page.read_text(encoding="utf-8").splitlines()
    begin, end = marks(name)
    start, stop = lines.index(begin), lines.index(end)
    text = "\n".join([*lines[:start + 1], body.strip("\n"), *lines[stop:]]) + "\n"
    staged = page.with_name(page.name + ".partial")
    staged.write_text(text, encoding="utf-8")
    staged.replace(page)


def figures(machine: str, load_before: float, load_after: float, minutes: float, table: str) -> str:
    """The block's text: where and how long the run was, then its table as written to the terminal."""
    return (f"From one full run on {machine}; load average {load_before:.1f} at the start, {load_after:.1f} at "
            f"the end, {minutes:.1f} minutes:\n\n```text\n{table.strip()}\n```")
