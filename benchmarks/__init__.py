"""Benchmarks that print ratios and accuracies: python -m benchmarks.NAME."""
