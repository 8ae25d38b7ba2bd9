"""The README is the front door and docs/ the manual: the README stays short and links every page, every relative
link in them reaches a file (and a heading, when it names one), and no page names a path outside the repository."""
import re
from pathlib import Path

import pytest
from markdown_text import link_targets

from testkit import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
# Paths into the repository that a page names in its text, e.g. `digitdnn/training/loop.py` or tests/data/,
NAMED_PATH = re.compile(r"(?<![\w./-])((?:digitdnn|tests|testkit|benchmarks|assets|docs)/[\w./*-]*[\w/*])")
# and module paths within the package, e.g. training/loop.py for digitdnn/training/loop.py.
SUBPACKAGE_PATH = re.compile(r"(?<![\w./-])((?:cli|data|imaging|training|storage|server|ui)/\w+\.py)\b")


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def relative_links(page: Path) -> list[str]:
    return [target for target in link_targets(page.read_text(encoding="utf-8"))
            if not re.match(r"[a-z]+:", target)]


def test_there_is_a_manual_of_at_least_four_pages():
    assert len(DOCS) >= 4, DOCS


def test_the_readme_is_at_most_250_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, len(lines)


def test_the_readme_links_every_page_of_the_manual():
    linked = {(ROOT / target.split("#")[0]).resolve() for target in relative_links(README)}
    assert [page_id(page) for page in DOCS if page.resolve() not in linked] == []


def test_the_readme_gives_the_two_commands_first():
    text = README.read_text(encoding="utf-8")
    start = text.index("```")
    first_block = text[start:text.index("```", start + 3)].splitlines()
    assert first_block[0] == "```sh"
    assert [line.split()[:2] for line in first_block[1:]] == [["make", "run"], ["make", "test"]]


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_reaches_a_file_and_heading_in_the_repository(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        found = (page.parent / path).resolve() if path else page
        inside = found == ROOT or ROOT in found.parents
        if not inside or not found.exists() or (anchor and anchor not in heading_anchors(found)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_path_a_page_names_exists(page):
    text = page.read_text(encoding="utf-8")
    named = {match.group(1) for match in NAMED_PATH.finditer(text)}
    named |= {f"digitdnn/{match.group(1)}" for match in SUBPACKAGE_PATH.finditer(text)}
    assert sorted(path for path in named if not ((ROOT / path).exists() or "*" in path and any(ROOT.glob(path)))) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_page_names_a_path_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert re.findall(r"\.\./shared|/work/|\.\./\.\.", text) == []


def tree_in_architecture() -> dict[str, set[str]]:
    """Folder (e.g. "digitdnn/data", "digitdnn/storage/pg") -> the module files docs/architecture.md's tree of
    digitdnn/ lists in it. A line naming a folder ("name/") opens it at its indent (two spaces a level)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("```\ndigitdnn/\n") + len("```\ndigitdnn/\n")
    listing: dict[str, set[str]] = {"digitdnn": set()}
    folders = ["digitdnn"]  # the open folders, one per indent level
    for line in text[start:text.index("\n```", start)].splitlines():
        indent = len(line) - len(line.lstrip())
        name = line.split()[0] if line.strip() else ""
        if indent % 2 == 0 and indent // 2 <= len(folders) and not name.endswith(".py,"):
            level = indent // 2
            if name.endswith("/"):
                folders[level:] = [f"{folders[level - 1]}/{name.rstrip('/')}"]
                listing.setdefault(folders[-1], set())
            elif name.endswith(".py") and level < len(folders):
                folders[level:] = []
        listing[folders[-1]].update(re.findall(r"\b\w+\.py\b", line))
    return listing


def test_the_architecture_tree_lists_every_module_where_it_is():
    actual: dict[str, set[str]] = {}
    for path in (ROOT / "digitdnn").rglob("*.py"):
        actual.setdefault(str(path.parent.relative_to(ROOT)), set()).add(path.name)
    listed = tree_in_architecture()
    for modules in (*actual.values(), *listed.values()):
        modules.discard("__init__.py")
    assert {folder: modules for folder, modules in listed.items() if modules} == {
        folder: modules for folder, modules in actual.items() if modules}
