"""Application Auto Scaling's engine: what a target-tracking alarm, a scheduled action or a new min/max does to
a target's capacity (a variant's instances, a Lambda alias's provisioned concurrency: autoscaling/targets.py),
recorded as scaling activities with AWS's words.

Target tracking: AlarmHigh in ALARM scales out to ceil(current x metric / target) (the metric is per
instance), AlarmLow scales in the same way, one step at a time, both bounded by min and max. During a
scale-out cooldown only a larger scale-out runs; during a scale-in cooldown no scale-in runs, and a
scale-out cancels it. Cooldowns are AWS's seconds on localcloud's clock (core/clock.py). An activity is
InProgress until the instances serve, then Successful, or Failed with the reason SageMaker gave.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from localcloud.autoscaling.targets import ResourceKind
from localcloud.core.clock import Clock
from localcloud.core.protocol import AwsError
from localcloud.core.state import Store

DEFAULT_COOLDOWN_S = 300  # SageMaker variants' default scale-out and scale-in cooldowns
KEEP_ACTIVITIES = 200

AlarmAction = Callable[[str, dict[str, Any], list[float]], None]
"""Told an alarm's action ARN, the alarm and its recent datapoints."""


class TrackingAlarms(Protocol):
    """What target tracking asks of CloudWatch's alarms (localcloud/cloudwatch/alarms.py): the alarms a policy
    owns, and their actions."""

    def put(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        """Create or replace an alarm from PutMetricAlarm's params; the alarm as stored (with its AlarmArn)."""

    def delete(self, names: list[str]) -> None: ...

    def on_action(self, prefix: str, handler: AlarmAction) -> None:
        """Actions whose ARN starts with `prefix` are handed to `handler`."""


def target_key(namespace: str, resource: str, dimension: str) -> str:
    return f"{namespace}|{resource}|{dimension}"


def target_region(target: dict[str, Any]) -> str:
    """The region a target was registered in, which its ARN names."""
    return target["ScalableTargetARN"].split(":")[3]


class Scaler:
    """Changes capacity for policies, schedules and limits; keeps each target's activities."""

    def __init__(self, store: Store, kinds: dict[str, ResourceKind], alarms: TrackingAlarms, clock: Clock) -> None:
        self.store, self.kinds, self.clock = store, kinds, clock  # kinds by service namespace
        self._lock = threading.RLock()
        self._scaled_out: dict[str, tuple[float, int]] = {}  # target -> when, to what capacity
        self._scaled_in: dict[str, float] = {}
        alarms.on_action("arn:aws:autoscaling:", self.alarm_fired)
        for key in [t["Key"] for t in store.all("scaling-activities") if "Key" in t]:
            for activity in self.activities(key):  # cut short by a restart: it will never finish
                if activity["StatusCode"] == "InProgress":
                    self._finish(key, activity, "Failed", "localcloud restarted while the change was in progress.")

    # capacity ---------------------------------------------------------------------
    def capacity(self, target: dict[str, Any]) -> int:
        return self.kinds[target["ServiceNamespace"]].capacity(target["ResourceId"])

    def busy(self, target: dict[str, Any]) -> bool:
        key = target_key(target["ServiceNamespace"], target["ResourceId"], target["ScalableDimension"])
        return any(a["StatusCode"] in ("Pending", "InProgress") for a in self.activities(key))

    def set_capacity(self, target: dict[str, Any], desired: int, cause: str) -> dict[str, Any]:
        """Ask the service for `desired` capacity; the activity says how it went."""
        kind = self.kinds[target["ServiceNamespace"]]
        words = kind.capacity_words
        key = target_key(target["ServiceNamespace"], target["ResourceId"], target["ScalableDimension"])
        activity = {
            "ActivityId": str(uuid.uuid4()),
            "ServiceNamespace": target["ServiceNamespace"],
            "ResourceId": target["ResourceId"],
            "ScalableDimension": target["ScalableDimension"],
            "Description": f"Setting desired {words} to {desired}.",
            "Cause": cause,
            "StartTime": time.time(),
            "StatusCode": "InProgress",
        }
        self._record(key, activity)

        def done(failure: str | None) -> None:
            if failure is None:
                message = f"Successfully set desired {words} to {desired}. "
                self._finish(
                    key, activity, "Successful", message + f"Change successfully fulfilled by {kind.fulfilled_by}."
                )
            else:
                self._finish(key, activity, "Failed", f"Failed to set desired {words} to {desired}. {failure}")

        try:
            kind.resize(target["ResourceId"], target_region(target), desired, done)
        except AwsError as error:
            reason = (
                f"Reason: {error.message} (Service: {kind.service_title}; Status Code: {error.status}; "
                f"Error Code: {error.code}; Request ID: {uuid.uuid4()}; Proxy: null)"
            )
            self._finish(key, activity, "Failed", f"Failed to set desired {words} to {desired}. {reason}")
        return activity

    def fit_range(self, target: dict[str, Any]) -> None:
        """Capacity outside a new [min, max] moves into it at once, as AWS does."""
        current = self.capacity(target)
        if current < target["MinCapacity"]:
            self.set_capacity(target, target["MinCapacity"], f"minimum capacity was set to {target['MinCapacity']}")
        elif current > target["MaxCapacity"]:
            self.set_capacity(target, target["MaxCapacity"], f"maximum capacity was set to {target['MaxCapacity']}")

    # target tracking --------------------------------------------------------------
    def alarm_fired(self, arn: str, alarm: dict[str, Any], values: list[float]) -> None:
        """An alarm in ALARM runs its policy (again at every evaluation, as AWS does for Auto Scaling)."""
        policy = next((p for p in self.store.all("scaling-policy") if p["PolicyARN"] == arn), None)
        if policy is None or not values:
            return
        key = target_key(policy["ServiceNamespace"], policy["ResourceId"], policy["ScalableDimension"])
        target = self.store.get("scalable-target", key)
        if target is None or self.busy(target):
            return
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        high = "-AlarmHigh-" in alarm["AlarmName"]
        suspended = target.get("SuspendedState") or {}
        if suspended.get("DynamicScalingOutSuspended" if high else "DynamicScalingInSuspended"):
            return
        current = self.capacity(target)
        wanted = math.ceil(current * values[-1] / config["TargetValue"])
        now = time.time()
        with self._lock:
            if high:
                desired = min(target["MaxCapacity"], max(wanted, current + 1))
                when, last = self._scaled_out.get(key, (0.0, 0))
                cooldown = self.clock.seconds(config.get("ScaleOutCooldown", DEFAULT_COOLDOWN_S))
                if desired <= current or (now - when < cooldown and desired <= last):
                    return
                self._scaled_out[key] = (now, desired)
                self._scaled_in.pop(key, None)  # a scale-out cancels the scale-in cooldown
            else:
                desired = max(target["MinCapacity"], min(wanted, current - 1))
                cooldown = self.clock.seconds(config.get("ScaleInCooldown", DEFAULT_COOLDOWN_S))
                if desired >= current or config.get("DisableScaleIn") or now - self._scaled_in.get(key, 0) < cooldown:
                    return
                self._scaled_in[key] = now
        cause = f"monitor alarm {alarm['AlarmName']} in state ALARM triggered policy {policy['PolicyName']}"
        self.set_capacity(target, desired, cause)

    # activities -------------------------------------------------------------------
    def activities(self, key: str) -> list[dict[str, Any]]:
        """Newest first."""
        return (self.store.get("scaling-activities", key) or {"items": []})["items"]

    def forget(self, key: str) -> None:
        with self._lock:
            self._scaled_out.pop(key, None)
            self._scaled_in.pop(key, None)

    def _record(self, key: str, activity: dict[str, Any]) -> None:
        with self._lock:
            items = [activity, *self.activities(key)][:KEEP_ACTIVITIES]
            self.store.put("scaling-activities", key, {"Key": key, "items": items})

    def _finish(self, key: str, activity: dict[str, Any], status: str, message: str) -> None:
        with self._lock:
            items = self.activities(key)
            for item in items:
                if item["ActivityId"] == activity["ActivityId"]:
                    item.update(StatusCode=status, StatusMessage=message, EndTime=time.time())
            self.store.put("scaling-activities", key, {"Key": key, "items": items})
