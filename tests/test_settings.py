"""digitdnn.server.settings: every DIGITDNN_* variable, read when asked, with its default and a plain error for
nonsense."""
import logging
import os
from pathlib import Path

import pytest

from digitdnn.server import settings
from digitdnn.storage.models import MAX_UPLOAD_BYTES

NAMES = [value for name, value in vars(settings).items() if name.endswith("_ENV")]


@pytest.fixture(autouse=True)
def unset(monkeypatch):
    """Each test starts with no DIGITDNN_* variable set."""
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_every_variable_is_listed_in_the_docstring():
    assert len(NAMES) == 20
    for name in NAMES:
        assert name in settings.__doc__


def test_defaults_when_unset():
    assert settings.data_limit() is None
    assert settings.mnist_path() is None
    assert settings.pen_digits_path() is None
    assert settings.teacher_key() is None
    assert settings.default_model_path().name == "default.keras"
    assert settings.drawings_db_path() == Path("class-data/drawings.sqlite")
    assert settings.models_dir() == Path("models")
    assert settings.database_url() is None and settings.replica_name() is None
    assert settings.model_max_mb() * 2**20 == MAX_UPLOAD_BYTES  # any model saved from the page can be uploaded
    assert settings.models_max_mb() == 1024
    assert settings.max_training_seconds() == 900.0
    assert settings.queue_url() is None and settings.max_waiting_runs() == 50
    assert settings.training_slots() == settings.default_training_slots() == max(1, os.cpu_count() or 1)


def test_values_are_read_when_asked_not_at_import(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path))
    assert settings.models_dir() == tmp_path
    monkeypatch.setenv("DIGITDNN_MODELS_DIR", str(tmp_path / "other"))
    assert settings.models_dir() == tmp_path / "other"


def test_paths_and_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITDNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DIGITDNN_MNIST", "~/mnist.npz")
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(tmp_path / "pen.npz"))
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", "~/model.keras")
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(tmp_path / "x.sqlite"))
    monkeypatch.setenv("DIGITDNN_TEACHER_KEY", " two words ")
    assert settings.cache_dir() == tmp_path / "cache"
    assert settings.mnist_path() == "~/mnist.npz"  # load_mnist expands it and names the variable in its errors
    assert settings.pen_digits_path() == tmp_path / "pen.npz"
    assert settings.default_model_path() == Path.home() / "model.keras"
    assert settings.drawings_db_path() == tmp_path / "x.sqlite"
    assert settings.teacher_key() == " two words "


