"""The account's roles as an operator reads them: trust policy, every policy document (inline and
attached), what uses the role, and what IAM's simulator decides for an action on a resource.

Changes (create, put or attach a policy, delete) re-check the caller's role first; deleting a role
a function or model still uses is refused here, although IAM itself allows it, as AWS does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

PolicyKind = Literal["inline", "aws-managed", "customer-managed"]
_AWS_MANAGED = "arn:aws:iam::aws:policy/"
_ROLE_NAME = re.compile(r"[\w+=,.@-]{1,64}")
_IAM_CODES = {
    "MalformedPolicyDocument": "IAM refused the policy document: {message}",
    "EntityAlreadyExists": "{message} Choose another name.",
    "NoSuchEntity": "{message}",
    "DeleteConflict": "{message}",
    "LimitExceeded": "{message}",
    "InvalidInput": "{message}",
}


@dataclass(frozen=True)
class PolicyDocument:
    """One policy of a role: `arn` None for an inline one."""

    name: str
    kind: PolicyKind
    document: dict[str, Any]
    arn: str | None = None


@dataclass(frozen=True)
class RoleUse:
    """Something that runs as the role: a Lambda function (with the endpoint it calls) or a SageMaker model."""

    kind: Literal["function", "model"]
    name: str
    endpoint: str | None = None  # a function's ENDPOINT_NAME


@dataclass(frozen=True)
class RoleDetail:
    name: str
    arn: str
    trust: dict[str, Any]
    policies: tuple[PolicyDocument, ...]
    used_by: tuple[RoleUse, ...]


@dataclass(frozen=True)
class Simulation:
    """IAM's decision (`allowed`, `explicitDeny`, `implicitDeny`) and the statements that decided it."""

    action: str
    resource: str
    decision: str
    statements: tuple[tuple[str, dict[str, Any]], ...]  # (policy name, statement)
    missing_context: tuple[str, ...] = ()  # context keys the role's policies read that the simulation lacked
    source_types: tuple[tuple[str, str], ...] = ()  # (policy name, IAM's SourcePolicyType) of deciding policies

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def iam_error(exc: Exception, what: str) -> ServiceError:
    """IAM's refusals in words an operator can act on; everything else as services/core/errors.py says it."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    if code in _IAM_CODES:
        message = exc.response["Error"].get("Message", "")  # type: ignore[attr-defined]
        return ServiceError(f"Could not {what}: " + _IAM_CODES[code].format(message=message), code=code)
    return from_client_error(exc, what=what)  # type: ignore[arg-type]


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def listed(value: Any) -> list[str]:
    """A policy element that may be one string or a list, as a list."""
    return [value] if isinstance(value, str) else list(value or [])


def names_action(statement: dict[str, Any], action: str) -> bool:
    """Does the statement's Action (or NotAction) cover `action`?"""
    if "NotAction" in statement:
        return not any(_glob(p, action, ignore_case=True) for p in listed(statement["NotAction"]))
    return any(_glob(p, action, ignore_case=True) for p in listed(statement.get("Action")))


def names_resource(statement: dict[str, Any], resource: str) -> bool:
    """Does the statement's Resource (or NotResource) cover `resource`?"""
    if "NotResource" in statement:
        return not any(_glob(p, resource, ignore_case=False) for p in listed(statement["NotResource"]))
    return any(_glob(p, resource, ignore_case=False) for p in listed(statement.get("Resource")))


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    raw = document.get("Statement", [])
    return [raw] if isinstance(raw, dict) else list(raw)


