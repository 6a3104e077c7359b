"""What a dataset holds, as an operator checks it before paying for a job: classes, images per split, and what
looks wrong (empty classes, classes missing from a split or from Udacity's 133, single-photo classes,
unreadable images). Built from a list of files, whether scanned on disk before an upload or listed in S3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from classifier.labels import udacity_folders
from services.data.dataset_files import SPLITS, DatasetFile


@dataclass(frozen=True)
class ClassCount:
    """Images of one class in each split."""

    name: str
    train: int
    valid: int
    test: int


@dataclass(frozen=True)
class DatasetSummary:
    """What is in a dataset: classes, images per split, total size, and what looks wrong.

    `uri` is the `s3://bucket/prefix/` a training channel points at; `uploaded` is how many files this
    call sent (0 when only reading). `missing_classes` are the Udacity classes a dataset in Udacity's folder
    names lacks (a model trained on it never predicts them); `single_photo_classes` have one training photo.
    """

    bucket: str
    prefix: str
    classes: list[ClassCount]
    split_totals: dict[str, int]
    total_bytes: int
    warnings: list[str] = field(default_factory=list)
    uploaded: int = 0
    missing_classes: list[str] = field(default_factory=list)
    single_photo_classes: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def train_size(self) -> int:
        return self.split_totals.get("train", 0)


def summarize(
    bucket: str,
    prefix: str,
    files: Iterable[DatasetFile],
    *,
    empty_classes: list[tuple[str, str]],
    unreadable: list[str],
) -> DatasetSummary:
    """The summary of `files` (plus class folders found empty), with a warning for each problem."""
    files = list(files)
    counts: dict[str, dict[str, int]] = {}
    for item in files:
        counts.setdefault(item.label, dict.fromkeys(SPLITS, 0))[item.split] += 1
    for _split, label in empty_classes:
        counts.setdefault(label, dict.fromkeys(SPLITS, 0))
    classes = [ClassCount(label, c["train"], c["valid"], c["test"]) for label, c in sorted(counts.items())]
    totals = {split: sum(getattr(c, split) for c in classes) for split in SPLITS}
    warnings: list[str] = []
    if empty_classes:
        warnings.append(f"{len(empty_classes)} empty class folder(s): " + _some(f"{s}/{c}" for s, c in empty_classes))
    present = [split for split in SPLITS if totals[split]]
    for split in SPLITS:
        if not totals[split]:
            what = "validation" if split == "valid" else split
            warnings.append(f"No {split}/ split: {what} metrics will be missing.")
    for split in present:
        missing = [c.name for c in classes if getattr(c, split) == 0]
        if missing:
            warnings.append(f"{len(missing)} class(es) have no {split} images: " + _some(missing))
    missing = missing_udacity_classes([c.name for c in classes])
    if missing:
        warnings.append(
            f"{len(classes)} of Udacity's {len(udacity_folders())} classes are here; {len(missing)} are missing, so a "
            "model trained on this never predicts them: " + _some(missing)
        )
    single = [c.name for c in classes if c.train == 1]
    if single:
        warnings.append(
            f"{len(single)} class(es) have a single training photo, too few to learn a breed from: " + _some(single)
        )
    if unreadable:
        warnings.append(f"{len(unreadable)} image(s) could not be read: " + _some(unreadable))
    return DatasetSummary(
        bucket=bucket,
        prefix=prefix,
        classes=classes,
        split_totals=totals,
        total_bytes=sum(f.size for f in files),
        warnings=warnings,
        missing_classes=missing,
        single_photo_classes=single,
    )


def missing_udacity_classes(names: Iterable[str]) -> list[str]:
    """The Udacity class folders absent from `names`, when `names` are Udacity's folder names (all of them
    are, `001.Affenpinscher`…); [] for a dataset with classes of its own, which has no list to miss."""
    names = set(names)
    expected = udacity_folders()
    if not names or not names <= set(expected):
        return []
    return [folder for folder in expected if folder not in names]


def _some(names: Iterable[str], limit: int = 5) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
