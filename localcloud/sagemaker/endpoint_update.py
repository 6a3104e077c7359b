"""UpdateEndpoint's two rules that involve the endpoint's current fleet, as AWS documents them.

- Autoscaled variants: AWS refuses an update only when it would remove, or change the instance type of, a
  variant registered as a scalable target with Application Auto Scaling. Changing such a variant's model is
  allowed ("changing the model doesn't typically affect performance enough to change scaling behavior",
  SageMaker developer guide, "Update endpoints that use auto scaling").
- `RetainAllVariantProperties=True`: a variant of the same name keeps its current DesiredInstanceCount
  (whatever autoscaling made it) instead of the new config's InitialInstanceCount, unless
  `ExcludeRetainedVariantProperties` names DesiredInstanceCount.
"""

from __future__ import annotations

from typing import Any


def _instance_types(config: dict[str, Any]) -> dict[str, str | None]:
    return {v["VariantName"]: v.get("InstanceType") for v in config.get("ProductionVariants", [])}


def blocked_variants(scaled: list[str], current: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The autoscaled variants that the new config would remove or move to another instance type."""
    before, after = _instance_types(current), _instance_types(new)
    return [v for v in scaled if v in before and (v not in after or after[v] != before[v])]


def refusal(blocked: list[str]) -> str:
    """AWS's words for an update refused because of autoscaled variants."""
    return (
        f'The variant(s) "[{", ".join(blocked)}]" must be deregistered as scalable targets with AWS '
        "Application Auto Scaling before they can be removed or have their instance types updated."
    )


def retained_counts(p: dict[str, Any], desired_now: dict[str, int], new: dict[str, Any]) -> dict[str, int]:
    """The instance counts the new fleet starts with instead of its config's, by variant name: the current
    DesiredInstanceCount of each same-named variant when the request retains variant properties."""
    if not p.get("RetainAllVariantProperties"):
        return {}
    excluded = {e.get("VariantPropertyType") for e in p.get("ExcludeRetainedVariantProperties") or []}
    if "DesiredInstanceCount" in excluded:
        return {}
    return {name: count for name, count in desired_now.items() if name in _instance_types(new)}
