"""What an operator asks of a hyperparameter tuning job, checked with AWS's own limits and reasons and turned
into the CreateHyperParameterTuningJob request.

The training job definition is the Train form's (services/training/job_spec.py): the same image, channel, code
and metric definitions, with the tuned hyperparameters taken out of the static ones. Requests are shaped as
the SageMaker Python SDK's HyperparameterTuner sends them: static and categorical values JSON-quoted,
continuous and integer bounds bare strings, the objective and ranges in HyperParameterTuningJobConfig.
Every check runs before the first call, so a refused spec creates nothing.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from services.core.errors import ServiceError
from services.core.pricing import estimate_cost
from services.training.job_spec import (
    TrainingSpec,
    validate_spec,
)

STRATEGIES = ("Bayesian", "Random", "Grid", "Hyperband")
SCALINGS = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
KINDS = ("Continuous", "Integer", "Categorical")
OBJECTIVE_TYPES = ("Minimize", "Maximize")
EARLY_STOPPING = ("Off", "Auto")
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")
MAX_PARALLEL_QUOTA = 10
"""AWS's default quota: 'Number of parallel training jobs per tuning job'."""
MAX_CATEGORICAL_VALUES = 30
MAX_RANGES = 30
MAX_HYPERPARAMETERS = 100
MAX_HYPERBAND_RESOURCE = 20000
MAX_WARM_PARENTS = 5
MIN_NOT_IMPROVING = 3
TUNABLE = {"learning_rate": "Continuous", "batch_size": "Integer", "epochs": "Integer", "fine_tune": "Categorical"}
"""The training script's hyperparameters (classifier/training/config.py) and the kind of range each takes
at its widest (an integer one may also be tuned as categorical values)."""

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")


@dataclass(frozen=True)
class ParameterRange:
    """One tuned hyperparameter: numeric bounds (Continuous, Integer) with a scaling, or categorical values."""

    name: str
    kind: str
    min_value: float | None = None
    max_value: float | None = None
    scaling: str = "Auto"
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class TuningSpec:
    """Everything the Tune form asks for. `training.job_name` is ignored: trials are named by SageMaker
    (`<tuning-name>-NNN-<8 hex>`)."""

    name: str
    training: TrainingSpec
    objective_metric: str
    objective_type: str
    ranges: tuple[ParameterRange, ...]
    strategy: str = "Bayesian"
    max_jobs: int | None = 2
    max_parallel: int = 1
    early_stopping: str = "Off"
    min_resource: int | None = None
    max_resource: int | None = None
    target_value: float | None = None
    not_improving_jobs: int | None = None
    random_seed: int | None = None
    warm_start_parents: tuple[str, ...] = field(default_factory=tuple)
    warm_start_type: str = "TransferLearning"

    @property
    def tuned(self) -> set[str]:
        return {r.name for r in self.ranges}

    def static_hyperparameters(self) -> dict[str, Any]:
        """The script's arguments that stay fixed: the training spec's, less the tuned ones."""
        return {k: v for k, v in self.training.hyperparameters().items() if k not in self.tuned}


def generate_tuning_name(base: str = "tune") -> str:
    """`<base>-YYMMDD-HHMMSS`, cut so the whole stays within AWS's 32 characters."""
    stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime())
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", base).strip("-")[: 32 - len(stamp) - 1] or "tune"
    return f"{base}-{stamp}"


def check_tuning_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise ServiceError(
            f"'{name}' is not a valid tuning job name: 1–32 letters, digits and hyphens, starting and ending "
            "with a letter or digit."
        )
    return name


def grid_size(ranges: tuple[ParameterRange, ...]) -> float:
    """How many distinct configurations the ranges hold (infinite with a continuous one): what Grid runs."""
    total = 1.0
    for r in ranges:
        if r.kind == "Continuous":
            return math.inf
        if r.kind == "Categorical":
            total *= len(r.values)
        elif r.min_value is not None and r.max_value is not None:
            total *= max(0, int(r.max_value) - int(r.min_value) + 1)
    return total


def trial_count(spec: TuningSpec) -> int | None:
    """Trials the job will run at most (Grid without a maximum: every combination); None when unknown."""
    if spec.max_jobs is not None:
        return spec.max_jobs
    size = grid_size(spec.ranges)
    return int(size) if spec.strategy == "Grid" and math.isfinite(size) else None


