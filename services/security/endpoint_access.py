"""Whether a function's role may still invoke the endpoint the function calls, and the least-privilege policy
brought up to date when the function was pointed at another endpoint.

A least-privilege policy names the endpoints the role's functions called when it was generated
(services/security/least_privilege.py). Changing a function's ENDPOINT_NAME afterwards leaves the role allowed
only the old ones, and every call of the function is then refused with AccessDenied. IAM's simulator tells,
over all of the role's policies; the update rewrites the policy's InvokeEndpoint statement to the endpoints
the role's functions call now, and nothing else in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError
from services.functions.lambda_functions import ENDPOINT_VARIABLE, FunctionInfo
from services.security.least_privilege import POLICY_NAME
from services.security.roles import iam_error, listed, names_action, statements

INVOKE = "sagemaker:InvokeEndpoint"
INVOKE_SID = "InvokeEndpoints"  # the Sid least_privilege's plans give the statement (services/security/role_uses.py)


@dataclass(frozen=True)
class EndpointAccess:
    """IAM's decision on the function's role invoking the function's endpoint, and which endpoints the role's
    least-privilege policy names (None: the role has no such policy)."""

    function: str
    role: str
    endpoint: str
    endpoint_arn: str
    decision: str
    least_privilege: tuple[str, ...] | None

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


@dataclass(frozen=True)
class PolicyUpdate:
    """The endpoints (ARNs) the role's least-privilege policy allows after the update, and those it took out."""

    role: str
    allowed: tuple[str, ...]
    removed: tuple[str, ...]


def endpoint_arn(function_arn: str, endpoint: str) -> str:
    """The endpoint's ARN in the function's region and account (SageMaker's ARNs spell names in lower case)."""
    _, _, _, region, account, *_ = function_arn.split(":")
    return f"arn:aws:sagemaker:{region}:{account}:endpoint/{endpoint.lower()}"


class EndpointAccessService(AwsService):
    """Checks and updates through IAM and Lambda; pass clients in tests, or let it build them."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        iam_client: Any = None,
        lambda_client: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"iam": iam_client, "lambda": lambda_client})

    def check(self, function: FunctionInfo) -> EndpointAccess | None:
        """IAM's decision for the function's endpoint; None when the function names no endpoint."""
        if function.endpoint_name is None:
            return None
        arn = endpoint_arn(function.arn, function.endpoint_name)
        role = function.role_arn.rsplit("/", 1)[-1]
        try:
            result = self._client("iam").simulate_principal_policy(
                PolicySourceArn=function.role_arn, ActionNames=[INVOKE], ResourceArns=[arn]
            )["EvaluationResults"][0]
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"check whether role '{role}' may invoke endpoint '{function.endpoint_name}'") from exc
        document = self._least_privilege(role)
        named = None
        if document is not None:
            named = tuple(
                resource
                for statement in statements(document)
                if statement.get("Effect") == "Allow" and names_action(statement, INVOKE)
                for resource in listed(statement.get("Resource"))
            )
        return EndpointAccess(function.name, role, function.endpoint_name, arn, result["EvalDecision"], named)

    def allow_called_endpoints(self, caller: Caller, function: FunctionInfo) -> PolicyUpdate:
        """Rewrite the role's least-privilege InvokeEndpoint statement to the endpoints its functions call now:
        the new endpoint in, the ones no function of the role calls any more out."""
        require_operator(caller, "change a role's policies")
        role = function.role_arn.rsplit("/", 1)[-1]
        document = self._least_privilege(role)
        if document is None:
            raise ServiceError(
                f"Role '{role}' has no {POLICY_NAME} policy to update: generate one on the Security page.",
                code="NoSuchEntity",
            )
        called = tuple(sorted(self._called_endpoints(function)))
        kept, before = [], set()
        for statement in statements(document):
            if statement.get("Effect") == "Allow" and [a.lower() for a in listed(statement.get("Action"))] == [
                INVOKE.lower()
            ]:
                before |= set(listed(statement.get("Resource")))
                continue
            kept.append(statement)
        invoke = {"Sid": INVOKE_SID, "Effect": "Allow", "Action": [INVOKE], "Resource": list(called)}
        updated = {**document, "Statement": [*kept, invoke]}
        try:
            self._client("iam").put_role_policy(
                RoleName=role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(updated)
            )
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"update the {POLICY_NAME} policy of '{role}'") from exc
        return PolicyUpdate(role, called, tuple(sorted(before - set(called))))

    def _least_privilege(self, role: str) -> dict[str, Any] | None:
        try:
            document = self._client("iam").get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
        except BOTO_ERRORS as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise iam_error(exc, f"read the {POLICY_NAME} policy of '{role}'") from exc
        return json.loads(document) if isinstance(document, str) else document

    def _called_endpoints(self, function: FunctionInfo) -> set[str]:
        """The ARNs of the endpoints every function on the same role calls now (ENDPOINT_NAME)."""
        try:
            pages = self._client("lambda").get_paginator("list_functions").paginate()
            sharing = [f for page in pages for f in page["Functions"] if f["Role"] == function.role_arn]
        except BOTO_ERRORS as exc:
            raise iam_error(exc, "read the functions that share the role") from exc
        return {
            endpoint_arn(f["FunctionArn"], name)
            for f in sharing
            if (name := ((f.get("Environment") or {}).get("Variables") or {}).get(ENDPOINT_VARIABLE))
        }
