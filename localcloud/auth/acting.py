"""What an AWS service does with the role a caller hands it (a training job's `RoleArn`, a model's
`ExecutionRoleArn`), as AWS does it.

At creation: the caller must be allowed `iam:PassRole` on the role (with `iam:PassedToService` naming the
service) and the role must trust the service, else the request is refused. While the work runs: every access
the service makes for it (reading channels and code, writing the model, logs, metrics) is made as the role,
decided by the role's policies exactly as the role's own request would be, and written to the event history
with the service as `invokedBy`. A denied access raises AWS's `AccessDenied`; the caller reports it the way
the service does (a job's FailureReason, an endpoint's).
"""

from __future__ import annotations

from localcloud.auth import policy
from localcloud.auth.authorizer import Authorizer, denial, request_context
from localcloud.auth.refusal import Refusal
from localcloud.auth.role_sessions import RoleSessions
from localcloud.core.interfaces.trail import Activity, ActivityLog
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call

# IAM's service prefix -> the host name CloudTrail records as the event's source.
_EVENT_SOURCES = {"cloudwatch": "monitoring.amazonaws.com"}
# IAM action -> the API call that needs it, where the names differ.
_EVENT_NAMES = {"s3:ListBucket": "ListObjects"}


class ExecutionRoles:
    """One service's use of the roles handed to it; `service` is its principal (`sagemaker.amazonaws.com`)."""

    def __init__(self, authorizer: Authorizer, sessions: RoleSessions, activity: ActivityLog, service: str) -> None:
        self.authorizer, self.sessions, self.activity, self.service = authorizer, sessions, activity, service

    def check_pass(self, call: Call, role_arn: str) -> None:
        """The caller may pass the role to the service (`iam:PassRole`, with `iam:PassedToService`); the
        account's root always may."""
        identity = call.identity
        if identity.role_name is None:
            return
        context = request_context(identity.account, identity.user_id, call.region)
        context["iam:PassedToService"] = [self.service]
        decision, _ = self.authorizer.decide(identity.role_name, "iam:PassRole", role_arn, context)
        if not decision.allowed:
            raise Refusal("denied", denial(identity.arn, "iam:PassRole", role_arn, decision))

    def check_handed(self, call: Call, role_arn: str) -> None:
        """At creation (SageMaker's checks and words): the caller may pass the role to the service, and the
        service may assume it."""
        self.check_pass(call, role_arn)
        if not self.sessions.trusts(role_arn, ("Service", self.service)):
            raise AwsError(
                "ValidationException",
                f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
                f"'{self.service}' to assume the role.",
                400,
            )

    def act(
        self,
        role_arn: str,
        session: str,
        region: str,
        action: str,
        resource: str,
        *,
        context: dict[str, list[str]] | None = None,
        parameters: dict[str, object] | None = None,
    ) -> None:
        """One access made as the role: recorded, and `AccessDenied` (403) unless its policies allow it."""
        role_name, account = role_arn.rsplit("/", 1)[-1], role_arn.split(":")[4]
        principal = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
        decision = self._decide(role_name, session, region, action, resource, context or {})
        prefix, _, name = action.partition(":")
        message = None if decision.allowed else denial(principal, action, resource, decision)
        self.activity.record(
            Activity(
                event_source=_EVENT_SOURCES.get(prefix, f"{prefix}.amazonaws.com"),
                event_name=_EVENT_NAMES.get(action, name),
                region=region,
                principal_arn=principal,
                access_key_id="",
                resources=(resource,),
                request_parameters=dict(parameters or {}),
                error_code=None if decision.allowed else "AccessDenied",
                error_message=message,
                invoked_by=self.service,
                role_arn=role_arn,
            )
        )
        if message is not None:
            raise AwsError("AccessDenied", message, 403)

    def _decide(
        self, role: str, session: str, region: str, action: str, resource: str, context: dict[str, list[str]]
    ) -> policy.Decision:
        """As the role's own request would be decided (the authorizer's caches: a staging of thousands of
        objects compiles the role's policies once, and a changed policy takes effect at the next access)."""
        role_arn, _ = self.authorizer.policies(role)
        account = role_arn.split(":")[4] if role_arn else ""
        full = {**request_context(account, f"{role}:{session}", region), **context}
        decision, _ = self.authorizer.decide(role, action, resource, full)
        return decision
