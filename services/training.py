"""SageMaker training jobs: launch, describe, list, stop, clone, logs and metric curves.

Requests are built exactly as the SageMaker Python SDK builds them for its PyTorch estimator (framework
image for the region and CPU/GPU, JSON-encoded hyperparameters with `sagemaker_program` and
`sagemaker_submit_directory`, channel `training`), so the same job runs on AWS's PyTorch container and in
localcloud. Everything an operator types is checked before the first call, and a launch that fails after
uploading the code removes what it uploaded.
"""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from classifier import packaging
from services.clients import CloudSettings, LazyClients
from services.datasets import DatasetService, DatasetSummary
from services.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.pricing import INSTANCE_TYPES, hourly_price, instance_type

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs"
MAX_METRIC_LOG_PAGES = 20
"""FilterLogEvents pages read for the curves (each up to 10,000 lines); a job logs one metric line per epoch."""
CHANNEL = "training"
ENTRY_POINT = "train.py"
FRAMEWORK_VERSION = "2.6.0"
PYTHON_VERSION = "py312"
ROLE_NAME = "dog-breed-sagemaker-execution"
VOLUME_SIZE_GB = 30
DEFAULT_MAX_RUNTIME_S = 3600
MAX_RUNTIME_LIMIT_S = 28 * 24 * 3600  # AWS's ceiling (the default quota is lower: 5 days)
ENDED = frozenset({"Completed", "Failed", "Stopped"})
RUNNING = frozenset({"InProgress", "Stopping"})
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
SORT_KEYS = ("CreationTime", "Name", "Status")
FINE_TUNE_CHOICES = {
    "head": "only the 133-class head (backbone frozen; fastest)",
    "last-blocks": "the head and the last backbone blocks",
}

DEFAULT_METRIC_DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("train:loss", r"train_loss=([0-9\.]+)"),
    ("train:accuracy", r"train_acc=([0-9\.]+)"),
    ("validation:loss", r"valid_loss=([0-9\.]+)"),
    ("validation:accuracy", r"valid_acc=([0-9\.]+)"),
    ("Test Loss", r"Testing Loss: ([0-9\.]+)"),  # the original project's objective metric
    ("test:accuracy", r"Testing Accuracy: ([0-9\.]+)"),
)
"""Regexes over the training script's log lines, e.g. `Epoch 1/3: train_loss=1.2345 train_acc=0.4567 …`."""

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_ROLE_ARN = re.compile(r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?")
_ECR_ACCOUNTS = {  # regions whose AWS Deep Learning Containers live in another account (SageMaker SDK config)
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
}
_SDK_HYPERPARAMETERS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_region",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
)


def image_uri(kind: str, region: str, instance: str) -> str:
    """The AWS PyTorch Deep Learning Container for `kind` ("training" or "inference") in `region`,
    GPU build for GPU instance types (the CPU build would not see the GPU)."""
    account = _ECR_ACCOUNTS.get(region, "763104351884")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    gpus = _gpus(instance)
    if gpus:
        tag = f"{FRAMEWORK_VERSION}-gpu-{PYTHON_VERSION}-cu124-ubuntu22.04"
    else:
        tag = f"{FRAMEWORK_VERSION}-cpu-{PYTHON_VERSION}"
    return f"{account}.dkr.ecr.{region}.{domain}/pytorch-{kind}:{tag}"


def _gpus(instance: str) -> int:
    if instance in INSTANCE_TYPES:
        return INSTANCE_TYPES[instance].gpus
    family = instance.removeprefix("ml.").split(".")[0]
    return 1 if family[:1] in {"g", "p"} else 0


def generate_job_name(base: str = "dog-breed") -> str:
    """`<base>-YYYYMMDD-HHMMSS`, cut so the whole stays within AWS's 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")[: 63 - len(stamp) - 1] or "job"
    return f"{base}-{stamp}"


def check_job_name(name: str) -> str:
    """AWS's training job name rule, checked before a call so the message says what is allowed."""
    if not _NAME.fullmatch(name or ""):
        raise ServiceError(
            f"'{name}' is not a valid training job name: 1–63 letters, digits and hyphens, starting and "
            "ending with a letter or digit."
        )
    return name


