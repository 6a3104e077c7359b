"""SageMaker hyperparameter tuning jobs: launch, list, describe, trials, stop, clone, and each trial's
objective per epoch.

The spec is checked (services/tuning/spec.py) and the dataset read before any call that changes anything;
a launch refused after uploading the code removes what it uploaded. Reading goes through
DescribeHyperParameterTuningJob, ListHyperParameterTuningJobs, ListTrainingJobsForHyperParameterTuningJob
and the trials' log lines, as the SageMaker console and the SDK's tuner analytics do.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.training.curves import series_from_logs
from services.training.job_spec import TrainingSpec
from services.training.sagemaker_training import TrainingService
from services.tuning.request import build_tuning_request, spec_from_description
from services.tuning.spec import (
    TuningSpec,
    check_tuning_name,
    fit_to_training_split,
    generate_tuning_name,
    original_preset,
    validate_tuning_spec,
)
from services.tuning.tuning_records import (
    TUNING_STATUSES,
    Trial,
    TuningJob,
    TuningSummary,
    parse_summary,
    parse_trial,
    parse_tuning_job,
)

LIST_SORT_KEYS = ("CreationTime", "Name", "Status")
MAX_TRIALS_READ = 5000
"""Trials read for one tuning job (50 pages of 100): far above AWS's limit of 500 training jobs per job."""
CURVE_THREADS = 8


@dataclass(frozen=True)
class TuningPage:
    jobs: list[TuningSummary]
    next_token: str | None

    @property
    def any_running(self) -> bool:
        return any(job.status in {"InProgress", "Stopping"} for job in self.jobs)


