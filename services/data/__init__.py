"""Datasets in S3 for training."""
