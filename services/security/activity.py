"""A role's recorded activity, read from CloudTrail's event history (LookupEvents), as IAM Access Analyzer reads
it to generate a policy: which actions the role's sessions made, on which resources, with which condition keys.

`accesses` is pure (CloudTrail event dicts in, `Access` records out) so the generaliser can be tested on events
as AWS writes them. `ActivityService` reads the history through boto3. AWS's event history holds management
events only (S3 object reads need a trail with data events), so an empty history is a normal answer there: the
plan then rests on the role's recent resources alone, and the page says which evidence each statement has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.core.aws_service import AwsService
from services.core.errors import BOTO_ERRORS, from_client_error
from services.security.iam_catalog import action_exists

MAX_PAGES = 20
"""LookupEvents pages read per lookup (50 events each, newest first); AWS allows 2 lookups a second."""
MAX_SESSIONS = 20
"""Sessions looked up by name (the role's newest jobs, its endpoints and functions)."""

# CloudTrail's event source -> IAM's service prefix, where they differ (CloudWatch's API host is `monitoring`).
_PREFIXES = {"monitoring": "cloudwatch", "runtime.sagemaker": "sagemaker"}
# (IAM prefix, API call) -> the IAM action that authorises it, where the names differ (AWS's S3 and Lambda
# permission references).
_ACTIONS = {
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("lambda", "Invoke"): "InvokeFunction",
}


@dataclass(frozen=True)
class Access:
    """One recorded request of the role: the IAM action, the resources, the condition keys it carried."""

    action: str
    resources: tuple[str, ...]
    at: datetime
    refused: bool = False
    conditions: dict[str, str] = field(default_factory=dict)
    invoked_by: str | None = None


@dataclass(frozen=True)
class Activity:
    """What the history holds for a role: its accesses, and what could not be read or mapped."""

    accesses: tuple[Access, ...]
    events_read: int
    unmapped: tuple[str, ...] = ()  # `source:EventName` of events that name no IAM action
    note: str | None = None  # why the history could not be read, when it could not


def _issuer(trail: dict[str, Any]) -> str | None:
    identity = trail.get("userIdentity") or {}
    return ((identity.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn")


def iam_action(event_source: str, event_name: str) -> str | None:
    """`s3.amazonaws.com` + `ListObjects` -> `s3:ListBucket`; None when IAM defines no such action."""
    host = event_source.removesuffix(".amazonaws.com")
    prefix = _PREFIXES.get(host, host)
    action = f"{prefix}:{_ACTIONS.get((prefix, event_name), event_name)}"
    return action if action_exists(action) else None


def _resources(action: str, trail: dict[str, Any]) -> tuple[str, ...]:
    """The ARNs CloudTrail names; for an event without them, the ones its request parameters identify."""
    named = tuple(r["ARN"] for r in trail.get("resources") or [] if r.get("ARN"))
    if named:
        return named
    params = trail.get("requestParameters") or {}
    region, account = trail.get("awsRegion", ""), trail.get("recipientAccountId", "")
    if action.startswith("s3:") and params.get("bucketName"):
        key = params.get("key")
        return (f"arn:aws:s3:::{params['bucketName']}" + (f"/{key}" if key and action != "s3:ListBucket" else ""),)
    if action.startswith("logs:") and params.get("logGroupName"):
        group = f"arn:aws:logs:{region}:{account}:log-group:{params['logGroupName']}"
        stream = params.get("logStreamName")
        return (f"{group}:log-stream:{stream}" if stream else group,)
    if action == "sagemaker:InvokeEndpoint" and params.get("endpointName"):
        return (f"arn:aws:sagemaker:{region}:{account}:endpoint/{params['endpointName'].lower()}",)
    return ("*",)


def _conditions(action: str, trail: dict[str, Any]) -> dict[str, str]:
    """The service condition keys a least-privilege statement can scope by: a listing's prefix, a metric's
    namespace (both are in the request context AWS evaluates)."""
    params = trail.get("requestParameters") or {}
    if action == "s3:ListBucket":
        return {"s3:prefix": str(params.get("prefix") or "")}
    if action == "cloudwatch:PutMetricData" and params.get("namespace"):
        return {"cloudwatch:namespace": str(params["namespace"])}
    return {}


def accesses(events: Iterable[dict[str, Any]], role_arn: str) -> Activity:
    """The role's accesses among LookupEvents' `Events` (its sessions' calls and what services did as it)."""
    found: list[Access] = []
    unmapped: set[str] = set()
    read = 0
    for event in events:
        read += 1
        try:
            trail = json.loads(event.get("CloudTrailEvent") or "{}")
        except ValueError:
            continue
        if _issuer(trail) != role_arn:
            continue
        source, name = trail.get("eventSource", ""), trail.get("eventName", "")
        action = iam_action(source, name)
        if action is None:
            unmapped.add(f"{source}:{name}")
            continue
        when = event.get("EventTime") or trail.get("eventTime")
        at = when if isinstance(when, datetime) else datetime.strptime(str(when), "%Y-%m-%dT%H:%M:%SZ")
        found.append(
            Access(
                action,
                _resources(action, trail),
                at if at.tzinfo else at.replace(tzinfo=UTC),
                refused=bool(trail.get("errorCode")),
                conditions=_conditions(action, trail),
                invoked_by=(trail.get("userIdentity") or {}).get("invokedBy"),
            )
        )
    return Activity(tuple(found), read, tuple(sorted(unmapped)))


class ActivityService(AwsService):
    """Reads a role's activity from the event history through boto3's CloudTrail client."""

    def role_activity(self, role_arn: str, event_sources: Iterable[str], sessions: Iterable[str] = ()) -> Activity:
        """The role's accesses in the newest events of each source (`s3.amazonaws.com`, ...) and of each of its
        sessions by name (a job's, a function's: a session's events are found even when other callers' traffic
        fills a source's newest pages); an Activity with a `note` when the history cannot be read (no
        permission, no CloudTrail), which is not an error: the plan then rests on the role's resources."""
        events: dict[str, dict[str, Any]] = {}
        lookups = [("EventSource", source) for source in event_sources]
        lookups += [("Username", session) for session in dict.fromkeys(sessions)][:MAX_SESSIONS]
        client = self._client("cloudtrail")
        try:
            for key, value in lookups:
                pages = client.get_paginator("lookup_events").paginate(
                    LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
                    PaginationConfig={"MaxItems": MAX_PAGES * 50, "PageSize": 50},
                )
                for page in pages:
                    events.update((e["EventId"], e) for e in page.get("Events", []))
        except BOTO_ERRORS as exc:
            reason = from_client_error(exc, what="read the CloudTrail event history").message
            return Activity((), 0, note=reason)
        return accesses(events.values(), role_arn)
