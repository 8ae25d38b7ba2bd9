"""`digitdnn drawings count|tabs|export|import|delete` and `digitdnn finetune`: output, files, one-line errors."""
import contextlib
import io
import json
import math
import re
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format
from pen_subset import save_small_pen
from test_cli import EPOCH_LINE, assert_one_error_line, run_cli

from digitdnn.cli import main
from digitdnn.config import TrainConfig
from digitdnn.storage.drawings import DrawingStore
from digitdnn.storage.models import load_classifier, save_classifier
from digitdnn.training.loop import train


def run_main(*argv) -> tuple[int, str]:
    """main(ARGV) in this process: (exit status, stdout)."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = main([str(a) for a in argv])
    return status, output.getvalue()


@pytest.fixture
def db(tmp_path, mnist):
    """A drawings database with 30 MNIST test digits (labels 0-9, three of each)."""
    store = DrawingStore(tmp_path / "class" / "drawings.sqlite")
    picked = [np.flatnonzero(mnist.y_test == digit)[:3] for digit in range(10)]
    for i in np.concatenate(picked):
        store.add(mnist.x_test[i] / np.float32(255), int(mnist.y_test[i]), predicted=int(mnist.y_test[i]))
    return store


def test_count_prints_the_total_and_each_digit(db):
    status, stdout = run_main("drawings", "count", "--db", db.path)
    assert status == 0
    assert stdout.splitlines() == [f"30 drawings in {db.path}", "  ".join(f"{d}: 3" for d in range(10))]


def test_the_default_database_comes_from_the_environment(db, monkeypatch):
    monkeypatch.delenv("DIGITDNN_DATABASE_URL", raising=False)
    monkeypatch.setenv("DIGITDNN_DRAWINGS_DB", str(db.path))
    assert run_main("drawings", "count")[1].startswith("30 drawings")


def test_export_then_import_into_another_database(db, tmp_path):
    status, stdout = run_main("drawings", "export", tmp_path / "out.npz", "--db", db.path)
    assert status == 0 and stdout.strip() == f"exported 30 drawings to {tmp_path / 'out.npz'}"
    other = tmp_path / "new" / "other.sqlite"
    status, stdout = run_main("drawings", "import", tmp_path / "out.npz", "--db", other)
    assert status == 0 and stdout.strip() == f"imported 30 drawings into {other} (now 30)"
    np.testing.assert_array_equal(DrawingStore(other).arrays()[1], db.arrays()[1])


def test_delete_by_id_and_all_with_confirmation(db):
    first, second = (d.id for d in db.recent(limit=2))
    status, stdout = run_main("drawings", "delete", first, second, 10**6, "--db", db.path)
    assert status == 0 and stdout.strip() == f"deleted 2 drawings from {db.path} (28 left)"
    status, stdout = run_main("drawings", "delete", "--all", "--yes", "--db", db.path)
    assert status == 0 and stdout.strip() == f"deleted 28 drawings from {db.path} (0 left)"
    assert db.count() == 0


def test_tabs_lists_each_browser_tab_most_suspicious_first_and_delete_tab_removes_one(db, mnist):
    x = mnist.x_test[0] / np.float32(255)
    db.add(x, 1, session="poisoner", predicted=1, default_predicted=7)
    db.add(x, 7, session="honest", predicted=1, default_predicted=7)
    status, stdout = run_main("drawings", "tabs", "--db", db.path)
    lines = stdout.splitlines()
    assert status == 0 and lines[0] == f"3 browser tabs stored drawings in {db.path}"
    assert lines[1].startswith("poisoner  1 drawing, 1 labelled otherwise than the model said, the last at 20")
    assert lines[2].startswith("(none)  30 drawings, 0 labelled") and lines[3].startswith("honest  1 drawing, 0 ")
    status, stdout = run_main("drawings", "delete", "--tab", "poisoner", "--db", db.path)
    assert status == 0 and stdout.strip() == f"deleted 1 drawing from {db.path} (31 left)"
    assert [t.session for t in db.tabs()] == ["", "honest"]


# ---- the class's PostgreSQL database ------------------------------------------------------------------------

def test_import_count_export_and_delete_through_a_database_url(db, postgres_url, tmp_path, monkeypatch):
    where = "PostgreSQL at 127.0.0.1:" + postgres_url.rsplit(":", 1)[1]   # host:port/database, no password
    password = postgres_url.split("@")[0].rsplit(":", 1)[1]
    run_main("drawings", "export", tmp_path / "sqlite.npz", "--db", db.path)
    status, stdout = run_main("drawings", "import", tmp_path / "sqlite.npz", "--database-url", postgres_url)
    assert status == 0 and stdout.strip() == f"imported 30 drawings into {where} (now 30)"
    monkeypatch.setenv("DIGITDNN_DATABASE_URL", postgres_url)   # the default, when no file is given
    status, stdout = run_main("drawings", "count")
    assert status == 0 and stdout.splitlines() == [f"30 drawings in {where}", "  ".join(f"{d}: 3" for d in range(10))]
    assert run_main("drawings", "count", "--db", db.path)[1].startswith(f"30 drawings in {db.path}")  # --db wins
    status, stdout = run_main("drawings", "export", tmp_path / "pg.npz")
    assert status == 0 and stdout.strip() == f"exported 30 drawings to {tmp_path / 'pg.npz'}"
    with np.load(tmp_path / "sqlite.npz") as before, np.load(tmp_path / "pg.npz") as after:
        for name in ("x", "y", "predicted", "time"):
            np.testing.assert_array_equal(after[name], before[name])
    status, stdout = run_main("drawings", "delete", "--all", "--yes")
    assert status == 0 and stdout.strip() == f"deleted 30 drawings from {where} (0 left)"
    assert password not in stdout and db.count() == 30


@pytest.mark.parametrize("args, fragment", [
    (["drawings", "count", "--db", "x.sqlite"], "give --db or --database-url, not both"),
    (["finetune", "--drawings", "x.sqlite", "--out", "x.keras"], "give --drawings or --database-url, not both"),
    (["finetune", "--out", "x.keras"], "there are no drawings in PostgreSQL at 127.0.0.1:"),
])
def test_a_database_url_with_a_file_is_refused_and_finetune_reads_the_database(postgres_url, args, fragment):
    status, _, stderr = run_cli(*args, "--database-url", postgres_url)
    assert status == 2
    assert_one_error_line(stderr, fragment)


def test_a_database_that_is_down_is_one_line(tmp_path):
    from testkit.server import free_port

    url = f"postgresql://digitdnn:secret@127.0.0.1:{free_port()}/digitdnn"
    status, stdout, stderr = run_cli("drawings", "count", "--database-url", url)
    assert status == 1 and stdout == ""
    assert_one_error_line(stderr, "The class database cannot be reached just now")
    assert "secret" not in stderr


def test_finetune_needs_a_file_or_a_database(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("DIGITDNN_DATABASE_URL", raising=False)
    status, stdout = run_main("finetune", "--out", tmp_path / "x.keras")
    assert status == 2 and stdout == ""
    assert_one_error_line(capsys.readouterr().err, "give the drawings with --drawings DB, or --database-url URL")


@pytest.mark.parametrize("args, fragment", [
    (["delete", "--all"], "deleting every drawing needs --yes"),
    (["delete", "--tab", "a", "--all", "--yes"], "or --tab SESSION alone"),
    (["delete", "3", "--tab", "a"], "or --tab SESSION alone"),
    (["delete"], "give the ids of the drawings to delete, or --all"),
    (["delete", "3", "--all", "--yes"], "give the ids of the drawings to delete, or --all (not both)"),
    (["delete", "x"], "argument ID: invalid int value: 'x'"),
    (["shred"], "invalid choice: 'shred'"),
])
def test_bad_delete_usage_exits_2_and_deletes_nothing(db, args, fragment):
    status, stdout, stderr = run_cli("drawings", *args, "--db", db.path)
    assert status == 2 and stdout == ""
    assert_one_error_line(stderr, fragment)
    assert db.count() == 30


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path):
    status, _, stderr = run_cli("drawings", "count", "--db", tmp_path / "none.sqlite")
    assert status == 2
    assert_one_error_line(stderr, "no drawings database at", "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()


def test_a_damaged_database_says_so_in_one_line(db):
    db.path.write_bytes(b"\x00" * 50)
    status, stdout, stderr = run_cli("drawings", "count", "--db", db.path)
    assert status == 0 and stdout.startswith("0 drawings")
    assert "was damaged" in stderr and ".corrupt-" in stderr


def test_import_of_a_bad_file_fails_in_one_line(db, tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 28, 28), np.float32), y=np.array([1, 11]))
    status, _, stderr = run_cli("drawings", "import", tmp_path / "bad.npz", "--db", db.path)
    assert status == 1
    assert_one_error_line(stderr, "label must be a digit 0-9, got 11")
    assert db.count() == 30


# ---- finetune ----------------------------------------------------------------------------------------

@pytest.fixture
def small_pen(tmp_path, monkeypatch):
    """Fine-tunes mix in a small pen set (a few training writers' digits), for speed."""
    save_small_pen(tmp_path / "pen.npz")
    monkeypatch.setenv("DIGITDNN_PEN_DIGITS", str(tmp_path / "pen.npz"))


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, small_mnist):
    cfg = TrainConfig(hidden_units=(32,), optimizer="adam", learning_rate=0.003, batch_size=100, epochs=1)
    path = tmp_path_factory.mktemp("base") / "small.keras"
    return save_classifier(train(cfg, small_mnist).classifier, path, {"config": cfg.to_dict()})


