"""benchmarks/workers.py in quick form: its own Redis and real `digitdnn worker` processes drain 4 Tiny runs, with one
worker and then with two."""
import shutil

import pytest

from benchmarks import workers


@pytest.mark.cluster
def test_the_quick_drain_completes_every_run_with_one_worker_and_with_two():
    if shutil.which("redis-server") is None:
        pytest.skip("no Redis here (apt-get install redis-server)")
    report = workers.run(quick=True)
    one, two = report.rows
    assert one.figure == "workers: 4 runs (Tiny preset, 1 epoch) drained by 1 worker"
    assert two.figure == "workers: 4 runs (Tiny preset, 1 epoch) drained by 2 workers vs 1"
    assert one.failure == "" and two.failure == "", report.notes  # every run sent a done event, status completed
    assert one.project > 0 and two.baseline == one.project and two.ratio == pytest.approx(two.project / one.project)
    assert report.notes[0].startswith("1 worker: 4 of 4 runs completed in ")
    assert report.notes[1].startswith("2 workers: 4 of 4 runs completed in ")
