"""SharedDataset: data loaded once for every thread that asks, tried again after a failure."""
import threading
import time

import pytest

from digitdnn.data.mnist import MnistUnavailable
from digitdnn.data.shared_dataset import SharedDataset


def test_shared_dataset_loads_once_for_concurrent_callers(small_mnist):
    calls = []

    def load(progress):
        calls.append(progress)
        progress("loading")
        time.sleep(0.2)
        return small_mnist

    shared = SharedDataset(limit=(100, 20), load=load)
    results, messages = [], []
    threads = [threading.Thread(target=lambda: results.append(shared(messages.append))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and messages == ["loading"] and shared.loaded
    assert all(r is results[0] for r in results)
    assert (len(results[0].x_train), len(results[0].x_test)) == (100, 20)


def test_shared_dataset_tries_again_after_a_failure(small_mnist):
    outcomes = [MnistUnavailable("offline"), small_mnist]

    def load(progress):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    shared = SharedDataset(load=load)
    with pytest.raises(MnistUnavailable):
        shared()
    assert not shared.loaded
    assert shared() is small_mnist
