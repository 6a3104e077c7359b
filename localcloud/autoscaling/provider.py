"""Application Auto Scaling for SageMaker endpoint variants and Lambda provisioned concurrency: scalable
targets, target-tracking policies (with the CloudWatch alarms they own), scaling activities and scheduled actions.

JSON 1.1 (`AnyScaleFrontendService.<Op>`). What can be scaled is localcloud/autoscaling/targets.py (one class per
namespace and dimension); the engine that changes capacity is localcloud/autoscaling/engine.py, the schedules' runner
localcloud/autoscaling/schedules.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from localcloud.autoscaling.engine import Scaler, TrackingAlarms, target_key
from localcloud.autoscaling.schedules import Schedules, check_schedule
from localcloud.autoscaling.targets import ResourceKind, endpoint_variant
from localcloud.core.clock import Clock
from localcloud.core.paginator import Paginator
from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call, Service
from localcloud.core.state import Store

ALARM_HIGH_PERIODS = 3  # one-minute datapoints above target before a scale-out
ALARM_LOW_PERIODS = 15  # ... and about 10 % below it before a scale-in
MIN_TARGET = 8.515920e-109  # the smallest TargetValue AWS accepts
PAGES = Paginator(invalid_code="InvalidNextTokenException")  # every Describe* call's NextToken and MaxResults


def _not_registered(p: dict[str, Any]) -> AwsError:
    return AwsError(
        "ObjectNotFoundException",
        f"No scalable target registered for service namespace: {p['ServiceNamespace']}, resource ID: "
        f"{p['ResourceId']}, scalable dimension: {p['ScalableDimension']}",
    )


class ApplicationAutoScaling(Service):
    """The API over the resource kinds it is given (autoscaling/targets.py); `scaled_variants` and
    `endpoint_deleted` are what SageMaker asks of it."""

    model_name = "application-autoscaling"

    def __init__(self, store: Store, kinds: list[ResourceKind], alarms: TrackingAlarms, clock: Clock) -> None:
        self.store, self.alarms = store, alarms
        self.kinds: dict[str, ResourceKind] = {kind.namespace: kind for kind in kinds}
        self.scaler = Scaler(store, self.kinds, alarms, clock)
        self.schedules = Schedules(store, self.scaler)

    # scalable targets ---------------------------------------------------------------
    def _kind(self, p: dict[str, Any]) -> ResourceKind:
        kind = self.kinds.get(p["ServiceNamespace"])
        if kind is None:
            raise validation(
                f"localcloud scales {' and '.join(sorted(self.kinds))} resources, not {p['ServiceNamespace']}."
            )
        if "ScalableDimension" in p and p["ScalableDimension"] != kind.dimension:
            raise validation(
                f"Unsupported scalable dimension {p['ScalableDimension']} for service namespace "
                f"{kind.namespace}: use {kind.dimension}."
            )
        return kind

    def _resource(self, p: dict[str, Any]) -> str:
        """The target's key (a well-formed resource ID of a namespace localcloud scales)."""
        kind = self._kind(p)
        if kind.namespace == "sagemaker":
            parts = p["ResourceId"].split("/")
            if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
                raise validation(
                    f"Unsupported resource ID {p['ResourceId']}: expected endpoint/<name>/variant/<variant>."
                )
        elif len(p["ResourceId"].split(":")) != 3 or not p["ResourceId"].startswith("function:"):
            raise validation(f"Unsupported resource ID {p['ResourceId']}: expected function:<name>:<alias|version>.")
        return target_key(p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"])

    def _target(self, p: dict[str, Any]) -> dict[str, Any]:
        target = self.store.get("scalable-target", self._resource(p))
        if target is None:
            raise _not_registered(p)
        return target

    def op_RegisterScalableTarget(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        key, kind = self._resource(p), self._kind(p)
        kind.check(p["ResourceId"], call.region)  # it exists, as AWS checks at registration
        old = self.store.get("scalable-target", key)
        if old is None and ("MinCapacity" not in p or "MaxCapacity" not in p):
            raise validation("MinCapacity and MaxCapacity are required when registering a new scalable target.")
        target = old or {
            "ServiceNamespace": p["ServiceNamespace"],
            "ResourceId": p["ResourceId"],
            "ScalableDimension": p["ScalableDimension"],
            "RoleARN": p.get("RoleARN", kind.service_role),
            "CreationTime": time.time(),
            "ScalableTargetARN": f"arn:aws:application-autoscaling:{call.region}:{ACCOUNT_ID}:scalable-target/"
            f"{uuid.uuid4().hex[:32]}",
            "SuspendedState": {},
        }
        for name in ("MinCapacity", "MaxCapacity"):
            if name in p:
                target[name] = p[name]
        if target["MinCapacity"] > target["MaxCapacity"]:
            raise validation("Minimum capacity cannot be greater than maximum capacity")
        if target["MinCapacity"] < kind.min_capacity:
            what = "a SageMaker variant" if kind.namespace == "sagemaker" else "provisioned concurrency"
            raise validation(f"The minimum capacity of {what} must be at least {kind.min_capacity}.")
        target["SuspendedState"] = {**target["SuspendedState"], **(p.get("SuspendedState") or {})}
        self.store.put("scalable-target", key, target)
        self.scaler.fit_range(target)
        return {"ScalableTargetARN": target["ScalableTargetARN"]}

    def op_DescribeScalableTargets(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        targets = [t for t in self.store.all("scalable-target") if t["ServiceNamespace"] == p["ServiceNamespace"]]
        if p.get("ResourceIds"):
            targets = [t for t in targets if t["ResourceId"] in p["ResourceIds"]]
        if "ScalableDimension" in p:
            targets = [t for t in targets if t["ScalableDimension"] == p["ScalableDimension"]]
        return PAGES.answer(targets, p, "ScalableTargets")

    def op_DeregisterScalableTarget(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Deletes the target's policies (and their alarms) and scheduled actions too."""
        self._target(p)
        self._remove(self._resource(p))
        return {}

    def _remove(self, key: str) -> None:
        for policy in self._policies(key):
            self._delete_policy(policy)
        for action in self.store.all("scheduled-action"):
            if action["Key"] == key:
                self.store.delete("scheduled-action", f"{key}|{action['ScheduledActionName']}")
        self.store.delete("scalable-target", key)
        self.scaler.forget(key)

    # what SageMaker asks ----------------------------------------------------------
    def scaled_variants(self, endpoint: str) -> list[str]:
        """Variants of the endpoint registered as scalable targets: UpdateEndpoint refuses to remove them or
        change their instance type."""
        return sorted(
            endpoint_variant(t["ResourceId"])[1]
            for t in self.store.all("scalable-target")
            if t["ServiceNamespace"] == "sagemaker" and endpoint_variant(t["ResourceId"])[0] == endpoint
        )

    def endpoint_deleted(self, endpoint: str) -> None:
        """DeleteEndpoint deregisters the endpoint's scalable targets, as SageMaker does."""
        for target in self.store.all("scalable-target"):
            if target["ServiceNamespace"] == "sagemaker" and endpoint_variant(target["ResourceId"])[0] == endpoint:
                self._remove(target_key(target["ServiceNamespace"], target["ResourceId"], target["ScalableDimension"]))

    # scaling policies ---------------------------------------------------------------
    def _policies(self, key: str) -> list[dict[str, Any]]:
        return [p for p in self.store.all("scaling-policy") if p["Key"] == key]

    def op_PutScalingPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        target = self._target(p)
        key = self._resource(p)
        if p.get("PolicyType", "StepScaling") != "TargetTrackingScaling":
            raise validation("localcloud runs TargetTrackingScaling policies; StepScaling is not supported.")
        config = p.get("TargetTrackingScalingPolicyConfiguration")
        if config is None:
            raise validation("TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling policy.")
        if config["TargetValue"] < MIN_TARGET:
            raise validation(
                f"1 validation error detected: Value '{config['TargetValue']}' at 'targetTrackingScalingPolicy"
                f"Configuration.targetValue' failed to satisfy constraint: Member must have value greater than or "
                f"equal to {MIN_TARGET:e}"
            )
        metric = self._metric(config, target)
        old = self.store.get("scaling-policy", f"{key}|{p['PolicyName']}")
        if old is not None:
            self.alarms.delete([a["AlarmName"] for a in old["Alarms"]])
        # arn:aws:autoscaling:<region>:<account>:scalingPolicy:<id>:resource/…: a policy put again keeps its id
        policy_id = old["PolicyARN"].split(":")[6] if old else str(uuid.uuid4())
        arn = (
            f"arn:aws:autoscaling:{call.region}:{ACCOUNT_ID}:scalingPolicy:{policy_id}:resource/"
            f"{p['ServiceNamespace']}/{p['ResourceId']}:policyName/{p['PolicyName']}"
        )
        alarms = []
        kinds = [("AlarmHigh", "GreaterThanThreshold", config["TargetValue"], ALARM_HIGH_PERIODS)]
        if not config.get("DisableScaleIn"):
            kinds.append(("AlarmLow", "LessThanThreshold", config["TargetValue"] * 0.9, ALARM_LOW_PERIODS))
        for kind, comparison, threshold, periods in kinds:
            name = f"TargetTracking-{p['ResourceId']}-{kind}-{uuid.uuid4()}"
            alarm = self.alarms.put(
                {
                    "AlarmName": name,
                    "AlarmDescription": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}.",
                    "AlarmActions": [arn],
                    **metric,
                    "Period": 60,
                    "EvaluationPeriods": periods,
                    "DatapointsToAlarm": periods,
                    "Threshold": threshold,
                    "ComparisonOperator": comparison,
                },
                call.region,
            )
            alarms.append({"AlarmName": name, "AlarmARN": alarm["AlarmArn"]})
        policy = {
            "PolicyARN": arn,
            "PolicyName": p["PolicyName"],
            "ServiceNamespace": p["ServiceNamespace"],
            "ResourceId": p["ResourceId"],
            "ScalableDimension": p["ScalableDimension"],
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": config,
            "Alarms": alarms,
            "CreationTime": old["CreationTime"] if old else time.time(),
            "Key": key,
        }
        self.store.put("scaling-policy", f"{key}|{p['PolicyName']}", policy)
        return {"PolicyARN": arn, "Alarms": alarms}

    def _metric(self, config: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
        """The alarms' metric: the resource kind's predefined one, or the customized one."""
        predefined = config.get("PredefinedMetricSpecification")
        custom = config.get("CustomizedMetricSpecification")
        if (predefined is None) == (custom is None):
            raise validation("Give one of PredefinedMetricSpecification and CustomizedMetricSpecification.")
        if predefined is not None:
            kind = self.kinds[target["ServiceNamespace"]]
            if predefined["PredefinedMetricType"] not in kind.predefined_metrics:
                raise validation(
                    f"Predefined metric type {predefined['PredefinedMetricType']} is not valid for "
                    f"resource {target['ResourceId']}; use {', '.join(kind.predefined_metrics)}."
                )
            return kind.predefined_metric(target["ResourceId"])
        if "Metrics" in custom or "MetricName" not in custom or "Namespace" not in custom:
            raise validation("localcloud tracks a customized metric given by Namespace, MetricName and Statistic.")
        metric = {k: custom[k] for k in ("Namespace", "MetricName", "Unit") if k in custom}
        return {**metric, "Dimensions": custom.get("Dimensions") or [], "Statistic": custom.get("Statistic", "Average")}

    def op_DescribeScalingPolicies(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        policies = [x for x in self.store.all("scaling-policy") if x["ServiceNamespace"] == p["ServiceNamespace"]]
        for name, key in (("ResourceId", "ResourceId"), ("ScalableDimension", "ScalableDimension")):
            if name in p:
                policies = [x for x in policies if x[key] == p[name]]
        if p.get("PolicyNames"):
            policies = [x for x in policies if x["PolicyName"] in p["PolicyNames"]]
        shown = [{k: v for k, v in x.items() if k != "Key"} for x in policies]
        return PAGES.answer(shown, p, "ScalingPolicies")

    def op_DeleteScalingPolicy(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        key = self._resource(p)
        policy = self.store.get("scaling-policy", f"{key}|{p['PolicyName']}")
        if policy is None:
            raise AwsError(
                "ObjectNotFoundException",
                f"No scaling policy found for service namespace: {p['ServiceNamespace']}, resource ID: "
                f"{p['ResourceId']}, scalable dimension: {p['ScalableDimension']}, policy name: {p['PolicyName']}",
            )
        self._delete_policy(policy)
        return {}

    def _delete_policy(self, policy: dict[str, Any]) -> None:
        """A policy owns its alarms: they go with it."""
        self.alarms.delete([a["AlarmName"] for a in policy["Alarms"]])
        self.store.delete("scaling-policy", f"{policy['Key']}|{policy['PolicyName']}")

    # activities and scheduled actions -------------------------------------------------
    def op_DescribeScalingActivities(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        targets = [t for t in self.store.all("scalable-target") if t["ServiceNamespace"] == p["ServiceNamespace"]]
        keys = {target_key(t["ServiceNamespace"], t["ResourceId"], t["ScalableDimension"]) for t in targets}
        if "ResourceId" in p:
            dimension = p.get("ScalableDimension") or self._kind(p).dimension
            keys = {target_key(p["ServiceNamespace"], p["ResourceId"], dimension)}
        activities = [a for key in keys for a in self.scaler.activities(key)]
        activities.sort(key=lambda a: a["StartTime"], reverse=True)
        return PAGES.answer(activities, p, "ScalingActivities")

    def op_PutScheduledAction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self._target(p)
        key = self._resource(p)
        name = f"{key}|{p['ScheduledActionName']}"
        old = self.store.get("scheduled-action", name)
        if old is None and "Schedule" not in p:
            raise validation("Schedule is required for a new scheduled action.")
        action = {**(old or {}), **{k: v for k, v in p.items() if k not in ("StartTime", "EndTime")}}
        for moment in ("StartTime", "EndTime"):
            if moment in p:
                action[moment] = p[moment].timestamp()
        check_schedule(action["Schedule"], action.get("Timezone", "UTC"))
        action.setdefault("CreationTime", time.time())
        action["Key"] = key
        action["ScheduledActionARN"] = (
            f"arn:aws:autoscaling:{call.region}:{ACCOUNT_ID}:scheduledAction:{uuid.uuid4()}:resource/"
            f"{p['ServiceNamespace']}/{p['ResourceId']}:scheduledActionName/{p['ScheduledActionName']}"
            if old is None
            else old["ScheduledActionARN"]
        )
        self.store.put("scheduled-action", name, action)
        return {}

    def op_DescribeScheduledActions(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        actions = [a for a in self.store.all("scheduled-action") if a["ServiceNamespace"] == p["ServiceNamespace"]]
        for name in ("ResourceId", "ScalableDimension"):
            if name in p:
                actions = [a for a in actions if a[name] == p[name]]
        if p.get("ScheduledActionNames"):
            actions = [a for a in actions if a["ScheduledActionName"] in p["ScheduledActionNames"]]
        return PAGES.answer([{k: v for k, v in a.items() if k != "Key"} for a in actions], p, "ScheduledActions")

    def op_DeleteScheduledAction(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        key = self._resource(p)
        if not self.store.delete("scheduled-action", f"{key}|{p['ScheduledActionName']}"):
            raise AwsError(
                "ObjectNotFoundException",
                f"No scheduled action found for service namespace: {p['ServiceNamespace']}, resource ID: "
                f"{p['ResourceId']}, scalable dimension: {p['ScalableDimension']}, scheduled action name: "
                f"{p['ScheduledActionName']}",
            )
        return {}
