"""Run an evaluation: a SageMaker batch transform of every photo of a labelled set through the model's own serving
code (one request per photo, `SplitType None`, `SingleRecord`), read back live as its `<photo>.out` answers land,
and kept in S3 (records.py) once it ends.
"""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.datasets import DatasetService
from services.evaluation import evaluation_records as records
from services.evaluation.breed_names import canonical, display, nameable
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.labelled_sets import LabelledSet, parse_folder
from services.evaluation.model_choices import ModelChoice, ModelChoices
from services.evaluation.photo_results import PhotoResult, read_output
from services.serving.lineage import LineageService

TRANSFORM_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge", "ml.c5.2xlarge")
_READERS = 16  # S3 GETs of small answers are latency-bound
_LISTED = 100


@dataclass(frozen=True)
class SetCheck:
    """Which of the set's classes the model can name (`unknown`: it never can, so their photos count as wrong)."""

    breed_source: str
    unknown: list[str]
    known: int


@dataclass
class Tracker:
    """What has been read of one running evaluation, kept by the caller between looks so each look reads only
    the answers that landed since the last."""

    record: EvaluationRecord
    truths: dict[str, str] = field(default_factory=dict)
    results: dict[str, PhotoResult] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


class EvaluationService(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker: Any = None,
        s3: Any = None,
        sts: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker, "s3": s3, "sts": sts})

    def bucket(self) -> str:
        """The dashboard's bucket (`sagemaker-<region>-<account>`), where datasets and evaluations live."""
        return DatasetService(settings=self._settings, sts_client=self._client("sts")).default_bucket()

    def check_set(self, choice: ModelChoice, labelled: LabelledSet) -> SetCheck:
        """Compare the set's classes with the breeds the model names (its archive's model.json)."""
        source, breeds = LineageService(settings=self._settings, s3_client=self._client("s3")).model_breeds(
            choice.model_data_url
        )
        if not breeds:
            return SetCheck(source, [], len(labelled.classes))
        known = nameable(breeds)
        unknown = [c for c in labelled.classes if canonical(c) not in known]
        if len(unknown) == len(labelled.classes):
            raise ServiceError(
                f"The model names none of the set's {len(unknown)} class(es) (it knows {source}; the set has "
                f"{', '.join(display(c) for c in unknown[:3])}…): pick a set of dog breeds in its class names."
            )
        return SetCheck(source, unknown, len(labelled.classes) - len(unknown))

    def start(
        self, choice: ModelChoice, labelled: LabelledSet, *, instance_type: str = "ml.m5.large", instances: int = 1
    ) -> EvaluationRecord:
        """Create the Model if needed, write the manifest, start the transform job and keep the record."""
        check = self.check_set(choice, labelled)
        if instance_type not in TRANSFORM_INSTANCE_TYPES or not 1 <= instances <= 4:
            raise ServiceError(f"Choose one of {', '.join(TRANSFORM_INSTANCE_TYPES)} and 1–4 instances.")
        bucket = self.bucket()
        ModelChoices(self._settings, sagemaker=self._client("sagemaker")).ensure_model(choice)
        name = _job_name(choice.model_name)
        manifest = [{"prefix": labelled.uri}, *sorted(labelled.photos)]
        record = EvaluationRecord(
            name=name,
            bucket=bucket,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            model_kind=choice.kind,
            model_origin=choice.origin,
            model_name=choice.model_name,
            model_data_url=choice.model_data_url,
            set_uri=labelled.uri,
            photos=len(labelled.photos),
            classes=len(labelled.classes),
            unknown_classes=check.unknown,
        )
        self._put(bucket, records.manifest_key(name), manifest)
        try:
            self._client("sagemaker").create_transform_job(
                TransformJobName=name,
                ModelName=choice.model_name,
                BatchStrategy="SingleRecord",
                # Two requests in flight per instance: one waiting at the server hides the other's S3 round trips
                # (./dev bench transform: 0.5x to 0.86x the bare model's rate on one instance here).
                MaxConcurrentTransforms=2,
                MaxPayloadInMB=6,
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "ManifestFile",
                            "S3Uri": f"s3://{bucket}/{records.manifest_key(name)}",
                        }
                    },
                    "ContentType": "application/x-image",
                    "SplitType": "None",
                },
                TransformOutput={
                    "S3OutputPath": record.output_uri,
                    "Accept": "application/json",
                    "AssembleWith": "None",
                },
                TransformResources={"InstanceType": instance_type, "InstanceCount": instances},
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"start the batch transform of model '{choice.model_name}'") from exc
        self._put(bucket, records.record_key(name), record.to_json())
        return record

    def list(self, model_data_url: str | None = None) -> list[EvaluationRecord]:
        """Kept evaluations, newest first; of one model artifact when given."""
        bucket = self.bucket()
        try:
            pages = (
                self._client("s3")
                .get_paginator("list_objects_v2")
                .paginate(Bucket=bucket, Prefix=records.ROOT, Delimiter="/")
            )
            names = [p["Prefix"][len(records.ROOT) : -1] for page in pages for p in page.get("CommonPrefixes", [])]
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchBucket":
                return []
            raise from_client_error(exc, what=f"list evaluations in '{bucket}'") from exc
        names = sorted(names, reverse=True)[:_LISTED]  # names start with their creation time
        with ThreadPoolExecutor(_READERS) as pool:
            found = [r for r in pool.map(lambda n: self._record_or_none(bucket, n), names) if r is not None]
        return [r for r in found if model_data_url is None or r.model_data_url == model_data_url]

    def record(self, name: str) -> EvaluationRecord:
        found = self._record_or_none(self.bucket(), name)
        if found is None:
            raise ServiceError(f"There is no evaluation '{name}' in s3://{self.bucket()}/{records.ROOT}.")
        return found

    def results(self, record: EvaluationRecord) -> list[PhotoResult]:
        """The kept results of an ended evaluation."""
        rows = self._get_json(record.bucket, records.results_key(record.name))
        return [PhotoResult.from_json(row) for row in rows or []]

    def track(self, record: EvaluationRecord) -> Tracker:
        """A tracker for `record`: its results at once when kept, else the manifest to read answers against."""
        tracker = Tracker(record)
        if record.ended:
            tracker.results = {r.key: r for r in self.results(record)}
            return tracker
        manifest = self._get_json(record.bucket, records.manifest_key(record.name)) or [{}]
        tracker.truths = {key: canonical(key.split("/", 1)[0]) for key in manifest[1:]}
        return tracker

    def settled(self, record: EvaluationRecord) -> EvaluationRecord:
        """`record` as it stands now: one still kept as running is looked at once (and kept, with its results,
        if its transform has ended), so a list does not say InProgress for an evaluation nobody watched end."""
        if record.ended:
            return record
        try:
            status = self._client("sagemaker").describe_transform_job(TransformJobName=record.name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe transform job '{record.name}'") from exc
        if status["TransformJobStatus"] not in records.ENDED:  # still running: its answers are not read here
            return replace(record, status=status["TransformJobStatus"])
        return self.refresh(self.track(record)).record

    def refresh(self, tracker: Tracker) -> Tracker:
        """One look at a running evaluation: its job's status, the answers that landed since the last look; when
        the job has ended, the results and the final record are kept in S3."""
        record = tracker.record
        if record.ended:
            return tracker
        try:
            job = self._client("sagemaker").describe_transform_job(TransformJobName=record.name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe transform job '{record.name}'") from exc
        self._read_new_answers(tracker)
        status = job["TransformJobStatus"]
        if status in records.ENDED:
            results = sorted(tracker.results.values(), key=lambda r: r.key)
            self._put(record.bucket, records.results_key(record.name), [r.to_json() for r in results])
            right = sum(r.correct for r in results)
            top5 = sum(r.in_top5 for r in results)
            record = replace(
                record,
                status=status,
                failure_reason=job.get("FailureReason"),
                scored=len(results),
                top1=right / len(results) if results else None,
                top5=top5 / len(results) if results else None,
            )
            self._put(record.bucket, records.record_key(record.name), record.to_json())
        else:
            record = replace(record, status=status, scored=len(tracker.results))
        tracker.record = record
        return tracker

    def photo(self, set_uri: str, key: str) -> bytes:
        """The bytes of photo `key` of the set at `set_uri` (for the galleries)."""
        bucket, prefix = parse_folder(set_uri)
        try:
            return self._client("s3").get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the photo {set_uri}{key}") from exc

    def stop(self, name: str) -> None:
        try:
            self._client("sagemaker").stop_transform_job(TransformJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"stop transform job '{name}'") from exc

    def _read_new_answers(self, tracker: Tracker) -> None:
        prefix = records.output_prefix(tracker.record.name)
        try:
            pages = (
                self._client("s3")
                .get_paginator("list_objects_v2")
                .paginate(Bucket=tracker.record.bucket, Prefix=prefix)
            )
            keys = [obj["Key"] for page in pages for obj in page.get("Contents", []) if obj["Key"].endswith(".out")]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list the transform output {tracker.record.output_uri}") from exc
        wanted = [(key, photo) for key in keys if (photo := _photo_of(key[len(prefix) : -4], tracker.truths))]
        wanted = [
            (key, photo) for key, photo in wanted if photo not in tracker.results and photo not in tracker.problems
        ]

        def read(item: tuple[str, str]) -> tuple[str, PhotoResult | str]:
            key, photo = item
            try:
                body = self._client("s3").get_object(Bucket=tracker.record.bucket, Key=key)["Body"].read()
                return photo, read_output(body, key=photo, truth=tracker.truths[photo])
            except BOTO_ERRORS as exc:
                return photo, from_client_error(exc, what=f"read {key}").message
            except ServiceError as exc:
                return photo, exc.message

        with ThreadPoolExecutor(_READERS) as pool:
            for photo, outcome in pool.map(read, wanted):
                if isinstance(outcome, PhotoResult):
                    tracker.results[photo] = outcome
                else:
                    tracker.problems[photo] = outcome

    def _record_or_none(self, bucket: str, name: str) -> EvaluationRecord | None:
        data = self._get_json(bucket, records.record_key(name))
        return EvaluationRecord.from_json(data) if isinstance(data, dict) else None

    def _get_json(self, bucket: str, key: str) -> Any:
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise from_client_error(exc, what=f"read s3://{bucket}/{key}") from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ServiceError(f"s3://{bucket}/{key} is not JSON; it was not written by this dashboard.") from exc

    def _put(self, bucket: str, key: str, data: Any) -> None:
        try:
            self._client("s3").put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(data, separators=(",", ":")).encode(),
                ContentType="application/json",
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"write s3://{bucket}/{key}") from exc


def _photo_of(relative: str, truths: dict[str, str]) -> str | None:
    """The photo an output names: its key under the set, possibly after folders AWS puts first (the input's own
    prefix, for some inputs); None for an output no photo of the manifest explains."""
    parts = relative.split("/")
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate in truths:
            return candidate
    return None


def _job_name(model_name: str) -> str:
    """`eval-<UTC time>-<4 hex>-<model>`, at most 63 characters: sortable by time, two starts in one second apart."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"eval-{stamp}-{secrets.token_hex(2)}-{model_name}"[:63].rstrip("-")
