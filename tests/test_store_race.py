"""Saving under a new name is one step: of savers racing for a name (threads or processes) exactly one wins."""
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model
from digitdnn.storage import models as store
from testkit.waiting import wait_until

IMAGES = np.random.default_rng(11).random((4, 28, 28), dtype=np.float32)
SAVERS = 4


def small_classifier(seed: int) -> Classifier:
    return Classifier(build_model(TrainConfig(hidden_units=(16,), seed=seed)))


def assert_one_coherent_winner(outcomes: dict[int, str], target) -> None:
    """One saver won; the file holds its model and the sidecar belongs to that same model."""
    winners = [seed for seed, outcome in outcomes.items() if outcome == "saved"]
    assert len(winners) == 1, outcomes
    assert sorted(outcomes.values()).count("taken") == len(outcomes) - 1, outcomes
    loaded = store.load_classifier(target)
    assert "damaged" not in loaded.metadata and loaded.metadata["saver"] == winners[0]
    np.testing.assert_allclose(loaded.predict_proba(IMAGES), small_classifier(winners[0]).predict_proba(IMAGES),
                               atol=1e-6)
    assert sorted(p.name for p in target.parent.iterdir()) == ["same.json", "same.keras"]  # no staging left


def test_a_taken_name_is_refused_and_left_untouched(tmp_path):
    target = tmp_path / "same.keras"
    store.save_classifier(small_classifier(1), target, {"saver": 1}, overwrite=False)
    before = target.read_bytes(), store.sidecar_path(target).read_bytes()
    with pytest.raises(FileExistsError, match="“same” is taken"):
        store.save_classifier(small_classifier(2), target, {"saver": 2}, overwrite=False)
    assert (target.read_bytes(), store.sidecar_path(target).read_bytes()) == before


def test_a_sidecar_left_without_its_model_does_not_block_the_name(tmp_path):
    target = tmp_path / "same.keras"
    store.sidecar_path(target).write_text('{"format": 1, "saver": "someone long gone"}')
    store.save_classifier(small_classifier(1), target, {"saver": 1}, overwrite=False)
    assert store.read_metadata(target)["saver"] == 1


def test_threads_racing_for_one_name_give_one_winner(tmp_path, monkeypatch):
    target = tmp_path / "same.keras"
    classifiers = {seed: small_classifier(seed) for seed in range(SAVERS)}
    arrived = threading.Barrier(SAVERS)
    real_link = store.os.link

    def link_together(src, dst):  # every saver has passed its early check before any claims the name
        arrived.wait(timeout=30)
        real_link(src, dst)

    monkeypatch.setattr(store.os, "link", link_together)
    outcomes = {}

    def save(seed: int) -> None:
        try:
            store.save_classifier(classifiers[seed], target, {"saver": seed}, overwrite=False)
            outcomes[seed] = "saved"
        except FileExistsError:
            outcomes[seed] = "taken"

    threads = [threading.Thread(target=save, args=(seed,)) for seed in range(SAVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert_one_coherent_winner(outcomes, target)


# A child saver: builds its classifier, says it is ready, waits for the "go" file, then saves and prints the outcome.
# (A plain subprocess: multiprocessing would re-run whatever script is __main__, which after AppTest is the page.)
PROCESS_SAVER = """
import pathlib, sys, time
from digitdnn.storage import models as store
from digitdnn.config import TrainConfig
from digitdnn.model import Classifier, build_model

seed, target, folder = int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
classifier = Classifier(build_model(TrainConfig(hidden_units=(16,), seed=seed)))
(folder / f"ready-{seed}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
try:
    store.save_classifier(classifier, target, {"saver": seed}, overwrite=False)
    print("saved")
except FileExistsError:
    print("taken")
"""


def test_processes_racing_for_one_name_give_one_winner(tmp_path):
    target, signals = tmp_path / "models" / "same.keras", tmp_path / "signals"
    target.parent.mkdir()
    signals.mkdir()
    root = str(Path(__file__).resolve().parents[1])
    savers = {seed: subprocess.Popen([sys.executable, "-c", PROCESS_SAVER, str(seed), str(target), str(signals)],
                                     stdout=subprocess.PIPE, text=True, cwd=root)
              for seed in range(3)}
    wait_until(lambda: len(list(signals.glob("ready-*"))) == len(savers), message="every saver to be ready")
    (signals / "go").touch()
    outcomes = {seed: saver.communicate(timeout=120)[0].strip() for seed, saver in savers.items()}
    assert_one_coherent_winner(outcomes, target)


def test_a_model_larger_than_the_folder_allows_is_refused_and_nothing_written(tmp_path):
    folder = tmp_path / "models"
    small = store.save_classifier(small_classifier(1), folder / "small", limits=store.FolderLimits(2**20, 2**30))
    used = store.folder_bytes(folder)
    assert used == small.stat().st_size + store.sidecar_path(small).stat().st_size
    with pytest.raises(store.SaveError, match=r"^This model takes .* more than the 0.0098 MB a saved model may take"):
        store.save_classifier(small_classifier(2), folder / "big", limits=store.FolderLimits(10_240, 2**30))
    with pytest.raises(store.SaveError, match=r"^The models folder holds .* ask for old models to be deleted"):
        store.save_classifier(small_classifier(2), folder / "big", limits=store.FolderLimits(2**20, used + 1000))
    assert sorted(p.name for p in folder.iterdir()) == ["small.json", "small.keras"]