def test_finetune_prints_epochs_and_saves_with_what_it_did(db, small_model, small_pen, tmp_path):
    out = tmp_path / "tuned.keras"
    status, stdout = run_main("finetune", "--drawings", db.path, "--model", small_model, "--epochs", "1",
                              "--out", out)
    assert status == 0
    assert stdout.startswith(f"fine-tuning {small_model} on 30 drawings mixed with MNIST")
    assert EPOCH_LINE.search(stdout), stdout
    before, after = map(float, re.search(r"^MNIST test accuracy (0\.\d+) -> (0\.\d+)$", stdout, re.M).groups())
    assert f"saved {out}" in stdout and "status: completed" in stdout
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["test_accuracy"] == sidecar["history"]["test_accuracy"] == pytest.approx(after, abs=1e-4)
    assert sidecar["fine_tuned"]["base_test_accuracy"] == pytest.approx(before, abs=1e-4)
    assert sidecar["fine_tuned"]["base_model"] == str(small_model)
    assert sidecar["fine_tuned"]["drawings"] == 30 and sidecar["fine_tuned"]["drawings_per_digit"] == [3] * 10
    assert sidecar["config"]["hidden_units"] == [32] and sidecar["config"]["optimizer"] == "adam"
    assert sidecar["command"].startswith("digitdnn finetune --drawings")
    assert "pen digits of the pen set's training writers" in sidecar["data_source"]
    assert load_classifier(out).layers[0][0].shape == (784, 32)


