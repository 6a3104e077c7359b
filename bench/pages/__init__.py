"""Benchmarks of how fast pages draw: the tuning job, Evaluate and Monitor pages."""
