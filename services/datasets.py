"""Datasets for training: image folders (`train/ valid/ test/`, one folder per class) in S3.

A training job's `training` channel is an S3 prefix in the ImageFolder layout the original project used
(`dogImages/train/001.Affenpinscher/…jpg`). This module uploads such a tree from a folder or a zip, and
reads back what is under a prefix, so an operator sees classes, counts per split and problems (empty
classes, classes missing from a split, unreadable images) before paying for a job.

(Named `datasets` rather than `data`: `services/data/` already holds the class list.)
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from PIL import Image

from services.clients import CloudSettings, LazyClients
from services.errors import BOTO_ERRORS, ServiceError, from_client_error

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
DOG_IMAGES_URL = "https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip"
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATASET = ROOT.parent / "shared" / "datasets" / "dogs-wiki-133"
"""The offline sample: 133 Udacity classes with a few Wikipedia photos each."""

_UPLOAD_WORKERS = 16  # S3 PUTs are latency-bound; 16 in flight saturate a typical uplink
_VERIFY_SAMPLE = 300  # images opened with PIL on upload; enough to catch a corrupt batch, cheap on 8,000
_DOWNLOAD_TIMEOUT_S = 20
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db")


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
    call sent (0 when only reading).
    """

    bucket: str
    prefix: str
    classes: list[ClassCount]
    split_totals: dict[str, int]
    total_bytes: int
    warnings: list[str] = field(default_factory=list)
    uploaded: int = 0

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def train_size(self) -> int:
        return self.split_totals.get("train", 0)


@dataclass(frozen=True)
class _File:
    """One image of the tree: where it is (locally, if uploading) and where it belongs."""

    split: str
    label: str
    relative: str
    size: int
    path: Path | None = None


