"""Tuning jobs as the dashboard reads them: DescribeHyperParameterTuningJob, ListHyperParameterTuningJobs and
ListTrainingJobsForHyperParameterTuningJob answers as typed records, with tuned values decoded, durations
and notional spend worked out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.core.pricing import hourly_price
from services.training.job_spec import decode_hyperparameters

ENDED = frozenset({"Completed", "Failed", "Stopped"})
TUNING_STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
TRIAL_RUNNING = frozenset({"InProgress", "Stopping"})


@dataclass(frozen=True)
class Trial:
    """One trial (a training job the tuning job launched), from HyperParameterTrainingJobSummary."""

    name: str
    status: str
    tuned: dict[str, Any]
    objective: float | None
    objective_status: str | None
    created: datetime | None
    started: datetime | None
    ended_at: datetime | None
    failure_reason: str | None

    def duration_s(self, now: datetime) -> float | None:
        """Training start to end (to `now` while it runs): the billed part of the trial."""
        start = self.started or self.created
        if start is None:
            return None
        return max(0.0, ((self.ended_at or now) - start).total_seconds())


@dataclass(frozen=True)
class TuningJob:
    """What DescribeHyperParameterTuningJob says, decoded; `raw` is kept for Clone."""

    name: str
    arn: str
    status: str
    strategy: str
    objective_metric: str
    objective_type: str
    early_stopping: str
    max_jobs: int | None
    max_parallel: int
    status_counters: dict[str, int]
    objective_counters: dict[str, int]
    best: Trial | None
    created: datetime | None
    ended_at: datetime | None
    failure_reason: str | None
    runtime_s: int | None
    instance_type: str
    instance_count: int
    tuned_names: tuple[str, ...]
    data_uri: str | None
    completion_reason: str | None
    raw: dict[str, Any]

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def maximize(self) -> bool:
        return self.objective_type == "Maximize"

    def elapsed_s(self, now: datetime) -> float | None:
        if self.created is None:
            return None
        return max(0.0, ((self.ended_at or now) - self.created).total_seconds())

    def spend(self, trials: list[Trial], now: datetime) -> float | None:
        """Notional USD so far: every trial's training time × instances × list price (None: unknown type)."""
        price = hourly_price(self.instance_type)
        if price is None:
            return None
        seconds = sum(trial.duration_s(now) or 0.0 for trial in trials)
        return seconds * self.instance_count * price / 3600


@dataclass(frozen=True)
class TuningSummary:
    """One row of the tuning job list (ListHyperParameterTuningJobs alone: no describe per row)."""

    name: str
    status: str
    strategy: str
    status_counters: dict[str, int]
    objective_counters: dict[str, int]
    created: datetime | None
    ended_at: datetime | None

    def duration_s(self, now: datetime) -> float | None:
        if self.created is None:
            return None
        return max(0.0, ((self.ended_at or now) - self.created).total_seconds())


def tuned_value(text: Any) -> Any:
    """A tuned value as the trial got it, decoded: `'"64"'` → 64 (a number where it reads as one)."""
    value = decode_hyperparameters({"v": str(text)})["v"]
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def parse_trial(raw: dict[str, Any]) -> Trial:
    objective = raw.get("FinalHyperParameterTuningJobObjectiveMetric")
    return Trial(
        name=raw["TrainingJobName"],
        status=raw["TrainingJobStatus"],
        tuned={k: tuned_value(v) for k, v in raw.get("TunedHyperParameters", {}).items()},
        objective=float(objective["Value"]) if objective else None,
        objective_status=raw.get("ObjectiveStatus"),
        created=raw.get("CreationTime"),
        started=raw.get("TrainingStartTime"),
        ended_at=raw.get("TrainingEndTime"),
        failure_reason=raw.get("FailureReason"),
    )


