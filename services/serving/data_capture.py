"""Data capture on an endpoint (SageMaker's DataCaptureConfig): what the deploy forms ask for and what an endpoint
captures now (turning it on or off is EndpointsService.set_capture: UpdateEndpoint, without downtime).

The dashboard captures the request and the answer of a sample of requests to a prefix in the project's bucket
(`s3://sagemaker-<region>-<account>/data-capture` unless the operator names another). JSON bodies (the model's
answers, `{"url": ...}` requests) are captured as text; photos as base64, as SageMaker captures any type not
listed. The Monitor page reads these files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

CAPTURE_PREFIX = "data-capture"
JSON_CONTENT_TYPES = ["application/json"]
_S3_PREFIX = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/[^\s]*)?")


@dataclass(frozen=True)
class CaptureChoice:
    """What an operator asks for: a sampling percentage, where, and which half of each request."""

    sampling_percentage: int = 100
    destination: str = ""
    capture_input: bool = True
    capture_output: bool = True

    def problems(self) -> list[str]:
        """What SageMaker would refuse (or what would capture nothing), in words an operator can act on."""
        found = []
        if not 0 <= self.sampling_percentage <= 100:
            found.append(f"Sampling must be 0 to 100 percent, not {self.sampling_percentage}.")
        if not _S3_PREFIX.fullmatch(self.destination or "") or len(self.destination) > 512:
            found.append(f"'{self.destination}' is not an S3 location (s3://bucket/prefix, at most 512 characters).")
        if not (self.capture_input or self.capture_output):
            found.append("Capture the requests, the answers or both.")
        return found

    def config(self) -> dict[str, Any]:
        """The DataCaptureConfig of a new endpoint config."""
        modes = [m for m, on in (("Input", self.capture_input), ("Output", self.capture_output)) if on]
        return {
            "EnableCapture": True,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": self.destination.rstrip("/"),
            "CaptureOptions": [{"CaptureMode": m} for m in modes],
            "CaptureContentTypeHeader": {"JsonContentTypes": JSON_CONTENT_TYPES},
        }


def checked(choice: CaptureChoice | None) -> CaptureChoice | None:
    """The choice, or a ServiceError with every problem in it."""
    if choice is not None and choice.problems():
        raise ServiceError(" ".join(choice.problems()), code="ValidationError")
    return choice


@dataclass(frozen=True)
class CaptureState:
    """What DescribeEndpoint says an endpoint captures now."""

    enabled: bool
    status: str  # Started or Stopped
    sampling_percentage: int
    destination: str
    kms_key_id: str | None

    @classmethod
    def of(cls, described: dict[str, Any]) -> CaptureState | None:
        summary = described.get("DataCaptureConfig")
        if not summary:
            return None
        return cls(
            enabled=summary.get("EnableCapture", False),
            status=summary.get("CaptureStatus", "Stopped"),
            sampling_percentage=summary.get("CurrentSamplingPercentage", 0),
            destination=summary.get("DestinationS3Uri", ""),
            kms_key_id=summary.get("KmsKeyId"),
        )

    @property
    def sentence(self) -> str:
        if self.status != "Started":
            return f"Data capture is stopped (it would write to {self.destination})."
        return f"Data capture started: {self.sampling_percentage}% of requests to {self.destination}."


class CaptureService(AwsService):
    """Reads an endpoint's data capture and where the dashboard puts captures by default."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
        sts_client: Any = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker_client, "sts": sts_client}
        )

    def default_destination(self) -> str:
        """The prefix in the project's bucket (the SageMaker SDK's default bucket) where captures go."""
        try:
            account = self._client("sts").get_caller_identity()["Account"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the account id") from exc
        return f"s3://sagemaker-{self._settings.region}-{account}/{CAPTURE_PREFIX}"

    def state(self, endpoint: str) -> CaptureState | None:
        try:
            described = self._client("sagemaker").describe_endpoint(EndpointName=endpoint)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{endpoint}'") from exc
        return CaptureState.of(described)
