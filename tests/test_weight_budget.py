"""The server's budget of weights held for uploaded and opened models (storage.weight_budget): reserved before a
model is read, refused plainly when full, given back when the model is dropped, safe from many threads at once."""
import gc
import threading

import pytest

from digitdnn.storage.weight_budget import FULL, BudgetFull, WeightBudget


class Weights:
    """Stands for a loaded model: any object that can be garbage."""


def test_a_held_model_keeps_its_bytes_until_it_is_dropped():
    budget = WeightBudget(100)
    with budget.reserved(60) as hold:
        model = hold(Weights())
    assert budget.held() == 60
    with pytest.raises(BudgetFull) as refused, budget.reserved(41):
        pass
    assert str(refused.value) == FULL and budget.held() == 60  # nothing reserved by the refusal
    with budget.reserved(40) as hold:
        other = hold(Weights())
    assert budget.held() == 100
    del model
    assert budget.held() == 40
    del other
    assert budget.held() == 0


def test_a_model_in_a_reference_cycle_gives_its_bytes_back_when_collected():
    budget = WeightBudget(100)
    with budget.reserved(70) as hold:
        model = hold(Weights())
    model.myself = model
    del model
    gc.collect()
    assert budget.held() == 0


def test_a_load_that_fails_gives_its_reservation_back():
    budget = WeightBudget(100)
    with pytest.raises(ValueError), budget.reserved(80):
        raise ValueError("its weights cannot be read")
    assert budget.held() == 0
    with budget.reserved(80):
        pass  # nothing held: given back at once
    assert budget.held() == 0


def test_sessions_racing_never_hold_more_than_the_budget():
    budget, kept, refusals = WeightBudget(5 * 10), [], []
    start, lock = threading.Barrier(12), threading.Lock()

    def upload() -> None:
        start.wait()
        try:
            with budget.reserved(10) as hold:
                model = hold(Weights())
        except BudgetFull:
            with lock:
                refusals.append(True)
            return
        with lock:
            kept.append(model)

    threads = [threading.Thread(target=upload) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kept) == 5 and len(refusals) == 7 and budget.held() == 50
    kept.clear()
    assert budget.held() == 0