def max_cost(spec: TuningSpec) -> float | None:
    """USD if every trial runs its full max runtime: the ceiling an operator agrees to at launch."""
    trials = trial_count(spec)
    if trials is None:
        return None
    return trials * estimate_cost(
        spec.training.instance_type, spec.training.instance_count, spec.training.max_runtime_s
    )


def _range_problems(spec: TuningSpec) -> list[str]:
    problems: list[str] = []
    if not spec.ranges:
        problems.append("Provide at least one hyperparameter range to tune.")
    if len(spec.ranges) > MAX_RANGES:
        problems.append(f"At most {MAX_RANGES} hyperparameter ranges.")
    names = [r.name for r in spec.ranges]
    if len(set(names)) != len(names):
        problems.append(
            f"Hyperparameter range names must be unique: {sorted({n for n in names if names.count(n) > 1})}."
        )
    for r in spec.ranges:
        if r.name not in TUNABLE:
            problems.append(f"'{r.name}' is not a hyperparameter of the training script ({', '.join(TUNABLE)}).")
            continue
        if r.kind not in KINDS:
            problems.append(f"Range kind of {r.name} must be one of {', '.join(KINDS)}.")
        elif r.kind == "Categorical":
            if not 1 <= len(r.values) <= MAX_CATEGORICAL_VALUES:
                problems.append(
                    f"Value '{list(r.values)}' at 'hyperParameterTuningJobConfig.parameterRanges."
                    f"categoricalParameterRanges.member.values' failed to satisfy constraint: Member must have length "
                    f"less than or equal to {MAX_CATEGORICAL_VALUES} and greater than or equal to 1 "
                    f"({r.name} has {len(r.values)} values)."
                )
            if len(set(r.values)) != len(r.values):
                problems.append(f"The categorical hyperparameter range {r.name} lists a value twice.")
            if any(len(v) > 256 for v in r.values):
                problems.append(f"Each value of {r.name} is at most 256 characters.")
        else:
            problems += _numeric_problems(r)
    return problems


def _numeric_problems(r: ParameterRange) -> list[str]:
    if TUNABLE[r.name] == "Categorical":
        return [f"{r.name} takes only categorical values."]
    if r.kind == "Continuous" and TUNABLE[r.name] == "Integer":
        return [f"{r.name} is a whole number: tune it as an Integer or Categorical range."]
    if r.scaling not in SCALINGS:
        return [f"Scaling of {r.name} must be one of {', '.join(SCALINGS)}."]
    if r.min_value is None or r.max_value is None or not all(map(math.isfinite, (r.min_value, r.max_value))):
        return [f"The hyperparameter range {r.name} needs a finite MinValue and MaxValue."]
    if r.min_value >= r.max_value:
        return [
            f"The MinValue ({r.min_value:g}) of hyperparameter range {r.name} must be less than its MaxValue "
            f"({r.max_value:g})."
        ]
    if r.kind == "Integer" and (r.min_value != int(r.min_value) or r.max_value != int(r.max_value)):
        return [f"The integer hyperparameter range {r.name} needs whole-number bounds."]
    if r.scaling == "Logarithmic" and r.min_value <= 0:
        return [
            f"Logarithmic scaling works only for ranges that have values greater than 0; hyperparameter {r.name} "
            f"has MinValue {r.min_value:g}."
        ]
    if r.scaling == "ReverseLogarithmic" and (r.kind == "Integer" or r.min_value < 0 or r.max_value >= 1):
        return [
            f"Reverse logarithmic scaling works only for continuous ranges that are entirely within 0 <= x < 1.0; "
            f"hyperparameter {r.name} is not."
        ]
    if r.name in {"learning_rate", "batch_size", "epochs"} and r.min_value <= 0:
        return [f"{r.name} must be greater than 0 in every trial (MinValue {r.min_value:g})."]
    return []


