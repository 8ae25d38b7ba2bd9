"""The model shelf (storage/class_store.py's ModelShelf), the same tests on both backends: a folder
(storage/model_shelf.py) and the class database (storage/pg/models.py). Saved models are listed by name with their
cards and open as files load_classifier reads; a name is claimed once; forged names open nothing; the limits hold;
the teacher's default is chosen and forgotten. Then what only the database does: a model saved on one replica opens
on another, each replica with its own cache folder, and a database that cannot be reached is a plain sentence."""
import numpy as np
import pytest

from digitdnn.storage.class_store import SavedModel
from digitdnn.storage.model_shelf import FolderShelf
from digitdnn.storage.models import FolderLimits, SaveError, load_classifier

IMAGES = np.random.default_rng(7).random((6, 784), dtype=np.float32)


@pytest.fixture(params=["folder", "postgresql"])
def shelf(request, tmp_path):
    if request.param == "folder":
        yield FolderShelf(tmp_path / "models")
        return
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.models import PgShelf

    db = PgDatabase(request.getfixturevalue("postgres_url"))
    yield PgShelf(db, tmp_path / "cache")
    db.close()


def test_a_saved_model_is_listed_with_its_card_and_opens(shelf, clf):
    assert shelf.list() == [] and shelf.open("good") is None
    assert shelf.save(clf, "good.keras", {"test_accuracy": 0.5}) == "good"
    assert shelf.save(clf, "Another-1", None) == "Another-1"
    listed = shelf.list()
    assert [m.name for m in listed] == ["Another-1", "good"]
    good = listed[1]
    assert isinstance(good, SavedModel) and good.damaged is None and good.metadata["test_accuracy"] == 0.5
    loaded = load_classifier(shelf.open("good"), name="good")
    np.testing.assert_array_equal(loaded.predict_proba(IMAGES), clf.predict_proba(IMAGES))
    assert loaded.metadata == good.metadata


def test_a_name_is_claimed_once_and_never_overwritten(shelf, clf):
    shelf.save(clf, "mine", {"note": "first"})
    with pytest.raises(FileExistsError, match="The name “mine” is taken"):
        shelf.save(clf, "mine", {"note": "second"})
    assert [(m.name, m.metadata["note"]) for m in shelf.list()] == [("mine", "first")]
    assert load_classifier(shelf.open("mine")).metadata["note"] == "first"


@pytest.mark.parametrize("name", ["../x", "", "a/b", ".hidden", "x" * 65, "server-default"])
def test_names_that_are_not_safe_file_names_are_refused(shelf, clf, name):
    with pytest.raises(ValueError):
        shelf.save(clf, name, None)
    assert shelf.list() == []


@pytest.mark.parametrize("forged", ["../good", "good.keras", "nope", "GOOD", "good\x00", None, 3, ["good"]])
def test_only_a_listed_name_opens_a_model(shelf, clf, forged):
    shelf.save(clf, "good", None)
    assert shelf.open(forged) is None
    with pytest.raises(ValueError, match="no saved model"):
        shelf.choose_default(forged)


def test_the_limits_refuse_a_model_before_it_is_stored(shelf, clf):
    with pytest.raises(SaveError, match="more than the"):
        shelf.save(clf, "big", None, FolderLimits(model_bytes=1000, folder_bytes=10**9))
    shelf.save(clf, "first", None, FolderLimits(model_bytes=10**8, folder_bytes=10**8))
    with pytest.raises(SaveError, match="ask for old models to be deleted"):
        shelf.save(clf, "second", None, FolderLimits(model_bytes=10**8, folder_bytes=2_000_000))
    assert [m.name for m in shelf.list()] == ["first"]


def test_the_teachers_default_is_chosen_and_forgotten(shelf, clf):
    assert shelf.chosen_default() is None
    shelf.save(clf, "chosen", {"note": "the teacher's"})
    shelf.choose_default("chosen")
    assert load_classifier(shelf.chosen_default()).metadata["note"] == "the teacher's"
    with pytest.raises(ValueError, match="no saved model"):
        shelf.choose_default("missing")
    assert shelf.chosen_default() == shelf.open("chosen")  # a failed choice changes nothing
    shelf.forget_default()
    assert shelf.chosen_default() is None and shelf.open("chosen") is not None


# ---- what only the database does ----------------------------------------------------------------------------------

@pytest.fixture
def replicas(postgres_url, tmp_path):
    """Two page replicas' shelves on one database, each with its own connection pool and cache folder."""
    from digitdnn.storage.pg.database import PgDatabase
    from digitdnn.storage.pg.models import PgShelf

    dbs = [PgDatabase(postgres_url) for _ in range(2)]
    yield [PgShelf(db, tmp_path / f"cache-{n}") for n, db in enumerate(dbs)]
    for db in dbs:
        db.close()


def test_a_model_saved_on_one_replica_opens_on_another(replicas, clf):
    one, other = replicas
    one.save(clf, "shared", {"test_accuracy": 0.25})
    assert [m.name for m in other.list()] == ["shared"]
    path = other.open("shared")
    assert path.parent == other.cache_dir and path.with_suffix(".json").is_file()
    loaded = load_classifier(path)
    np.testing.assert_array_equal(loaded.predict_proba(IMAGES), clf.predict_proba(IMAGES))
    assert loaded.metadata["test_accuracy"] == 0.25 and "damaged" not in loaded.metadata
    written = path.stat().st_mtime_ns
    assert other.open("shared") == path and path.stat().st_mtime_ns == written  # written once, then reused
    one.choose_default("shared")
    assert load_classifier(other.chosen_default()).metadata == loaded.metadata
    with pytest.raises(FileExistsError):
        other.save(clf, "shared", None)
    assert other.open("../shared") is None and other.open("not-listed") is None


def test_bytes_that_do_not_match_their_row_load_with_a_damaged_card(replicas, clf):
    from digitdnn.config import TrainConfig
    from digitdnn.model import Classifier, build_model

    one, other = replicas
    one.save(Classifier(build_model(TrainConfig(hidden_units=(8,), seed=1))), "a", None)
    one.save(clf, "b", None)
    with one._db.transaction() as connection:  # b's row now holds a's model file
        connection.execute("UPDATE models SET keras = (SELECT keras FROM models WHERE name = 'a') WHERE name = 'b'")
    loaded = load_classifier(other.open("b"))
    assert "different model file" in loaded.metadata["damaged"]


def test_a_database_that_cannot_be_reached_is_a_plain_sentence(tmp_path, clf):
    from digitdnn.storage.pg.database import DatabaseUnavailable, PgDatabase
    from digitdnn.storage.pg.models import PgShelf
    from testkit.server import free_port

    shelf = PgShelf(PgDatabase(f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"), tmp_path / "cache")
    with pytest.raises(SaveError, match="^Cannot save the model: the class database cannot be reached just now"):
        shelf.save(clf, "lost", None)
    for read in (shelf.list, shelf.chosen_default, lambda: shelf.open("lost")):
        with pytest.raises(DatabaseUnavailable, match="cannot be reached"):
            read()


def test_two_models_of_the_same_weights_keep_their_own_cards(shelf, clf):
    shelf.save(clf, "monday", {"note": "Monday's"})
    shelf.save(clf, "tuesday", {"note": "Tuesday's"})  # within a second: the same .keras bytes
    assert [load_classifier(shelf.open(name)).metadata["note"] for name in ("monday", "tuesday")] == [
        "Monday's", "Tuesday's"]