class DatasetService:
    """Uploads ImageFolder datasets to S3 and summarises what is under a prefix."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        s3_client: Any = None,
        sts_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        self._session = boto3_session
        self._settings = settings or CloudSettings.from_env()
        self._client = LazyClients(self._settings, self._session, {"s3": s3_client, "sts": sts_client})

    # -- where datasets live ------------------------------------------------------------------
    def default_bucket(self) -> str:
        """`sagemaker-<region>-<account>`: the bucket the SageMaker Python SDK uses by default, so
        datasets and jobs land where operators already look."""
        try:
            account = self._client("sts").get_caller_identity()["Account"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the account id") from exc
        return f"sagemaker-{self._settings.region}-{account}"

    def ensure_bucket(self, bucket: str) -> None:
        """Create `bucket` unless it is already ours; outside us-east-1 S3 wants the region spelled out."""
        check_bucket(bucket)
        s3 = self._client("s3")
        request: dict[str, Any] = {"Bucket": bucket}
        if self._settings.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self._settings.region}
        try:
            s3.create_bucket(**request)
        except BOTO_ERRORS as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code == "BucketAlreadyOwnedByYou":
                return
            if code == "BucketAlreadyExists":
                raise ServiceError(
                    f"Bucket '{bucket}' belongs to another account. Choose another bucket name.", code=code
                ) from exc
            raise from_client_error(exc, what=f"create bucket '{bucket}'") from exc

    def list_datasets(self, bucket: str, root: str = "datasets/") -> list[str]:
        """Prefixes `datasets/<name>/` in `bucket` (one level, via the delimiter: no object listing)."""
        check_bucket(bucket)
        found: list[str] = []
        try:
            for page in (
                self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root, Delimiter="/")
            ):
                found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
                return []
            raise from_client_error(exc, what=f"list datasets in '{bucket}'") from exc
        return sorted(found)

    # -- upload ---------------------------------------------------------------------------------
    def upload_dataset(
        self,
        source: Path,
        bucket: str,
        prefix: str,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> DatasetSummary:
        """Upload a folder or a .zip in ImageFolder layout to `s3://bucket/prefix`.

        Everything is checked before the first byte goes out (layout, zip entries), so a refused dataset
        leaves nothing half-uploaded. `progress(done, total)` is called as files finish.
        """
        check_bucket(bucket)
        prefix = normalize_prefix(prefix)
        source = Path(source)
        if not source.exists():
            raise ServiceError(f"'{source}' does not exist on the dashboard's machine.")
        with tempfile.TemporaryDirectory(prefix="dataset-") as scratch:
            if source.is_file():
                if not zipfile.is_zipfile(source):
                    if source.suffix.lower() == ".zip":
                        raise ServiceError(f"'{source.name}' is not a zip file: its contents are not in zip format.")
                    raise ServiceError(f"'{source.name}' is neither a folder nor a zip file.")
                folder = extract_zip(source, Path(scratch))
            else:
                folder = source
            root = find_root(folder, shown=source.name)
            files, empty = _scan_local(root, shown=source.name)
            unreadable = _verify_images(files)
            self.ensure_bucket(bucket)
            self._upload_files(files, bucket, prefix, progress)
        summary = _summarize(bucket, prefix, files, empty_classes=empty, unreadable=unreadable)
        return DatasetSummary(**{**summary.__dict__, "uploaded": len(files)})

    def _upload_files(
        self, files: list[_File], bucket: str, prefix: str, progress: Callable[[int, int], None] | None
    ) -> None:
        s3 = self._client("s3")

        def put(item: _File) -> None:
            s3.upload_file(str(item.path), bucket, prefix + item.relative)

        done = 0
        try:
            with ThreadPoolExecutor(max_workers=_UPLOAD_WORKERS) as pool:
                for _ in pool.map(put, files):
                    done += 1
                    if progress is not None:
                        progress(done, len(files))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"upload to s3://{bucket}/{prefix}") from exc
        except Exception as exc:  # S3Transfer wraps ClientErrors in its own S3UploadFailedError
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, BOTO_ERRORS):
                raise from_client_error(cause, what=f"upload to s3://{bucket}/{prefix}") from exc
            raise ServiceError(f"Could not upload to s3://{bucket}/{prefix}: {exc}") from exc

    def upload_sample(self, bucket: str, prefix: str = "datasets/dogs-wiki-133/") -> DatasetSummary:
        """The offline sample that ships beside the repository: one click, no network."""
        if not SAMPLE_DATASET.is_dir():
            raise ServiceError(f"The offline sample is not at {SAMPLE_DATASET}.")
        return self.upload_dataset(SAMPLE_DATASET, bucket, prefix)

    def import_dog_images(
        self,
        bucket: str,
        prefix: str = "datasets/dogImages/",
        *,
        url: str = DOG_IMAGES_URL,
        progress: Callable[[int, int], None] | None = None,
    ) -> DatasetSummary:
        """Download Udacity's `dogImages.zip` (about 1.1 GB) and upload it; needs the public internet."""
        check_bucket(bucket)
        normalize_prefix(prefix)
        with tempfile.TemporaryDirectory(prefix="dogimages-") as scratch:
            archive = download(url, Path(scratch) / "dogImages.zip")
            return self.upload_dataset(archive, bucket, prefix, progress=progress)

    # -- read back --------------------------------------------------------------------------------
    def summarize_dataset(self, bucket: str, prefix: str) -> DatasetSummary:
        """Classes and counts under `s3://bucket/prefix` from one paged listing (images are not opened:
        that would mean downloading the dataset)."""
        check_bucket(bucket)
        prefix = normalize_prefix(prefix)
        files: list[_File] = []
        marked: set[tuple[str, str]] = set()  # "folder" marker objects some tools write for empty folders
        try:
            for page in self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    parts = obj["Key"][len(prefix) :].split("/")
                    if len(parts) == 3 and parts[0] in SPLITS and parts[2] == "":
                        marked.add((parts[0], parts[1]))
                    elif len(parts) == 3 and parts[0] in SPLITS and _is_image(parts[2]):
                        files.append(_File(parts[0], parts[1], "/".join(parts), int(obj.get("Size", 0))))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list s3://{bucket}/{prefix}") from exc
        if not files:
            raise ServiceError(
                f"No images under s3://{bucket}/{prefix}. Expected train/<class>/<image> (and valid/, test/); "
                "upload a dataset on the Data page first."
            )
        if not any(f.split == "train" for f in files):
            raise ServiceError(f"s3://{bucket}/{prefix} has no train/ split; a training job needs one.")
        have = {(f.split, f.label) for f in files}
        empty = sorted(marked - have)
        return _summarize(bucket, prefix, files, empty_classes=empty, unreadable=[])


# -- checks and helpers (no cloud) -----------------------------------------------------------------
def check_bucket(bucket: str) -> str:
    """S3's bucket name rules (3–63 lower-case letters, digits, dots, hyphens), checked before any call."""
    if not _BUCKET.fullmatch(bucket or "") or ".." in bucket:
        raise ServiceError(
            f"'{bucket}' is not a valid S3 bucket name: 3–63 lower-case letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit."
        )
    return bucket


