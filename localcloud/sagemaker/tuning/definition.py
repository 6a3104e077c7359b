"""What a CreateHyperParameterTuningJob request means, checked as SageMaker checks it.

botocore's model has already checked types, enums, lengths and list sizes (31 categorical values never
get here); this module adds the rules AWS enforces beyond the model: range bounds and scaling, Grid's
categorical-only ranges and its number of combinations, Hyperband's resources and early stopping, the
objective among the metric definitions, the parallel-job quota. Every check runs before anything is
stored, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from localcloud.core.protocol import AwsError, validation

MAX_PARALLEL_QUOTA = 10  # AWS's default quota: parallel training jobs per tuning job
MAX_HYPERBAND_RESOURCE = 20000
MAX_CATEGORICAL_VALUES = 30
HYPERPARAMETER_LIMIT = 100  # static + tuned
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")  # where Hyperband infers MaxResource


@dataclass(frozen=True)
class Range:
    """One tuned hyperparameter: numeric bounds with a scaling, or categorical values."""

    name: str
    kind: str  # Integer | Continuous | Categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The parts of a tuning job the scheduler and the search need, read once from its request."""

    strategy: str
    ranges: tuple[Range, ...]
    metric: str
    maximize: bool
    max_jobs: int
    max_parallel: int
    early_stopping: bool
    min_resource: int
    max_resource: int
    trial_epochs: int
    """The epochs static hyperparameters give each trial (0 when none names them)."""


def job_config(record: dict[str, Any]) -> dict[str, Any]:
    return record["HyperParameterTuningJobConfig"]


def definition(record: dict[str, Any]) -> dict[str, Any]:
    return record["TrainingJobDefinition"]


def objective(record: dict[str, Any]) -> dict[str, Any]:
    """The objective lives in the config (the SDK puts it there) or in the definition (TuningObjective)."""
    return job_config(record).get("HyperParameterTuningJobObjective") or definition(record).get("TuningObjective") or {}


