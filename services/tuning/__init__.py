"""Hyperparameter tuning jobs: the spec, the request, the jobs and their trials, and what the trials tell."""