@dataclass(frozen=True)
class TrainingSpec:
    """Everything the launch form asks for. `role_arn` None means the account's default execution role
    (`dog-breed-sagemaker-execution`)."""

    job_name: str
    data_uri: str
    output_path: str
    learning_rate: float = 0.001
    batch_size: int = 32
    epochs: int = 3
    fine_tune: str = "head"
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    role_arn: str | None = None
    metric_definitions: tuple[tuple[str, str], ...] = DEFAULT_METRIC_DEFINITIONS
    volume_size_gb: int = VOLUME_SIZE_GB

    def hyperparameters(self) -> dict[str, Any]:
        """The script's own arguments (`--learning_rate 0.001 …`), before JSON encoding."""
        return {
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "fine_tune": self.fine_tune,
        }


def validate_spec(spec: TrainingSpec, *, train_size: int | None = None) -> None:
    """Every problem with `spec` in one message (an operator fixes them all at once), or nothing.

    `train_size` (images in the channel's train/ split) bounds the batch size when known.
    """
    problems: list[str] = []
    try:
        check_job_name(spec.job_name)
    except ServiceError as exc:
        problems.append(exc.message)
    if not (isinstance(spec.learning_rate, int | float) and spec.learning_rate > 0):
        problems.append(f"Learning rate must be greater than 0 (got {spec.learning_rate}).")
    if not isinstance(spec.batch_size, int) or spec.batch_size < 1:
        problems.append(f"Batch size must be at least 1 (got {spec.batch_size}).")
    elif train_size is not None and spec.batch_size > train_size:
        problems.append(
            f"Batch size {spec.batch_size} is larger than the training split ({train_size} images); "
            f"choose at most {train_size}."
        )
    if not isinstance(spec.epochs, int) or spec.epochs < 1:
        problems.append(f"Epochs must be at least 1 (got {spec.epochs}).")
    if spec.fine_tune not in FINE_TUNE_CHOICES:
        problems.append(f"Fine-tune must be one of {', '.join(FINE_TUNE_CHOICES)} (got '{spec.fine_tune}').")
    try:
        instance_type(spec.instance_type)
    except ServiceError as exc:
        problems.append(exc.message)
    if not isinstance(spec.instance_count, int) or spec.instance_count < 1:
        problems.append(f"Instance count must be at least 1 (got {spec.instance_count}).")
    if not 1 <= spec.max_runtime_s <= MAX_RUNTIME_LIMIT_S:
        problems.append(f"Max runtime must be between 1 s and {MAX_RUNTIME_LIMIT_S} s (28 days).")
    if not 1 <= spec.volume_size_gb <= 16384:
        problems.append("Volume size must be between 1 and 16384 GB.")
    for label, uri in (("Data channel", spec.data_uri), ("Output path", spec.output_path)):
        if not _S3_URI.fullmatch(uri or ""):
            problems.append(f"{label} '{uri}' is not an s3://bucket/prefix URI.")
    if spec.role_arn is not None and not _ROLE_ARN.fullmatch(spec.role_arn):
        problems.append(f"'{spec.role_arn}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).")
    problems += _metric_problems(spec.metric_definitions)
    if problems:
        raise ServiceError(" ".join(problems), code="ValidationError")


def _metric_problems(definitions: tuple[tuple[str, str], ...]) -> list[str]:
    problems: list[str] = []
    if len(definitions) > 40:
        problems.append("At most 40 metric definitions.")
    names = [name for name, _ in definitions]
    if len(set(names)) != len(names):
        problems.append("Metric names must be unique.")
    for name, regex in definitions:
        if not 1 <= len(name) <= 255 or not 1 <= len(regex) <= 500:
            problems.append(f"Metric '{name}': name 1–255 characters, regex 1–500.")
            continue
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            problems.append(f"Metric '{name}': the regex does not compile ({exc}).")
            continue
        if compiled.groups < 1:
            problems.append(f"Metric '{name}': the regex needs one capture group for the value.")
    return problems


