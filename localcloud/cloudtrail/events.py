"""An `Activity` (core/interfaces/trail.py) as CloudTrail writes it: the record LookupEvents returns, with
its JSON `CloudTrailEvent` (userIdentity with the role session's issuer, resources with their types,
requestParameters without bodies or secrets, errorCode for a refusal)."""

from __future__ import annotations

import json
import time
from typing import Any

from localcloud.core.interfaces.trail import Activity

EVENT_VERSION = "1.09"
# What CloudTrail counts as data events (object-level, per-invocation); everything else is a management event.
DATA_EVENTS = {
    "s3.amazonaws.com": {
        "GetObject", "PutObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject", "ListObjects",
        "ListObjectsV2", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "AbortMultipartUpload",
    },
    "lambda.amazonaws.com": {"Invoke"},
    "sagemaker.amazonaws.com": {"InvokeEndpoint"},
    "logs.amazonaws.com": {"PutLogEvents", "GetLogEvents", "FilterLogEvents"},
}  # fmt: skip
_READ_ONLY = ("Get", "List", "Describe", "Head", "Lookup", "Search", "Simulate", "BatchGet", "Filter", "Select")
# Members never written to the history: payloads and anything secret.
_WITHHELD = {
    "Body", "Payload", "ZipFile", "SecretAccessKey", "SessionToken", "Password", "OldPassword", "NewPassword",
    "Environment",
}  # fmt: skip
_MAX_TEXT = 1024
_MAX_DEPTH = 5
# ARN service -> CloudTrail's service word in resource types (AWS::S3::Object, AWS::SageMaker::Endpoint, ...).
_SERVICE_WORDS = {
    "s3": "S3", "sagemaker": "SageMaker", "lambda": "Lambda", "logs": "Logs", "iam": "IAM", "sts": "STS",
    "cloudwatch": "CloudWatch", "ec2": "EC2", "application-autoscaling": "ApplicationAutoScaling",
}  # fmt: skip


def resource_type(arn: str) -> str | None:
    """`arn:aws:sagemaker:…:training-job/x` -> `AWS::SageMaker::TrainingJob`; an S3 ARN is a bucket or an object."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    service, rest = parts[2], parts[5]
    word = _SERVICE_WORDS.get(service, service.title())
    if service == "s3":
        return "AWS::S3::Object" if "/" in rest else "AWS::S3::Bucket"
    kind = rest.split("/", 1)[0].split(":", 1)[0]
    return f"AWS::{word}::" + "".join(part.title() for part in kind.split("-"))


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def request_parameters(event_source: str, params: dict[str, Any]) -> dict[str, Any]:
    """The request's members as CloudTrail writes them (lowerCamel at every level, S3's `bucketName`), without
    payloads, secrets, environment variables or long text."""
    kept = _kept(params, _MAX_DEPTH)
    if event_source == "s3.amazonaws.com" and "bucket" in kept:
        kept["bucketName"] = kept.pop("bucket")
    return kept


def _kept(members: dict[str, Any], depth: int) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, value in members.items():
        if name not in _WITHHELD and (shown := _shown(value, depth)) is not None:
            kept[_lower_camel(name)] = shown
    return kept


def _shown(value: Any, depth: int) -> Any:
    """A member's value as recorded: text cut at _MAX_TEXT, lists at 50 items, structures _MAX_DEPTH deep;
    None for what is not recorded (bytes, and what lies deeper)."""
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, bool | int | float):
        return value
    if depth == 0:
        return None
    if isinstance(value, dict):
        return _kept(value, depth - 1)
    if isinstance(value, list):
        return [shown for item in value[:50] if (shown := _shown(item, depth - 1)) is not None]
    return None


def _identity(activity: Activity) -> tuple[dict[str, Any], str]:
    """CloudTrail's `userIdentity` and the `Username` LookupEvents shows for the caller."""
    arn, account = activity.principal_arn, activity.principal_arn.split(":")[4]
    identity: dict[str, Any] = {"arn": arn, "accountId": account, "accessKeyId": activity.access_key_id}
    if ":assumed-role/" in arn:
        role, _, session = arn.split(":assumed-role/", 1)[1].partition("/")
        issuer = activity.role_arn or f"arn:aws:iam::{account}:role/{role}"
        identity["type"] = "AssumedRole"
        identity["sessionContext"] = {
            "sessionIssuer": {"type": "Role", "arn": issuer, "accountId": account, "userName": role},
            "attributes": {"mfaAuthenticated": "false"},
        }
        username = session
    elif arn.endswith(":root"):
        identity["type"], username = "Root", "root"
    else:
        identity["type"], username = "IAMUser", arn.rsplit("/", 1)[-1]
        identity["userName"] = username
    if activity.invoked_by:
        identity["invokedBy"] = activity.invoked_by
    return identity, username


def lookup_record(event_id: str, activity: Activity) -> dict[str, Any]:
    """The `Event` LookupEvents returns, `CloudTrailEvent` included."""
    identity, username = _identity(activity)
    read_only = activity.event_name.startswith(_READ_ONLY)
    data = activity.event_name in DATA_EVENTS.get(activity.event_source, ())
    account = identity["accountId"]
    resources = [
        {"ARN": arn, "accountId": account, "type": resource_type(arn)} for arn in activity.resources if arn != "*"
    ]
    trail: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(activity.time)),
        "eventSource": activity.event_source,
        "eventName": activity.event_name,
        "awsRegion": activity.region,
        "sourceIPAddress": activity.invoked_by or "127.0.0.1",
        "requestParameters": request_parameters(activity.event_source, activity.request_parameters),
        "responseElements": None,
        "eventID": event_id,
        "readOnly": read_only,
        "resources": resources,
        "eventType": "AwsApiCall",
        "managementEvent": not data,
        "recipientAccountId": account,
        "eventCategory": "Data" if data else "Management",
    }
    if activity.error_code:
        trail["errorCode"] = activity.error_code
        trail["errorMessage"] = activity.error_message or ""
    return {
        "EventId": event_id,
        "EventName": activity.event_name,
        "ReadOnly": "true" if read_only else "false",
        "AccessKeyId": activity.access_key_id,
        "EventTime": activity.time,
        "EventSource": activity.event_source,
        "Username": username,
        "Resources": [{"ResourceType": r["type"], "ResourceName": r["ARN"]} for r in resources],
        "CloudTrailEvent": json.dumps(trail),
    }
