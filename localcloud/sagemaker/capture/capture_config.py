"""An endpoint config's `DataCaptureConfig` as SageMaker reads it, and one captured request as SageMaker writes it.

The request's shape (ranges, enums, patterns) is checked by the protocol layer against botocore's model; what is
left is how AWS reads it:
- `EnableCapture` defaults to true; `CaptureStatus` is `Started` when it is on, `Stopped` when off.
- `CaptureOptions` name `Input`, `Output` or `InputAndOutput`; more than one option adds up.
- A body whose content type (its media type, without parameters such as `charset`) is listed in
  `CaptureContentTypeHeader.CsvContentTypes` or `JsonContentTypes` is captured as text with encoding `CSV` or
  `JSON`; every other body as `BASE64`, as SageMaker does when no header is listed.
- A record is one JSON line: `captureData.endpointInput` / `endpointOutput` (`observedContentType`, `mode`,
  `data`, `encoding`), `eventMetadata` (`eventId`, `inferenceId` when the caller sent one, `inferenceTime`)
  and `eventVersion` "0"; files go under `<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/` named
  `<mm>-<ss>-<mmm>-<uuid>.jsonl` (minute, second, millisecond of the first record).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class CaptureSettings:
    """What one endpoint config asks its variants to capture."""

    enabled: bool
    percentage: int
    destination: str
    kms_key_id: str | None
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]

    @classmethod
    def of(cls, config: dict[str, Any]) -> CaptureSettings | None:
        """The settings of an endpoint config; None when it has no DataCaptureConfig."""
        capture = config.get("DataCaptureConfig")
        if not capture:
            return None
        modes = {option["CaptureMode"] for option in capture["CaptureOptions"]}
        headers = capture.get("CaptureContentTypeHeader") or {}
        return cls(
            enabled=capture.get("EnableCapture", True),
            percentage=capture["InitialSamplingPercentage"],
            destination=capture["DestinationS3Uri"],
            kms_key_id=capture.get("KmsKeyId"),
            capture_input=bool(modes & {"Input", "InputAndOutput"}),
            capture_output=bool(modes & {"Output", "InputAndOutput"}),
            csv_types=frozenset(t.lower() for t in headers.get("CsvContentTypes") or []),
            json_types=frozenset(t.lower() for t in headers.get("JsonContentTypes") or []),
        )

    @property
    def summary(self) -> dict[str, Any]:
        """DescribeEndpoint's DataCaptureConfigSummary (AWS leaves KmsKeyId out when none was given)."""
        return {
            "EnableCapture": self.enabled,
            "CaptureStatus": "Started" if self.enabled else "Stopped",
            "CurrentSamplingPercentage": self.percentage,
            "DestinationS3Uri": self.destination,
            **({"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}),
        }

    def encoding(self, content_type: str) -> str:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in self.csv_types:
            return "CSV"
        if media_type in self.json_types:
            return "JSON"
        return "BASE64"


def capture_summary(config: dict[str, Any]) -> dict[str, Any]:
    """What DescribeEndpoint adds for the endpoint config serving: its DataCaptureConfig summary, if it has one."""
    settings = CaptureSettings.of(config)
    return {"DataCaptureConfig": settings.summary} if settings else {}


def stored_config(capture: dict[str, Any]) -> dict[str, Any]:
    """The DataCaptureConfig as DescribeEndpointConfig gives it back: as sent, EnableCapture filled in."""
    return {"EnableCapture": True, **capture}


def bucket_and_prefix(destination: str) -> tuple[str, str]:
    """`s3://bucket/prefix`, or an https URL of S3 (virtual-hosted `bucket.s3[.region].amazonaws.com/prefix`
    or path-style `s3[.region].amazonaws.com/bucket/prefix`), as (bucket, prefix without slashes around it)."""
    parts = urlsplit(destination)
    path = parts.path.strip("/")
    host = parts.netloc
    if parts.scheme == "s3":
        return host, path
    if host.startswith("s3.") or host.startswith("s3-"):  # path-style
        bucket, _, prefix = path.partition("/")
        return bucket, prefix
    if ".s3" in host:  # virtual-hosted
        return host.split(".s3", 1)[0], path
    return host, path


def _payload(body: bytes, content_type: str, mode: str, settings: CaptureSettings) -> str:
    """One side of the capture as a JSON object's text. Base64 needs no escaping, so a photo's is put in as it
    is: JSON-encoding a string of 100 KB would double the writer's work for nothing."""
    encoding = settings.encoding(content_type)
    data = None
    if encoding != "BASE64":
        try:
            data = json.dumps(body.decode("utf-8"), ensure_ascii=False)
        except UnicodeDecodeError:  # text it is not: kept whole, as base64
            encoding = "BASE64"
    if data is None:
        data = '"' + base64.b64encode(body).decode("ascii") + '"'
    head = json.dumps({"observedContentType": content_type, "mode": mode}, ensure_ascii=False, separators=_COMPACT)
    return f'{head[:-1]},"data":{data},"encoding":"{encoding}"}}'


def capture_record(
    settings: CaptureSettings,
    when: float,
    request: tuple[bytes, str],
    response: tuple[bytes, str],
    inference_id: str | None,
) -> str:
    """One request and its answer as a line of SageMaker's capture format (without the newline)."""
    parts = []
    if settings.capture_input:
        parts.append('"endpointInput":' + _payload(*request, "INPUT", settings))
    if settings.capture_output:
        parts.append('"endpointOutput":' + _payload(*response, "OUTPUT", settings))
    metadata = {"eventId": str(uuid.uuid4())}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    event = json.dumps(metadata, ensure_ascii=False, separators=_COMPACT)
    return '{"captureData":{' + ",".join(parts) + '},"eventMetadata":' + event + ',"eventVersion":"0"}'


_COMPACT = (",", ":")


def capture_key(prefix: str, endpoint: str, variant: str, first: float) -> str:
    """Where a file of captures that starts at `first` goes: `<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/`,
    named `<mm>-<ss>-<mmm>-<uuid>.jsonl` as SageMaker names them."""
    stamp = time.gmtime(first)
    millis = int((first % 1) * 1000)
    name = f"{time.strftime('%M-%S', stamp)}-{millis:03d}-{uuid.uuid4()}.jsonl"
    folder = f"{endpoint}/{variant}/{time.strftime('%Y/%m/%d/%H', stamp)}"
    return f"{prefix}/{folder}/{name}" if prefix else f"{folder}/{name}"
