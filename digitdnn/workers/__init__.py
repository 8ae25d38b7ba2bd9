"""Training workers (`digitdnn worker`): RQ workers that train the runs pages put on the training queue
(training/queue_link.py), each run in a forked work horse (worker.py) running the one allowed job (task.py)."""
