"""Autoscaling of an endpoint variant with Application Auto Scaling: the scalable target (min, max), one
target-tracking policy (SageMakerVariantInvocationsPerInstance or CPU utilisation), scheduled actions, the
CloudWatch alarms the policy owns and the scaling activities.

Operator input is checked before any call, with AWS's own rules and words where AWS has them: min ≤ max,
min ≥ 1 for a SageMaker variant, a positive target, cooldowns within 0..86400 s, and a max the cloud can
hold (localcloud reports its machine's limit; AWS's account quota is AWS's to enforce).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
POLICY_NAME = "dog-breed-target-tracking"
INVOCATIONS = "SageMakerVariantInvocationsPerInstance"
MAX_COOLDOWN_S = 86_400
DEFAULT_COOLDOWN_S = 300  # SageMaker variants' default scale-in and scale-out cooldown
Metric = Literal["invocations", "cpu"]
_SCHEDULE = re.compile(
    r"(at\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))"
)
_ACTION_NAME = re.compile(r"[^:/|]{1,256}")


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


def suggested_target(peak_rps_per_instance: float) -> float:
    """AWS's rule for SageMakerVariantInvocationsPerInstance: a load test's peak requests per second on one
    instance × a safety factor of 0.5 × 60 seconds."""
    return round(peak_rps_per_instance * 0.5 * 60, 1)


@dataclass(frozen=True)
class ScalingPlan:
    """What the operator asks for one variant."""

    min_capacity: int
    max_capacity: int
    target_value: float
    metric: Metric = "invocations"
    scale_in_cooldown_s: int = DEFAULT_COOLDOWN_S
    scale_out_cooldown_s: int = DEFAULT_COOLDOWN_S
    disable_scale_in: bool = False


@dataclass(frozen=True)
class Alarm:
    name: str
    state: str
    reason: str
    threshold: float | None
    comparison: str | None


@dataclass(frozen=True)
class Activity:
    description: str
    cause: str
    status: str
    start: datetime | None
    end: datetime | None
    status_message: str


@dataclass(frozen=True)
class ScheduledAction:
    name: str
    schedule: str
    min_capacity: int | None
    max_capacity: int | None


@dataclass(frozen=True)
class ScalingState:
    """What Application Auto Scaling holds for a variant; `policy` is None when no policy (or target) is there."""

    registered: bool
    min_capacity: int | None
    max_capacity: int | None
    policy: ScalingPlan | None
    policy_name: str | None
    alarms: list[Alarm]
    activities: list[Activity]
    scheduled: list[ScheduledAction]


def check_plan(plan: ScalingPlan, instance_limit: int | None) -> None:
    """Every problem with the plan in one message, before anything is sent."""
    problems = []
    if plan.min_capacity < 1:
        problems.append("The minimum capacity of a SageMaker variant must be at least 1.")
    if plan.min_capacity > plan.max_capacity:
        problems.append("Minimum capacity cannot be greater than maximum capacity.")
    if instance_limit is not None and plan.max_capacity > instance_limit:
        problems.append(
            f"Maximum {plan.max_capacity} is above the {instance_limit} endpoint instances this cloud allows "
            "(localcloud's --endpoint-instances); a scale-out past it would fail with ResourceLimitExceeded."
        )
    if not plan.target_value > 0:
        problems.append(f"The target value must be greater than 0 (got {plan.target_value:g}).")
    for label, value in (("Scale-in", plan.scale_in_cooldown_s), ("Scale-out", plan.scale_out_cooldown_s)):
        if not 0 <= value <= MAX_COOLDOWN_S:
            problems.append(f"{label} cooldown must be between 0 and {MAX_COOLDOWN_S} seconds (got {value}).")
    if plan.metric not in ("invocations", "cpu"):
        problems.append(f"Unknown metric '{plan.metric}': choose invocations per instance or CPU utilisation.")
    if problems:
        raise ServiceError(" ".join(problems), code="ValidationError")


def policy_configuration(plan: ScalingPlan, endpoint: str, variant: str) -> dict[str, Any]:
    """TargetTrackingScalingPolicyConfiguration as AWS documents it for SageMaker variants."""
    config: dict[str, Any] = {
        "TargetValue": float(plan.target_value),
        "ScaleInCooldown": plan.scale_in_cooldown_s,
        "ScaleOutCooldown": plan.scale_out_cooldown_s,
        "DisableScaleIn": plan.disable_scale_in,
    }
    if plan.metric == "invocations":
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": INVOCATIONS}
    else:
        config["CustomizedMetricSpecification"] = {
            "MetricName": "CPUUtilization",
            "Namespace": "/aws/sagemaker/Endpoints",
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            "Statistic": "Average",
            "Unit": "Percent",
        }
    return config


class ScalingService(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        autoscaling: Any = None,
        cloudwatch: Any = None,
        sagemaker: Any = None,
    ) -> None:
        super().__init__(
            settings,
            boto3_session=boto3_session,
            clients={"application-autoscaling": autoscaling, "cloudwatch": cloudwatch, "sagemaker": sagemaker},
        )

    def _target(self, endpoint: str, variant: str) -> dict[str, str]:
        return {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": resource_id(endpoint, variant),
            "ScalableDimension": DIMENSION,
        }

    def check_variant(self, endpoint: str, variant: str) -> None:
        """The endpoint exists, is not being deleted, and has the variant: said plainly before any scaling call."""
        try:
            described = self._client("sagemaker").describe_endpoint(EndpointName=endpoint)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"find endpoint '{endpoint}'") from exc
        if described["EndpointStatus"] in {"Deleting", "Failed"}:
            raise ServiceError(f"Endpoint '{endpoint}' is {described['EndpointStatus']}: it cannot be scaled.")
        names = [v["VariantName"] for v in described.get("ProductionVariants", [])]
        if variant not in names:
            raise ServiceError(f"Endpoint '{endpoint}' has no variant '{variant}' (it has {', '.join(names)}).")

    def apply(self, endpoint: str, variant: str, plan: ScalingPlan, *, instance_limit: int | None = None) -> list[str]:
        """Register (or update) the target and put the target-tracking policy; the alarm names it created."""
        check_plan(plan, instance_limit)
        self.check_variant(endpoint, variant)
        scaling = self._client("application-autoscaling")
        target = self._target(endpoint, variant)
        try:
            scaling.register_scalable_target(**target, MinCapacity=plan.min_capacity, MaxCapacity=plan.max_capacity)
            answer = scaling.put_scaling_policy(
                PolicyName=POLICY_NAME,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=policy_configuration(plan, endpoint, variant),
                **target,
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"set autoscaling on {resource_id(endpoint, variant)}") from exc
        return [a["AlarmName"] for a in answer.get("Alarms", [])]

    def remove(self, endpoint: str, variant: str) -> None:
        """DeregisterScalableTarget: its policies, their alarms and its scheduled actions go with it."""
        try:
            self._client("application-autoscaling").deregister_scalable_target(**self._target(endpoint, variant))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"remove autoscaling from {resource_id(endpoint, variant)}") from exc

    def put_scheduled_action(
        self, endpoint: str, variant: str, name: str, schedule: str, min_capacity: int, max_capacity: int
    ) -> None:
        problems = []
        if not _ACTION_NAME.fullmatch(name or ""):
            problems.append("A scheduled action needs a name of 1 to 256 characters without ':', '/' or '|'.")
        if not _SCHEDULE.fullmatch(schedule or ""):
            problems.append(
                f"'{schedule}' is not a schedule: use at(yyyy-mm-ddThh:mm:ss), rate(5 minutes) or cron(0 9 * * ? *)."
            )
        if min_capacity < 1 or min_capacity > max_capacity:
            problems.append("The scheduled minimum must be at least 1 and not above the maximum.")
        if problems:
            raise ServiceError(" ".join(problems), code="ValidationError")
        try:
            self._client("application-autoscaling").put_scheduled_action(
                ScheduledActionName=name,
                Schedule=schedule,
                ScalableTargetAction={"MinCapacity": min_capacity, "MaxCapacity": max_capacity},
                **self._target(endpoint, variant),
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"schedule '{name}'") from exc

    def delete_scheduled_action(self, endpoint: str, variant: str, name: str) -> None:
        try:
            self._client("application-autoscaling").delete_scheduled_action(
                ScheduledActionName=name, **self._target(endpoint, variant)
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"delete scheduled action '{name}'") from exc

    def capacity_range(self, endpoint: str, variant: str) -> tuple[int, int] | None:
        """(min, max) of the variant's scalable target; None when it is not autoscaled."""
        try:
            targets = self._client("application-autoscaling").describe_scalable_targets(
                ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(endpoint, variant)], ScalableDimension=DIMENSION
            )["ScalableTargets"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the autoscaling of {resource_id(endpoint, variant)}") from exc
        return (targets[0]["MinCapacity"], targets[0]["MaxCapacity"]) if targets else None

    def state(self, endpoint: str, variant: str) -> ScalingState:
        scaling = self._client("application-autoscaling")
        rid = resource_id(endpoint, variant)
        try:
            targets = scaling.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[rid])[
                "ScalableTargets"
            ]
            policies = scaling.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=rid)["ScalingPolicies"]
            activities = scaling.describe_scaling_activities(ServiceNamespace=NAMESPACE, ResourceId=rid)[
                "ScalingActivities"
            ]
            scheduled = scaling.describe_scheduled_actions(ServiceNamespace=NAMESPACE, ResourceId=rid)[
                "ScheduledActions"
            ]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the autoscaling of {rid}") from exc
        target = targets[0] if targets else None
        policy = policies[0] if policies else None
        alarm_names = [a["AlarmName"] for p in policies for a in p.get("Alarms", [])]
        return ScalingState(
            registered=target is not None,
            min_capacity=target["MinCapacity"] if target else None,
            max_capacity=target["MaxCapacity"] if target else None,
            policy=_plan(policy, target) if policy and target else None,
            policy_name=policy["PolicyName"] if policy else None,
            alarms=self._alarms(alarm_names),
            activities=[
                Activity(
                    description=a.get("Description", ""),
                    cause=a.get("Cause", ""),
                    status=a.get("StatusCode", ""),
                    start=a.get("StartTime"),
                    end=a.get("EndTime"),
                    status_message=a.get("StatusMessage", ""),
                )
                for a in activities
            ],
            scheduled=[
                ScheduledAction(
                    s["ScheduledActionName"],
                    s["Schedule"],
                    (s.get("ScalableTargetAction") or {}).get("MinCapacity"),
                    (s.get("ScalableTargetAction") or {}).get("MaxCapacity"),
                )
                for s in scheduled
            ],
        )

    def _alarms(self, names: list[str]) -> list[Alarm]:
        if not names:
            return []
        try:
            found = self._client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the policy's alarms") from exc
        return [
            Alarm(
                a["AlarmName"],
                a["StateValue"],
                a.get("StateReason", ""),
                a.get("Threshold"),
                a.get("ComparisonOperator"),
            )
            for a in found
        ]


def _plan(policy: dict[str, Any], target: dict[str, Any]) -> ScalingPlan:
    config = policy.get("TargetTrackingScalingPolicyConfiguration") or {}
    return ScalingPlan(
        min_capacity=target["MinCapacity"],
        max_capacity=target["MaxCapacity"],
        target_value=config.get("TargetValue", 0.0),
        metric="invocations" if "PredefinedMetricSpecification" in config else "cpu",
        scale_in_cooldown_s=config.get("ScaleInCooldown", DEFAULT_COOLDOWN_S),
        scale_out_cooldown_s=config.get("ScaleOutCooldown", DEFAULT_COOLDOWN_S),
        disable_scale_in=bool(config.get("DisableScaleIn", False)),
    )