def _raw_ranges(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return job_config(record).get("ParameterRanges") or definition(record).get("HyperParameterRanges") or {}


def _number(text: str, kind: str, name: str) -> float:
    try:
        value = int(text) if kind == "Integer" else float(text)
    except ValueError:
        raise validation(
            f"The {kind.lower()} hyperparameter range {name} has a MinValue or MaxValue '{text}' that is not "
            f"{'an integer' if kind == 'Integer' else 'a number'}."
        ) from None
    if not math.isfinite(value):
        raise validation(f"The hyperparameter range {name} needs finite bounds, not '{text}'.")
    return float(value)


def parse_ranges(record: dict[str, Any]) -> tuple[Range, ...]:
    """The ranges in request order (Integer, Continuous, Categorical), each checked."""
    raw = _raw_ranges(record)
    if raw.get("AutoParameters"):
        raise validation("AutoParameters need Autotune, which localcloud does not offer; give explicit ranges.")
    ranges: list[Range] = []
    for kind in ("Integer", "Continuous"):
        for item in raw.get(f"{kind}ParameterRanges") or []:
            name, scaling = item["Name"], item.get("ScalingType", "Auto")
            low, high = _number(item["MinValue"], kind, name), _number(item["MaxValue"], kind, name)
            if low >= high:
                raise validation(
                    f"The MinValue ({item['MinValue']}) of hyperparameter range {name} must be less than its "
                    f"MaxValue ({item['MaxValue']})."
                )
            if scaling == "Logarithmic" and low <= 0:
                raise validation(
                    f"Logarithmic scaling works only for ranges that have values greater than 0; hyperparameter "
                    f"{name} has MinValue {item['MinValue']}."
                )
            if scaling == "ReverseLogarithmic" and (kind == "Integer" or low < 0 or high >= 1):
                raise validation(
                    f"Reverse logarithmic scaling works only for continuous ranges that are entirely within "
                    f"0 <= x < 1.0; hyperparameter {name} is not."
                )
            ranges.append(Range(name, kind, low, high, scaling))
    for i, item in enumerate(raw.get("CategoricalParameterRanges") or [], 1):
        if len(item["Values"]) > MAX_CATEGORICAL_VALUES:  # botocore's validator leaves list maxima to the service
            raise validation(
                f"1 validation error detected: Value '{item['Values']}' at 'hyperParameterTuningJobConfig."
                f"parameterRanges.categoricalParameterRanges.{i}.member.values' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_CATEGORICAL_VALUES}"
            )
        if len(set(item["Values"])) != len(item["Values"]):
            raise validation(f"The categorical hyperparameter range {item['Name']} lists a value twice.")
        ranges.append(Range(item["Name"], "Categorical", values=tuple(item["Values"])))
    names = [r.name for r in ranges]
    if not ranges:
        raise validation("Provide at least one hyperparameter range to tune (ParameterRanges is empty).")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise validation(f"Hyperparameter range names must be unique: {twice}.")
    return tuple(ranges)


def combinations(ranges: tuple[Range, ...]) -> float:
    """How many distinct configurations the ranges hold (infinite with a continuous one)."""
    total = 1.0
    for r in ranges:
        if r.kind == "Continuous":
            return math.inf
        total *= len(r.values) if r.kind == "Categorical" else r.high - r.low + 1
    return total


def plan(record: dict[str, Any]) -> Plan:
    """Validate a stored or incoming tuning job and read what running it needs."""
    config, training = job_config(record), definition(record)
    strategy = config["Strategy"]
    ranges = parse_ranges(record)
    static = training.get("StaticHyperParameters") or {}
    clash = sorted({r.name for r in ranges} & set(static))
    if clash:
        raise validation(f"Hyperparameters {clash} are both static and tuned; each can be only one of them.")
    if len(static) + len(ranges) > HYPERPARAMETER_LIMIT:
        raise validation(f"A tuning job can have at most {HYPERPARAMETER_LIMIT} static and tuned hyperparameters.")

    goal = objective(record)
    if not goal:
        raise validation("HyperParameterTuningJobObjective is required (the metric to optimise and its Type).")
    metrics = [m["Name"] for m in training["AlgorithmSpecification"].get("MetricDefinitions") or []]
    if goal["MetricName"] not in metrics:
        raise validation(
            f"The objective metric for the hyperparameter tuning job, [{goal['MetricName']}], isn't valid for the "
            f"[{training['AlgorithmSpecification'].get('TrainingImage', '')}] algorithm. Choose a valid objective "
            f"metric: one of the MetricDefinitions {metrics}."
        )

    limits = config["ResourceLimits"]
    count = combinations(ranges)
    if strategy == "Grid":
        numeric = [r.name for r in ranges if r.kind != "Categorical"]
        if numeric:
            raise validation(
                f"The Grid search strategy supports only categorical hyperparameter ranges; {numeric} are not "
                "categorical."
            )
    max_jobs = limits.get("MaxNumberOfTrainingJobs")
    if max_jobs is None:
        if strategy != "Grid":
            raise validation(f"MaxNumberOfTrainingJobs is required for the {strategy} strategy.")
        max_jobs = int(count)
    if max_jobs > count:
        raise validation(
            "You don't have enough combinations of hyperparameter ranges. The total number of hyperparameter "
            f"combinations for the provided ranges [{count}] must be equal or greater than the value of "
            f"MaxNumberOfJobs, [{max_jobs}]. Provide additional ranges."
        )
    if strategy == "Grid" and max_jobs != count:
        raise validation(
            f"For the Grid search strategy, MaxNumberOfTrainingJobs ({max_jobs}) must be omitted or equal to the "
            f"number of hyperparameter combinations ({int(count)})."
        )
    parallel = limits["MaxParallelTrainingJobs"]
    if parallel > MAX_PARALLEL_QUOTA:
        raise AwsError(
            "ResourceLimitExceeded",
            f"The account-level service limit 'Number of parallel training jobs per tuning job' is "
            f"{MAX_PARALLEL_QUOTA}, and the request asks for {parallel} (MaxParallelTrainingJobs). Please use AWS "
            "Service Quotas to request an increase for this quota.",
        )
    if parallel > max_jobs:
        raise validation(
            f"MaxParallelTrainingJobs ({parallel}) cannot be greater than MaxNumberOfTrainingJobs ({max_jobs})."
        )

    if (config.get("TuningJobCompletionCriteria") or {}).get("ConvergenceDetected", {}).get(
        "CompleteOnConvergence"
    ) == "Enabled":
        raise validation("localcloud does not detect convergence; set CompleteOnConvergence to Disabled.")
    early = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
    epochs = _static_epochs(static)
    min_resource, max_resource = _hyperband(config, epochs, early) if strategy == "Hyperband" else (0, 0)
    return Plan(
        strategy, ranges, goal["MetricName"], goal["Type"] == "Maximize", max_jobs, parallel, early, min_resource,
        max_resource, epochs or 0,
    )  # fmt: skip


def _static_epochs(static: dict[str, str]) -> int | None:
    for key in EPOCH_KEYS:
        if key in static:
            try:
                return int(str(static[key]).strip('"'))
            except ValueError:
                return None
    return None


def _hyperband(config: dict[str, Any], epochs: int | None, early: bool) -> tuple[int, int]:
    if early:
        raise validation(
            "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy: Hyperband has its own "
            "early-stopping mechanism."
        )
    settings = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    max_resource = settings.get("MaxResource", epochs)
    if max_resource is None:
        raise validation(
            "Hyperband needs HyperbandStrategyConfig.MaxResource, or a static hyperparameter it can infer it from "
            f"({', '.join(EPOCH_KEYS)})."
        )
    min_resource = settings.get("MinResource", 1)
    if max_resource > MAX_HYPERBAND_RESOURCE:
        raise validation(f"MaxResource ({max_resource}) must be at most {MAX_HYPERBAND_RESOURCE}.")
    if min_resource >= max_resource:
        raise validation(f"MinResource ({min_resource}) must be less than MaxResource ({max_resource}).")
    return min_resource, max_resource


def check_definition(training: dict[str, Any]) -> None:
    """Trials are script-mode jobs with S3 channels; refuse at creation what every trial would fail on."""
    static = training.get("StaticHyperParameters") or {}
    if "sagemaker_program" not in static or "sagemaker_submit_directory" not in static:
        raise validation(
            "StaticHyperParameters must name sagemaker_program and sagemaker_submit_directory "
            "(script mode of the AWS framework containers)."
        )
    given = [key for key in ("ResourceConfig", "HyperParameterTuningResourceConfig") if key in training]
    if not given:
        raise validation(
            "TrainingJobDefinition needs ResourceConfig or HyperParameterTuningResourceConfig "
            "(instance type and count)."
        )
    if len(given) > 1:
        raise validation("Specify either ResourceConfig or HyperParameterTuningResourceConfig, not both.")
    for channel in training.get("InputDataConfig") or []:
        uri = channel["DataSource"].get("S3DataSource", {}).get("S3Uri", "")
        if not uri.startswith("s3://"):
            raise validation(f"Channel {channel['ChannelName']} needs an S3 data source (s3://bucket/prefix).")


def trial_resources(training: dict[str, Any]) -> dict[str, Any]:
    """The ResourceConfig every trial runs with: the definition's own, or the one its
    HyperParameterTuningResourceConfig describes (what recent SageMaker Python SDKs send), taking the first of
    its InstanceConfigs where it names no instance type, as a Prioritized allocation starts."""
    if "ResourceConfig" in training:
        return training["ResourceConfig"]
    tuning = training["HyperParameterTuningResourceConfig"]
    first = (tuning.get("InstanceConfigs") or [{}])[0]
    resources = {
        "InstanceType": tuning.get("InstanceType") or first.get("InstanceType", "ml.m5.large"),
        "InstanceCount": tuning.get("InstanceCount") or first.get("InstanceCount", 1),
        "VolumeSizeInGB": tuning.get("VolumeSizeInGB") or first.get("VolumeSizeInGB", 30),
    }
    if "VolumeKmsKeyId" in tuning:
        resources["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    return resources


def check_warm_start(record: dict[str, Any], parents: list[dict[str, Any]]) -> None:
    """Parents must have ended; IdenticalDataAndAlgorithm also needs the same data, image and static values."""
    warm = record.get("WarmStartConfig")
    if not warm:
        return
    mine = definition(record)
    for parent in parents:
        name = parent["HyperParameterTuningJobName"]
        if parent["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping"):
            raise validation(f"The parent tuning job {name} has not ended; warm start needs finished parents.")
        if objective(parent).get("MetricName") != objective(record).get("MetricName"):
            raise validation(f"The parent tuning job {name} optimised another objective metric.")
        if warm["WarmStartType"] != "IdenticalDataAndAlgorithm":
            continue
        theirs = definition(parent)
        same = (
            theirs["AlgorithmSpecification"].get("TrainingImage") == mine["AlgorithmSpecification"].get("TrainingImage")
            and theirs.get("InputDataConfig") == mine.get("InputDataConfig")
            and theirs.get("StaticHyperParameters") == mine.get("StaticHyperParameters")
        )
        if not same:
            raise validation(
                f"IdenticalDataAndAlgorithm warm start needs the parent tuning job {name}'s training image, input "
                "data and static hyperparameters unchanged; use TransferLearning when they differ."
            )
