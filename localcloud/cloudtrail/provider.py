"""CloudTrail's event history: LookupEvents over every request localcloud authorised or refused.

Like AWS, it answers newest first, 50 at most a page, with one lookup attribute and a time range; a token
only continues the lookup that issued it. Unlike AWS's event history, which holds management events only
(S3 object reads need a trail with data events), localcloud's also holds data events: the S3 reads and
writes, log and metric writes a role makes, SageMaker's own accesses as a job's execution role included,
which is what least privilege is generated from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

from localcloud.cloudtrail.history import EventHistory
from localcloud.core.paginator import opaque, unopaque
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call, Service

PAGE = 50

# LookupAttributeKey -> how an event is matched against the attribute's value.
_MATCHERS = {
    "EventId": lambda e, v: e["EventId"] == v,
    "EventName": lambda e, v: e["EventName"] == v,
    "ReadOnly": lambda e, v: e["ReadOnly"] == v,
    "Username": lambda e, v: e["Username"] == v,
    "EventSource": lambda e, v: e["EventSource"] == v,
    "AccessKeyId": lambda e, v: e["AccessKeyId"] == v,
    "ResourceType": lambda e, v: any(r["ResourceType"] == v for r in e["Resources"]),
    "ResourceName": lambda e, v: any(r["ResourceName"] == v for r in e["Resources"]),
}


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


class CloudTrail(Service):
    model_name = "cloudtrail"

    def __init__(self, history: EventHistory) -> None:
        self.history = history

    def op_LookupEvents(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        attributes = p.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise AwsError("InvalidLookupAttributesException", "You can specify only one lookup attribute.", 400)
        start = _epoch(p["StartTime"]) if "StartTime" in p else None
        end = _epoch(p["EndTime"]) if "EndTime" in p else None
        if start is not None and end is not None and start > end:
            raise AwsError("InvalidTimeRangeException", "Start time must be earlier than end time.", 400)
        if p.get("EventCategory") == "insight":  # no trail here enables Insights: there are none to look up
            return {"Events": []}
        events: Iterator[dict[str, Any]] = self.history.events(start, end)
        for attribute in attributes:
            match, value = _MATCHERS[attribute["AttributeKey"]], attribute["AttributeValue"]
            events = (e for e in events if match(e, value))
        # A token holds where the next page starts (the newest event it must not repeat) and what was asked.
        asked = hashlib.sha256(json.dumps([attributes, start, end], sort_keys=True).encode()).hexdigest()[:16]
        if "NextToken" in p:
            # Past the events newer than the one it continues from; none are left if that one has aged out.
            event_id = self._resumed_from(p["NextToken"], asked)
            events = itertools.dropwhile(lambda e: e["EventId"] != event_id, events)
        size = p.get("MaxResults", PAGE)
        page = list(itertools.islice(events, size + 1))
        answer: dict[str, Any] = {"Events": page[:size]}
        if len(page) > size:
            answer["NextToken"] = opaque(f"{asked}:{page[size]['EventId']}")
        return answer

    @staticmethod
    def _resumed_from(token: str, asked: str) -> str:
        """The event a token's page starts at; InvalidNextTokenException for a token this lookup did not issue
        (another lookup's, or made up)."""
        try:
            token_asked, _, event_id = unopaque(token).partition(":")
        except (ValueError, UnicodeError):
            token_asked, event_id = "", ""
        if token_asked != asked or not event_id:
            raise AwsError("InvalidNextTokenException", "Invalid NextToken.", 400)
        return event_id