def normalize_prefix(prefix: str) -> str:
    """`datasets/x` → `datasets/x/`: a channel is a folder, and `datasets/x` would also match `datasets/xy/`."""
    prefix = (prefix or "").strip().strip("/")
    if not prefix:
        raise ServiceError("Give a prefix such as datasets/dogs/: a dataset at the bucket's root would mix with jobs.")
    if any(part in {"", ".", ".."} for part in prefix.split("/")):
        raise ServiceError(f"Prefix '{prefix}' has empty, '.' or '..' parts.")
    return prefix + "/"


def dataset_prefix(name: str) -> str:
    """The prefix a named dataset gets: `datasets/<name>/`."""
    if not _NAME.fullmatch(name or ""):
        raise ServiceError(
            f"'{name}' is not a usable dataset name: letters, digits, '.', '_' and '-', at most 100 characters."
        )
    return f"datasets/{name}/"


def dataset_name_for(source: str) -> str:
    """A usable dataset name from a zip's or folder's path (`~/Downloads/dog photos.zip` → `dog-photos`),
    so the Data page can pre-fill one; "" when nothing usable is left."""
    path = PurePosixPath(source.strip().replace("\\", "/"))
    stem = path.stem if path.suffix.lower() == ".zip" else path.name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # é → e
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-._")[:100]


def extract_zip(archive: Path, into: Path) -> Path:
    """Extract `archive` into `into` after checking every entry: an absolute path or a `..` (zip slip)
    refuses the whole archive before anything is written."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                    raise ServiceError(
                        f"'{archive.name}' has an entry outside its root ('{info.filename}'); refusing the whole "
                        "zip (zip slip)."
                    )
            target = into / "extracted"
            target.mkdir(parents=True, exist_ok=True)
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise ServiceError(f"'{archive.name}' is not a readable zip file: {exc}.") from exc
    return target


def find_root(folder: Path, *, shown: str) -> Path:
    """The folder holding `train/`: the given one, or its single top folder (`dogImages.zip` wraps all in
    `dogImages/`). `shown` names the source in messages when `folder` is a scratch extraction of it."""
    candidates = [folder] + [
        child for child in sorted(folder.iterdir()) if child.is_dir() and child.name not in _IGNORED
    ]
    for candidate in candidates:
        if (candidate / "train").is_dir():
            return candidate
    raise ServiceError(
        f"'{shown}' has no train/ folder. Expected train/<class>/<image> (and valid/, test/), like Udacity's dogImages."
    )


def download(url: str, to: Path, *, timeout: float = _DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch `url` to `to`, streaming; a network that cannot reach it gets a message saying what to do."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(to, "wb") as out:
            shutil.copyfileobj(response, out, length=1024 * 1024)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceError(
            f"Could not download {url}: {reason}. This machine cannot reach it (offline or behind a firewall). "
            "Use the offline sample, or download the zip elsewhere and upload it.",
            code="Unreachable",
        ) from exc
    return to


def _is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith(".")


def _scan_local(root: Path, *, shown: str) -> tuple[list[_File], list[tuple[str, str]]]:
    """The images under `root`'s splits and the empty class folders; `shown` names the source in messages."""
    files: list[_File] = []
    empty: list[tuple[str, str]] = []
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir() and p.name not in _IGNORED):
            images = sorted(p for p in class_dir.iterdir() if p.is_file() and _is_image(p.name))
            if not images:
                empty.append((split, class_dir.name))
            files += [
                _File(split, class_dir.name, f"{split}/{class_dir.name}/{p.name}", p.stat().st_size, p) for p in images
            ]
    if not any(f.split == "train" for f in files):
        raise ServiceError(f"'{shown}' has no images in train/<class>/ folders. Expected train/<class>/<image>.")
    return files, empty


def _verify_images(files: list[_File]) -> list[str]:
    """Relative paths of images PIL cannot read, from an evenly spread sample of at most 300."""
    step = max(1, len(files) // _VERIFY_SAMPLE)
    bad: list[str] = []
    for item in files[::step]:
        try:
            with Image.open(item.path) as image:
                image.verify()
        except Exception:  # PIL raises many types (OSError, SyntaxError, DecompressionBombError…)
            bad.append(item.relative)
    return bad


def _summarize(
    bucket: str,
    prefix: str,
    files: Iterable[_File],
    *,
    empty_classes: list[tuple[str, str]],
    unreadable: list[str],
) -> DatasetSummary:
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
    if unreadable:
        warnings.append(f"{len(unreadable)} image(s) could not be read: " + _some(unreadable))
    return DatasetSummary(
        bucket=bucket,
        prefix=prefix,
        classes=classes,
        split_totals=totals,
        total_bytes=sum(f.size for f in files),
        warnings=warnings,
    )


def _some(names: Iterable[str], limit: int = 5) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
