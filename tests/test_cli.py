"""The `digitdnn` command: data, train, evaluate, predict, and one-line errors (settings out of bounds too)."""
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitdnn.cli import build_parser, main
from digitdnn.cli.models import config_from_args
from digitdnn.config import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_UNITS, TrainConfig
from digitdnn.data.mnist import DATA_FINGERPRINT

EPOCH_LINE = re.compile(r"^epoch 1/1  train acc 0\.\d{4} loss \d+\.\d{4}  test acc 0\.\d{4} loss \d+\.\d{4}  "
                        r"\d+\.\d\ds$", re.MULTILINE)


def run_cli(*args, env=None, timeout=120):
    """`python -m digitdnn ARGS` in a subprocess: (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "digitdnn", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    return done.returncode, done.stdout, done.stderr


# TensorFlow's C++ runtime logs a line or two when it loads, before any setting can silence it
# (abseil logging is not initialised yet); they are not ours, so the checks below skip them.
TF_STARTUP_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} )")


def assert_one_error_line(stderr, *fragments):
    lines = [line for line in stderr.strip().splitlines() if not TF_STARTUP_LOG.match(line)]
    assert len(lines) == 1 and lines[0].startswith("digitdnn: error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, stderr)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_mnist):
    """One small training run through main(): its argv, printed output and output folder."""
    folder = tmp_path_factory.mktemp("cli-train")
    argv = ["train", "--limit", "3000", "--test-limit", "1000", "--epochs", "1", "--hidden-units", "100",
            "--optimizer", "adam", "--learning-rate", "0.002", "--out", str(folder / "tiny.keras"),
            "--tensorboard", str(folder / "tb")]
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = main(argv)
    return {"argv": argv, "status": status, "stdout": output.getvalue(), "folder": folder,
            "model": folder / "tiny.keras"}


# ---- argument parsing --------------------------------------------------------------------------

@pytest.mark.parametrize("units", [["300", "100"], ["300,100"], ["300,", "100"]])
def test_hidden_units_as_words_or_comma_list(units):
    args = build_parser().parse_args(["train", "--hidden-units", *units, "--no-augment"])
    assert config_from_args(args) == TrainConfig(hidden_units=(300, 100), augment=False)


def test_unset_flags_keep_the_trainconfig_defaults():
    args = build_parser().parse_args(["train", "--activation", "elu", "--momentum", "0.5"])
    assert config_from_args(args) == TrainConfig(activation="elu", momentum=0.5)


@pytest.mark.parametrize("args, fragment", [
    (["train", "--optimizer", "adagrad"], "--optimizer: invalid choice: 'adagrad'"),
    (["train", "--epochs", "0"], "epochs must be between 1 and"),
    (["train", "--learning-rate", "-1"], "learning_rate must be in"),
    (["train", "--hidden-units", "3x"], "'3x' is not a list of integers"),
    (["train", "--limit", "0"], "--limit: must be at least 1"),
    (["fly"], "invalid choice: 'fly'"),
    ([], "required: COMMAND"),
])
def test_bad_usage_exits_2_with_one_line(args, fragment):
    status, stdout, stderr = run_cli(*args)
    assert status == 2 and stdout == ""
    assert_one_error_line(stderr, fragment)


def test_help_and_data_do_not_import_tensorflow(mnist):
    script = ("import contextlib, io, sys\n"
              "from digitdnn.cli import main\n"
              "with contextlib.redirect_stdout(io.StringIO()):\n"
              "    assert main(['data']) == 0\n"
              "    try:\n"
              "        main(['train', '--help'])\n"
              "    except SystemExit as done:\n"
              "        assert done.code == 0\n"
              "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ---- data ----------------------------------------------------------------------------------------

def test_data_prints_source_fingerprint_and_cache(mnist):
    status, stdout, stderr = run_cli("data")
    assert status == 0, stderr
    assert f"MNIST: 60000 training and 10000 test images, fingerprint {DATA_FINGERPRINT}" in stdout
    assert f"source: {mnist.source}" in stdout or "source: cache " in stdout
    assert re.search(r"^cache: .*mnist\.npz$", stdout, re.MULTILINE)


def test_data_with_a_missing_path_fails_in_one_line(tmp_path):
    status, stdout, stderr = run_cli("data", "--path", tmp_path / "absent.npz")
    assert status == 1
    assert_one_error_line(stderr, "absent.npz: no such file")


# ---- train ---------------------------------------------------------------------------------------

def test_train_prints_epochs_and_accuracy_and_saves(trained):
    stdout = trained["stdout"]
    assert trained["status"] == 0
    assert stdout.startswith("training 784-100-10 (relu, adam, learning rate 0.002, batch 50) on 3000 images, "
                             "testing on 1000")
    assert EPOCH_LINE.search(stdout), stdout
    accuracy = float(re.search(r"^test accuracy (0\.\d+) on 1000 images$", stdout, re.MULTILINE).group(1))
    assert accuracy > 0.5
    assert "status: completed" in stdout
    assert f"saved {trained['model']}" in stdout
    sidecar = json.loads(trained["model"].with_suffix(".json").read_text())
    assert sidecar["command"] == "digitdnn " + " ".join(trained["argv"])
    assert sidecar["config"]["hidden_units"] == [100] and sidecar["config"]["optimizer"] == "adam"
    assert sidecar["test_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert sidecar["data_fingerprint"].startswith("sha256:") and sidecar["data_fingerprint"] != DATA_FINGERPRINT
    assert [e["epoch"] for e in sidecar["history"]["epochs"]] == [1]


def test_train_writes_tensorboard_scalars_per_epoch(trained):
    import tensorflow as tf
    from tensorflow.core.util.event_pb2 import Event

    for run in ("train", "test"):
        files = list((trained["folder"] / "tb" / run).glob("events.out.tfevents.*"))
        assert len(files) == 1
        values = {}
        for record in tf.data.TFRecordDataset(str(files[0])):
            for value in Event.FromString(record.numpy()).summary.value:
                assert value.metadata.plugin_data.plugin_name == "scalars"
                values[value.tag] = float(tf.make_ndarray(value.tensor))
        assert set(values) == {"accuracy", "loss"}
        assert 0.5 < values["accuracy"] <= 1 and values["loss"] > 0


def test_ctrl_c_stops_training_and_still_saves(tmp_path, small_mnist):
    out = tmp_path / "stopped.keras"
    command = [sys.executable, "-m", "digitdnn", "train", "--limit", "1000", "--test-limit", "200",
               "--hidden-units", "20", "--epochs", "200", "--out", str(out)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            if line.startswith("epoch 1/200"):
                process.send_signal(signal.SIGINT)
                break
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "stopping after the current batch" in stderr
    assert re.search(r"^status: stopped", stdout, re.MULTILINE), stdout
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["history"]["status"] == "stopped"


# ---- evaluate ------------------------------------------------------------------------------------

def test_evaluate_the_default_model_prints_overall_and_per_digit_accuracy(trained, monkeypatch, capsys):
    monkeypatch.setenv("DIGITDNN_DEFAULT_MODEL", str(trained["model"]))
    assert main(["evaluate"]) == 0
    stdout = capsys.readouterr().out
    overall = re.search(r"^test accuracy (0\.\d{4}) \((\d+)/10000\)$", stdout, re.MULTILINE)
    assert overall and float(overall.group(1)) > 0.5
    rows = re.findall(r"^\s+(\d)\s+(\d+)\s+(\d\.\d{4})$", stdout, re.MULTILINE)
    assert [int(digit) for digit, _, _ in rows] == list(range(10))
    assert sum(int(count) for _, count, _ in rows) == 10000
    assert sum(int(count) * float(acc) for _, count, acc in rows) == pytest.approx(int(overall.group(2)), abs=5)


@pytest.mark.parametrize("content", [None, b"not a keras file"], ids=["missing", "garbage"])
def test_evaluate_a_bad_model_fails_in_one_line(tmp_path, capsys, content):
    model = tmp_path / "model.keras"
    if content is not None:
        model.write_bytes(content)
    assert main(["evaluate", "--model", str(model)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, str(model))


# ---- predict -------------------------------------------------------------------------------------

def canvas_with_a_one(path):
    """A 280x280 transparent canvas with a black vertical stroke, the way the page's canvas draws a 1."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(150, 50), (140, 230)], fill=(0, 0, 0, 255), width=18)
    image.save(path)
    return path


