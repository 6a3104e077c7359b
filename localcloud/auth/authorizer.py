"""Enforcement: a request signed with a role's temporary key is allowed or refused by that role's
policies, as AWS decides it. The account's root key is never restricted."""

from __future__ import annotations

import time
from typing import Any, Protocol

from localcloud.auth import policy
from localcloud.auth.refusal import Refusal
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call, Service

# Actions AWS answers for every principal without consulting policies.
UNCONDITIONAL = {"sts:GetCallerIdentity"}


def request_context(call: Call, role_arn: str) -> dict[str, list[str]]:
    """The global condition keys a request carries (those localcloud can know)."""
    identity = call.identity
    now = time.time()
    return {
        "aws:PrincipalArn": [role_arn],
        "aws:PrincipalAccount": [identity.account],
        "aws:PrincipalType": ["AssumedRole"],
        "aws:userid": [identity.user_id],
        "aws:RequestedRegion": [call.region],
        "aws:CurrentTime": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))],
        "aws:EpochTime": [str(int(now))],
        "aws:SecureTransport": ["false"],
        "aws:SourceIp": ["127.0.0.1"],
    }


class RolePolicies(Protocol):
    """What the authorizer asks of IAM (localcloud/iam/provider.py): a role and its identity policies; both
    raise AwsError when the role does not exist."""

    def role(self, name: str) -> dict[str, Any]: ...

    def role_policies(self, name: str) -> list[policy.Policy]: ...


class Authorizer:
    def __init__(self, iam: RolePolicies) -> None:
        self.iam = iam

    def check(self, service: Service, operation: str, params: dict[str, Any], call: Call) -> None:
        """Refusal("denied", AWS's sentence) unless the caller's policies allow every resource touched."""
        identity = call.identity
        role_name = identity.role_name
        if role_name is None:
            return
        action = service.iam_action(operation)
        if action in UNCONDITIONAL:
            return
        try:
            role = self.iam.role(role_name)
            policies = self.iam.role_policies(role_name)
        except AwsError:  # the role is gone: its sessions can do nothing
            role, policies = {"Arn": ""}, []
        context = request_context(call, role["Arn"])
        for resource in service.resource_arns(operation, params, call):
            decision = policy.evaluate(policies, action, resource, context)
            if decision.allowed:
                continue
            why = (
                "with an explicit deny in an identity-based policy"
                if decision.decision == "explicitDeny"
                else f"because no identity-based policy allows the {action} action"
            )
            raise Refusal(
                "denied", f"User: {identity.arn} is not authorized to perform: {action} on resource: {resource} {why}"
            )
