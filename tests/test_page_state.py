"""What the page keeps: a session's own state (digitdnn.ui.state.Session) and the server's default model."""
import numpy as np

import digitdnn.storage.models
from digitdnn.storage.models import ModelLoadError
from digitdnn.ui import server_state
from digitdnn.ui.state import Session


def test_each_session_starts_with_its_own_empty_state():
    first, second = Session(), Session()
    first.models.append("a model")
    first.notices["training"] = ("info", "text")
    assert second.models == [] and second.notices == {} and second.job is None
    assert first.drawer_id != second.drawer_id and len(first.drawer_id) == 32


def test_a_missing_or_damaged_default_model_is_read_once_until_its_file_changes(tmp_path, monkeypatch):
    reads = []
    load = digitdnn.storage.models.load_classifier
    monkeypatch.setattr(digitdnn.storage.models, "load_classifier", lambda path: reads.append(path) or load(path))
    path = tmp_path / "default.keras"
    for _ in range(3):  # page runs, of one session or several: the missing file is looked for once
        assert "default.keras" in str(server_state.default_model(path))
    assert len(reads) == 1

    path.write_bytes(b"PK\x03\x04 half a zip file")  # written: read again, once
    failures = [server_state.default_model(path) for _ in range(3)]
    assert all(isinstance(failure, ModelLoadError) for failure in failures) and len(reads) == 2


def test_a_good_default_model_is_loaded_once_and_shared(default_model):
    first, again = server_state.default_model(default_model), server_state.default_model(default_model)
    assert first is again and first.predict_proba(np.zeros((28, 28), np.float32)).shape == (1, 10)
