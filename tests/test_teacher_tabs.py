"""The teacher sees the class's drawings by browser tab (how many each stored, how many of their labels differ from
the model, most differing first) and deletes one tab's drawings; a tab value the page did not offer deletes nothing."""
import numpy as np
import pytest
from app_session import open_session, open_tab, texts
from streamlit.proto.WidgetStates_pb2 import WidgetState
from test_app_class import KEY, unlock

from digitdnn.storage.drawings import DrawingStore
from digitdnn.ui import teacher_key
from digitdnn.ui.teacher_controls import NO_SUCH_TAB, TAB_PICK

HONEST, CARELESS, POISONER = "a1" * 16, "b2" * 16, "c3" * 16
# Per tab: (label, what the model said) of each drawing it stored.
STORED = {HONEST: [(3, 3), (4, 4), (5, 5)], CARELESS: [(1, 1), (2, 7)], POISONER: [(7, 1)] * 4 + [(1, 1)]}


@pytest.fixture
def store(page_env, tmp_path, monkeypatch) -> DrawingStore:
    db = tmp_path / "class-data" / "drawings.sqlite"
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db))
    monkeypatch.setenv(teacher_key.TEACHER_KEY_ENV, KEY)
    store = DrawingStore(db)
    for session, drawings in STORED.items():
        for label, said in drawings:
            store.add(np.zeros((28, 28), np.float32), label, predicted=said, session=session)
    return store


@pytest.fixture
def teacher(store):
    """A page unlocked with the teacher's key, on the Class drawings tab."""
    at = open_tab(open_session(), "Class drawings")
    return unlock(at, KEY)


def by_tab(at) -> list[list]:
    (frame,) = [d.value for d in at.dataframe if "label differs from the model" in d.value.columns]
    return frame[["tab", "drawings", "label differs from the model"]].values.tolist()


def remaining(store) -> dict[str, int]:
    return {tab.session: tab.drawings for tab in store.tabs()}


def test_the_teacher_sees_the_tabs_most_differing_first_and_deletes_one(teacher, store):
    assert by_tab(teacher) == [[POISONER[:8], 5, 4], [CARELESS[:8], 2, 1], [HONEST[:8], 3, 0]]
    picker = teacher.selectbox(key=TAB_PICK)
    assert picker.options == [POISONER[:8], CARELESS[:8], HONEST[:8]]  # short anonymous names, not the whole id

    picker.set_value(POISONER).run()
    teacher.button(key="teacher_delete_tab").click().run()
    assert not teacher.exception, teacher.exception
    assert "Deleted 5 drawings." in texts(teacher)
    assert remaining(store) == {CARELESS: 2, HONEST: 3}
    assert by_tab(teacher) == [[CARELESS[:8], 2, 1], [HONEST[:8], 3, 0]]


@pytest.mark.parametrize("forged", ["d4" * 16, "", "no tab id", f"{HONEST}' OR 1=1 --", "%"])
def test_a_tab_value_the_page_did_not_offer_deletes_nothing(teacher, store, forged):
    """A browser can send any string as the picker's value (Streamlit hands back one that is not among the options
    as it is): only a tab that the store lists is deleted, and every other value gets the same answer."""
    teacher.selectbox(key=TAB_PICK).set_value(HONEST).run()
    forge(teacher, TAB_PICK, forged)
    teacher.button(key="teacher_delete_tab").click().run()
    assert not teacher.exception, teacher.exception
    assert NO_SUCH_TAB in texts(teacher)
    assert remaining(store) == {session: len(drawings) for session, drawings in STORED.items()}


def test_without_the_key_there_is_no_tab_list_nor_delete(store):
    at = open_tab(open_session(), "Class drawings")
    assert "teacher_delete_tab" not in [b.key for b in at.button]
    assert TAB_PICK not in [s.key for s in at.selectbox]
    assert not [d for d in at.dataframe if "label differs from the model" in d.value.columns]


def forge(at, key: str, value: str) -> None:
    """Make the next run send `value` as the raw string of the selectbox `key`, as a forged websocket message does
    (AppTest itself only sends one of the options)."""
    picker = at.selectbox(key=key)

    class Forged(type(picker)):
        @property
        def _widget_state(self) -> WidgetState:
            return WidgetState(id=self.id, string_value=value)

    picker.__class__ = Forged
