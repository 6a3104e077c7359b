"""Benchmarks of the serving path: prediction, explanation, capture, scaling, Lambda concurrency, transform."""
