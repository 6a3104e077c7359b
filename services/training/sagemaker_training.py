"""SageMaker training jobs: launch, describe, list, stop, clone, compare, logs and metric curves.

The request comes from services/training/job_spec.py (checked before the first call); a launch that fails after
uploading the code removes what it uploaded. Reading goes through DescribeTrainingJob, ListTrainingJobs,
CloudWatch Logs and CloudWatch, as the SageMaker console does.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from classifier import packaging
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.dataset_summary import DatasetSummary
from services.data.datasets import DatasetService
from services.training.curves import (
    LOG_GROUP,
    MetricPoint,
    Progress,
    Series,
    epochs_done,
    first_epoch_progress,
    log_line,
    progress,
    series_from_cloudwatch,
    series_from_logs,
)
from services.training.job_records import STATUSES, JobPage, JobSummary, LogPage, TrainingJob, parse_job
from services.training.job_spec import (
    DEFAULT_MAX_RUNTIME_S,
    DEFAULT_METRIC_DEFINITIONS,
    ROLE_NAME,
    TrainingSpec,
    build_request,
    check_job_name,
    generate_job_name,
    source_uri,
    validate_spec,
)

SORT_KEYS = ("CreationTime", "Name", "Status")
DESCRIBE_THREADS = 8
"""DescribeTrainingJob calls in flight at once when a list page is detailed (AWS allows far more)."""
MAX_COMPARED = 10


@dataclass(frozen=True)
class Comparison:
    """Jobs to compare, in the order asked, with each one's curves; `errors` says which could not be read."""

    jobs: list[TrainingJob]
    series: dict[str, Series]
    errors: list[str]


