"""An endpoint's data-capture settings, read from DescribeEndpoint, and turning capture on: a copy of its current
endpoint config with a DataCaptureConfig, applied with UpdateEndpoint (SageMaker keeps the old fleet serving until
the new one is in service, so no request fails)."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.data.datasets import DatasetService
from services.serving.deploy import deploy_name

# What CreateEndpointConfig's ProductionVariant takes that DescribeEndpointConfig gives back.
_VARIANT_FIELDS = (
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "AcceleratorType",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "ManagedInstanceScaling",
    "RoutingConfig",
    "InferenceAmiVersion",
)


@dataclass(frozen=True)
class CaptureSetup:
    """Where an endpoint's captures go and whether they are being written now."""

    endpoint: str
    status: str
    variants: list[str]
    enabled: bool
    capture_status: str | None
    sampling_percent: int | None
    destination: str | None

    @property
    def bucket(self) -> str:
        return (self.destination or "").removeprefix("s3://").partition("/")[0]

    @property
    def prefix(self) -> str:
        """The key prefix of this endpoint's captures: `<destination path>/<endpoint>/`."""
        path = (self.destination or "").removeprefix("s3://").partition("/")[2].strip("/")
        return f"{path}/{self.endpoint}/" if path else f"{self.endpoint}/"


class CaptureSetupService(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def endpoints(self) -> list[str]:
        try:
            pages = self._client("sagemaker").get_paginator("list_endpoints").paginate()
            return sorted(e["EndpointName"] for page in pages for e in page["Endpoints"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list endpoints") from exc

    def setup(self, endpoint: str) -> CaptureSetup:
        try:
            described = self._client("sagemaker").describe_endpoint(EndpointName=endpoint)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{endpoint}'") from exc
        capture = described.get("DataCaptureConfig") or {}
        return CaptureSetup(
            endpoint=endpoint,
            status=described["EndpointStatus"],
            variants=[v["VariantName"] for v in described.get("ProductionVariants", [])] or ["AllTraffic"],
            enabled=bool(capture.get("EnableCapture")),
            capture_status=capture.get("CaptureStatus"),
            sampling_percent=capture.get("CurrentSamplingPercentage"),
            destination=capture.get("DestinationS3Uri"),
        )

    def turn_on(self, caller: Caller, endpoint: str, destination: str, sampling_percent: int) -> str:
        """Capture inputs and outputs of `sampling_percent` of requests to `destination`; the new config's name."""
        require_operator(caller, "turn data capture on")
        if not destination.startswith("s3://") or not destination.removeprefix("s3://").strip("/"):
            raise ServiceError(f"'{destination}' is not an S3 URI: give s3://bucket/prefix.")
        if not 0 <= sampling_percent <= 100:
            raise ServiceError("The sampling percentage is between 0 and 100.")
        DatasetService(settings=self._settings, boto3_session=self._session).ensure_bucket(
            destination.removeprefix("s3://").partition("/")[0]
        )  # SageMaker writes into a bucket that exists
        sagemaker = self._client("sagemaker")
        try:
            described = sagemaker.describe_endpoint(EndpointName=endpoint)
            if described["EndpointStatus"] != "InService":
                raise ServiceError(
                    f"Endpoint '{endpoint}' is {described['EndpointStatus']}; capture can be turned on once it is "
                    "InService."
                )
            config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{endpoint}'") from exc
        name = deploy_name(endpoint, time.strftime("-cap-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2))
        request: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {k: v for k, v in variant.items() if k in _VARIANT_FIELDS} for variant in config["ProductionVariants"]
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "InitialSamplingPercentage": sampling_percent,
                "DestinationS3Uri": destination.rstrip("/"),
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
            },
        }
        for key in ("KmsKeyId", "AsyncInferenceConfig"):
            if key in config:
                request[key] = config[key]
        try:
            sagemaker.create_endpoint_config(**request)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"create a capturing config for '{endpoint}'") from exc
        try:
            sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
        except BOTO_ERRORS as exc:
            with contextlib.suppress(*BOTO_ERRORS):
                sagemaker.delete_endpoint_config(EndpointConfigName=name)
            raise from_client_error(exc, what=f"update endpoint '{endpoint}'") from exc
        return name
