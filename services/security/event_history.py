"""CloudTrail's event history as the console's Event history shows it: one page of LookupEvents at a time,
newest first, filtered by one lookup attribute and a time range, each event with its full record.

The attribute keys come from botocore's CloudTrail model (LookupAttributeKey), so the filter offers exactly
what LookupEvents accepts; a bad value or time range is refused here with the reason, before any request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import botocore.session

from services.core.aws_service import AwsService
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error, redact

PAGE_SIZE = 50
"""LookupEvents' largest page."""
RETENTION = timedelta(days=90)
"""How far back the event history reaches on AWS."""


@cache
def attribute_keys() -> tuple[str, ...]:
    """The LookupAttributeKey enum of botocore's CloudTrail model: EventId, EventName, ReadOnly, Username…"""
    model = botocore.session.get_session().get_service_model("cloudtrail")
    return tuple(model.shape_for("LookupAttributeKey").enum)


@cache
def _value_limits() -> tuple[int, int]:
    shape = botocore.session.get_session().get_service_model("cloudtrail").shape_for("LookupAttributeValue")
    return int(shape.metadata.get("min", 1)), int(shape.metadata.get("max", 2000))


@dataclass(frozen=True)
class HistoryEvent:
    """One event as the console's table shows it, with the CloudTrail record behind it."""

    event_id: str
    time: datetime | None
    user: str
    name: str
    source: str
    resources: tuple[str, ...]
    error: str
    read_only: bool | None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryPage:
    events: tuple[HistoryEvent, ...]
    next_token: str | None


def check_lookup(key: str | None, value: str, start: datetime, end: datetime) -> None:
    """Refuse what LookupEvents would, in words: an unknown key, a value out of the model's length range, a
    start after the end."""
    if key is not None:
        if key not in attribute_keys():
            raise ServiceError(f"'{key}' is not a lookup attribute; use one of {', '.join(attribute_keys())}.")
        least, most = _value_limits()
        if not least <= len(value) <= most:
            raise ServiceError(f"The {key} to look up must be {least} to {most} characters long.")
        if key == "ReadOnly" and value not in ("true", "false"):
            raise ServiceError("ReadOnly is looked up as 'true' or 'false'.")
    if start > end:
        raise ServiceError("The start of the time range must be before its end.")


def history_event(event: dict[str, Any]) -> HistoryEvent:
    """LookupEvents' event (its own fields and the CloudTrailEvent JSON) as one row; access key IDs in the
    record are hidden, as in every message the dashboard shows."""
    try:
        record = json.loads(redact(event.get("CloudTrailEvent") or "{}"))
    except ValueError:
        record = {}
    error = record.get("errorCode") or ""
    if error and record.get("errorMessage"):
        error = f"{error}: {record['errorMessage']}"
    read_only = record.get("readOnly")
    when = event.get("EventTime")  # LookupEvents always gives it; a record without one shows no time
    return HistoryEvent(
        event_id=event.get("EventId", ""),
        time=when.astimezone(UTC) if isinstance(when, datetime) else None,
        user=event.get("Username", ""),
        name=event.get("EventName", ""),
        source=event.get("EventSource", ""),
        resources=tuple(r.get("ResourceName", "") for r in event.get("Resources") or [] if r.get("ResourceName")),
        error=error,
        read_only=read_only if isinstance(read_only, bool) else None,
        record=record,
    )


class EventHistoryService(AwsService):
    """Pages of the account's event history through boto3's CloudTrail client."""

    def page(
        self,
        key: str | None,
        value: str,
        start: datetime,
        end: datetime,
        next_token: str | None = None,
    ) -> HistoryPage:
        """One page (newest first) of the events in [start, end] whose `key` is `value` (all events when `key`
        is None); `next_token` continues the same lookup."""
        check_lookup(key, value, start, end)
        request: dict[str, Any] = {"StartTime": start, "EndTime": end, "MaxResults": PAGE_SIZE}
        if key is not None:
            request["LookupAttributes"] = [{"AttributeKey": key, "AttributeValue": value}]
        if next_token:
            request["NextToken"] = next_token
        try:
            answer = self._client("cloudtrail").lookup_events(**request)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the CloudTrail event history") from exc
        return HistoryPage(tuple(history_event(e) for e in answer.get("Events", [])), answer.get("NextToken"))
