"""Audit a role's policies: what each grants beyond need, with a severity and one line of why.

The checks follow the usual catalogues (IAM Access Analyzer's security warnings, parliament's
RESOURCE_STAR, cloudsplaining's privilege-escalation and data-exfiltration risks): wildcard
actions, `Resource: "*"` where a resource can be named, service-wide managed policies on a role
that needs one thing, privilege escalation through IAM, and reading any object in any bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from services.security.roles import RoleDetail, listed, names_action, statements

Severity = Literal["critical", "high", "medium", "low"]
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low")

# Actions AWS only grants on "*" (no resource-level permissions), so "*" there is not a finding.
UNSCOPABLE = (
    "s3:ListAllMyBuckets",
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "cloudwatch:Describe*",
    "logs:CreateLogDelivery",
    "logs:DescribeLogGroups",
    "sagemaker:List*",
    "sagemaker:Search",
    "lambda:List*",
    "ec2:Describe*",
    "sts:GetCallerIdentity",
    "iam:List*",
)
# Actions that let a principal give itself (or a resource it controls) more power.
ESCALATION = (
    "iam:AttachRolePolicy",
    "iam:PutRolePolicy",
    "iam:CreatePolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "sts:AssumeRole",
)
# AWS managed policies that grant a whole service (or more).
SERVICE_WIDE = {
    "AdministratorAccess": "every action on every resource",
    "PowerUserAccess": "every action outside IAM",
    "IAMFullAccess": "every IAM action",
    "AmazonSageMakerFullAccess": "every SageMaker action on every resource, S3, logs, ECR and iam:PassRole",
    "AmazonS3FullAccess": "every S3 action on every bucket",
    "AWSLambda_FullAccess": "every Lambda action on every function",
    "CloudWatchLogsFullAccess": "every CloudWatch Logs action",
}


@dataclass(frozen=True)
class Finding:
    severity: Severity
    kind: str
    policy: str
    message: str


def _covers(statement: dict[str, Any], action: str) -> bool:
    return statement.get("Effect") == "Allow" and names_action(statement, action)


def _resource_part(pattern: str) -> str:
    return pattern.split(":", 5)[5] if pattern.count(":") >= 5 else pattern


def unbounded(pattern: str) -> bool:
    """A resource pattern every resource of its type matches: `*`, `arn:aws:s3:::*`, `...:role/*`."""
    if pattern == "*":
        return True
    parts = _resource_part(pattern).split("/")
    is_s3 = pattern.startswith("arn:aws:s3:")  # `bucket/key`: no resource type in front
    if not is_s3 and len(parts) > 1 and parts[0].replace("-", "").isalpha():
        parts = parts[1:]  # the resource type (`role/`, `endpoint/`)
    return all(part == "*" for part in parts)


def _on_any(statement: dict[str, Any]) -> bool:
    return "NotResource" in statement or any(unbounded(p) for p in listed(statement.get("Resource")))


def _nameable(action: str) -> bool:
    # A pattern such as `sagemaker:List*` counts as unscopable because an unscopable pattern matches it.
    return not any(names_action({"Action": pattern}, action) for pattern in UNSCOPABLE)


def statement_findings(statement: dict[str, Any], policy: str) -> list[Finding]:
    """What one Allow statement grants beyond need."""
    if statement.get("Effect") != "Allow":
        return []
    found: list[Finding] = []
    actions = listed(statement.get("Action"))
    if "NotAction" in statement:
        found.append(Finding("high", "wildcard action", policy, "NotAction allows every action except a few."))
    for action in actions:
        if action == "*":
            found.append(Finding("critical", "wildcard action", policy, 'Action "*" allows every action.'))
        elif action.endswith(":*"):
            service = action.split(":")[0]
            found.append(Finding("high", "wildcard action", policy, f"{action} allows every {service} action."))
    partial = [a for a in actions if ("*" in a or "?" in a) and a != "*" and not a.endswith(":*")]
    if partial:
        found.append(
            Finding("low", "wildcard action", policy, f"{', '.join(partial)}: each allows every action it matches.")
        )
    if "*" in listed(statement.get("Resource")):
        nameable = [a for a in actions if _nameable(a)]
        if nameable:
            found.append(
                Finding(
                    "medium",
                    "resource *",
                    policy,
                    f'Resource "*" for {", ".join(nameable)}, whose resources can be named.',
                )
            )
    if _on_any(statement):
        if _covers(statement, "iam:PassRole"):
            condition = " (limited by a condition)" if statement.get("Condition") else ""
            found.append(
                Finding(
                    "medium" if condition else "high",
                    "privilege escalation",
                    policy,
                    f"iam:PassRole on any role{condition}: hand any role, admin included, to a service.",
                )
            )
        escalating = [a for a in ESCALATION if _covers(statement, a)]
        if escalating:
            found.append(
                Finding(
                    "critical",
                    "privilege escalation",
                    policy,
                    f"{', '.join(escalating)} on any resource: the role can grant itself anything.",
                )
            )
    if _covers(statement, "s3:GetObject"):
        patterns = ["*"] if "NotResource" in statement else listed(statement.get("Resource"))
        if any(unbounded(p) for p in patterns):
            found.append(
                Finding("high", "data exfiltration", policy, "s3:GetObject on any bucket: read every object stored.")
            )
        elif any("*" in _resource_part(p).split("/")[0] for p in patterns):
            found.append(
                Finding(
                    "medium",
                    "data exfiltration",
                    policy,
                    "s3:GetObject on every bucket whose name matches a wildcard, not on named buckets.",
                )
            )
    return found


def audit_role(role: RoleDetail) -> list[Finding]:
    """Findings for every policy of the role, most severe first."""
    found: list[Finding] = []
    functions = [u.name for u in role.used_by if u.kind == "function"]
    calls = sorted({u.endpoint for u in role.used_by if u.kind == "function" and u.endpoint})
    for policy in role.policies:
        short = policy.name
        if policy.kind == "aws-managed" and short in SERVICE_WIDE:
            grants = SERVICE_WIDE[short]
            if functions:
                needs = f"invokes only {', '.join(calls)}" if calls else "calls no endpoint"
                why = f"{short} grants {grants}; function {', '.join(functions)} {needs}."
                found.append(Finding("high", "service-wide grant", short, why))
            else:
                found.append(Finding("medium", "service-wide grant", short, f"{short} grants {grants}."))
        for statement in statements(policy.document):
            found += statement_findings(statement, short)
    return sorted(found, key=lambda f: SEVERITY_ORDER.index(f.severity))
