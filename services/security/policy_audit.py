"""Audit a role's policies: what each grants beyond need, with a severity, a code and one line of why.

The findings come from parliament (Duo Labs' IAM linter, with its community auditors: privilege escalation,
credentials exposure, permissions management) wherever it has a check, keeping its issue codes and severities.
The dashboard adds only what parliament does not judge: wildcard actions, iam:PassRole on any role (IAM Access
Analyzer's PASS_ROLE_WITH_STAR_IN_RESOURCE), reading any object in any bucket (cloudsplaining's data
exfiltration), and a service-wide managed policy on a role that needs one thing.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from services.security.roles import RoleDetail, listed, names_action, statements

with warnings.catch_warnings():  # parliament imports pkg_resources, which warns that it is deprecated
    warnings.simplefilter("ignore")
    import parliament
    from parliament import analyze_policy_string, enhance_finding

# The community auditors' titles and severities, as parliament's CLI loads them with --include-community-auditors.
parliament.override_config(str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"))

Severity = Literal["critical", "high", "medium", "low"]
SEVERITY_ORDER: tuple[Severity, ...] = ("critical", "high", "medium", "low")
Source = Literal["parliament", "dashboard"]

# parliament's issue codes -> the words the page shows them under.
_KINDS = {
    "RESOURCE_STAR": "resource *",
    "RESOURCE_EFFECTIVELY_STAR": "resource *",
    "PRIVILEGE_ESCALATION": "privilege escalation",
    "PERMISSIONS_MANAGEMENT_ACTIONS": "permissions management",
    "CREDENTIALS_EXPOSURE": "credentials exposure",
    "NOTRESOURCE_WITH_ALLOW": "wildcard resource",
    "RESOURCE_MISMATCH": "invalid",
    "UNKNOWN_ACTION": "invalid",
    "UNKNOWN_PREFIX": "invalid",
    "UNKNOWN_CONDITION_FOR_ACTION": "invalid",
    "MALFORMED": "invalid",
}
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
    """One finding on one policy: `code` is parliament's issue code (or AWS's, or the dashboard's own where
    neither has one) and `source` says which judged it."""

    severity: Severity
    kind: str
    policy: str
    message: str
    code: str = ""
    source: Source = "dashboard"


def _actions_text(actions: list[str], shown: int = 6) -> str:
    more = f" and {len(actions) - shown} more" if len(actions) > shown else ""
    return ", ".join(actions[:shown]) + more


def _parliament_message(issue: str, title: str, detail: Any, location: dict[str, Any]) -> str:
    if issue in ("RESOURCE_STAR", "RESOURCE_EFFECTIVELY_STAR") and isinstance(detail, list):
        return f"{title}: {_actions_text(detail)}, whose resources can be named."
    if issue == "PRIVILEGE_ESCALATION":
        return f"{title} ({location.get('type')}): {', '.join(location.get('actions', []))}."
    if isinstance(location.get("actions"), list):
        return f"{title}: {_actions_text(location['actions'])}."
    if issue == "RESOURCE_MISMATCH" and isinstance(detail, list):
        wrong = [f"{d['action']} needs {d['required_format']}" for d in detail if isinstance(d, dict)]
        return f"{title}: {_actions_text(wrong, 3)}."
    return f"{title}: {detail}." if detail else f"{title}."


@cache
def _lint(document_json: str, policy: str) -> tuple[Finding, ...]:
    analysed = analyze_policy_string(document_json, include_community_auditors=True)
    found = []
    for finding in map(enhance_finding, analysed.findings):
        severity = str(finding.severity).lower()
        found.append(
            Finding(
                severity if severity in SEVERITY_ORDER else "low",  # type: ignore[arg-type]
                _KINDS.get(finding.issue, str(finding.title).lower()),
                policy,
                _parliament_message(finding.issue, finding.title, finding.detail, finding.location or {}),
                finding.issue,
                "parliament",
            )
        )
    return tuple(found)


def lint(document: dict[str, Any], policy: str) -> list[Finding]:
    """parliament's findings on one policy document (cached: the Roles view lints every policy each run)."""
    return list(_lint(json.dumps(document, sort_keys=True), policy))


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


def statement_findings(statement: dict[str, Any], policy: str) -> list[Finding]:
    """What one Allow statement grants beyond need that parliament does not judge."""
    if statement.get("Effect") != "Allow":
        return []
    found: list[Finding] = []
    actions = listed(statement.get("Action"))
    if "NotAction" in statement:
        found.append(
            Finding("high", "wildcard action", policy, "NotAction allows every action except a few.", "NOT_ACTION")
        )
    for action in actions:
        if action == "*":
            found.append(
                Finding("critical", "wildcard action", policy, 'Action "*" allows every action.', "ACTION_STAR")
            )
        elif action.endswith(":*"):
            service = action.split(":")[0]
            found.append(
                Finding("high", "wildcard action", policy, f"{action} allows every {service} action.", "SERVICE_STAR")
            )
    patterns = ["*"] if "NotResource" in statement else listed(statement.get("Resource"))
    if any(unbounded(p) for p in patterns) and _covers(statement, "iam:PassRole"):
        limited = bool(statement.get("Condition"))
        why = f"iam:PassRole on any role{' (limited by a condition)' if limited else ''}: hand any role to a service."
        found.append(
            Finding(
                "medium" if limited else "high", "privilege escalation", policy, why, "PASS_ROLE_WITH_STAR_IN_RESOURCE"
            )
        )
    if _covers(statement, "s3:GetObject"):
        if any(unbounded(p) for p in patterns):
            why = "s3:GetObject on any bucket: read every object stored."
            found.append(Finding("high", "data exfiltration", policy, why, "DATA_EXFILTRATION"))
        elif any("*" in _resource_part(p).split("/")[0] for p in patterns):
            why = "s3:GetObject on every bucket whose name matches a wildcard, not on named buckets."
            found.append(Finding("medium", "data exfiltration", policy, why, "DATA_EXFILTRATION"))
    return found


def policy_findings(document: dict[str, Any], policy: str) -> list[Finding]:
    """Every finding on one policy document, parliament's and the dashboard's, most severe first."""
    found = lint(document, policy) + [f for s in statements(document) for f in statement_findings(s, policy)]
    return sorted(found, key=lambda f: SEVERITY_ORDER.index(f.severity))


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
                found.append(Finding("high", "service-wide grant", short, why, "SERVICE_WIDE_GRANT"))
            else:
                why = f"{short} grants {grants}."
                found.append(Finding("medium", "service-wide grant", short, why, "SERVICE_WIDE_GRANT"))
        found += policy_findings(policy.document, short)
    return sorted(found, key=lambda f: SEVERITY_ORDER.index(f.severity))