def test_predict_names_drawings_and_reports_blank_ones(trained, mnist, tmp_path, capsys):
    from digitdnn.storage.models import load_classifier

    classifier = load_classifier(trained["model"])
    x_test = mnist.x_test[:200].astype(np.float32) / 255
    proba = classifier.predict_proba(x_test)
    confident = int(np.flatnonzero((proba.argmax(axis=1) == mnist.y_test[:200]) & (proba.max(axis=1) > 0.95))[0])
    scan = tmp_path / "scan.jpg"  # a test digit scanned black on white, ten times larger
    Image.fromarray(255 - mnist.x_test[confident]).resize((280, 280), Image.LANCZOS).save(scan, quality=95)
    one = canvas_with_a_one(tmp_path / "one.png")
    blank = tmp_path / "blank.png"
    Image.new("RGBA", (300, 200), (255, 255, 255, 255)).save(blank)

    assert main(["predict", str(scan), str(one), str(blank), "--model", str(trained["model"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(rf"{re.escape(str(scan))}: {mnist.y_test[confident]} \((0\.\d\d|1\.00)\)", lines[0])
    assert re.fullmatch(rf"{re.escape(str(one))}: 1 \((0\.\d\d|1\.00)\)", lines[1])
    assert lines[2] == f"{blank}: no digit found"


@pytest.mark.parametrize("kind", ["missing", "not an image"])
def test_predict_bad_input_fails_in_one_line(trained, tmp_path, kind):
    path = tmp_path / "digit.png"
    if kind == "not an image":
        path.write_text("a text file, not a picture")
    status, stdout, stderr = run_cli("predict", path, "--model", trained["model"])
    assert status == 1 and stdout == ""
    assert_one_error_line(stderr, str(path))


def test_train_with_pen_digits_and_calibration_records_the_recipe(tmp_path, mnist):
    from pen_subset import save_small_pen

    small = tmp_path / "pen.npz"
    save_small_pen(small, training=40, held_out=10, calibration=40)
    model = tmp_path / "pen.keras"
    argv = ["train", "--hidden-units", "32", "--optimizer", "adam", "--learning-rate", "0.002", "--epochs", "1",
            "--limit", "1000", "--test-limit", "300", "--pen-digits", "2", "--calibrate", "--out", str(model)]
    env = dict(__import__("os").environ, DIGITDNN_PEN_DIGITS=str(small))
    status, stdout, stderr = run_cli(*argv, env=env)
    assert status == 0, stderr
    assert re.search(r"^temperature \d+\.\d\d, fitted on the calibration writers' pen digits$", stdout, re.MULTILINE)
    assert "on 1080 images" in stdout  # 1,000 MNIST + 40 training writers' digits drawn twice
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["command"] == "digitdnn " + " ".join(argv)
    assert sidecar["pen_digits"]["copies"] == 2 and sidecar["pen_digits"]["training_digits"] == 40
    assert 0.5 <= sidecar["temperature"] <= 5.0
    assert "80 pen-digit drawings" in sidecar["data_source"]
    bad, _, stderr = run_cli("train", "--pen-digits", "-1", "--epochs", "1")
    assert bad == 2 and "--pen-digits" in stderr


@pytest.mark.parametrize("flags, fragment", [
    (["--epochs", str(MAX_EPOCHS + 1)], f"epochs must be between 1 and {MAX_EPOCHS}"),
    (["--hidden-units", str(MAX_UNITS + 1)], f"hidden_units must each be 1 to {MAX_UNITS}"),
    (["--hidden-units", "10", "10", "10", "10", "10"], "hidden_units must have 1 to 4 layers"),
    (["--batch-size", str(MAX_BATCH_SIZE + 1)], f"batch_size must be between 1 and {MAX_BATCH_SIZE}"),
    (["--dropout", "1"], "dropout must be in [0.0, 1.0)"),
    (["--learning-rate", "nan"], "learning_rate must be in"),
    (["--seed", "-1"], "seed must be between 0"),
])
def test_cli_settings_out_of_bounds_are_refused_before_anything_runs(flags, fragment, tmp_path, capsys):
    out = tmp_path / "never.keras"
    assert main(["train", *flags, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("digitdnn: error: ") and fragment in captured.err
    assert captured.err.count("\n") == 1 and not out.exists()


# ---- worker --------------------------------------------------------------------------------------

def test_worker_help_names_its_flags():
    status, stdout, stderr = run_cli("worker", "--help")
    assert status == 0, stderr
    for flag in ("--queue-url", "--name", "--threads", "--database-url"):
        assert flag in stdout


@pytest.mark.parametrize("args, status, fragment", [
    (["--queue-url", "http://user:secret@example.org/0"], 1, "must be a redis://, rediss:// or unix:// URL"),
    ([], 2, "give the training queue's URL: --queue-url or $DIGITDNN_QUEUE_URL"),
    (["--queue-url", "redis://127.0.0.1:1/0", "--database-url", "mysql://user:secret@db/x"], 1,
     "must be a postgresql://"),
    (["--queue-url", "redis://127.0.0.1:1/0", "--threads", "0"], 2, "--threads: must be at least 1"),
])
def test_a_worker_with_bad_settings_fails_in_one_line_without_its_secrets(args, status, fragment):
    env = {k: v for k, v in os.environ.items() if k not in ("DIGITDNN_QUEUE_URL", "DIGITDNN_DATABASE_URL")}
    exit_status, stdout, stderr = run_cli("worker", *args, env=env, timeout=30)
    assert exit_status == status and stdout == ""
    assert_one_error_line(stderr, fragment)
    assert "secret" not in stderr


# ---- lesson --------------------------------------------------------------------------------------

def test_lesson_check_passes_the_shipped_lesson(monkeypatch, capsys):
    monkeypatch.delenv("DIGITDNN_LESSON", raising=False)
    assert main(["lesson", "check"]) == 0
    assert capsys.readouterr().out == "lesson.toml: 8 steps, fine.\n"


@pytest.mark.parametrize("content, fragment", [
    ('title = "A"\n[[step]]\ntitle = "B"\nsay = ["C."]\n[step.setup]\ntab = "Mistake"\n',
     'Step 1: tab "Mistake" is not one of Learning curves, '),
    ('title = "A"\n[[step]\n', "mine.toml is not valid TOML: "),
    (None, "mine.toml cannot be read: no such file."),
])
def test_lesson_check_tells_what_to_fix_in_one_line_without_the_folder(tmp_path, capsys, content, fragment):
    path = tmp_path / "mine.toml"
    if content is not None:
        path.write_text(content)
    assert main(["lesson", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"digitdnn: error: {fragment}")
    assert captured.err.count("\n") == 1 and str(tmp_path) not in captured.err


def test_lesson_check_reads_the_lesson_the_server_would(tmp_path, monkeypatch, capsys):
    path = tmp_path / "own.toml"
    path.write_text('title = "A"\n' + '[[step]]\ntitle = "B"\nsay = ["C."]\n' * 2)
    monkeypatch.setenv("DIGITDNN_LESSON", str(path))
    assert main(["lesson", "check"]) == 0
    assert capsys.readouterr().out == "own.toml: 2 steps, fine.\n"
