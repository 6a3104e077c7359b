"""One captured request, read from a line of a data-capture file in SageMaker's JSON Lines format.

A line is `{"captureData": {"endpointInput": {...}, "endpointOutput": {...}}, "eventMetadata": {...},
"eventVersion": "0"}`; each capture side has `observedContentType`, `mode`, `data` and `encoding` (`BASE64`, or
`JSON`/`CSV` for the content types the capture config names as text). The model's answer is read with the same
parser the Predict page uses, so this project's JSON and the original deployment's logits both work.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.core.errors import ServiceError
from services.serving.prediction import parse_answer


class UnreadableRecord(ValueError):
    """A capture line that is not a capture record (truncated, not JSON, missing parts)."""


@dataclass(frozen=True)
class CapturedRequest:
    """What one request sent and what the model answered; None where the record does not say (Input-only or
    Output-only capture, an answer in an unknown format)."""

    event_id: str
    inference_id: str | None
    time: datetime | None
    content_type: str | None
    input_bytes: int | None
    label: str | None
    confidence: float | None
    is_dog: bool | None


def parse_record(line: str | bytes) -> CapturedRequest:
    """Read one capture line; raise `UnreadableRecord` saying why when it is not one."""
    record = _json_object(line)
    capture = record.get("captureData")
    metadata = record.get("eventMetadata")
    if not isinstance(capture, dict) or not isinstance(metadata, dict) or not metadata.get("eventId"):
        raise UnreadableRecord("no captureData or eventMetadata.eventId")
    sent = capture.get("endpointInput") if isinstance(capture.get("endpointInput"), dict) else None
    answered = capture.get("endpointOutput") if isinstance(capture.get("endpointOutput"), dict) else None
    label = confidence = is_dog = None
    if answered is not None:
        try:
            answer = parse_answer(json.loads(_decoded(answered)))
        except (ServiceError, ValueError, UnreadableRecord):
            answer = None  # an answer the dashboard cannot read still counts as a request
        if answer is not None and answer.breeds:
            label, confidence, is_dog = answer.breeds[0].label, answer.breeds[0].score, answer.is_dog
    return CapturedRequest(
        event_id=str(metadata["eventId"]),
        inference_id=str(metadata["inferenceId"]) if metadata.get("inferenceId") else None,
        time=_time(metadata.get("inferenceTime")),
        content_type=sent.get("observedContentType") if sent else None,
        input_bytes=_decoded_size(sent) if sent else None,
        label=label,
        confidence=confidence,
        is_dog=is_dog,
    )


def input_bytes(line: str | bytes) -> tuple[bytes, str | None]:
    """The request body a capture line holds (the photo) and its content type."""
    record = _json_object(line)
    sent = (record.get("captureData") or {}).get("endpointInput")
    if not isinstance(sent, dict):
        raise UnreadableRecord("the record holds no input (capture mode Output only)")
    return _decoded(sent), sent.get("observedContentType")


def _json_object(line: str | bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise UnreadableRecord(f"not JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise UnreadableRecord("not a JSON object")
    return record


def _decoded(side: dict[str, Any]) -> bytes:
    data = side.get("data")
    if not isinstance(data, str):
        raise UnreadableRecord("a capture side without data")
    if side.get("encoding") == "BASE64":
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UnreadableRecord("data is not valid base64") from exc
    return data.encode("utf-8")


def _decoded_size(side: dict[str, Any]) -> int | None:
    """The body's size in bytes, from the base64 length: the photo itself is not decoded to be counted."""
    data = side.get("data")
    if not isinstance(data, str):
        return None
    if side.get("encoding") != "BASE64":
        return len(data.encode("utf-8"))
    return len(data) * 3 // 4 - data[-2:].count("=")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