def test_finetune_reads_the_drawings_of_a_database_url(db, postgres_url, small_model, small_pen, tmp_path):
    db.export(tmp_path / "class.npz")
    assert run_main("drawings", "import", tmp_path / "class.npz", "--database-url", postgres_url)[0] == 0
    out = tmp_path / "tuned.keras"
    status, stdout = run_main("finetune", "--database-url", postgres_url, "--model", small_model, "--epochs", "1",
                              "--out", out)
    assert status == 0 and f"saved {out}" in stdout
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["fine_tuned"]["drawings"] == 30
    assert card["data_source"].endswith("the drawings of PostgreSQL at 127.0.0.1:" + postgres_url.rsplit(":", 1)[1])
    assert card["command"].startswith("digitdnn finetune --database-url URL --model")   # never the password


def test_finetune_without_drawings_saves_nothing(tmp_path, small_model):
    empty = DrawingStore(tmp_path / "empty.sqlite")
    status, _, stderr = run_cli("finetune", "--drawings", empty.path, "--model", small_model, "--out",
                                tmp_path / "x.keras")
    assert status == 2
    assert_one_error_line(stderr, "there are no drawings in")
    assert not (tmp_path / "x.keras").exists()


def test_finetune_of_a_calibrated_model_records_its_temperature(db, small_model, small_pen, tmp_path):
    from digitdnn.training.calibration import with_temperature

    calibrated = save_classifier(with_temperature(load_classifier(small_model), 2.0), tmp_path / "calibrated.keras",
                                 {"temperature": 2.0})
    out = tmp_path / "tuned.keras"
    status, _ = run_main("finetune", "--drawings", db.path, "--model", calibrated, "--epochs", "1", "--out", out)
    assert status == 0
    assert json.loads(out.with_suffix(".json").read_text())["temperature"] == 2.0
    assert load_classifier(out).metadata["temperature"] == 2.0


# ---- hostile .npz files ------------------------------------------------------------------------------

def two_drawings(**changes):
    """The arrays of a valid two-drawing export, with some replaced (None: left out)."""
    arrays = {"x": np.zeros((2, 28, 28), np.float32), "y": np.array([1, 2]), "predicted": np.array([1, -1]),
              "probabilities": np.full((2, 10), 0.1, np.float32), "time": np.array(["2026-01-01T00:00:00", ""]),
              "png_bytes": np.zeros(0, np.uint8), "png_offsets": np.zeros(3, np.int64)}
    arrays.update(changes)
    return {name: value for name, value in arrays.items() if value is not None}


class Unpickled:
    """If numpy ever unpickles this, a marker file appears."""

    marker = None

    def __reduce__(self):
        return open, (str(self.marker), "w")