def _strategy_problems(spec: TuningSpec) -> list[str]:
    problems: list[str] = []
    if spec.strategy not in STRATEGIES:
        return [f"Strategy must be one of {', '.join(STRATEGIES)}."]
    size = grid_size(spec.ranges)
    if spec.strategy == "Grid":
        numeric = [r.name for r in spec.ranges if r.kind != "Categorical"]
        if numeric:
            problems.append(
                f"The Grid search strategy supports only categorical hyperparameter ranges; {numeric} are not "
                "categorical."
            )
        elif spec.max_jobs is not None and spec.max_jobs != size:
            problems.append(
                f"For the Grid search strategy, MaxNumberOfTrainingJobs ({spec.max_jobs}) must be omitted or equal "
                f"to the number of hyperparameter combinations ({int(size)})."
            )
    elif spec.max_jobs is None:
        problems.append(f"MaxNumberOfTrainingJobs is required for the {spec.strategy} strategy.")
    if spec.max_jobs is not None and spec.max_jobs > size:
        problems.append(
            "You don't have enough combinations of hyperparameter ranges. The total number of hyperparameter "
            f"combinations for the provided ranges [{size}] must be equal or greater than the value of "
            f"MaxNumberOfJobs, [{spec.max_jobs}]. Provide additional ranges."
        )
    if spec.early_stopping not in EARLY_STOPPING:
        problems.append("Early stopping is Off or Auto.")
    if spec.strategy == "Hyperband":
        if spec.early_stopping == "Auto":
            problems.append(
                "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy: Hyperband has its own "
                "early-stopping mechanism."
            )
        low, high = spec.min_resource or 1, spec.max_resource or spec.training.epochs
        if low < 1 or high > MAX_HYPERBAND_RESOURCE or low >= high:
            problems.append(
                f"Hyperband needs 1 ≤ MinResource < MaxResource ≤ {MAX_HYPERBAND_RESOURCE} (got {low} and {high}); "
                "MaxResource defaults to the static epochs."
            )
    return problems


def _limit_problems(spec: TuningSpec) -> list[str]:
    problems: list[str] = []
    trials = trial_count(spec)
    if spec.max_jobs is not None and spec.max_jobs < 1:
        problems.append("MaxNumberOfTrainingJobs must be at least 1.")
    if spec.max_parallel < 1:
        problems.append("MaxParallelTrainingJobs must be at least 1.")
    elif spec.max_parallel > MAX_PARALLEL_QUOTA:
        problems.append(
            f"The account-level service limit 'Number of parallel training jobs per tuning job' is "
            f"{MAX_PARALLEL_QUOTA}, and the request asks for {spec.max_parallel} (MaxParallelTrainingJobs). Use "
            "AWS Service Quotas to request an increase."
        )
    if trials is not None and spec.max_parallel > trials:
        problems.append(
            f"MaxParallelTrainingJobs ({spec.max_parallel}) cannot be greater than MaxNumberOfTrainingJobs ({trials})."
        )
    if spec.not_improving_jobs is not None and spec.not_improving_jobs < MIN_NOT_IMPROVING:
        problems.append(f"'Best not improving for N jobs' must be at least {MIN_NOT_IMPROVING}.")
    if spec.target_value is not None and not math.isfinite(spec.target_value):
        problems.append("The target objective value must be a finite number.")
    if spec.random_seed is not None and spec.random_seed < 0:
        problems.append("The random seed must be 0 or more.")
    if len(spec.warm_start_parents) > MAX_WARM_PARENTS:
        problems.append(f"Warm start takes 1 to {MAX_WARM_PARENTS} parent tuning jobs.")
    if spec.warm_start_parents and spec.warm_start_type not in WARM_START_TYPES:
        problems.append(f"Warm start type must be one of {', '.join(WARM_START_TYPES)}.")
    if spec.name in spec.warm_start_parents:
        problems.append("A tuning job cannot warm start from itself.")
    return problems


