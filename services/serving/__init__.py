"""Serving: endpoints, deploying models, autoscaling, prediction, load tests, lineage."""
