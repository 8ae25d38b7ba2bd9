"""Training: the compiled loop, its reports, augmentation, fine-tuning, calibration, and runs in the background
(jobs, the queue, child processes, stop rules)."""
