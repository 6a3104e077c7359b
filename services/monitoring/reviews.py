"""Reviews of captured photos, kept in S3 beside the endpoint's captures (same bucket, `monitoring/<endpoint>/`):

- `reviews/photos/<event id>.<ext>`: each reviewed photo, taken out of its capture record (a manifest's
  `source-ref` names an object);
- `reviews/manifests/output/output.manifest`: the Ground Truth-style output manifest (see review_manifest);
- `reviews/label-categories.json`: the class list the manifest's label indices point into, in Ground Truth's
  label category configuration format;
- `reviewed-photos/<class folder>/<event id>.<ext>`: the reviewed dog photos as class folders (Udacity's
  `NNN.Breed` names where the breed is one), a labelled set the Evaluate page compares models on.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3

from classifier.labels import udacity_folders, udacity_labels
from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.monitoring.capture_setup import CaptureSetup
from services.monitoring.capture_summary import ReviewCandidate
from services.monitoring.review_manifest import NOT_A_DOG, Review, read_manifest, write_manifest

MANIFEST = "reviews/manifests/output/output.manifest"
CATEGORIES = "reviews/label-categories.json"
PHOTOS = "reviews/photos/"
CLASS_FOLDERS = "reviewed-photos/"
MANIFEST_ATTEMPTS = 10  # conditional writes of the manifest before giving up (each waits a little longer)
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}


@dataclass(frozen=True)
class ReviewSet:
    reviews: list[Review]
    unreadable: int
    manifest_uri: str
    class_folders_uri: str


@dataclass(frozen=True)
class DayAccuracy:
    day: str
    right: int
    reviewed: int


def review_root(setup: CaptureSetup) -> tuple[str, str]:
    """Bucket and prefix of an endpoint's reviews: its capture bucket, `monitoring/<endpoint>/`."""
    if not setup.destination:
        raise ServiceError(f"Endpoint '{setup.endpoint}' has no data capture destination, so no reviews either.")
    return setup.bucket, f"monitoring/{setup.endpoint}/"


def _code(exc: Exception) -> str | None:
    return getattr(exc, "response", {}).get("Error", {}).get("Code")


def class_folder(label: str) -> str:
    """The class folder a reviewed breed goes in: Udacity's `NNN.Breed` when it is one of the 133, else the label."""
    folders = dict(zip(udacity_labels(), udacity_folders(), strict=True))
    return folders.get(label, label.replace("/", "_"))


def accuracy_by_day(reviews: list[Review]) -> list[DayAccuracy]:
    """How often the model was right on the reviewed photos, per day the photos were sent."""
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for review in reviews:
        day = (review.inference_time or review.reviewed_at.isoformat())[:10]
        days[day][0] += review.model_was_right
        days[day][1] += 1
    return [DayAccuracy(day, right, total) for day, (right, total) in sorted(days.items())]


class ReviewStore(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def reviews(self, setup: CaptureSetup) -> ReviewSet:
        bucket, root = review_root(setup)
        body, _ = self._manifest(bucket, root)
        reviews, unreadable = read_manifest(body)
        return ReviewSet(reviews, unreadable, f"s3://{bucket}/{root}{MANIFEST}", f"s3://{bucket}/{root}{CLASS_FOLDERS}")

    def _manifest(self, bucket: str, root: str) -> tuple[bytes, str | None]:
        """The manifest's bytes and ETag (empty and None while there is none)."""
        try:
            found = self._client("s3").get_object(Bucket=bucket, Key=root + MANIFEST)
        except BOTO_ERRORS as exc:
            if _code(exc) not in ("NoSuchKey", "NoSuchBucket"):
                raise from_client_error(exc, what=f"read the reviews in s3://{bucket}/{root}") from exc
            return b"", None
        return found["Body"].read(), found["ETag"]

    def record(
        self,
        caller: Caller,
        setup: CaptureSetup,
        candidate: ReviewCandidate,
        photo: tuple[bytes, str | None],
        truth: str,
        classes: list[str],
    ) -> Review:
        """Store one review: the photo, the manifest line (replacing an earlier review of it), and its copy in the
        class folders (moved if the answer changed)."""
        require_operator(caller, "review captured photos")
        labels = [*classes, NOT_A_DOG]
        if truth not in labels:
            raise ServiceError(f"'{truth}' is neither one of the model's breeds nor “{NOT_A_DOG}”.")
        bucket, root = review_root(setup)
        data, content_type = photo
        name = candidate.event_id.replace("/", "_") + _EXTENSIONS.get(content_type or "", ".img")
        review = Review(
            source_ref=f"s3://{bucket}/{root}{PHOTOS}{name}",
            truth=truth,
            event_id=candidate.event_id,
            inference_time=candidate.time,
            model_label=candidate.label,
            model_confidence=candidate.confidence,
            model_said_dog=candidate.is_dog,
            capture_ref=f"s3://{bucket}/{candidate.key}#{candidate.line + 1}",
            reviewer=caller.name or "operator",
            reviewed_at=datetime.now(UTC),
        )
        s3 = self._client("s3")
        try:
            extra = {"ContentType": content_type} if content_type else {}
            s3.put_object(Bucket=bucket, Key=root + PHOTOS + name, Body=data, **extra)
            categories = {"document-version": "2018-11-28", "labels": [{"label": label} for label in labels]}
            s3.put_object(Bucket=bucket, Key=root + CATEGORIES, Body=json.dumps(categories).encode())
            earlier = self._add_to_manifest(bucket, root, review, labels, setup.endpoint)
            if earlier is not None and earlier.truth != truth and earlier.truth != NOT_A_DOG:
                with contextlib.suppress(*BOTO_ERRORS):  # a copy already gone is what was wanted
                    s3.delete_object(Bucket=bucket, Key=f"{root}{CLASS_FOLDERS}{class_folder(earlier.truth)}/{name}")
            if truth != NOT_A_DOG:
                s3.put_object(
                    Bucket=bucket, Key=f"{root}{CLASS_FOLDERS}{class_folder(truth)}/{name}", Body=data, **extra
                )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"store the review in s3://{bucket}/{root}") from exc
        return review

    def _add_to_manifest(
        self, bucket: str, root: str, review: Review, labels: list[str], endpoint: str
    ) -> Review | None:
        """Write the manifest with `review` in it (replacing an earlier review of its photo), and return that
        earlier review. A conditional write (IfMatch the ETag read, or IfNoneMatch `*` for the first review): when
        another operator's review lands in between, S3 refuses it and the manifest is read and written again, so
        neither review is lost."""
        for attempt in range(MANIFEST_ATTEMPTS):
            body, etag = self._manifest(bucket, root)
            existing, _ = read_manifest(body)
            kept = [r for r in existing if r.event_id != review.event_id]
            earlier = next((r for r in existing if r.event_id == review.event_id), None)
            manifest = write_manifest([*kept, review], labels, f"dog-breed-review-{endpoint}")
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self._client("s3").put_object(
                    Bucket=bucket, Key=root + MANIFEST, Body=manifest, ContentType="application/jsonlines", **condition
                )
            except BOTO_ERRORS as exc:
                if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                    time.sleep(random.uniform(0, 0.05) * (attempt + 1))  # apart, so racing writers stop colliding
                    continue  # changed since it was read: read it again
                raise
            return earlier
        raise ServiceError("The reviews kept changing under this one (other operators are reviewing): try again.")
