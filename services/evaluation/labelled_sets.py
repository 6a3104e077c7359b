"""Labelled sets: photos in S3 whose folder names their breed, `<prefix>/<class>/<photo>`.

A dataset as the Data page lays it out (`datasets/<name>/{train,valid,test}/<class>/…`) is evaluated on its test
split; any other folder of class folders is taken as it is. Only the listing is read, never the photos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.dataset_files import SPLITS, is_image
from services.evaluation.breed_names import canonical

_S3_FOLDER = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<prefix>.*)")
_LISTING_LIMIT = 100_000  # photos: a batch transform of more is a job for a manifest made elsewhere


@dataclass(frozen=True)
class LabelledSet:
    """`photos` maps each photo's key under the prefix (`001.Affenpinscher/a.jpg`) to its class folder."""

    bucket: str
    prefix: str
    photos: dict[str, str]
    skipped: int
    note: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.photos.values()))


def parse_folder(uri: str) -> tuple[str, str]:
    """(bucket, prefix ending in '/') of an `s3://bucket/folder/` URI; anything else is refused with an example."""
    match = _S3_FOLDER.fullmatch((uri or "").strip())
    prefix = match.group("prefix").strip("/") if match else ""
    if match is None or not prefix or any(part in {".", ".."} for part in prefix.split("/")):
        raise ServiceError(
            f"'{uri}' is not an S3 folder of class folders: give s3://bucket/folder/ holding one folder per breed "
            "(e.g. s3://my-bucket/datasets/dogs/test/)."
        )
    return match.group("bucket"), prefix + "/"


class LabelledSets(AwsService):
    def __init__(
        self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None, s3: Any = None
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"s3": s3})

    def read(self, uri: str) -> LabelledSet:
        """The photos under `uri`; a dataset root (train/ valid/ test/) means its test split."""
        bucket, prefix = parse_folder(uri)
        keys = self._keys(bucket, prefix)
        note = None
        first_parts = {key.split("/", 1)[0] for key in keys if "/" in key}
        if first_parts and first_parts <= set(SPLITS):
            if "test" not in first_parts:
                raise ServiceError(
                    f"{uri} is a dataset without a test/ split: evaluate on a split the model did not learn from, "
                    "e.g. its valid/ folder, by giving that folder."
                )
            prefix += "test/"
            keys = [key.removeprefix("test/") for key in keys if key.startswith("test/")]
            note = "A dataset: its test split is used."
        photos: dict[str, str] = {}
        skipped = 0
        for key in keys:
            parts = key.split("/")
            if len(parts) == 2 and parts[0] and is_image(parts[1]):
                photos[key] = parts[0]
            elif not key.endswith("/"):
                skipped += 1
        if not photos:
            raise ServiceError(
                f"No photos in class folders under s3://{bucket}/{prefix}: expected <breed>/<photo>.jpg "
                "(one folder per breed). Upload a dataset on the Data page, or give another folder."
            )
        if len({canonical(c) for c in photos.values()}) < len(set(photos.values())):
            raise ServiceError(
                f"s3://{bucket}/{prefix} has two class folders for the same breed (names differing only in their "
                "number prefix or case); merge them first."
            )
        return LabelledSet(bucket, prefix, photos, skipped, note)

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        keys: list[str] = []
        try:
            for page in self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys += [obj["Key"][len(prefix) :] for obj in page.get("Contents", [])]
                if len(keys) > _LISTING_LIMIT:
                    raise ServiceError(
                        f"s3://{bucket}/{prefix} holds over {_LISTING_LIMIT:,} objects; pick a smaller set."
                    )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list s3://{bucket}/{prefix}") from exc
        return keys