class RoleService(AwsService):
    """Reads and changes roles through IAM; pass clients in tests, or let it build them."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        iam_client: Any = None,
        lambda_client: Any = None,
        sagemaker_client: Any = None,
    ) -> None:
        given = {"iam": iam_client, "lambda": lambda_client, "sagemaker": sagemaker_client}
        super().__init__(settings, boto3_session=boto3_session, clients=given)

    # reading ------------------------------------------------------------------------
    def roles(self) -> list[RoleDetail]:
        """Every role with its documents, in one account read plus one per AWS managed policy attached."""
        iam = self._client("iam")
        try:
            pages = iam.get_paginator("get_account_authorization_details").paginate(
                Filter=["Role", "LocalManagedPolicy"]
            )
            raw_roles, local = [], {}
            for page in pages:
                raw_roles += page["RoleDetailList"]
                local.update({p["Arn"]: p for p in page["Policies"]})
            used = self.role_users()
            return [self._detail(raw, local, used) for raw in sorted(raw_roles, key=lambda r: r["RoleName"])]
        except BOTO_ERRORS as exc:
            raise iam_error(exc, "read the account's roles") from exc

    def _detail(self, raw: dict[str, Any], local: dict[str, Any], used: dict[str, list[RoleUse]]) -> RoleDetail:
        policies = [PolicyDocument(p["PolicyName"], "inline", p["PolicyDocument"]) for p in raw["RolePolicyList"]]
        for attached in raw["AttachedManagedPolicies"]:
            arn = attached["PolicyArn"]
            kind: PolicyKind = "aws-managed" if arn.startswith(_AWS_MANAGED) else "customer-managed"
            policies.append(PolicyDocument(attached["PolicyName"], kind, self._managed_document(arn, local), arn))
        return RoleDetail(
            raw["RoleName"],
            raw["Arn"],
            raw["AssumeRolePolicyDocument"],
            tuple(policies),
            tuple(used.get(raw["Arn"], [])),
        )

    def _managed_document(self, arn: str, local: dict[str, Any]) -> dict[str, Any]:
        if arn in local:
            default = local[arn]["DefaultVersionId"]
            return next(v["Document"] for v in local[arn]["PolicyVersionList"] if v["VersionId"] == default)
        iam = self._client("iam")
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]

    def role_users(self) -> dict[str, list[RoleUse]]:
        """Role ARN -> the functions and models that run as it."""
        used: dict[str, list[RoleUse]] = {}
        for page in self._client("lambda").get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                endpoint = (function.get("Environment") or {}).get("Variables", {}).get("ENDPOINT_NAME")
                use = RoleUse("function", function["FunctionName"], endpoint)
                used.setdefault(function["Role"], []).append(use)
        sagemaker = self._client("sagemaker")
        for page in sagemaker.get_paginator("list_models").paginate():
            for model in page["Models"]:
                role = sagemaker.describe_model(ModelName=model["ModelName"])["ExecutionRoleArn"]
                used.setdefault(role, []).append(RoleUse("model", model["ModelName"]))
        return used

    def role(self, name: str) -> RoleDetail:
        found = [r for r in self.roles() if r.name == name]
        if not found:
            raise ServiceError(f"Role '{name}' does not exist.", code="NoSuchEntity")
        return found[0]

    def simulate(self, role: RoleDetail, action: str, resource: str) -> Simulation:
        """What IAM decides for the role on `action` and `resource`, with the statements that decided."""
        action, resource = action.strip(), resource.strip() or "*"
        if not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", action):
            raise ServiceError(f"'{action}' is not an action like sagemaker:InvokeEndpoint.")
        try:
            result = self._client("iam").simulate_principal_policy(
                PolicySourceArn=role.arn, ActionNames=[action], ResourceArns=[resource]
            )["EvaluationResults"][0]
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"simulate {action}") from exc
        matched = result.get("MatchedStatements", [])
        sources = {m["SourcePolicyId"] for m in matched}
        effect = "Deny" if result["EvalDecision"] == "explicitDeny" else "Allow"
        deciding = tuple(
            (p.name, s)
            for p in role.policies
            if {p.arn, p.name} & sources  # IAM names a policy by its name; an ARN is accepted too
            for s in statements(p.document)
            if s.get("Effect") == effect and names_action(s, action) and names_resource(s, resource)
        )
        missing = tuple(result.get("MissingContextValues", []))
        types = tuple((m["SourcePolicyId"], m.get("SourcePolicyType", "")) for m in matched)
        return Simulation(action, resource, result["EvalDecision"], deciding, missing, types)

    # changing -------------------------------------------------------------------------
    def create_role(self, caller: Caller, name: str, trusted_service: str) -> str:
        """A role that `trusted_service` (e.g. lambda.amazonaws.com) may assume; its ARN."""
        require_operator(caller, "create roles")
        if not _ROLE_NAME.fullmatch(name):
            raise ServiceError(f"'{name}' is not a role name: 1-64 letters, digits and +=,.@_-.")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": trusted_service}, "Action": "sts:AssumeRole"}],
        }
        try:
            return self._client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
                "Arn"
            ]
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"create role '{name}'") from exc

    def put_inline_policy(self, caller: Caller, role: str, policy_name: str, document: str) -> None:
        """Store `document` (JSON text) as the role's inline policy `policy_name`; IAM checks it."""
        require_operator(caller, "change policies")
        try:
            json.loads(document)
        except ValueError as exc:
            raise ServiceError(f"The policy is not JSON: {exc}.", code="MalformedPolicyDocument") from exc
        try:
            self._client("iam").put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=document)
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"put policy '{policy_name}' on role '{role}'") from exc

    def attach(self, caller: Caller, role: str, policy_arn: str) -> None:
        require_operator(caller, "attach policies")
        try:
            self._client("iam").attach_role_policy(RoleName=role, PolicyArn=policy_arn.strip())
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"attach {policy_arn} to role '{role}'") from exc

    def delete_role(self, caller: Caller, name: str) -> None:
        """Remove its policies, then the role; refused while a function or model runs as it."""
        require_operator(caller, "delete roles")
        role = self.role(name)
        if role.used_by:
            users = ", ".join(f"{u.kind} {u.name}" for u in role.used_by)
            raise ServiceError(
                f"Role '{name}' is still used by {users}: deleting it would break them. Give them another role first.",
                code="RoleInUse",
            )
        iam = self._client("iam")
        try:
            for policy in role.policies:
                if policy.arn is None:
                    iam.delete_role_policy(RoleName=name, PolicyName=policy.name)
                else:
                    iam.detach_role_policy(RoleName=name, PolicyArn=policy.arn)
            iam.delete_role(RoleName=name)
        except BOTO_ERRORS as exc:
            raise iam_error(exc, f"delete role '{name}'") from exc