class TuningService(AwsService):
    """Launches and reads hyperparameter tuning jobs through boto3 (AWS or localcloud alike)."""

    def __init__(self, settings: CloudSettings | None = None, training: TrainingService | None = None) -> None:
        super().__init__(settings)
        self.training = training or TrainingService(settings=self._settings)

    def _sagemaker(self) -> Any:
        return self._client("sagemaker")

    # -- launch ---------------------------------------------------------------------------------------
    def check(self, spec: TuningSpec) -> int:
        """Validate `spec` fully: its fields, the dataset (it needs train/), and that the name is free.
        Returns the number of classes in the dataset."""
        validate_tuning_spec(spec)
        channel = urlsplit(spec.training.data_uri)
        summary = self.training.datasets().summarize_dataset(channel.netloc, channel.path.lstrip("/"))
        validate_tuning_spec(spec, train_size=summary.train_size)
        if self._exists(spec.name):
            raise ServiceError(
                f"Hyperparameter tuning job names must be unique within an AWS account and region, and a "
                f"hyperparameter tuning job named '{spec.name}' already exists. Choose another name.",
                code="ResourceInUse",
            )
        return len(summary.classes)

    def original_preset(self, training: TrainingSpec, *, name: str) -> tuple[TuningSpec, list[str]]:
        """The original project's tuning on `training`, fitted to its dataset's training split (its batch sizes
        reach 512, more than a small sample holds), with a sentence per change; as it is while no dataset is
        chosen or the dataset has no train/ split (launching says so)."""
        spec = original_preset(training, name=name)
        channel = urlsplit(training.data_uri)
        if channel.scheme != "s3" or not channel.netloc:
            return spec, []
        summary = self.training.datasets().summarize_dataset(channel.netloc, channel.path.lstrip("/"))
        return fit_to_training_split(spec, summary.train_size) if summary.train_size else (spec, [])

    def _exists(self, name: str) -> bool:
        try:
            self._sagemaker().describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in {"ResourceNotFound", "ValidationException"}:
                return False
            raise from_client_error(exc, what=f"look up tuning job '{name}'") from exc
        return True

    def launch(self, spec: TuningSpec) -> str:
        """Upload the training code and create the tuning job; returns its ARN."""
        self.check(spec)
        role = spec.training.role_arn or self.training.default_role_arn()
        request = build_tuning_request(spec, region=self._settings.region, role_arn=role)
        static = request["TrainingJobDefinition"]["StaticHyperParameters"]
        uploaded = None
        if spec.warm_start_parents and spec.warm_start_type == "IdenticalDataAndAlgorithm":
            # The same algorithm means the parent's code too: its static hyperparameters name where it is.
            parent = self.describe(spec.warm_start_parents[0]).raw["TrainingJobDefinition"]
            static["sagemaker_submit_directory"] = parent["StaticHyperParameters"]["sagemaker_submit_directory"]
        else:
            uploaded = self.training.upload_code(replace(spec.training, job_name=spec.name))
        try:
            response = self._sagemaker().create_hyper_parameter_tuning_job(**request)
        except BOTO_ERRORS as exc:
            if uploaded:
                self.training.delete_code(*uploaded)
            raise from_client_error(exc, what=f"launch tuning job '{spec.name}'") from exc
        return response["HyperParameterTuningJobArn"]

    # -- read ------------------------------------------------------------------------------------------
    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        sort_by: str = "CreationTime",
        sort_order: str = "Descending",
        next_token: str | None = None,
        max_results: int = 100,
    ) -> TuningPage:
        """One page of ListHyperParameterTuningJobs (its summaries carry counters: no describe per row)."""
        if status is not None and status not in TUNING_STATUSES:
            raise ServiceError(f"Unknown status '{status}'; choose one of {', '.join(TUNING_STATUSES)}.")
        if sort_by not in LIST_SORT_KEYS:
            raise ServiceError(f"Sort by one of {', '.join(LIST_SORT_KEYS)}.")
        if sort_order not in {"Ascending", "Descending"}:
            raise ServiceError("Sort order is Ascending or Descending.")
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
            response = self._sagemaker().list_hyper_parameter_tuning_jobs(**request)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list tuning jobs") from exc
        jobs = [parse_summary(s) for s in response.get("HyperParameterTuningJobSummaries", [])]
        return TuningPage(jobs, response.get("NextToken") or None)

    def describe(self, name: str) -> TuningJob:
        check_tuning_name(name)
        try:
            raw = self._sagemaker().describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe tuning job '{name}'") from exc
        return parse_tuning_job(raw)

    def trials(self, name: str) -> list[Trial]:
        """Every trial, oldest first, paged as the SDK's analytics pages (MaxResults 100, NextToken)."""
        check_tuning_name(name)
        request: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
        trials: list[Trial] = []
        try:
            while len(trials) < MAX_TRIALS_READ:
                page = self._sagemaker().list_training_jobs_for_hyper_parameter_tuning_job(**request)
                trials += map(parse_trial, page.get("TrainingJobSummaries", []))
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"list the trials of tuning job '{name}'") from exc
        return sorted(trials, key=lambda t: (t.created is None, t.created, t.name))

    def objective_curves(self, job: TuningJob, trials: list[Trial]) -> dict[str, list[float]]:
        """Each trial's objective after each epoch, read with the objective's regex from its log lines
        (SageMaker's rule: a metric point per matching line). Trials whose lines cannot be read are left out."""
        regex = dict(_definitions(job.raw)).get(job.objective_metric)
        if regex is None:
            return {}
        logs = self._client("logs")

        def one(trial: Trial) -> tuple[str, list[float]]:
            try:
                series = series_from_logs(logs, trial.name, ((job.objective_metric, regex),)) or {}
            except ServiceError:
                return trial.name, []
            return trial.name, [point.value for point in series.get(job.objective_metric, [])]

        if not trials:
            return {}
        with ThreadPoolExecutor(max_workers=min(CURVE_THREADS, len(trials))) as pool:
            return {name: values for name, values in pool.map(one, trials) if values}

    def class_count(self, job: TuningJob) -> int | None:
        """Classes in the tuning job's dataset (for the chance level of a cross-entropy objective)."""
        if not job.data_uri:
            return None
        channel = urlsplit(job.data_uri)
        try:
            return len(self.training.datasets().summarize_dataset(channel.netloc, channel.path.lstrip("/")).classes)
        except ServiceError:
            return None

    # -- change ------------------------------------------------------------------------------------------
    def stop(self, name: str) -> None:
        """Stop a running tuning job (its running trials stop too); an ended one gets a message, no call."""
        job = self.describe(name)
        if job.status == "Stopping":
            raise ServiceError(f"Tuning job '{name}' is already stopping.", code="AlreadyStopping")
        if job.ended:
            raise ServiceError(
                f"Tuning job '{name}' already ended ({job.status}); there is nothing to stop.", code="AlreadyEnded"
            )
        try:
            self._sagemaker().stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"stop tuning job '{name}'") from exc

    def clone_spec(self, name: str) -> TuningSpec:
        """A spec like tuning job `name`'s under a new generated name, to pre-fill the Tune form."""
        job = self.describe(name)
        base = re.sub(r"-\d{6}-\d{6}$", "", name)
        return spec_from_description(job.raw, new_name=generate_tuning_name(base))


def _definitions(raw: dict[str, Any]) -> list[tuple[str, str]]:
    algorithm = raw.get("TrainingJobDefinition", {}).get("AlgorithmSpecification", {})
    return [(m["Name"], m["Regex"]) for m in algorithm.get("MetricDefinitions", [])]
