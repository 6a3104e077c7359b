"""Datasets for training: image folders (`train/ valid/ test/`, one folder per class) in S3.

A training job's `training` channel is an S3 prefix in the ImageFolder layout the original project used
(`dogImages/train/001.Affenpinscher/…jpg`). This module uploads such a tree from a folder or a zip, and
reads back what is under a prefix, so an operator sees classes, counts per split and problems (empty
classes, classes missing from a split, unreadable images) before paying for a job; the summary itself is
built in `dataset_summary`.

(Named `datasets` rather than `data`: `services/data/` already holds the class list.)
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.dataset_files import (
    SPLITS,
    DatasetFile,
    download,
    extract_zip,
    find_root,
    is_image,
    only_classes,
    scan_local,
    verify_images,
)
from services.data.dataset_summary import DatasetSummary, summarize

DOG_IMAGES_URL = "https://s3-us-west-1.amazonaws.com/udacity-aind/dog-project/dogImages.zip"
ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = Path(os.environ.get("DASHBOARD_DATASETS_DIR") or ROOT.parent / "shared" / "datasets")
"""The project's photo sets (the offline sample, non-dogs): `shared/datasets` beside the checkout unless
DASHBOARD_DATASETS_DIR names another folder."""
SAMPLE_DATASET = SHARED_DATASETS / "dogs-wiki-133"
"""The offline sample: Wikipedia photos in Udacity's class folders, for the classes that have any."""

_UPLOAD_WORKERS = 16  # S3 PUTs are latency-bound; 16 in flight saturate a typical uplink
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class DatasetService(AwsService):
    """Uploads ImageFolder datasets to S3 and summarises what is under a prefix."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        s3_client: Any = None,
        sts_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"s3": s3_client, "sts": sts_client})

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
        replace: bool = False,
        progress: Callable[[int, int], None] | None = None,
        classes: Collection[str] | None = None,
    ) -> DatasetSummary:
        """Upload a folder or a .zip in ImageFolder layout to `s3://bucket/prefix`; only `classes`' folders
        where given (a few breeds train in seconds, all of them take minutes).

        Everything is checked before the first byte goes out (layout, zip entries), so a refused dataset
        leaves nothing half-uploaded. A prefix that already holds files is refused (code `DatasetExists`)
        unless `replace`, which deletes them first: uploading over them would silently mix two datasets.
        `progress(done, total)` is called as files finish.
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
            files, empty = scan_local(root, shown=source.name)
            if classes is not None:
                files, empty = only_classes(files, empty, classes, shown=source.name)
            unreadable = verify_images(files)
            if not replace:  # after the source's own checks: a broken zip says so, not "the name is taken"
                self._refuse_if_taken(bucket, prefix)
            self.ensure_bucket(bucket)
            if replace:
                self._delete_prefix(bucket, prefix)
            self._upload_files(files, bucket, prefix, progress)
        summary = summarize(bucket, prefix, files, empty_classes=empty, unreadable=unreadable)
        return DatasetSummary(**{**summary.__dict__, "uploaded": len(files)})

    def dataset_exists(self, bucket: str, prefix: str) -> bool:
        """Whether anything is stored under `prefix` (one key listed, however large the dataset)."""
        check_bucket(bucket)
        prefix = normalize_prefix(prefix)
        try:
            response = self._client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
                return False
            raise from_client_error(exc, what=f"look in s3://{bucket}/{prefix}") from exc
        return bool(response.get("KeyCount") or response.get("Contents"))

    def free_name(self, bucket: str, name: str) -> str:
        """`name`, or `name-2`, `name-3`… the first that no dataset in `bucket` uses: "keep both"."""
        dataset_prefix(name)
        taken = {prefix.removeprefix("datasets/").rstrip("/") for prefix in self.list_datasets(bucket)}
        candidate, number = name, 1
        while candidate in taken:
            number += 1
            suffix = f"-{number}"
            candidate = name[: 100 - len(suffix)] + suffix
        return candidate

    def _refuse_if_taken(self, bucket: str, prefix: str) -> None:
        if self.dataset_exists(bucket, prefix):
            raise ServiceError(
                f"s3://{bucket}/{prefix} already holds a dataset. Replace it, or upload under another name.",
                code="DatasetExists",
            )

    def _delete_prefix(self, bucket: str, prefix: str) -> None:
        s3 = self._client("s3")
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
                for start in range(0, len(keys), _DELETE_BATCH):
                    batch = keys[start : start + _DELETE_BATCH]
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"delete the old dataset at s3://{bucket}/{prefix}") from exc

    def _upload_files(
        self, files: list[DatasetFile], bucket: str, prefix: str, progress: Callable[[int, int], None] | None
    ) -> None:
        s3 = self._client("s3")

        def put(item: DatasetFile) -> None:
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

    def upload_sample(
        self,
        bucket: str,
        prefix: str = "datasets/dogs-wiki-133/",
        *,
        replace: bool = False,
        classes: Collection[str] | None = None,
    ) -> DatasetSummary:
        """The offline sample that ships beside the repository, or some of its breeds: one click, no network."""
        if not SAMPLE_DATASET.is_dir():
            raise ServiceError(
                f"The offline sample is not at {SAMPLE_DATASET}. Set DASHBOARD_DATASETS_DIR to the folder that "
                "holds the project's datasets (dogs-wiki-133, negatives) and restart the dashboard."
            )
        return self.upload_dataset(SAMPLE_DATASET, bucket, prefix, replace=replace, classes=classes)

    def import_dog_images(
        self,
        bucket: str,
        prefix: str = "datasets/dogImages/",
        *,
        url: str = DOG_IMAGES_URL,
        replace: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> DatasetSummary:
        """Download Udacity's `dogImages.zip` (about 1.1 GB) and upload it; needs the public internet. A taken
        prefix is refused before the download, not after it."""
        check_bucket(bucket)
        prefix = normalize_prefix(prefix)
        if not replace:
            self._refuse_if_taken(bucket, prefix)
        with tempfile.TemporaryDirectory(prefix="dogimages-") as scratch:
            archive = download(url, Path(scratch) / "dogImages.zip")
            return self.upload_dataset(archive, bucket, prefix, replace=replace, progress=progress)

    # -- read back --------------------------------------------------------------------------------
    def summarize_dataset(self, bucket: str, prefix: str) -> DatasetSummary:
        """Classes and counts under `s3://bucket/prefix` from one paged listing (images are not opened:
        that would mean downloading the dataset)."""
        check_bucket(bucket)
        prefix = normalize_prefix(prefix)
        files: list[DatasetFile] = []
        marked: set[tuple[str, str]] = set()  # "folder" marker objects some tools write for empty folders
        try:
            for page in self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    parts = obj["Key"][len(prefix) :].split("/")
                    if len(parts) == 3 and parts[0] in SPLITS and parts[2] == "":
                        marked.add((parts[0], parts[1]))
                    elif len(parts) == 3 and parts[0] in SPLITS and is_image(parts[2]):
                        files.append(DatasetFile(parts[0], parts[1], "/".join(parts), int(obj.get("Size", 0))))
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
        return summarize(bucket, prefix, files, empty_classes=empty, unreadable=[])


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