def validate_tuning_spec(spec: TuningSpec, *, train_size: int | None = None) -> None:
    """Every problem with `spec` in one message, with AWS's reasons, or nothing."""
    problems: list[str] = []
    try:
        check_tuning_name(spec.name)
    except ServiceError as exc:
        problems.append(exc.message)
    try:
        # A tuned batch size replaces the static one, so only a static batch size is bounded by the split.
        bounded = None if "batch_size" in spec.tuned else train_size
        validate_spec(replace(spec.training, job_name="x"), train_size=bounded)
    except ServiceError as exc:
        problems.append(exc.message)
    metrics = [name for name, _ in spec.training.metric_definitions]
    if spec.objective_metric not in metrics:
        problems.append(
            f"The objective metric for the hyperparameter tuning job, [{spec.objective_metric}], isn't valid. "
            f"Choose a valid objective metric: one of the metric definitions {metrics}."
        )
    if spec.objective_type not in OBJECTIVE_TYPES:
        problems.append("The objective type is Minimize or Maximize.")
    problems += _range_problems(spec) + _strategy_problems(spec) + _limit_problems(spec)
    if train_size is not None:
        big = sorted({v for r in spec.ranges if r.name == "batch_size" for v in _batch_sizes(r) if v > train_size})
        if big:
            problems.append(
                f"Batch sizes {big} are larger than the training split ({train_size} images): the training script "
                f"refuses them, so those trials would fail. Tune batch sizes of at most {train_size}."
            )
    if len(spec.static_hyperparameters()) + len(spec.ranges) > MAX_HYPERPARAMETERS:
        problems.append(f"At most {MAX_HYPERPARAMETERS} static and tuned hyperparameters.")
    if problems:
        raise ServiceError(" ".join(dict.fromkeys(problems)), code="ValidationError")


ORIGINAL_RANGES = (
    ParameterRange("learning_rate", "Continuous", 0.001, 0.1, "Auto"),
    ParameterRange("batch_size", "Categorical", values=("32", "64", "128", "256", "512")),
)
ORIGINAL_OBJECTIVE = ("Test Loss", r"Testing Loss: ([0-9\.]+)")
"""The original project's tuning (hpo.py's HyperparameterTuner): learning_rate 0.001–0.1, batch_size
32/64/128/256/512, objective "Test Loss" read with `Testing Loss: ([0-9\\.]+)`, Minimize, 2 jobs."""


def original_preset(training: TrainingSpec, *, name: str) -> TuningSpec:
    """The original project's tuning job on the given training definition, its objective metric added."""
    definitions = training.metric_definitions
    if ORIGINAL_OBJECTIVE[0] not in {metric for metric, _ in definitions}:
        definitions = (*definitions, ORIGINAL_OBJECTIVE)
    return TuningSpec(
        name=name,
        training=replace(training, metric_definitions=definitions),
        objective_metric=ORIGINAL_OBJECTIVE[0],
        objective_type="Minimize",
        ranges=ORIGINAL_RANGES,
        strategy="Bayesian",
        max_jobs=2,
        max_parallel=1,
    )


def fit_to_training_split(spec: TuningSpec, train_size: int) -> tuple[TuningSpec, list[str]]:
    """`spec` with no trial able to draw a batch size above `train_size` (the training script refuses one larger
    than the training split, so such a trial would fail), and a sentence for each range it changed."""
    fitted: list[ParameterRange] = []
    changes: list[str] = []
    for r in spec.ranges:
        new = _fitted_batch_range(r, train_size) if r.name == "batch_size" else r
        if new != r:
            changes.append(
                f"batch_size {_range_text(r)} became {_range_text(new)}: the training split has {train_size} "
                f"images, and the training script refuses a batch larger than that."
            )
        fitted.append(new)
    return replace(spec, ranges=tuple(fitted)), changes


def _fitted_batch_range(r: ParameterRange, train_size: int) -> ParameterRange:
    """Categorical values that fit (else the largest power of two that does), or an integer range cut at the
    split's size (a single categorical value when nothing of the range is left)."""
    largest = 2 ** int(math.log2(max(1, train_size)))
    if r.kind == "Categorical":
        sizes = _batch_sizes(r)
        if len(sizes) != len(r.values) or max(sizes, default=0) <= train_size:
            return r  # non-numeric values are the range check's to report; nothing to fit
        kept = tuple(v for v in r.values if int(v) <= train_size)
        return replace(r, values=kept or (str(largest),))
    if r.kind != "Integer" or r.max_value is None or r.max_value <= train_size:
        return r
    if r.min_value is None or r.min_value >= train_size:
        return ParameterRange(r.name, "Categorical", values=(str(largest),))
    return replace(r, max_value=float(train_size))


def _range_text(r: ParameterRange) -> str:
    if r.kind == "Categorical":
        return "/".join(r.values)
    return "–".join("?" if bound is None else f"{bound:g}" for bound in (r.min_value, r.max_value))


def _batch_sizes(r: ParameterRange) -> list[int]:
    if r.kind == "Categorical":
        return [int(v) for v in r.values if v.strip().isdigit()]
    return [int(r.max_value)] if r.max_value is not None else []
