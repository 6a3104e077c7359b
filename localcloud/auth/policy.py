"""IAM policy documents: parsed and checked as IAM checks them, and evaluated as AWS evaluates them.

Evaluation follows AWS's documented logic for identity-based policies: an explicit Deny in any
statement wins; otherwise an Allow is needed; otherwise the request is implicitly denied.
Actions match case-insensitively with `*` and `?`; resources match ARN segment by segment with
wildcards (the resource part may span `/` and `:`); NotAction and NotResource match everything
except their lists; a condition on a key the request lacks is false, except for the negated
operators, `...IfExists` and `Null`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from localcloud.core.protocol import AwsError

VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "NotPrincipal",
}


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message, 400)


@dataclass(frozen=True)
class Statement:
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_actions: bool
    resources: tuple[str, ...] | None
    not_resources: bool
    conditions: dict[str, dict[str, list[str]]]
    principals: dict[str, tuple[str, ...]] | None  # trust (resource) policies only
    source: dict[str, Any] = field(compare=False, hash=False)


@dataclass(frozen=True)
class Policy:
    """A parsed document and where it came from (for SimulatePrincipalPolicy's MatchedStatements)."""

    source_id: str
    source_type: str  # "IAM Policy" (managed), "role" (inline), "resource" (trust)
    statements: tuple[Statement, ...]


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise malformed(f"Syntax errors in policy. {what} must be a string or a list of strings.")


def parse(
    document: str | dict[str, Any], *, source_id: str = "", source_type: str = "IAM Policy", trust: bool = False
) -> Policy:
    """Check a document as IAM does when it is stored; MalformedPolicyDocument when it is not one."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise malformed("Syntax errors in policy.") from exc
    if not isinstance(document, dict):
        raise malformed("Syntax errors in policy.")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise malformed(f"Syntax errors in policy. Unknown field {sorted(unknown)[0]}.")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise malformed("The policy failed legacy parsing")
    raw = document.get("Statement")
    if raw is None:
        raise malformed("Syntax errors in policy. Missing required field Statement.")
    raw_statements = raw if isinstance(raw, list) else [raw]
    if not raw_statements:
        raise malformed("Syntax errors in policy. Statement must not be empty.")
    return Policy(source_id, source_type, tuple(_statement(s, trust=trust) for s in raw_statements))


@lru_cache(maxsize=1024)
def parse_stored(document: str, source_id: str, source_type: str, *, trust: bool = False) -> Policy:
    """`parse` for documents already stored (so known good): every request of a role session reads them."""
    return parse(document, source_id=source_id, source_type=source_type, trust=trust)


def _statement(raw: Any, *, trust: bool) -> Statement:
    if not isinstance(raw, dict):
        raise malformed("Syntax errors in policy.")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise malformed(f"Syntax errors in policy. Unknown field {sorted(unknown)[0]}.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise malformed("Syntax errors in policy. Effect must be Allow or Deny.")
    if ("Action" in raw) == ("NotAction" in raw):
        raise malformed("Policy statement must contain actions.")
    actions = _strings(raw.get("Action", raw.get("NotAction")), "Action")
    for action in actions:
        if action != "*" and not re.fullmatch(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+", action):
            raise malformed(f"Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. ({action})")
    principals = None
    if trust:
        if "Principal" not in raw:
            raise malformed("Missing required field Principal")
        principals = _principals(raw["Principal"])
    elif "Principal" in raw or "NotPrincipal" in raw:
        raise malformed("Policy document should not specify a principal.")
    resources = None
    if "Resource" in raw or "NotResource" in raw:
        resources = _strings(raw.get("Resource", raw.get("NotResource")), "Resource")
    elif not trust:
        raise malformed("Policy statement must contain resources.")
    conditions = _conditions(raw.get("Condition", {}))
    return Statement(
        raw.get("Sid"),
        effect,
        actions,
        "NotAction" in raw,
        resources,
        "NotResource" in raw,
        conditions,
        principals,
        raw,
    )


def _principals(raw: Any) -> dict[str, tuple[str, ...]]:
    if raw == "*":
        return {"AWS": ("*",)}
    if not isinstance(raw, dict) or not raw:
        raise malformed("Invalid principal in policy")
    return {kind: _strings(value, "Principal") for kind, value in raw.items()}


def _conditions(raw: Any) -> dict[str, dict[str, list[str]]]:
    if not isinstance(raw, dict):
        raise malformed("Syntax errors in policy. Condition must be an object.")
    conditions: dict[str, dict[str, list[str]]] = {}
    for operator, block in raw.items():
        base = _base_operator(operator)
        if base not in _OPERATORS:
            raise malformed(f"Invalid Condition type : {operator}.")
        if not isinstance(block, dict):
            raise malformed("Syntax errors in policy. A condition operator maps keys to values.")
        conditions[operator] = {
            key: [
                str(v).lower() if isinstance(v, bool) else str(v) for v in (vals if isinstance(vals, list) else [vals])
            ]
            for key, vals in block.items()
        }
    return conditions


# ---------------------------------------------------------------- matching


@cache
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, ignore_case=True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    """ARN wildcards: `*` alone matches everything; otherwise each of the six segments on its own."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return _glob(pattern, ignore_case=False).fullmatch(arn) is not None
    return all(_glob(w, ignore_case=False).fullmatch(h) is not None for w, h in zip(want, have, strict=True))


# ---------------------------------------------------------------- conditions


def _base_operator(operator: str) -> str:
    name = operator.split(":", 1)[1] if operator.startswith(("ForAnyValue:", "ForAllValues:")) else operator
    return name.removesuffix("IfExists")


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _ip(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


# operator -> (test(value, pattern), negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), True),
    "StringLike": (lambda v, p: _glob(p, ignore_case=False).fullmatch(v) is not None, False),
    "StringNotLike": (lambda v, p: _glob(p, ignore_case=False).fullmatch(v) is not None, True),
    "NumericEquals": (lambda v, p: _number(v) == _number(p), False),
    "NumericNotEquals": (lambda v, p: _number(v) == _number(p), True),
    "NumericLessThan": (lambda v, p: _number(v) < _number(p), False),
    "NumericLessThanEquals": (lambda v, p: _number(v) <= _number(p), False),
    "NumericGreaterThan": (lambda v, p: _number(v) > _number(p), False),
    "NumericGreaterThanEquals": (lambda v, p: _number(v) >= _number(p), False),
    "DateEquals": (lambda v, p: _date(v) == _date(p), False),
    "DateNotEquals": (lambda v, p: _date(v) == _date(p), True),
    "DateLessThan": (lambda v, p: _date(v) < _date(p), False),
    "DateLessThanEquals": (lambda v, p: _date(v) <= _date(p), False),
    "DateGreaterThan": (lambda v, p: _date(v) > _date(p), False),
    "DateGreaterThanEquals": (lambda v, p: _date(v) >= _date(p), False),
    "Bool": (lambda v, p: v.lower() == p.lower(), False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (lambda v, p: resource_matches(p, v), False),
    "ArnLike": (lambda v, p: resource_matches(p, v), False),
    "ArnNotEquals": (lambda v, p: resource_matches(p, v), True),
    "ArnNotLike": (lambda v, p: resource_matches(p, v), True),
    "Null": (None, False),
}


def _condition_holds(operator: str, key: str, patterns: list[str], context: dict[str, list[str]]) -> bool:
    base = _base_operator(operator)
    lookup = {k.lower(): v for k, v in context.items()}
    values = lookup.get(key.lower())
    if base == "Null":  # "true": the key must be absent; "false": present
        return (values is None) == (patterns[0].lower() == "true")
    test, negated = _OPERATORS[base]
    if values is None:
        return operator.endswith("IfExists") or negated
    try:
        if operator.startswith("ForAllValues:"):
            hits = all(any(test(v, p) for p in patterns) for v in values)
        else:  # ForAnyValue and single-valued keys
            hits = any(test(v, p) for v in values for p in patterns)
    except (ValueError, TypeError):
        return False
    return not hits if negated else hits


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Decision:
    """`allowed`, `explicitDeny` or `implicitDeny` (SimulatePrincipalPolicy's words) and why."""

    decision: str
    matched: tuple[tuple[Policy, Statement], ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def statement_applies(statement: Statement, action: str, resource: str, context: dict[str, list[str]]) -> bool:
    action_hit = any(action_matches(p, action) for p in statement.actions)
    if action_hit == statement.not_actions:
        return False
    if statement.resources is not None:
        resource_hit = any(resource_matches(p, resource) for p in statement.resources)
        if resource_hit == statement.not_resources:
            return False
    return all(
        _condition_holds(operator, key, patterns, context)
        for operator, block in statement.conditions.items()
        for key, patterns in block.items()
    )


def evaluate(
    policies: list[Policy], action: str, resource: str, context: dict[str, list[str]] | None = None
) -> Decision:
    """AWS's decision for identity-based policies on one action and resource."""
    context = context or {}
    allows = []
    for policy in policies:
        for statement in policy.statements:
            if not statement_applies(statement, action, resource, context):
                continue
            if statement.effect == "Deny":
                return Decision("explicitDeny", ((policy, statement),))
            allows.append((policy, statement))
    return Decision("allowed", tuple(allows)) if allows else Decision("implicitDeny")


def principal_matches(statement: Statement, kind: str, principal: str, account: str) -> bool:
    """Trust policies: does `Principal` name this caller (an ARN, its account, `*`, or a service)?"""
    names = (statement.principals or {}).get(kind, ())
    if kind != "AWS":
        return principal in names
    return any(name in ("*", principal, account, f"arn:aws:iam::{account}:root") for name in names)


def trust_allows(
    trust: Policy, kind: str, principal: str, account: str, action: str, context: dict[str, list[str]] | None = None
) -> Decision:
    """A role's trust policy on one caller: the statements that name it decide, deny first."""
    naming = [s for s in trust.statements if principal_matches(s, kind, principal, account)]
    return evaluate([Policy(trust.source_id, trust.source_type, tuple(naming))], action, "*", context)
