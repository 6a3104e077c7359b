"""The models an operator can evaluate: a training job's, a tuning job's best trial's, the one an endpoint serves,
or any SageMaker model. A batch transform runs a SageMaker Model, so a job's artifact gets one (named as the deploy
panel names it) when it has none yet; an endpoint's or an existing model is used as it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.serving.deploy import DeployService, deploy_name
from services.serving.model_sources import ModelSources

Kind = Literal["training job", "tuning job", "endpoint", "model"]
KINDS: tuple[Kind, ...] = ("training job", "tuning job", "endpoint", "model")


@dataclass(frozen=True)
class ModelChoice:
    """`model_name` is the SageMaker Model the transform runs (created from the artifact when missing)."""

    kind: Kind
    origin: str
    model_name: str
    model_data_url: str

    @property
    def label(self) -> str:
        """`endpoint dog-breed-endpoint (dog-breed-model-1)`; the Model's name only where it says more than the
        origin (a training job's Model is named after the job)."""
        if self.kind == "model" or self.model_name == self.origin:
            return f"{self.kind} {self.origin}"
        return f"{self.kind} {self.origin} ({self.model_name})"


class ModelChoices(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker})
        self._sources = ModelSources(settings, boto3_session=boto3_session, sagemaker=sagemaker)

    def list(self, kind: Kind) -> list[ModelChoice]:
        """The newest of one kind (one page of each list, as the deploy panel shows)."""
        if kind == "training job":
            return [
                ModelChoice(kind, s.base_name, deploy_name(s.base_name), s.model_data_url)
                for s in self._sources.finished_jobs()
            ]
        if kind == "tuning job":
            return [choice for name in self._tuning_names() if (choice := self._tuning_or_none(name)) is not None]
        if kind == "endpoint":
            return [choice for name in self._endpoint_names() if (choice := self.endpoint(name)) is not None]
        return [ModelChoice(kind, s.base_name, s.base_name, s.model_data_url) for s in self._sources.existing_models()]

    def training_job(self, name: str) -> ModelChoice:
        source = self._sources.job(name)
        if source is None:
            raise ServiceError(f"Training job '{name}' has no model (it is not there, or has not finished).")
        return ModelChoice("training job", name, deploy_name(name), source.model_data_url)

    def tuning_job(self, name: str) -> ModelChoice:
        try:
            best = self._client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe tuning job '{name}'") from exc
        trial = (best.get("BestTrainingJob") or {}).get("TrainingJobName")
        source = self._sources.job(trial) if trial else None
        if source is None:
            raise ServiceError(f"Tuning job '{name}' has no best trial with a model yet.")
        return ModelChoice("tuning job", name, deploy_name(trial), source.model_data_url)

    def endpoint(self, name: str) -> ModelChoice | None:
        """The model of the endpoint's first variant; None when the endpoint or its model went away."""
        sagemaker = self._client("sagemaker")
        try:
            config_name = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
            model_name = variants[0]["ModelName"]
            url = (sagemaker.describe_model(ModelName=model_name).get("PrimaryContainer") or {}).get("ModelDataUrl")
        except BOTO_ERRORS as exc:
            if _missing(exc):
                return None
            raise from_client_error(exc, what=f"read endpoint '{name}'") from exc
        return ModelChoice("endpoint", name, model_name, url) if url else None

    def model(self, name: str) -> ModelChoice:
        try:
            model = self._client("sagemaker").describe_model(ModelName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"describe model '{name}'") from exc
        url = (model.get("PrimaryContainer") or {}).get("ModelDataUrl")
        if not url:
            raise ServiceError(f"Model '{name}' names no ModelDataUrl: there is no artifact to evaluate.")
        return ModelChoice("model", name, name, url)

    def ensure_model(self, choice: ModelChoice) -> bool:
        """Create the choice's SageMaker Model unless it exists; True when it was created."""
        return DeployService(settings=self._settings, sagemaker_client=self._client("sagemaker")).ensure_model(
            choice.model_data_url, choice.model_name
        )

    def _tuning_names(self) -> list[str]:
        try:
            summaries = self._client("sagemaker").list_hyper_parameter_tuning_jobs(
                SortBy="CreationTime", SortOrder="Descending", MaxResults=50
            )["HyperParameterTuningJobSummaries"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list tuning jobs") from exc
        return [s["HyperParameterTuningJobName"] for s in summaries]

    def _tuning_or_none(self, name: str) -> ModelChoice | None:
        try:
            return self.tuning_job(name)
        except ServiceError:
            return None  # no best trial yet, or deleted since it was listed

    def _endpoint_names(self) -> list[str]:
        try:
            pages = self._client("sagemaker").get_paginator("list_endpoints").paginate()
            return sorted(e["EndpointName"] for page in pages for e in page["Endpoints"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list endpoints") from exc


def _missing(exc: Exception) -> bool:
    """SageMaker answers ValidationException "Could not find …" for an endpoint, config or model that is not there."""
    error = getattr(exc, "response", {}).get("Error", {})
    return error.get("Code") == "ValidationException" and "could not find" in error.get("Message", "").lower()
