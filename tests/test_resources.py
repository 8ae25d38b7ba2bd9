"""digitdnn.ui.server_state: what the server keeps out of the garbage collector's way."""
import importlib.machinery
import sys
import types

from digitdnn.ui import server_state


def test_a_module_still_being_imported_does_not_count_as_imported(monkeypatch):
    module = types.ModuleType("half_imported")
    module.__spec__ = importlib.machinery.ModuleSpec("half_imported", None)
    module.__spec__._initializing = True  # what the import system sets while the module's code runs
    monkeypatch.setitem(sys.modules, "half_imported", module)
    assert not server_state._imported("half_imported")
    module.__spec__._initializing = False
    assert server_state._imported("half_imported")
    assert not server_state._imported("a_module_nobody_imported")
