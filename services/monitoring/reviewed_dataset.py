"""Close the loop: a new dataset version made of the served model's training set plus the reviewed photos.

The new version follows the Data page's layout (`s3://<bucket>/datasets/<name>/{train,valid,test}/<class>/`) under
a free name (`<old name>-reviewed`, `-reviewed-2`, …); the old version is copied object by object inside S3
(CopyObject: no photo passes through the dashboard) and kept as it is. Reviewed dog photos join `train/` in the
class folder of their breed; "not a dog" photos stay out, as the classifier has no such class.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.datasets import DatasetService, dataset_prefix
from services.monitoring.baseline import label_of
from services.monitoring.review_manifest import NOT_A_DOG, Review
from services.monitoring.reviews import class_folder

_WORKERS = 16


@dataclass(frozen=True)
class NewDataset:
    uri: str
    copied: int
    added: int
    left_out: int
    """Reviewed photos kept out: "not a dog" answers."""


class ReviewedDatasetService(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def create(self, caller: Caller, reviews: list[Review], base_uri: str | None, bucket: str, name: str) -> NewDataset:
        """Write `base_uri`'s dataset (if any) and the reviewed photos as the new dataset version `name`
        (made free if taken) in `bucket`."""
        require_operator(caller, "add reviewed photos to a dataset")
        dogs = [r for r in reviews if r.truth != NOT_A_DOG]
        if not dogs:
            raise ServiceError("No reviewed dog photos yet: review some photos first (“not a dog” ones stay out).")
        datasets = DatasetService(settings=self._settings, boto3_session=self._session)
        datasets.ensure_bucket(bucket)
        target = dataset_prefix(datasets.free_name(bucket, name))
        folders: dict[str, str] = {}
        copies: list[tuple[str, str, str]] = []  # (source bucket, source key, target key)
        if base_uri:
            source_bucket, _, source_prefix = base_uri.removeprefix("s3://").partition("/")
            for key in self._keys(source_bucket, source_prefix):
                relative = key[len(source_prefix) :]
                copies.append((source_bucket, key, target + relative))
                parts = relative.split("/")
                if len(parts) == 3 and parts[0] == "train":
                    folders.setdefault(label_of(parts[1]), parts[1])
        base_count = len(copies)
        for review in dogs:
            photo_bucket, _, photo_key = review.source_ref.removeprefix("s3://").partition("/")
            folder = folders.get(review.truth) or class_folder(review.truth)
            copies.append((photo_bucket, photo_key, f"{target}train/{folder}/review-{photo_key.rsplit('/', 1)[-1]}"))
        s3 = self._client("s3")

        def copy(item: tuple[str, str, str]) -> None:
            s3.copy_object(Bucket=bucket, Key=item[2], CopySource={"Bucket": item[0], "Key": item[1]})

        try:
            with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
                list(pool.map(copy, copies))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"write the new dataset s3://{bucket}/{target}") from exc
        return NewDataset(f"s3://{bucket}/{target}", base_count, len(dogs), len(reviews) - len(dogs))

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        try:
            pages = self._client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [obj["Key"] for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list the dataset s3://{bucket}/{prefix}") from exc
