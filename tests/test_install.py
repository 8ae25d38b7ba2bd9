"""The wheel works anywhere: build it, install it into a fresh virtual environment, run it from another folder.

The fresh environment reuses the dependencies already installed here (tests/venvs.py), and pip installs the wheel
with --no-index, so it must find every dependency, at an allowed version, among those.

Needs Chromium (the served page is opened and drawn on) and pip's access to the package index for the build
backend (setuptools), as `make test` has.
"""
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
from venvs import clean_environment, fresh_environment, run

from testkit import ROOT
from testkit.browser import (
    PREDICTION,
    draw,
    launched_chromium,
    open_page,
    wait_for_text,
)
from testkit.server import free_port, stop_server, wait_healthy
from testkit.strokes import digit_strokes

pytestmark = pytest.mark.browser

SOURCES = ("pyproject.toml", "README.md", "LICENSE", "digitdnn")  # everything the build reads


def build_wheel(folder, env):
    """The wheel of a clean copy of the sources (no stale build/ folder can slip files into it)."""
    source = folder / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--wheel-dir", str(folder / "dist")],
        cwd=folder, env=env)
    (wheel,) = (folder / "dist").glob("digitdnn-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder, a folder outside the checkout, environment, seconds per step) of the wheel's installation."""
    folder = tmp_path_factory.mktemp("install")
    env = clean_environment(DIGITDNN_MODELS_DIR=str(folder / "models"))
    seconds = {}
    start = time.monotonic()
    wheel = build_wheel(folder, env)
    seconds["build the wheel"] = time.monotonic() - start
    start = time.monotonic()
    bin_dir = fresh_environment(folder)
    run([bin_dir / "python", "-m", "pip", "install", "--no-index", str(wheel)], cwd=folder, env=env)
    seconds["make the environment and install"] = time.monotonic() - start
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    yield bin_dir, elsewhere, env, seconds
    print("\n" + "\n".join(f"{step}: {s:.1f} s" for step, s in seconds.items()))


def test_the_wheel_holds_the_default_model_and_runs_from_its_own_copy(installed):
    bin_dir, elsewhere, env, seconds = installed
    where = run([bin_dir / "python", "-c", "import digitdnn, digitdnn.storage.models as s, "
                 "digitdnn.data.pendigits as p; "
                 "print(digitdnn.__file__, s.default_model_path(), p.BUNDLED, sep='\\n')"], cwd=elsewhere, env=env)
    package = bin_dir.parent / "lib"
    paths = where.split()
    assert all(path.startswith(str(package)) and os.path.isfile(path) for path in paths), where
    start = time.monotonic()
    out = run([bin_dir / "digitdnn", "evaluate"], cwd=elsewhere, env=env)
    seconds["digitdnn evaluate"] = time.monotonic() - start
    accuracy = float(re.search(r"test accuracy (0\.\d+) \(\d+/10000\)", out).group(1))
    assert "model: default model" in out and accuracy > 0.98, out
    lesson = run([bin_dir / "digitdnn", "lesson", "check"], cwd=elsewhere, env=env)
    assert lesson.strip() == "lesson.toml: 8 steps, fine.", lesson


def test_digitdnn_serve_serves_the_page_that_names_a_drawn_digit(installed):
    bin_dir, elsewhere, env, seconds = installed
    start = time.monotonic()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = elsewhere / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([bin_dir / "digitdnn", "serve", "--port", str(port), "--address", "127.0.0.1"],
                                   cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, process, log_path, timeout=60)
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and 'id="root"' in response.read().decode()
        with launched_chromium() as browser:
            page = open_page(browser, url)
            strokes = digit_strokes(3)
            draw(page, strokes)
            text = wait_for_text(page, PREDICTION, rf"Prediction: \d[\s\S]*· {len(strokes)} strokes? ·")
        assert "Prediction: 3" in text, text
    finally:
        stop_server(process)
    seconds["digitdnn serve, open the page, draw a 3"] = time.monotonic() - start
    assert process.returncode is not None and "Traceback" not in log_path.read_text()
