"""What every service reports of the requests it authorised or refused: the interface cloud.py hands the
CloudTrail service (localcloud/cloudtrail/) through to the front door and to the services that act as an
execution role, so that a role's activity can be read back (LookupEvents) and least privilege generated from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Activity:
    """One request as CloudTrail records it: who, what, on which resources, and whether it was refused."""

    event_source: str
    """The service's host name, e.g. `s3.amazonaws.com`."""
    event_name: str
    """The operation, e.g. `GetObject`."""
    region: str
    principal_arn: str
    """The caller: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, an IAM user, or the account's root."""
    access_key_id: str
    resources: tuple[str, ...] = ()
    request_parameters: dict[str, Any] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    invoked_by: str | None = None
    """The AWS service that made the request on the principal's behalf (`sagemaker.amazonaws.com`)."""
    role_arn: str | None = None
    """The IAM role behind an assumed-role principal (its session issuer), when known."""
    time: float = field(default_factory=time.time)


class ActivityLog(Protocol):
    def record(self, activity: Activity) -> None:
        """Keep the activity; cheap enough for every request (writing happens off the request path)."""