class TrainingService(AwsService):
    """Launches and watches SageMaker training jobs through boto3 (AWS or localcloud alike)."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
        s3_client: Any = None,
        logs_client: Any = None,
        cloudwatch_client: Any = None,
        sts_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        super().__init__(
            settings,
            boto3_session=boto3_session,
            clients={
                "sagemaker": sagemaker_client,
                "s3": s3_client,
                "logs": logs_client,
                "cloudwatch": cloudwatch_client,
                "sts": sts_client,
            },
        )
        self._account: str | None = None

    @property
    def region(self) -> str:
        return self._settings.region

    def datasets(self) -> DatasetService:
        """The dataset service on the same clients (one S3 and STS client per service instance)."""
        return DatasetService(
            self._session, s3_client=self._client("s3"), sts_client=self._client("sts"), settings=self._settings
        )

    def account(self) -> str:
        if self._account is None:
            try:
                self._account = self._client("sts").get_caller_identity()["Account"]
            except BOTO_ERRORS as exc:
                raise from_client_error(exc, what="read the account id") from exc
        return self._account

    def default_role_arn(self) -> str:
        """`arn:aws:iam::<account>:role/dog-breed-sagemaker-execution`, the role the project's setup makes."""
        return f"arn:aws:iam::{self.account()}:role/{ROLE_NAME}"

    def default_output_path(self) -> str:
        return f"s3://sagemaker-{self.region}-{self.account()}/training-output/"

    # -- launch ---------------------------------------------------------------------------------------
    def check(self, spec: TrainingSpec) -> DatasetSummary:
        """Validate `spec` fully, reading the channel to bound the batch size; the summary is returned so
        the form can show what the job will train on."""
        validate_spec(spec)
        channel = urlsplit(spec.data_uri)
        summary = self.datasets().summarize_dataset(channel.netloc, channel.path.lstrip("/"))
        validate_spec(spec, train_size=summary.train_size)
        return summary

    def launch(self, spec: TrainingSpec) -> str:
        """Package the training code, upload it and create the job; returns the job ARN.

        If CreateTrainingJob is refused, the uploaded code is deleted again, so nothing is half-created.
        """
        self.check(spec)
        role = spec.role_arn or self.default_role_arn()
        request = build_request(spec, region=self.region, role_arn=role)
        bucket, key = self.upload_code(spec)
        try:
            response = self._client("sagemaker").create_training_job(**request)
        except BOTO_ERRORS as exc:
            self.delete_code(bucket, key)
            raise from_client_error(exc, what=f"launch training job '{spec.job_name}'") from exc
        return response["TrainingJobArn"]

    def upload_code(self, spec: TrainingSpec) -> tuple[str, str]:
        """Package the training code and put it where the SDK would (`source_uri`); returns bucket and key."""
        bucket = urlsplit(spec.output_path).netloc
        self.datasets().ensure_bucket(bucket)
        key = urlsplit(source_uri(spec)).path.lstrip("/")
        s3 = self._client("s3")
        with tempfile.TemporaryDirectory(prefix="sourcedir-") as scratch:
            archive = packaging.build_sourcedir(Path(scratch) / "sourcedir.tar.gz")
            try:
                s3.upload_file(str(archive), bucket, key)
            except Exception as exc:  # S3Transfer wraps ClientErrors in S3UploadFailedError
                cause = exc if isinstance(exc, BOTO_ERRORS) else (exc.__cause__ or exc.__context__)
                if isinstance(cause, BOTO_ERRORS):
                    raise from_client_error(cause, what=f"upload the training code to s3://{bucket}/{key}") from exc
                raise ServiceError(f"Could not upload the training code to s3://{bucket}/{key}: {exc}") from exc
        return bucket, key

    def delete_code(self, bucket: str, key: str) -> None:
        """Remove code uploaded for a launch that was then refused (nothing half-created)."""
        with contextlib.suppress(*BOTO_ERRORS):  # the launch error is what the operator needs to see
            self._client("s3").delete_object(Bucket=bucket, Key=key)

    # -- read ------------------------------------------------------------------------------------------
    def describe(self, name: str) -> TrainingJob:
        """The job, with whether its model.tar.gz exists (looked up in S3 only for a Stopped job, which has
        one only if its script saved a model when told to stop)."""
        check_job_name(name)
        try:
            raw = self._client("sagemaker").describe_training_job(TrainingJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe training job '{name}'") from exc
        saved = True if raw["TrainingJobStatus"] == "Completed" else None
        artifact = raw.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if raw["TrainingJobStatus"] == "Stopped":
            saved = bool(artifact) and self._exists(artifact)
        return parse_job(raw, model_saved=saved)

    def _exists(self, uri: str) -> bool:
        parts = urlsplit(uri)
        try:
            self._client("s3").head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        except BOTO_ERRORS as exc:
            if _code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise from_client_error(exc, what=f"look for {uri}") from exc
        return True

    def describe_many(self, names: list[str]) -> tuple[dict[str, TrainingJob], dict[str, str]]:
        """Several jobs described at once (a list page's details): the jobs by name, and a message for each
        name that could not be described."""
        jobs: dict[str, TrainingJob] = {}
        errors: dict[str, str] = {}

        def one(name: str) -> None:
            try:
                jobs[name] = self.describe(name)
            except ServiceError as exc:
                errors[name] = exc.message

        if names:
            with ThreadPoolExecutor(max_workers=min(DESCRIBE_THREADS, len(names))) as pool:
                list(pool.map(one, names))
        return jobs, errors

    def progress(self, job: TrainingJob, series: Series, now: datetime | None = None) -> Progress:
        """Epoch i of n, elapsed time and time left of a running job, from its curves so far; in the first epoch,
        from how far its script says that epoch is (one log search, made only then)."""
        first_steps = None
        if job.started and not job.ended and not epochs_done(series):
            with contextlib.suppress(ServiceError):  # the estimate waits for the first epoch, as it did
                first_steps = first_epoch_progress(self._client("logs"), job.name)
        return progress(
            series, epochs=job.epochs, started=job.started, now=now or datetime.now(UTC), first_steps=first_steps
        )

    def compare(self, names: list[str]) -> Comparison:
        """Two or more jobs side by side: each job and its curves (MLflow's compare view, for jobs)."""
        names = list(dict.fromkeys(name.strip() for name in names if name.strip()))
        if len(names) < 2:
            raise ServiceError("Choose at least two jobs to compare.")
        if len(names) > MAX_COMPARED:
            raise ServiceError(f"Compare at most {MAX_COMPARED} jobs at once (got {len(names)}).")
        for name in names:
            check_job_name(name)
        jobs, errors = self.describe_many(names)
        series: dict[str, Series] = {}
        for name in [n for n in names if n in jobs]:
            try:
                series[name] = self.metric_series(name, jobs[name])
            except ServiceError as exc:
                errors[name] = exc.message
        return Comparison([jobs[n] for n in names if n in jobs], series, [errors[n] for n in names if n in errors])

    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        sort_by: str = "CreationTime",
        sort_order: str = "Descending",
        next_token: str | None = None,
        max_results: int = 100,
    ) -> JobPage:
        """One page of ListTrainingJobs (at most 100, AWS's page limit): cheap even with thousands of jobs."""
        if status is not None and status not in STATUSES:
            raise ServiceError(f"Unknown status '{status}'; choose one of {', '.join(STATUSES)}.")
        if sort_by not in SORT_KEYS:
            raise ServiceError(f"Sort by one of {', '.join(SORT_KEYS)}.")
        if sort_order not in {"Ascending", "Descending"}:
            raise ServiceError("Sort order is Ascending or Descending.")
        if not 1 <= max_results <= 100:
            raise ServiceError("A page holds 1 to 100 jobs.")
        request: dict[str, Any] = {"SortBy": sort_by, "SortOrder": sort_order, "MaxResults": max_results}
        if status:
            request["StatusEquals"] = status
        if name_contains:
            if not re.fullmatch(r"[a-zA-Z0-9\-]{1,63}", name_contains):
                raise ServiceError("The name filter takes letters, digits and hyphens (at most 63).")
            request["NameContains"] = name_contains
        if next_token:
            request["NextToken"] = next_token
        try:
            response = self._client("sagemaker").list_training_jobs(**request)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list training jobs") from exc
        jobs = [
            JobSummary(
                name=s["TrainingJobName"],
                status=s["TrainingJobStatus"],
                secondary_status=s.get("SecondaryStatus"),
                created=s.get("CreationTime"),
                ended_at=s.get("TrainingEndTime"),
                last_modified=s.get("LastModifiedTime"),
            )
            for s in response.get("TrainingJobSummaries", [])
        ]
        return JobPage(jobs, response.get("NextToken") or None)

    def stop(self, name: str) -> None:
        """Stop a running job; a job that already ended gets a message instead of a call."""
        job = self.describe(name)
        if job.status == "Stopping":
            raise ServiceError(f"Training job '{name}' is already stopping.", code="AlreadyStopping")
        if job.ended:
            raise ServiceError(
                f"Training job '{name}' already ended ({job.status}); there is nothing to stop.", code="AlreadyEnded"
            )
        try:
            self._client("sagemaker").stop_training_job(TrainingJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"stop training job '{name}'") from exc

    def clone_spec(self, name: str, *, new_name: str | None = None) -> TrainingSpec:
        """A spec like job `name`'s, under a new generated name, to pre-fill the launch form."""
        job = self.describe(name)
        hps = job.hyperparameters
        base = re.sub(r"-\d{8}-\d{6}$", "", name)
        defaults = TrainingSpec(job_name="x", data_uri="s3://x", output_path="s3://x")
        return TrainingSpec(
            job_name=new_name or generate_job_name(base),
            data_uri=job.data_uri or "",
            output_path=job.output_path or "",
            learning_rate=float(hps.get("learning_rate", defaults.learning_rate)),
            batch_size=int(hps.get("batch_size", defaults.batch_size)),
            epochs=int(hps.get("epochs", defaults.epochs)),
            fine_tune=str(hps.get("fine_tune", defaults.fine_tune)),
            instance_type=job.instance_type,
            instance_count=job.instance_count,
            max_runtime_s=job.max_runtime_s or DEFAULT_MAX_RUNTIME_S,
            role_arn=job.role_arn,
            metric_definitions=job.metric_definitions or DEFAULT_METRIC_DEFINITIONS,
        )

    # -- logs -------------------------------------------------------------------------------------------
    def log_streams(self, name: str) -> list[str]:
        """The job's streams, `<job>/algo-<n>-<epoch>`, in name order (algo-1 first)."""
        check_job_name(name)
        streams: list[str] = []
        request: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamNamePrefix": f"{name}/"}
        try:
            while True:
                response = self._client("logs").describe_log_streams(**request)
                streams += [s["logStreamName"] for s in response.get("logStreams", [])]
                token = response.get("nextToken")
                if not token or token == request.get("nextToken"):
                    break
                request["nextToken"] = token
        except BOTO_ERRORS as exc:
            if _code(exc) == "ResourceNotFoundException":  # no job has logged yet in this account
                return []
            raise from_client_error(exc, what=f"list log streams of '{name}'") from exc
        return sorted(streams, key=_stream_order)

    def log_tail(
        self, name: str, stream: str | None = None, next_token: str | None = None, limit: int = 200
    ) -> LogPage:
        """The newest `limit` lines of a stream (algo-1 by default); `next_token` (an `older_token` or
        `newer_token` from an earlier page) pages through the rest without loading it all."""
        if not 1 <= limit <= 10000:
            raise ServiceError("Ask for 1 to 10000 log lines.")
        streams = self.log_streams(name)
        if stream is None:
            stream = streams[0] if streams else None
        elif not stream.startswith(f"{name}/"):
            raise ServiceError(f"Stream '{stream}' does not belong to job '{name}'.")
        if stream is None:
            return LogPage(None, streams, [], None, None)
        request: dict[str, Any] = {
            "logGroupName": LOG_GROUP,
            "logStreamName": stream,
            "limit": limit,
            "startFromHead": False,
        }
        if next_token:
            request["nextToken"] = next_token
        try:
            response = self._client("logs").get_log_events(**request)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read log stream '{stream}'") from exc
        lines = [log_line(event) for event in response.get("events", [])]
        return LogPage(stream, streams, lines, response.get("nextBackwardToken"), response.get("nextForwardToken"))

    # -- metrics ----------------------------------------------------------------------------------------
    def metric_series(self, name: str, job: TrainingJob | None = None) -> Series:
        """Each defined metric's values in order, for host algo-1.

        Read with the job's own regexes from its log lines, as SageMaker does: one point per line, so epochs
        that end within the same second stay apart (CloudWatch, where SageMaker publishes the same matches,
        averages them at its finest period of 1 s). From CloudWatch when a regex starts with too little
        plain text to search the logs by; the job's final metrics when neither has any yet."""
        job = job or self.describe(name)
        series = series_from_logs(self._client("logs"), job.name, job.metric_definitions)
        if series is None:
            names = [metric for metric, _ in job.metric_definitions]
            start = (job.started or job.created or datetime.now(UTC)) - timedelta(minutes=1)
            end = (job.ended_at or datetime.now(UTC)) + timedelta(minutes=1)
            series = series_from_cloudwatch(self._client("cloudwatch"), job.name, names, start, end) if names else {}
        if not any(series.values()) and job.final_metrics:
            at = job.ended_at or job.started or datetime.now(UTC)
            series = {metric: [MetricPoint(at, value)] for metric, value in job.final_metrics.items()}
        return {metric: points for metric, points in series.items() if points}


def _stream_order(stream: str) -> tuple[int, str]:
    match = re.search(r"/algo-(\d+)", stream)
    return (int(match.group(1)) if match else 0, stream)


def _code(exc: Exception) -> str | None:
    return getattr(exc, "response", {}).get("Error", {}).get("Code")
