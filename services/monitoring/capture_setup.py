"""Where an endpoint's captures are, read from DescribeEndpoint: its destination, variants and capture status.
(Turning capture on or off is EndpointsService.set_capture.)"""

from __future__ import annotations

from dataclasses import dataclass

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, from_client_error


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
