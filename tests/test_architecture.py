"""The package's shape: folders by purpose, small modules, imports that go one way, Streamlit only in ui/.

Read from the source with ast, so every import counts: at the top, inside functions and under TYPE_CHECKING.
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "digitdnn"
MAX_LINES = 450
MAX_LOOSE_MODULES = 12
MIN_SUBPACKAGES = 4


def module_name(path: Path) -> str:
    """digitdnn/storage/models.py -> digitdnn.storage.models; a package's __init__.py is the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every dotted name an import statement in the file mentions, with `from a import b` as both a and a.b."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """digitdnn module -> the digitdnn modules it imports (a name that is a module's attribute counts as the module)."""
    return {name: {imported for imported in imported_names(path) if imported in MODULES and imported != name}
            for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle:
            return cycle
    return None


def test_find_cycle_sees_a_cycle_and_its_absence():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_in_the_package():
    assert find_cycle(import_graph()) is None


def test_the_folders_are_the_architecture():
    loose = [path.name for path in PACKAGE.glob("*.py")]
    subpackages = [path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()]
    assert len(loose) <= MAX_LOOSE_MODULES, sorted(loose)
    assert len(subpackages) >= MIN_SUBPACKAGES, sorted(subpackages)


def test_no_module_is_a_grab_bag():
    long = {name: lines for name, path in MODULES.items() if (lines := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_only_ui_imports_streamlit_and_the_library_imports_no_test_code():
    for name, path in MODULES.items():
        roots = {imported.split(".")[0] for imported in imported_names(path)}
        if not name.startswith("digitdnn.ui"):
            assert not roots & {"streamlit", "streamlit_drawable_canvas"}, name
        assert not roots & {"testkit", "tests", "benchmarks"}, name
