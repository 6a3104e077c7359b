"""IAM's policy simulator: SimulatePrincipalPolicy, SimulateCustomPolicy and GetContextKeysFor*Policy, answered
with botocore's shapes and AWS's documented behaviour.

- One EvaluationResult per action. Its EvalDecision is the most restrictive decision over the resources
  (explicitDeny, then implicitDeny, then allowed), its MatchedStatements the statements behind that decision,
  its MissingContextValues every context key the deciding policies read that ContextEntries did not supply.
  With ResourceArns, ResourceSpecificResults holds each resource's own decision, and EvalDecisionDetails is
  present and empty (the same account); without them, neither is.
- EvalResourceName: AWS names the ARN template of the action's resource type (from its Service Authorization
  Reference, which localcloud does not carry); localcloud answers `*`, AWS's word for an action without one.
- ContextEntries are typed (ContextKeyType); the List types make a key multivalued, which only the
  `ForAllValues:`/`ForAnyValue:` qualifiers compare.
- A permissions boundary caps what the identity policies allow; resource policies, exclusions and
  organization policies are not simulated, and a request carrying them is refused rather than answered wrongly.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from localcloud.auth import policy
from localcloud.auth.conditions import RequestContext, parse_date
from localcloud.core.paginator import Paginator, opaque, unopaque
from localcloud.core.protocol import AwsError

_SEVERITY = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}
_NOT_SIMULATED = ("ResourcePolicy", "PolicyExclusionList", "OrderedOrganizationPolicyInputList")
_PAGES = Paginator(
    token="Marker",
    next_token="Marker",
    size="MaxItems",
    default_size=100,
    read=lambda token: int(unopaque(token)),
    write=lambda offset: opaque(str(offset)),
    invalid_code="InvalidInput",
)


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


def _boolean(text: str) -> str:
    if text.lower() not in ("true", "false"):
        raise ValueError(text)
    return text.lower()


def _checked(parse: Callable[[str], object]) -> Callable[[str], str]:
    """A ContextKeyType's check: the value as given when `parse` accepts it."""

    def check(text: str) -> str:
        parse(text)
        return text

    return check


# ContextKeyType (without `List`) -> the value as the evaluator compares it; ValueError when it is not one
_CONTEXT_TYPES: dict[str, Callable[[str], str]] = {
    "string": str,
    "numeric": _checked(float),
    "boolean": _boolean,
    "date": _checked(parse_date),
    "ip": _checked(ipaddress.ip_address),
    "binary": _checked(lambda text: base64.b64decode(text, validate=True)),
}


def request_context(entries: Sequence[dict[str, Any]]) -> RequestContext:
    """ContextEntries as the evaluator reads them; InvalidInput for a value its ContextKeyType refuses."""
    values: dict[str, list[str]] = {}
    multivalued = []
    for entry in entries:
        name = entry.get("ContextKeyName")
        if not name:
            raise invalid_input("Each ContextEntries member needs a ContextKeyName.")
        given = entry.get("ContextKeyValues", [])
        kind = entry.get("ContextKeyType", "stringList" if len(given) > 1 else "string")
        base, is_list = kind.removesuffix("List"), kind.endswith("List")
        if base not in _CONTEXT_TYPES:
            raise invalid_input(f"Context key {name} has an unknown ContextKeyType {kind}.")
        if not is_list and len(given) > 1:
            raise invalid_input(f"Context key {name} is of type {kind}, which holds one value; use {kind}List.")
        try:
            values[name] = [_CONTEXT_TYPES[base](value) for value in given]
        except (ValueError, binascii.Error):
            raise invalid_input(f"Context key {name}: {given} are not values of type {kind}.") from None
        if is_list:
            multivalued.append(name)
    return RequestContext(values, multivalued)


def input_policies(documents: Sequence[str], id_prefix: str) -> list[policy.Policy]:
    """The documents a request hands the simulator, named `<id_prefix>.<n>` as IAM names them."""
    try:
        return [
            policy.parse(document, source_id=f"{id_prefix}.{n}", source_type="none")
            for n, document in enumerate(documents, 1)
        ]
    except AwsError as error:  # the simulator's word for a document it cannot read
        raise invalid_input(f"{id_prefix}: {error.message}") from None


