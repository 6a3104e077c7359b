"""IAM policy documents: parsed and checked as IAM checks them, and evaluated as AWS evaluates them.

Evaluation follows AWS's documented logic for identity-based policies: an explicit Deny in any
statement wins; otherwise an Allow is needed; otherwise the request is implicitly denied.
Actions match case-insensitively with `*` and `?`; resources match ARN segment by segment with
wildcards (the resource part may span `/` and `:`); NotAction and NotResource match everything
except their lists. Conditions, set qualifiers and policy variables: conditions.py.

The same evaluation serves real requests (the authorizer) and IAM's policy simulator, which also wants
where each deciding statement sits in its document and which context keys the request did not supply.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from localcloud.auth.conditions import (
    NULL,
    OPERATORS,
    VARIABLES_VERSION,
    RequestContext,
    action_matches,
    condition_holds,
    parse_operator,
    resolve,
    resource_matches,
    variable_keys,
    variables_allowed,
)
from localcloud.core.protocol import AwsError

VERSIONS = (VARIABLES_VERSION, "2008-10-17")
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
Position = tuple[int, int]  # (line, column), both from 1
Context = Mapping[str, Sequence[str]] | RequestContext


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
    # Where the statement's braces sit in the document text, as the simulator reports them (the column just
    # after `{` and just after `}`); None for a document given as a dict.
    start: Position | None = field(default=None, compare=False)
    end: Position | None = field(default=None, compare=False)
    # The context keys the statement reads (its condition keys, its variables' keys), first spelling first.
    reads: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Policy:
    """A parsed document and where it came from (for the simulator's MatchedStatements)."""

    source_id: str  # the policy's name; `PolicyInputList.N` for a simulation's own documents
    # botocore's PolicySourceType: "role" (a role's inline policy), "aws-managed", "user-managed", "resource"
    # (a trust policy), "none" (a document handed to the simulator)
    source_type: str
    statements: tuple[Statement, ...]
    version: str = VARIABLES_VERSION


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise malformed(f"Syntax errors in policy. {what} must be a string or a list of strings.")


def parse(
    document: str | dict[str, Any], *, source_id: str = "", source_type: str = "none", trust: bool = False
) -> Policy:
    """Check a document as IAM does when it is stored; MalformedPolicyDocument when it is not one."""
    text = document if isinstance(document, str) else None
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
    variables = version == VARIABLES_VERSION
    statements = tuple(_statement(s, trust=trust) for s in raw_statements)
    statements = tuple(dataclasses.replace(s, reads=_reads(s, variables=variables)) for s in statements)
    if text is not None:
        spans = _statement_spans(text)
        statements = tuple(
            dataclasses.replace(s, start=_after(text, open_at), end=_after(text, close_at))
            for s, (open_at, close_at) in zip(statements, spans, strict=True)
        )
    return Policy(source_id, source_type, statements, version)


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
        qualifier, base, _ = parse_operator(operator)
        if qualifier not in (None, "ForAllValues", "ForAnyValue") or (base not in OPERATORS and base != NULL):
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


def _reads(statement: Statement, *, variables: bool) -> tuple[str, ...]:
    """The context keys a statement reads: its condition keys and the variables in its Resource and conditions."""
    keys = [key for pattern in statement.resources or () for key in variable_keys(pattern)] if variables else []
    for operator, block in statement.conditions.items():
        for key, patterns in block.items():
            keys.append(key)
            if variables and variables_allowed(operator):
                keys.extend(k for pattern in patterns for k in variable_keys(pattern))
    first_spelling: dict[str, str] = {}
    for key in keys:
        first_spelling.setdefault(key.lower(), key)
    return tuple(first_spelling.values())


# ---------------------------------------------------------------- where statements sit in the text

_DECODER = json.JSONDecoder()


def _statement_spans(text: str) -> list[tuple[int, int]]:
    """The offsets of each statement's `{` and `}` in a document's JSON text (known to parse)."""
    spans: list[tuple[int, int]] = []
    at = _skip_space(text, _skip_space(text, 0) + 1)  # past the document's `{`
    while text[at] != "}":
        key, at = _DECODER.raw_decode(text, at)
        at = _skip_space(text, _skip_space(text, at) + 1)  # past `:`
        if key != "Statement":
            at = _DECODER.raw_decode(text, at)[1]
        elif text[at] == "[":  # the last Statement wins, as in json.loads
            spans, at = _item_spans(text, at)
        else:
            end = _DECODER.raw_decode(text, at)[1]
            spans, at = [(at, end - 1)], end
        at = _skip_space(text, at)
        if text[at] == ",":
            at = _skip_space(text, at + 1)
    return spans


def _item_spans(text: str, at: int) -> tuple[list[tuple[int, int]], int]:
    """The first and last offsets of each item of the JSON array at `at`, and the offset after the array."""
    spans = []
    at = _skip_space(text, at + 1)
    while text[at] != "]":
        end = _DECODER.raw_decode(text, at)[1]
        spans.append((at, end - 1))
        at = _skip_space(text, end)
        if text[at] == ",":
            at = _skip_space(text, at + 1)
    return spans, at + 1


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


def _after(text: str, offset: int) -> Position:
    """(line, column) of the character just after `offset`."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 2


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Decision:
    """`allowed`, `explicitDeny` or `implicitDeny` (the simulator's words), the statements that decided it,
    and the context keys that statements for this action and resource read but the request did not carry."""

    decision: str
    matched: tuple[tuple[Policy, Statement], ...] = ()
    missing_context: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


def _action_hit(statement: Statement, action: str) -> bool:
    return any(action_matches(p, action) for p in statement.actions) != statement.not_actions


def _resource_hit(
    statement: Statement, resource: str, context: RequestContext, *, variables: bool, unresolved: str | None
) -> bool:
    """Resource/NotResource names the resource. A variable without a value: its pattern matches nothing,
    or, with `unresolved`, that text stands in for it."""
    if statement.resources is None:
        return True
    patterns = statement.resources
    if variables:
        patterns = tuple(p for r in patterns if (p := resolve(r, context, unresolved=unresolved)) is not None)
    return any(resource_matches(p, resource) for p in patterns) != statement.not_resources


def _conditions_hold(statement: Statement, context: RequestContext, *, variables: bool) -> bool:
    return all(
        condition_holds(operator, key, patterns, context, variables=variables)
        for operator, block in statement.conditions.items()
        for key, patterns in block.items()
    )


def context_keys(policies: Sequence[Policy]) -> list[str]:
    """Every context key the policies read, first spelling first (GetContextKeysFor*Policy)."""
    found: dict[str, str] = {}
    for policy in policies:
        for statement in policy.statements:
            for key in statement.reads:
                found.setdefault(key.lower(), key)
    return list(found.values())


def evaluate(policies: Sequence[Policy], action: str, resource: str, context: Context | None = None) -> Decision:
    """AWS's decision for identity-based policies on one action and resource."""
    request = context if isinstance(context, RequestContext) else RequestContext(context)
    allows: list[tuple[Policy, Statement]] = []
    denies: list[tuple[Policy, Statement]] = []
    missing: dict[str, str] = {}
    for policy in policies:
        variables = policy.version == VARIABLES_VERSION
        for statement in policy.statements:
            if not _action_hit(statement, action):
                continue
            # Could the statement name this resource once every variable had a value? Then what it reads counts.
            stand_in = None if statement.not_resources else "*"
            if not _resource_hit(statement, resource, request, variables=variables, unresolved=stand_in):
                continue
            for key in statement.reads:
                if key not in request:
                    missing.setdefault(key.lower(), key)
            if variables and not _resource_hit(statement, resource, request, variables=True, unresolved=None):
                continue
            if _conditions_hold(statement, request, variables=variables):
                (denies if statement.effect == "Deny" else allows).append((policy, statement))
    keys = tuple(missing.values())
    if denies:
        return Decision("explicitDeny", tuple(denies), keys)
    return Decision("allowed", tuple(allows), keys) if allows else Decision("implicitDeny", (), keys)


def principal_matches(statement: Statement, kind: str, principal: str, account: str) -> bool:
    """Trust policies: does `Principal` name this caller (an ARN, its account, `*`, or a service)?"""
    names = (statement.principals or {}).get(kind, ())
    if kind != "AWS":
        return principal in names
    return any(name in ("*", principal, account, f"arn:aws:iam::{account}:root") for name in names)


def trust_allows(
    trust: Policy, kind: str, principal: str, account: str, action: str, context: Context | None = None
) -> Decision:
    """A role's trust policy on one caller: the statements that name it decide, deny first."""
    naming = tuple(s for s in trust.statements if principal_matches(s, kind, principal, account))
    return evaluate([dataclasses.replace(trust, statements=naming)], action, "*", context)
