"""Where a model to deploy comes from: a finished training job's artifact, a tuning job's best trial, or a
model that already exists. Each source is read with the SageMaker call that names its artifact."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

_LISTED = 50  # one page of each list: the newest are the ones an operator deploys


@dataclass(frozen=True)
class ModelSource:
    """An artifact to deploy and the name its model gets (the job's, or the existing model's own)."""

    label: str
    model_data_url: str
    base_name: str


class ModelSources(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker})

    def finished_jobs(self) -> list[ModelSource]:
        """Completed training jobs, newest first, with their model artifacts."""
        sagemaker = self._client("sagemaker")
        try:
            summaries = sagemaker.list_training_jobs(
                StatusEquals="Completed", SortBy="CreationTime", SortOrder="Descending", MaxResults=_LISTED
            )["TrainingJobSummaries"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list finished training jobs") from exc
        sources = []
        for summary in summaries:
            source = self.job(summary["TrainingJobName"])
            if source is not None:
                sources.append(source)
        return sources

    def job(self, name: str) -> ModelSource | None:
        try:
            job = self._client("sagemaker").describe_training_job(TrainingJobName=name)
        except BOTO_ERRORS:
            return None  # deleted since it was listed
        url = job.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        return ModelSource(f"training job {name}", url, name) if url else None

    def tuning_bests(self) -> list[ModelSource]:
        """Each tuning job's best trial that has a model, newest tuning job first."""
        sagemaker = self._client("sagemaker")
        try:
            summaries = sagemaker.list_hyper_parameter_tuning_jobs(
                SortBy="CreationTime", SortOrder="Descending", MaxResults=_LISTED
            )["HyperParameterTuningJobSummaries"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list tuning jobs") from exc
        sources = []
        for summary in summaries:
            name = summary["HyperParameterTuningJobName"]
            try:
                tuning = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            except BOTO_ERRORS:
                continue
            best = (tuning.get("BestTrainingJob") or {}).get("TrainingJobName")
            source = self.job(best) if best else None
            if source is not None:
                sources.append(ModelSource(f"best trial of tuning job {name} ({best})", source.model_data_url, best))
        return sources

    def existing_models(self) -> list[ModelSource]:
        """Models with an artifact in S3, newest first; deploying one reuses it under its own name."""
        sagemaker = self._client("sagemaker")
        try:
            models = sagemaker.list_models(SortBy="CreationTime", SortOrder="Descending", MaxResults=_LISTED)["Models"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list models") from exc
        sources = []
        for summary in models:
            name = summary["ModelName"]
            try:
                model = sagemaker.describe_model(ModelName=name)
            except BOTO_ERRORS:
                continue
            url = (model.get("PrimaryContainer") or {}).get("ModelDataUrl")
            if url:
                sources.append(ModelSource(f"model {name}", url, name))
        return sources


def pick(sources: list[ModelSource], label: str) -> ModelSource:
    for source in sources:
        if source.label == label:
            return source
    raise ServiceError(f"'{label}' is no longer there; refresh the page.")
