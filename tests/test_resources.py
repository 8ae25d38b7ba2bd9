"""digitdnn.ui.resources: what the server keeps out of the garbage collector's way."""
import importlib.machinery
import sys
import types

from digitdnn.ui import resources


def test_a_module_still_being_imported_does_not_count_as_imported(monkeypatch):
    module = types.ModuleType("half_imported")
    module.__spec__ = importlib.machinery.ModuleSpec("half_imported", None)
    module.__spec__._initializing = True  # what the import system sets while the module's code runs
    monkeypatch.setitem(sys.modules, "half_imported", module)
    assert not resources._imported("half_imported")
    module.__spec__._initializing = False
    assert resources._imported("half_imported")
    assert not resources._imported("a_module_nobody_imported")