def encode_hyperparameters(spec: TrainingSpec, *, submit_uri: str, region: str) -> dict[str, str]:
    """Hyperparameters as the SageMaker Python SDK sends them: every value JSON-encoded (so strings carry
    quotes), plus the script-mode keys the PyTorch container reads to fetch and run the code."""
    values: dict[str, Any] = {
        **spec.hyperparameters(),
        "sagemaker_program": ENTRY_POINT,
        "sagemaker_submit_directory": submit_uri,
        "sagemaker_container_log_level": 20,
        "sagemaker_job_name": spec.job_name,
        "sagemaker_region": region,
    }
    return {key: json.dumps(value) for key, value in values.items()}


def decode_hyperparameters(encoded: dict[str, str]) -> dict[str, Any]:
    """The inverse, tolerant of jobs launched by other tools with plain (unencoded) strings."""
    decoded: dict[str, Any] = {}
    for key, value in encoded.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


def source_uri(spec: TrainingSpec) -> str:
    """`s3://<output bucket>/<job>/source/sourcedir.tar.gz`, where the SDK puts the code."""
    bucket = urlsplit(spec.output_path).netloc
    return f"s3://{bucket}/{spec.job_name}/source/sourcedir.tar.gz"


def build_request(spec: TrainingSpec, *, region: str, role_arn: str) -> dict[str, Any]:
    """The CreateTrainingJob request for `spec` (pure: tests compare it key by key with AWS's shape)."""
    return {
        "TrainingJobName": spec.job_name,
        "HyperParameters": encode_hyperparameters(spec, submit_uri=source_uri(spec), region=region),
        "AlgorithmSpecification": {
            "TrainingImage": image_uri("training", region, spec.instance_type),
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": name, "Regex": regex} for name, regex in spec.metric_definitions],
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": CHANNEL,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": spec.data_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": spec.output_path},
        "ResourceConfig": {
            "InstanceType": spec.instance_type,
            "InstanceCount": spec.instance_count,
            "VolumeSizeInGB": spec.volume_size_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_s},
    }


@dataclass(frozen=True)
class StatusTransition:
    """One secondary status (Starting, Downloading, Training, Uploading…) and when it began and ended."""

    status: str
    start: datetime | None
    end: datetime | None
    message: str


@dataclass(frozen=True)
class TrainingJob:
    """What DescribeTrainingJob says, with hyperparameters decoded and the cost worked out.

    `cost_usd` is billable seconds × instances × the hourly list price / 3600 (None for a type the
    dashboard has no price for, or before billing starts).
    """

    name: str
    arn: str
    status: str
    secondary_status: str | None
    transitions: list[StatusTransition]
    created: datetime | None
    started: datetime | None
    ended_at: datetime | None
    hyperparameters: dict[str, Any]
    final_metrics: dict[str, float]
    metric_definitions: tuple[tuple[str, str], ...]
    billable_seconds: int | None
    cost_usd: float | None
    failure_reason: str | None
    model_artifact: str | None
    instance_type: str
    instance_count: int
    data_uri: str | None
    output_path: str | None
    max_runtime_s: int | None
    role_arn: str | None
    training_image: str | None

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@dataclass(frozen=True)
class JobSummary:
    """One row of the job list (ListTrainingJobs only: the list never describes each job)."""

    name: str
    status: str
    secondary_status: str | None
    created: datetime | None
    ended_at: datetime | None
    last_modified: datetime | None


@dataclass(frozen=True)
class JobPage:
    """One page of the job list and the token for the next, if any."""

    jobs: list[JobSummary]
    next_token: str | None

    @property
    def any_running(self) -> bool:
        return any(job.status in RUNNING for job in self.jobs)


@dataclass(frozen=True)
class LogLine:
    timestamp: datetime
    message: str


@dataclass(frozen=True)
class LogPage:
    """Log lines of one stream, oldest first, with tokens to page to older or newer lines.

    `streams` lists all of the job's streams (one per instance and restart: `<job>/algo-<n>-<epoch>`).
    """

    stream: str | None
    streams: list[str]
    lines: list[LogLine]
    older_token: str | None
    newer_token: str | None


@dataclass(frozen=True)
class MetricPoint:
    timestamp: datetime
    value: float


class TrainingService:
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
        self._session = boto3_session
        self._settings = settings or CloudSettings.from_env()
        self._client = LazyClients(
            self._settings,
            self._session,
            {
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
        try:
            response = self._client("sagemaker").create_training_job(**request)
        except BOTO_ERRORS as exc:
            with contextlib.suppress(*BOTO_ERRORS):  # the launch error is what the operator needs to see
                s3.delete_object(Bucket=bucket, Key=key)
            raise from_client_error(exc, what=f"launch training job '{spec.job_name}'") from exc
        return response["TrainingJobArn"]

    # -- read ------------------------------------------------------------------------------------------
    def describe(self, name: str) -> TrainingJob:
        check_job_name(name)
        try:
            raw = self._client("sagemaker").describe_training_job(TrainingJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe training job '{name}'") from exc
        return _job(raw)

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
        lines = [_log_line(event) for event in response.get("events", [])]
        return LogPage(stream, streams, lines, response.get("nextBackwardToken"), response.get("nextForwardToken"))

    # -- metrics ----------------------------------------------------------------------------------------
    def metric_series(self, name: str, job: TrainingJob | None = None) -> dict[str, list[MetricPoint]]:
        """Each defined metric's values in order, for host algo-1.

        Read with the job's own regexes from its log lines, as SageMaker does: one point per line, so epochs
        that end within the same second stay apart (CloudWatch, where SageMaker publishes the same matches,
        averages them at its finest period of 1 s). From CloudWatch when a regex starts with too little
        plain text to search the logs by; the job's final metrics when neither has any yet."""
        job = job or self.describe(name)
        series = self._metrics_from_logs(job)
        if series is None:
            names = [metric for metric, _ in job.metric_definitions]
            series = self._metric_data(job, names) if names else {}
        if not any(series.values()) and job.final_metrics:
            at = job.ended_at or job.started or datetime.now(UTC)
            series = {metric: [MetricPoint(at, value)] for metric, value in job.final_metrics.items()}
        return {metric: points for metric, points in series.items() if points}

    def _metrics_from_logs(self, job: TrainingJob) -> dict[str, list[MetricPoint]] | None:
        """None when the definitions cannot be turned into a log search (see `_search_term`)."""
        terms = [_search_term(regex) for _, regex in job.metric_definitions]
        if not terms or None in terms:
            return None
        try:
            definitions = [(metric, re.compile(regex)) for metric, regex in job.metric_definitions]
        except re.error:
            return None
        series: dict[str, list[MetricPoint]] = {metric: [] for metric, _ in definitions}
        request: dict[str, Any] = {
            "logGroupName": LOG_GROUP,
            "logStreamNamePrefix": f"{job.name}/algo-1-",
            "filterPattern": " ".join(f'?"{term}"' for term in dict.fromkeys(terms)),
        }
        try:
            for _ in range(MAX_METRIC_LOG_PAGES):
                response = self._client("logs").filter_log_events(**request)
                for line in map(_log_line, response.get("events", [])):
                    for metric, regex in definitions:
                        match = regex.search(line.message)
                        if match and match.groups():
                            with contextlib.suppress(TypeError, ValueError):
                                series[metric].append(MetricPoint(line.timestamp, float(match.group(1))))
                request["nextToken"] = response.get("nextToken")
                if not request["nextToken"]:
                    break
        except BOTO_ERRORS as exc:
            if _code(exc) == "ResourceNotFoundException":  # no log group yet: nothing logged
                return series
            raise from_client_error(exc, what=f"read the metric lines of '{job.name}'") from exc
        return series

    def _metric_data(self, job: TrainingJob, names: list[str]) -> dict[str, list[MetricPoint]]:
        start = (job.started or job.created or datetime.now(UTC)) - timedelta(minutes=1)
        end = (job.ended_at or datetime.now(UTC)) + timedelta(minutes=1)
        # 1 s periods keep one point per epoch while the data is high-resolution (CloudWatch keeps that for
        # 3 hours); older jobs are read by the minute, as CloudWatch then requires.
        period = 1 if datetime.now(UTC) - start < timedelta(hours=3) else 60
        queries = [
            {
                "Id": f"m{i}",
                "Label": metric,
                "MetricStat": {
                    "Metric": {
                        "Namespace": METRIC_NAMESPACE,
                        "MetricName": metric,
                        "Dimensions": [{"Name": "Host", "Value": f"{job.name}/algo-1"}],
                    },
                    "Period": period,
                    "Stat": "Average",
                },
                "ReturnData": True,
            }
            for i, metric in enumerate(names[:500])
        ]
        by_id = {f"m{i}": metric for i, metric in enumerate(names)}
        series: dict[str, list[MetricPoint]] = {metric: [] for metric in names}
        request: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        try:
            while True:
                response = self._client("cloudwatch").get_metric_data(**request)
                for result in response.get("MetricDataResults", []):
                    metric = by_id.get(result["Id"])
                    if metric is None:
                        continue
                    series[metric] += [
                        MetricPoint(t, float(v)) for t, v in zip(result["Timestamps"], result["Values"], strict=False)
                    ]
                token = response.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the metrics of '{job.name}'") from exc
        for points in series.values():
            points.sort(key=lambda p: p.timestamp)
        return series


def _log_line(event: dict[str, Any]) -> LogLine:
    """A CloudWatch Logs event as a line: its time, its message without the trailing newline."""
    return LogLine(datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC), event["message"].rstrip("\n"))


_REGEX_SYNTAX = frozenset(".^$*+?{}[]\\|()")
_OPTIONAL_LAST = frozenset("*?{")


def _search_term(regex: str) -> str | None:
    """The plain text every match of a metric regex starts with (`train_loss=` of `train_loss=([0-9\\.]+)`):
    CloudWatch Logs then returns only lines that can match. None when that is under 3 characters or holds a
    quote, which a filter pattern cannot carry."""
    text = regex.removeprefix("^")
    end = next((i for i, char in enumerate(text) if char in _REGEX_SYNTAX), len(text))
    if end < len(text) and text[end] in _OPTIONAL_LAST:  # `ab?`: the b is optional
        end -= 1
    term = text[:end]
    return term if len(term) >= 3 and '"' not in term else None


def _job(raw: dict[str, Any]) -> TrainingJob:
    resources = raw.get("ResourceConfig", {})
    kind = resources.get("InstanceType", "")
    count = int(resources.get("InstanceCount", 1))
    billable = raw.get("BillableTimeInSeconds")
    price = hourly_price(kind)
    # AWS: "multiply BillableTimeInSeconds by the number of instances" for the compute time billed.
    cost = billable * count * price / 3600 if billable is not None and price is not None else None
    channel = next(
        (c for c in raw.get("InputDataConfig", []) if c.get("ChannelName") == CHANNEL),
        (raw.get("InputDataConfig") or [None])[0],
    )
    algorithm = raw.get("AlgorithmSpecification", {})
    hyperparameters = decode_hyperparameters(raw.get("HyperParameters", {}))
    return TrainingJob(
        name=raw["TrainingJobName"],
        arn=raw.get("TrainingJobArn", ""),
        status=raw["TrainingJobStatus"],
        secondary_status=raw.get("SecondaryStatus"),
        transitions=[
            StatusTransition(t["Status"], t.get("StartTime"), t.get("EndTime"), t.get("StatusMessage", ""))
            for t in raw.get("SecondaryStatusTransitions", [])
        ],
        created=raw.get("CreationTime"),
        started=raw.get("TrainingStartTime"),
        ended_at=raw.get("TrainingEndTime"),
        hyperparameters={k: v for k, v in hyperparameters.items() if k not in _SDK_HYPERPARAMETERS},
        final_metrics={m["MetricName"]: float(m["Value"]) for m in raw.get("FinalMetricDataList", [])},
        metric_definitions=tuple((m["Name"], m["Regex"]) for m in algorithm.get("MetricDefinitions", [])),
        billable_seconds=billable,
        cost_usd=cost,
        failure_reason=raw.get("FailureReason"),
        model_artifact=raw.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        instance_type=kind,
        instance_count=count,
        data_uri=channel["DataSource"]["S3DataSource"]["S3Uri"] if channel else None,
        output_path=raw.get("OutputDataConfig", {}).get("S3OutputPath"),
        max_runtime_s=raw.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
        role_arn=raw.get("RoleArn"),
        training_image=algorithm.get("TrainingImage"),
    )


def _stream_order(stream: str) -> tuple[int, str]:
    match = re.search(r"/algo-(\d+)", stream)
    return (int(match.group(1)) if match else 0, stream)


def _code(exc: Exception) -> str | None:
    return getattr(exc, "response", {}).get("Error", {}).get("Code")
