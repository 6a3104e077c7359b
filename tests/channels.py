"""What a training run reads, for the tests and the benchmarks: a slice of the shared dog photos as a training
channel (linked into a folder or uploaded to S3), and the classifier's sourcedir in S3."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from classifier.packaging import build_sourcedir

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DATASET = DATASETS / "dogs-wiki-133"
SPLITS = ("train", "valid", "test")


def required(path: Path) -> Path:
    """`path` of the shared photo sets; a test that needs it missing fails under CI and is skipped, saying so,
    elsewhere (a checkout without ../shared)."""
    if not path.exists():
        message = f"datasets not found at {path}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def complete_breeds(classes: int, source: Path = DATASET) -> list[str]:
    """The first `classes` breed folders that have photos in all three splits."""
    return [
        d.name
        for d in sorted((source / "train").iterdir())
        if all((source / split / d.name).is_dir() for split in ("valid", "test"))
    ][:classes]


def small_channel(root: Path, classes: int = 12, source: Path = DATASET) -> Path:
    """The first classes that have photos in all three splits, linked into a fresh channel: seconds to train."""
    names = complete_breeds(classes, source)
    for split in SPLITS:
        for name in names:
            (root / split).mkdir(parents=True, exist_ok=True)
            (root / split / name).symlink_to(source / split / name)
    return root


def upload_breeds(s3: Any, bucket: str, prefix: str, breeds: list[str], source: Path = DATASET) -> None:
    """Every photo of `breeds`, split by split, to s3://bucket/prefix/<split>/<breed>/."""
    for split in SPLITS:
        for breed in breeds:
            for photo in sorted((source / split / breed).glob("*")):
                s3.upload_file(str(photo), bucket, f"{prefix}/{split}/{breed}/{photo.name}")


def upload_sourcedir(s3: Any, bucket: str) -> None:
    """The classifier's sourcedir.tar.gz, built in a scratch folder, to s3://bucket/code/sourcedir.tar.gz."""
    with tempfile.TemporaryDirectory() as scratch:
        s3.upload_file(str(build_sourcedir(Path(scratch) / "sourcedir.tar.gz")), bucket, "code/sourcedir.tar.gz")