HOSTILE = {
    "predicted as strings": (two_drawings(predicted=np.array(["a", "b"])), "predicted has dtype <U1"),
    "probabilities as strings": (two_drawings(probabilities=np.full((2, 10), "x")), "probabilities has dtype"),
    "float png_offsets": (two_drawings(png_offsets=np.zeros(3)), "png_offsets has dtype float64"),
    "png_offsets backwards": (two_drawings(png_bytes=np.zeros(9, np.uint8), png_offsets=np.array([0, 9, 4])),
                              "png_offsets must rise"),
    "a scalar x": (two_drawings(x=np.float32(0.5)), "x must have shape (2, 28, 28), got ()"),
    "a scalar y": (two_drawings(y=np.int64(3)), "y must be a list of labels"),
    "flat images": (two_drawings(x=np.zeros((2, 784), np.float32)), "x must have shape (2, 28, 28)"),
    "nine probabilities": (two_drawings(probabilities=np.zeros((2, 9), np.float32)), "probabilities must have"),
    "a long time": (two_drawings(time=np.array(["2026-01-01T00:00:00" + "9" * 100_000, ""])),
                    "time holds texts of up to 100019 characters; at most 40"),
    "a time that is no time": (two_drawings(time=np.array(["yesterday", ""])), "drawing 0: time must be an ISO"),
    "float labels": (two_drawings(y=np.array([1.0, 2.0])), "y has dtype float64; expected integers"),
    "short labels": (two_drawings(y=np.array([1])), "x must have shape (1, 28, 28), got (2, 28, 28)"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_npz_is_refused_in_one_line_and_imports_nothing(db, tmp_path, capsys, case):
    arrays, fragment = HOSTILE[case]
    np.savez(tmp_path / "hostile.npz", **arrays)
    status, stdout = run_main("drawings", "import", tmp_path / "hostile.npz", "--db", db.path)
    stderr = capsys.readouterr().err
    assert status == 1 and stdout == "" and "Traceback" not in stderr
    assert_one_error_line(stderr, fragment)
    assert db.count() == 30


def test_a_pickled_array_is_refused_without_unpickling(db, tmp_path, capsys):
    Unpickled.marker = tmp_path / "unpickled"
    np.savez(tmp_path / "pickle.npz", **two_drawings(model=np.array([Unpickled(), Unpickled()], dtype=object)))
    status, _ = run_main("drawings", "import", tmp_path / "pickle.npz", "--db", db.path)
    assert status == 1
    assert_one_error_line(capsys.readouterr().err, "model.npy holds Python objects, which are never loaded")
    assert not Unpickled.marker.exists() and db.count() == 30


def write_zeros_bomb(path, rows: int) -> None:
    """An .npz of `rows` float32 28x28 zero images and their labels, compressed as np.savez_compressed does,
    written in blocks so that the test itself never holds the unpacked arrays."""
    block = bytes(2**22)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, shape, dtype in (("x", (rows, 28, 28), np.float32), ("y", (rows,), np.int64)):
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                npy_format.write_array_header_1_0(member, {"descr": npy_format.dtype_to_descr(np.dtype(dtype)),
                                                           "fortran_order": False, "shape": shape})
                left = math.prod(shape) * np.dtype(dtype).itemsize
                while left:
                    member.write(block[:min(left, len(block))])
                    left -= min(left, len(block))


def test_a_small_npz_that_unpacks_to_gigabytes_is_refused_from_its_headers(db, tmp_path, capsys):
    bomb = tmp_path / "bomb.npz"
    write_zeros_bomb(bomb, 1_000_000)
    with zipfile.ZipFile(bomb) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    assert bomb.stat().st_size < 4e6 and unpacked > 3.1e9
    tracemalloc.start()
    try:
        status, _ = run_main("drawings", "import", bomb, "--db", db.path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert status == 1
    assert_one_error_line(capsys.readouterr().err, "holds 1000000 drawings; at most 100000")
    assert peak < 50e6 and db.count() == 30


def test_an_import_over_the_unpacked_budget_is_refused_before_loading(db, tmp_path, capsys, monkeypatch):
    from digitdnn.storage import drawings_npz

    np.savez(tmp_path / "ok.npz", **two_drawings())
    monkeypatch.setattr(drawings_npz, "MAX_IMPORT_BYTES", 2**10)
    status, _ = run_main("drawings", "import", tmp_path / "ok.npz", "--db", db.path)
    assert status == 1
    assert_one_error_line(capsys.readouterr().err, "unpacks to 0 MB of arrays; at most 0 MB")
    assert db.count() == 30
