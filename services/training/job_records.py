"""Training jobs as the dashboard reads them: DescribeTrainingJob and ListTrainingJobs answers turned into
typed records, with hyperparameters decoded and the notional cost worked out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.core.pricing import hourly_price
from services.training.curves import LogLine
from services.training.job_spec import CHANNEL, SDK_HYPERPARAMETERS, decode_hyperparameters

ENDED = frozenset({"Completed", "Failed", "Stopped"})
RUNNING = frozenset({"InProgress", "Stopping"})
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")


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
    dashboard has no price for, or before billing starts; 0 for a job that ended without billable time).
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
    tuning_job: str | None = None  # the hyperparameter tuning job that ran it as a trial
    model_saved: bool | None = None
    """Whether model.tar.gz is in S3: True once Completed; for a Stopped job, whatever its script saved
    when told to stop (looked up); None while the job runs or after it failed."""

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def epochs(self) -> int | None:
        """The epochs asked for (the `epochs` hyperparameter), if the job has one."""
        try:
            return int(self.hyperparameters["epochs"])
        except (KeyError, TypeError, ValueError):
            return None

    def duration_s(self, now: datetime) -> float | None:
        """Creation to end (to `now` while it runs): how long the operator waited for it."""
        if self.created is None:
            return None
        return max(0.0, ((self.ended_at or now) - self.created).total_seconds())

    def notional_cost(self, now: datetime) -> float | None:
        """`cost_usd` once billing is known; while it runs, the list price × instances × time since training
        started (None before that, or for a type the dashboard does not price)."""
        if self.cost_usd is not None or self.billable_seconds is not None:
            return self.cost_usd
        price = hourly_price(self.instance_type)
        if price is None or self.started is None:
            return None
        return price * self.instance_count * max(0.0, (now - self.started).total_seconds()) / 3600


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
class LogPage:
    """Log lines of one stream, oldest first, with tokens to page to older or newer lines.

    `streams` lists all of the job's streams (one per instance and restart: `<job>/algo-<n>-<epoch>`).
    """

    stream: str | None
    streams: list[str]
    lines: list[LogLine]
    older_token: str | None
    newer_token: str | None


def parse_job(raw: dict[str, Any], *, model_saved: bool | None = None) -> TrainingJob:
    """A DescribeTrainingJob answer as a record; `model_saved` as the caller looked it up."""
    resources = raw.get("ResourceConfig", {})
    kind = resources.get("InstanceType", "")
    count = int(resources.get("InstanceCount", 1))
    billable = raw.get("BillableTimeInSeconds")
    price = hourly_price(kind)
    # AWS: "multiply BillableTimeInSeconds by the number of instances" for the compute time billed.
    cost = billable * count * price / 3600 if billable is not None and price is not None else None
    if billable is None and raw["TrainingJobStatus"] in ENDED:
        cost = 0.0  # it ended before training started (a failed download, say): nothing was billed
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
        hyperparameters={k: v for k, v in hyperparameters.items() if k not in SDK_HYPERPARAMETERS},
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
        tuning_job=raw.get("TuningJobArn", "").rsplit("/", 1)[-1] or None,
        model_saved=model_saved,
    )