def _statements(matched: Iterable[tuple[policy.Policy, policy.Statement]]) -> list[dict[str, Any]]:
    """MatchedStatements: each statement's policy and where it sits in the policy's text."""
    found = []
    for source, statement in matched:
        entry: dict[str, Any] = {"SourcePolicyId": source.source_id, "SourcePolicyType": source.source_type}
        if statement.start and statement.end:
            entry["StartPosition"] = {"Line": statement.start[0], "Column": statement.start[1]}
            entry["EndPosition"] = {"Line": statement.end[0], "Column": statement.end[1]}
        found.append(entry)
    return found


def _decide(
    identity: Sequence[policy.Policy],
    boundary: Sequence[policy.Policy],
    action: str,
    resource: str,
    context: RequestContext,
) -> tuple[policy.Decision, bool | None]:
    """The decision on one resource, and whether the permissions boundary (if any) allows it."""
    decision = policy.evaluate(identity, action, resource, context)
    if not boundary:
        return decision, None
    capped = policy.evaluate(boundary, action, resource, context)
    missing = tuple(dict.fromkeys(decision.missing_context + capped.missing_context))
    if capped.decision == "explicitDeny" and decision.decision != "explicitDeny":
        decision = capped
    elif decision.allowed and not capped.allowed:
        decision = policy.Decision("implicitDeny")
    return policy.Decision(decision.decision, decision.matched, missing), capped.allowed


def _evaluation_result(
    action: str,
    identity: Sequence[policy.Policy],
    boundary: Sequence[policy.Policy],
    resources: Sequence[str],
    context: RequestContext,
) -> dict[str, Any]:
    """One action's EvaluationResult: the most restrictive of its resources' decisions, and each of them."""
    decided = [(resource, *_decide(identity, boundary, action, resource, context)) for resource in resources or ["*"]]
    worst = max((d.decision for _, d, _ in decided), key=_SEVERITY.__getitem__)
    # The statements behind the reported decision, each once however many resources it decided.
    matched = {
        id(statement): (source, statement)
        for _, d, _ in decided
        if d.decision == worst
        for source, statement in d.matched
    }
    missing = dict.fromkeys(key for _, d, _ in decided for key in d.missing_context)
    result: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": "*",
        "EvalDecision": worst,
        "MatchedStatements": _statements(matched.values()),
        "MissingContextValues": list(missing),
    }
    if boundary:
        result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": all(b for _, _, b in decided)}
    if resources:
        result["EvalDecisionDetails"] = {}
        result["ResourceSpecificResults"] = [
            _resource_result(*entry, with_boundary=bool(boundary)) for entry in decided
        ]
    return result


def _resource_result(
    resource: str, decision: policy.Decision, boundary_allows: bool | None, *, with_boundary: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "EvalResourceName": resource,
        "EvalResourceDecision": decision.decision,
        "MatchedStatements": _statements(decision.matched),
        "MissingContextValues": list(decision.missing_context),
    }
    if with_boundary:
        result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": bool(boundary_allows)}
    return result


def simulate(identity: Sequence[policy.Policy], params: dict[str, Any]) -> dict[str, Any]:
    """SimulatePrincipalPolicy's and SimulateCustomPolicy's answer for `identity` (the principal's policies and
    the request's PolicyInputList) and the rest of the request."""
    refused = [name for name in _NOT_SIMULATED if params.get(name)]
    if refused:
        raise invalid_input(f"localcloud's policy simulator does not evaluate {refused[0]}; simulate without it.")
    boundary = input_policies(
        params.get("PermissionsBoundaryPolicyInputList", []), "PermissionsBoundaryPolicyInputList"
    )
    context = request_context(params.get("ContextEntries", []))
    resources = params.get("ResourceArns") or []
    if resources == ["*"]:  # every resource, as when none is named
        resources = []
    results = [_evaluation_result(a, identity, boundary, resources, context) for a in params["ActionNames"]]
    page, marker = _PAGES.page(results, params)
    answer: dict[str, Any] = {"EvaluationResults": page, "IsTruncated": marker is not None}
    if marker is not None:
        answer["Marker"] = marker
    return answer


def context_keys(policies: Sequence[policy.Policy]) -> dict[str, Any]:
    """GetContextKeysForPrincipalPolicy's and GetContextKeysForCustomPolicy's answer."""
    return {"ContextKeyNames": policy.context_keys(policies)}