def test_the_cache_follows_xdg_when_not_set(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert settings.cache_dir() == tmp_path / "digitdnn"


@pytest.mark.parametrize("text, expected", [
    ("", None), (" ", None), ("2000", (2000, None)), ("2000,500", (2000, 500)), (" 10 , 5 ", (10, 5)),
])
def test_data_limit(monkeypatch, text, expected):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", text)
    assert settings.data_limit() == expected


@pytest.mark.parametrize("text", ["abc", "1,2,3", "0", "-5,10", "10,0"])
def test_data_limit_refuses_nonsense(monkeypatch, text):
    monkeypatch.setenv("DIGITDNN_DATA_LIMIT", text)
    with pytest.raises(settings.SettingError, match="DIGITDNN_DATA_LIMIT"):
        settings.data_limit()


@pytest.mark.parametrize("text, expected", [("", 900.0), ("600", 600.0), ("0.5", 0.5)])
def test_max_training_seconds(monkeypatch, text, expected):
    monkeypatch.setenv("DIGITDNN_MAX_TRAINING_SECONDS", text)
    assert settings.max_training_seconds() == expected


@pytest.mark.parametrize("text", ["0", "-1", "soon", "inf", "nan"])
def test_max_training_seconds_refuses_nonsense(monkeypatch, text):
    monkeypatch.setenv("DIGITDNN_MAX_TRAINING_SECONDS", text)
    with pytest.raises(ValueError, match="DIGITDNN_MAX_TRAINING_SECONDS"):
        settings.max_training_seconds()


@pytest.mark.parametrize("text, expected", [("", os.cpu_count() or 1), ("3", 3), (" 1 ", 1)])
def test_training_slots(monkeypatch, text, expected):
    monkeypatch.setenv("DIGITDNN_TRAINING_SLOTS", text)
    assert settings.training_slots() == expected


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_training_slots_refuse_nonsense(monkeypatch, text):
    monkeypatch.setenv("DIGITDNN_TRAINING_SLOTS", text)
    with pytest.raises(ValueError, match="DIGITDNN_TRAINING_SLOTS must be a positive integer"):
        settings.training_slots()


@pytest.mark.parametrize("read, name", [(settings.model_max_mb, "DIGITDNN_MODEL_MAX_MB"),
                                        (settings.models_max_mb, "DIGITDNN_MODELS_MAX_MB")])
def test_megabytes(monkeypatch, read, name):
    monkeypatch.setenv(name, " 5 ")
    assert read() == 5
    for nonsense in ("0", "1.5", "-3", "lots"):
        monkeypatch.setenv(name, nonsense)
        with pytest.raises(settings.SettingError, match=f"{name} must be a whole number of megabytes"):
            read()


def test_or_default_logs_a_bad_value_and_uses_the_default(monkeypatch, caplog):
    monkeypatch.setenv("DIGITDNN_TRAINING_SLOTS", "many")
    with caplog.at_level(logging.WARNING, logger="digitdnn.server.settings"):
        assert settings.or_default(settings.training_slots, 2) == 2
    assert "DIGITDNN_TRAINING_SLOTS must be a positive integer, got 'many'; using 2" in caplog.text
    monkeypatch.setenv("DIGITDNN_TRAINING_SLOTS", "3")
    assert settings.or_default(settings.training_slots, 2) == 3


def test_database_url_must_be_postgresql(monkeypatch):
    monkeypatch.setenv(settings.DATABASE_URL_ENV, "sqlite:///x.db")
    with pytest.raises(settings.SettingError, match="DIGITDNN_DATABASE_URL must be a postgresql"):
        settings.database_url()
    monkeypatch.setenv(settings.DATABASE_URL_ENV, " postgresql://u:p@127.0.0.1:5432/digitdnn ")
    assert settings.database_url() == "postgresql://u:p@127.0.0.1:5432/digitdnn"


def test_queue_url_must_be_redis_and_is_never_echoed(monkeypatch):
    for url in ("redis://:secret@127.0.0.1:6379/0", " rediss://host:6380 ", "unix:///run/redis.sock?db=1"):
        monkeypatch.setenv(settings.QUEUE_URL_ENV, url)
        assert settings.queue_url() == url.strip()
    for nonsense in ("http://:secret@host", "secret", "postgresql://u:secret@host/db"):
        monkeypatch.setenv(settings.QUEUE_URL_ENV, nonsense)
        with pytest.raises(settings.SettingError, match="DIGITDNN_QUEUE_URL must be a redis://") as refused:
            settings.queue_url()
        assert "secret" not in str(refused.value)
    monkeypatch.setenv(settings.QUEUE_URL_ENV, "  ")
    assert settings.queue_url() is None


def test_max_waiting_runs(monkeypatch):
    monkeypatch.setenv(settings.MAX_WAITING_RUNS_ENV, " 7 ")
    assert settings.max_waiting_runs() == 7
    for nonsense in ("0", "-1", "many", "2.5"):
        monkeypatch.setenv(settings.MAX_WAITING_RUNS_ENV, nonsense)
        with pytest.raises(settings.SettingError, match="DIGITDNN_MAX_WAITING_RUNS must be a positive integer"):
            settings.max_waiting_runs()


def test_lesson_path_is_the_shipped_lesson_unless_set(monkeypatch, tmp_path):
    assert settings.lesson_path() == settings.bundled_path("lesson.toml") and settings.lesson_path().is_file()
    monkeypatch.setenv(settings.LESSON_ENV, f" {tmp_path / 'mine.toml'} ")
    assert settings.lesson_path() == tmp_path / "mine.toml"
    monkeypatch.setenv(settings.LESSON_ENV, "~/lesson.toml")
    assert settings.lesson_path() == Path.home() / "lesson.toml"
    monkeypatch.setenv(settings.LESSON_ENV, " ")
    assert settings.lesson_path().name == "lesson.toml" and settings.lesson_path().parent.name == "assets"
