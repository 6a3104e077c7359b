"""Deploy a trained model: CreateModel, CreateEndpointConfig, then CreateEndpoint or UpdateEndpoint.

A job's `model.tar.gz` holds `code/inference.py`, so the model needs only the AWS PyTorch inference image
and `ModelDataUrl` (the SageMaker inference toolkit runs `SAGEMAKER_PROGRAM` from `code/`). Everything is
checked before the first create, and a failure part-way removes what this call created.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.serving.data_capture import CaptureChoice
from services.training.job_spec import check_job_name, image_uri

VARIANT = "AllTraffic"
INFERENCE_INSTANCE_TYPES = (
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.c5.large",
    "ml.c5.xlarge",
    "ml.g4dn.xlarge",
    "ml.t2.medium",
)
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_S3_URI = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+")
INSTANCE_PATTERN = re.compile(r"ml\.[a-z0-9]+\.[a-z0-9]+")


@dataclass(frozen=True)
class Deployment:
    """What `deploy_model` did: the endpoint is Creating or Updating when it returns."""

    model_name: str
    endpoint_config_name: str
    endpoint_name: str
    action: Literal["created", "updated"]
    model_created: bool


@dataclass(frozen=True)
class EndpointState:
    name: str
    status: str
    failure_reason: str | None

    @property
    def settled(self) -> bool:
        return self.status in {"InService", "Failed", "OutOfService"}


def deploy_name(base: str, suffix: str = "") -> str:
    """A valid name from a job name: `<base><suffix>`, cut to 63 characters."""
    cut = base[: 63 - len(suffix)].rstrip("-")
    return check_job_name(cut + suffix)


class DeployService(AwsService):
    """Turns a model artifact into (or onto) a real-time endpoint."""

    def __init__(
        self,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
        sts_client: Any = None,
        settings: CloudSettings | None = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker_client, "sts": sts_client}
        )

    def default_role_arn(self) -> str:
        try:
            account = self._client("sts").get_caller_identity()["Account"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the account id") from exc
        return f"arn:aws:iam::{account}:role/dog-breed-sagemaker-execution"

    def model_request(self, model_data_url: str, model_name: str, role_arn: str) -> dict[str, Any]:
        """CreateModel as the SageMaker SDK's PyTorchModel sends it for a model with its own code/."""
        return {
            "ModelName": model_name,
            "ExecutionRoleArn": role_arn,
            "PrimaryContainer": {
                "Image": image_uri("inference", self._settings.region, "ml.m5.large"),
                "ModelDataUrl": model_data_url,
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            },
        }

    def ensure_model(self, model_data_url: str, model_name: str, role_arn: str | None = None) -> bool:
        """Create the SageMaker Model for this artifact unless one of that name already serves it (a batch
        transform needs a Model, not an endpoint); True when it was created."""
        if not NAME_PATTERN.fullmatch(model_name or ""):
            raise ServiceError(f"'{model_name}' is not a valid model name: letters, digits, hyphens, at most 63.")
        if not _S3_URI.fullmatch(model_data_url or ""):
            raise ServiceError(f"'{model_data_url}' is not an s3:// URI of a model.tar.gz.")
        existing = self._model(model_name)
        if existing is not None:
            if existing.get("ModelDataUrl") != model_data_url:
                raise ServiceError(
                    f"A model named '{model_name}' already exists with another artifact "
                    f"({existing.get('ModelDataUrl')}). Evaluate that model, or delete it first."
                )
            return False
        request = self.model_request(model_data_url, model_name, role_arn or self.default_role_arn())
        try:
            self._client("sagemaker").create_model(**request)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"create model '{model_name}'") from exc
        return True

    def deploy_model(
        self,
        model_data_url: str,
        *,
        model_name: str,
        endpoint_name: str,
        instance_type: str = "ml.m5.large",
        instance_count: int = 1,
        new_endpoint: bool = True,
        role_arn: str | None = None,
        capture: CaptureChoice | None = None,
    ) -> Deployment:
        """Create the model (or reuse one of that name serving the same artifact), a new endpoint config
        (capturing data as `capture` asks, if it does), and create or update the endpoint."""
        problems = []
        for label, name in (("model", model_name), ("endpoint", endpoint_name)):
            if not NAME_PATTERN.fullmatch(name or ""):
                problems.append(f"'{name}' is not a valid {label} name: letters, digits, hyphens, at most 63.")
        if not _S3_URI.fullmatch(model_data_url or ""):
            problems.append(f"'{model_data_url}' is not an s3:// URI of a model.tar.gz.")
        if not INSTANCE_PATTERN.fullmatch(instance_type or ""):
            problems.append(f"'{instance_type}' is not an ml.* instance type.")
        if instance_count < 1:
            problems.append("Instance count must be at least 1.")
        problems += capture.problems() if capture else []
        if problems:
            raise ServiceError(" ".join(problems), code="ValidationError")

        sagemaker = self._client("sagemaker")
        endpoint = self._endpoint(endpoint_name)
        if new_endpoint and endpoint is not None:
            raise ServiceError(
                f"Endpoint '{endpoint_name}' already exists ({endpoint.status}). Choose 'existing endpoint' to "
                "update it, or another name."
            )
        if not new_endpoint:
            if endpoint is None:
                raise ServiceError(f"Endpoint '{endpoint_name}' does not exist. Choose 'new endpoint' to create it.")
            if endpoint.status != "InService":
                raise ServiceError(
                    f"Endpoint '{endpoint_name}' is {endpoint.status}; it can be updated once it is InService."
                )
        existing_model = self._model(model_name)
        if existing_model is not None and existing_model.get("ModelDataUrl") != model_data_url:
            raise ServiceError(
                f"A model named '{model_name}' already exists with another artifact "
                f"({existing_model.get('ModelDataUrl')}). Choose another model name."
            )

        config_name = deploy_name(endpoint_name, time.strftime("-%Y%m%d-%H%M%S", time.gmtime()))
        created: list[tuple[str, dict[str, str]]] = []
        try:
            if existing_model is None:
                role = role_arn or self.default_role_arn()
                sagemaker.create_model(**self.model_request(model_data_url, model_name, role))
                created.append(("delete_model", {"ModelName": model_name}))
            sagemaker.create_endpoint_config(
                EndpointConfigName=config_name,
                ProductionVariants=[
                    {
                        "VariantName": VARIANT,
                        "ModelName": model_name,
                        "InitialInstanceCount": instance_count,
                        "InstanceType": instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                **({"DataCaptureConfig": capture.config()} if capture else {}),
            )
            created.append(("delete_endpoint_config", {"EndpointConfigName": config_name}))
            if new_endpoint:
                sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
            else:
                sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
        except BOTO_ERRORS as exc:
            for operation, request in reversed(created):
                with contextlib.suppress(*BOTO_ERRORS):
                    getattr(sagemaker, operation)(**request)
            raise from_client_error(exc, what=f"deploy to endpoint '{endpoint_name}'") from exc
        return Deployment(
            model_name=model_name,
            endpoint_config_name=config_name,
            endpoint_name=endpoint_name,
            action="created" if new_endpoint else "updated",
            model_created=existing_model is None,
        )

    def wait_status(self, endpoint_name: str) -> EndpointState:
        """One look at the endpoint (the page polls this until `settled`)."""
        state = self._endpoint(endpoint_name)
        if state is None:
            raise ServiceError(f"Endpoint '{endpoint_name}' does not exist.", code="NotFound")
        return state

    def list_endpoints(self) -> list[str]:
        try:
            pages = self._client("sagemaker").get_paginator("list_endpoints").paginate()
            return sorted(e["EndpointName"] for page in pages for e in page["Endpoints"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list endpoints") from exc

    def _endpoint(self, name: str) -> EndpointState | None:
        try:
            raw = self._client("sagemaker").describe_endpoint(EndpointName=name)
        except BOTO_ERRORS as exc:
            if _missing(exc):
                return None
            raise from_client_error(exc, what=f"describe endpoint '{name}'") from exc
        return EndpointState(name, raw["EndpointStatus"], raw.get("FailureReason"))

    def _model(self, name: str) -> dict[str, Any] | None:
        try:
            raw = self._client("sagemaker").describe_model(ModelName=name)
        except BOTO_ERRORS as exc:
            if _missing(exc):
                return None
            raise from_client_error(exc, what=f"describe model '{name}'") from exc
        return raw.get("PrimaryContainer", {})


def _missing(exc: Exception) -> bool:
    """SageMaker says "Could not find …" with ValidationException for absent endpoints and models."""
    error = getattr(exc, "response", {}).get("Error", {})
    code, message = error.get("Code"), error.get("Message", "")
    return code in {"ResourceNotFound", "ResourceNotFoundException"} or (
        code == "ValidationException" and "could not find" in message.lower()
    )
