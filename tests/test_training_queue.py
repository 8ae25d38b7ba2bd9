"""TrainingQueue: first come, first served, at most `slots` at once; a waiting thread wakes when its turn comes."""
import threading
import time

import pytest

from digitdnn.training.queue import TrainingQueue


def test_training_queue_is_first_come_first_served():
    queue = TrainingQueue(2)
    tickets = [queue.join() for _ in range(5)]
    assert [queue.place(t) for t in tickets] == [0, 0, 1, 2, 3]
    assert not queue.wait(tickets[2], timeout=0.01)
    queue.leave(tickets[3])              # one in the middle gives up
    assert [queue.place(t) for t in tickets] == [0, 0, 1, 0, 2]
    queue.leave(tickets[0])              # a slot frees: the head of the line gets it
    assert queue.wait(tickets[2], timeout=0) and queue.place(tickets[4]) == 1
    queue.leave(tickets[0])              # leaving twice is harmless
    assert (queue.running, queue.waiting) == (2, 1)
    with pytest.raises(ValueError):
        TrainingQueue(0)


def test_a_waiting_thread_wakes_when_its_turn_comes():
    queue = TrainingQueue(1)
    first, second = queue.join(), queue.join()
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(queue.wait(second, timeout=10)))
    waiter.start()
    time.sleep(0.05)
    queue.leave(first)
    waiter.join(timeout=30)
    assert woke == [True]
