"""How a service reads and writes S3 objects without knowing S3: the interface cloud.py hands the S3 service
(localcloud/s3/provider.py) through to the services that consume artifacts (SageMaker models, Lambda code,
training data) or produce them (training outputs)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ObjectStore(Protocol):
    """S3's own answers: NoSuchBucket for a bucket that does not exist, NoSuchKey for a missing key."""

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """The keys under `prefix`, in key order."""

    def object_path(self, bucket: str, key: str) -> Path:
        """The file behind s3://bucket/key."""

    def put_file(self, bucket: str, key: str, source: Path, content_type: str = "application/x-gzip") -> None:
        """Store a local file as s3://bucket/key, in a bucket that exists."""

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "binary/octet-stream") -> None:
        """Store bytes as s3://bucket/key, in a bucket that exists (small answers, written without a file)."""
