"""Enforcement: a request signed with a role's temporary key is allowed or refused by that role's
policies, as AWS decides it. The account's root key is never restricted.

The same decision serves what an AWS service does as a role it was handed (acting.py): SageMaker reading a
job's data as the job's execution role is decided exactly as the role's own request would be.

As AWS's front ends do, a role's policies are compiled once and each decision is remembered, until IAM
changes any role or managed policy (its revision advances): the next request after a change is decided
afresh. A remembered decision is keyed by the role, the action, the resource and the values of exactly the
context keys the role's policies read, so a policy that reads aws:CurrentTime is decided every second anew
and one that reads no key is decided once.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from localcloud.auth import policy
from localcloud.auth.conditions import RequestContext
from localcloud.auth.refusal import Refusal
from localcloud.core.protocol import AwsError
from localcloud.core.registry import Call, Service

# Actions AWS answers for every principal without consulting policies.
UNCONDITIONAL = {"sts:GetCallerIdentity"}
MAX_REMEMBERED_DECISIONS = 10_000  # past this many, the decisions are forgotten and decided afresh


def request_context(account: str, user_id: str, region: str) -> dict[str, list[str]]:
    """The global condition keys a role session's request carries (those localcloud can know; `decide` adds
    aws:PrincipalArn)."""
    now = time.time()
    return {
        "aws:PrincipalAccount": [account],
        "aws:PrincipalType": ["AssumedRole"],
        "aws:userid": [user_id],
        "aws:RequestedRegion": [region],
        "aws:CurrentTime": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))],
        "aws:EpochTime": [str(int(now))],
        "aws:SecureTransport": ["false"],
        "aws:SourceIp": ["127.0.0.1"],
    }


def denial(principal_arn: str, action: str, resource: str, decision: policy.Decision) -> str:
    """AWS's sentence for a refused request."""
    why = (
        "with an explicit deny in an identity-based policy"
        if decision.decision == "explicitDeny"
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"


class RolePolicies(Protocol):
    """What the authorizer asks of IAM (localcloud/iam/provider.py): a role and its identity policies; both
    raise AwsError when the role does not exist."""

    def role(self, name: str) -> dict[str, Any]: ...

    def role_policies(self, name: str) -> list[policy.Policy]: ...

    def policies_revision(self) -> object:
        """A value that changes whenever any role or managed policy changes."""
        ...


class _RolePolicies:
    """A role's ARN, its parsed identity policies and every context key they read."""

    def __init__(self, arn: str, policies: list[policy.Policy]) -> None:
        self.arn, self.policies = arn, policies
        self.reads = tuple(
            sorted({key.lower() for p in policies for statement in p.statements for key in statement.reads})
        )


class Authorizer:
    def __init__(self, iam: RolePolicies) -> None:
        self.iam = iam
        self._lock = threading.Lock()
        self._revision: object = None
        self._roles: dict[str, _RolePolicies] = {}
        self._decisions: dict[tuple[Any, ...], policy.Decision] = {}

    def _current(self) -> tuple[dict[str, _RolePolicies], dict[tuple[Any, ...], policy.Decision]]:
        """The caches, emptied first if IAM changed since they were filled."""
        revision = self.iam.policies_revision()
        with self._lock:
            if revision != self._revision:
                self._revision, self._roles, self._decisions = revision, {}, {}
            return self._roles, self._decisions

    def _role(self, role_name: str) -> _RolePolicies:
        roles, _ = self._current()
        found = roles.get(role_name)
        if found is None:
            try:
                found = _RolePolicies(self.iam.role(role_name)["Arn"], self.iam.role_policies(role_name))
            except AwsError:  # the role is gone: its sessions can do nothing
                found = _RolePolicies("", [])
            roles[role_name] = found
        return found

    def policies(self, role_name: str) -> tuple[str, list[policy.Policy]]:
        """The role's ARN and identity policies; ("", []) when the role is gone: its sessions can do nothing."""
        role = self._role(role_name)
        return role.arn, role.policies

    def decide(
        self, role_name: str, action: str, resource: str, context: dict[str, list[str]]
    ) -> tuple[policy.Decision, str]:
        """The role's decision on one action and resource, and the role's ARN."""
        _, decisions = self._current()
        role = self._role(role_name)
        request = RequestContext({**context, "aws:PrincipalArn": [role.arn]})  # the role's ARN, not the session's
        key = (role_name, action, resource, *((name, name in request, request.values(name)) for name in role.reads))
        decision = decisions.get(key)
        if decision is None:
            decision = policy.evaluate(role.policies, action, resource, request)
            if len(decisions) >= MAX_REMEMBERED_DECISIONS:
                decisions.clear()
            decisions[key] = decision
        return decision, role.arn

    def check(self, service: Service, operation: str, params: dict[str, Any], call: Call, resources: list[str]) -> None:
        """Refusal("denied", AWS's sentence) unless the caller's policies allow every resource touched."""
        identity = call.identity
        role_name = identity.role_name
        if role_name is None:
            return
        action = service.iam_action(operation)
        if action in UNCONDITIONAL:
            return
        context = request_context(identity.account, identity.user_id, call.region)
        context.update(service.condition_keys(operation, params))
        pairs = [(action, resource) for resource in resources]
        for action, resource in pairs + service.also_authorized(operation, params, call):
            decision, _ = self.decide(role_name, action, resource, context)
            if not decision.allowed:
                raise Refusal("denied", denial(identity.arn, action, resource, decision))