def trial_resources(definition: dict[str, Any]) -> dict[str, Any]:
    """What each trial runs on: the definition's ResourceConfig, or the instance type, count and volume of its
    HyperParameterTuningResourceConfig (recent SageMaker Python SDKs send that one), the first InstanceConfigs
    entry where it names no type."""
    if "ResourceConfig" in definition:
        return definition["ResourceConfig"]
    tuning = definition.get("HyperParameterTuningResourceConfig") or {}
    first = (tuning.get("InstanceConfigs") or [{}])[0]
    return {key: tuning.get(key) or first.get(key) for key in ("InstanceType", "InstanceCount", "VolumeSizeInGB")}


def parse_tuning_job(raw: dict[str, Any]) -> TuningJob:
    config, definition = raw["HyperParameterTuningJobConfig"], raw.get("TrainingJobDefinition", {})
    goal = config.get("HyperParameterTuningJobObjective") or definition.get("TuningObjective") or {}
    ranges = config.get("ParameterRanges") or definition.get("HyperParameterRanges") or {}
    resources = trial_resources(definition)
    channel = (definition.get("InputDataConfig") or [{}])[0]
    details = raw.get("TuningJobCompletionDetails") or {}
    best = raw.get("BestTrainingJob")
    return TuningJob(
        name=raw["HyperParameterTuningJobName"],
        arn=raw.get("HyperParameterTuningJobArn", ""),
        status=raw["HyperParameterTuningJobStatus"],
        strategy=config["Strategy"],
        objective_metric=goal.get("MetricName", ""),
        objective_type=goal.get("Type", "Minimize"),
        early_stopping=config.get("TrainingJobEarlyStoppingType", "Off"),
        max_jobs=config["ResourceLimits"].get("MaxNumberOfTrainingJobs"),
        max_parallel=config["ResourceLimits"]["MaxParallelTrainingJobs"],
        status_counters=raw.get("TrainingJobStatusCounters", {}),
        objective_counters=raw.get("ObjectiveStatusCounters", {}),
        best=parse_trial(best) if best else None,
        created=raw.get("CreationTime"),
        ended_at=raw.get("HyperParameterTuningEndTime"),
        failure_reason=raw.get("FailureReason"),
        runtime_s=(raw.get("ConsumedResources") or {}).get("RuntimeInSeconds"),
        instance_type=resources.get("InstanceType", ""),
        instance_count=int(resources.get("InstanceCount", 1)),
        tuned_names=tuple(r["Name"] for kind in sorted(ranges) for r in ranges[kind] or []),
        data_uri=channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri"),
        completion_reason=_completion_reason(config, details, best),
        raw=raw,
    )


def _completion_reason(config: dict[str, Any], details: dict[str, Any], best: dict[str, Any] | None) -> str | None:
    """Which completion criterion ended the job early, if one was set and met (AWS reports the count of jobs
    not improving whether or not that criterion was asked for)."""
    criteria = config.get("TuningJobCompletionCriteria") or {}
    goal = config.get("HyperParameterTuningJobObjective") or {}
    target = criteria.get("TargetObjectiveMetricValue")
    value = (best or {}).get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
    if target is not None and value is not None:
        reached = value >= target if goal.get("Type") == "Maximize" else value <= target
        if reached:
            return f"the best objective ({value:.4g}) reached the target {target:g}"
    limit = (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
    jobs = details.get("NumberOfTrainingJobsObjectiveNotImproving")
    if limit and jobs and jobs >= limit:
        return f"the best objective did not improve for {jobs} jobs (limit {limit})"
    return None


def parse_summary(raw: dict[str, Any]) -> TuningSummary:
    return TuningSummary(
        name=raw["HyperParameterTuningJobName"],
        status=raw["HyperParameterTuningJobStatus"],
        strategy=raw.get("Strategy", ""),
        status_counters=raw.get("TrainingJobStatusCounters", {}),
        objective_counters=raw.get("ObjectiveStatusCounters", {}),
        created=raw.get("CreationTime"),
        ended_at=raw.get("HyperParameterTuningEndTime"),
    )
