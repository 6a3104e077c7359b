"""Why an autoscaled variant has not scaled in yet, and about how long until it can.

Target tracking scales in only when its AlarmLow (about 10 % below the target) has seen all of its datapoints low:
15 one-minute datapoints for SageMaker variants, so a quarter of an hour of low traffic. A period without a single
request has no InvocationsPerInstance datapoint at all, and an alarm without data reads INSUFFICIENT_DATA, which
scales nothing: an idle endpoint stays at its size. After a scale-in, the scale-in cooldown must pass before the
next one (a scale-out cancels it). The outlook reads the same datapoints the alarm judges, over the cloud's real
period (one minute on AWS, shorter on a localcloud started with `--metric-period-seconds`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, from_client_error
from services.serving.endpoint_metrics import query_period
from services.serving.scaling import ScalingPlan, ScalingState

Verdict = Literal["disabled", "at_minimum", "no_data", "not_low", "counting", "due"]


@dataclass(frozen=True)
class LowAlarm:
    """The policy's AlarmLow as CloudWatch holds it."""

    name: str
    metric: str
    threshold: float
    needed: int
    """Low datapoints in a row it needs (DatapointsToAlarm of EvaluationPeriods)."""


@dataclass(frozen=True)
class ScaleInOutlook:
    """`verdict` says why there is or is no scale-in; `wait_s` is about how long until one can start if traffic
    stays as it is (None when, at this rate, none will)."""

    verdict: Verdict
    current: int
    minimum: int
    low_in_a_row: int
    needed: int
    latest: float | None
    threshold: float | None
    metric: str | None
    cooldown_left_s: float
    wait_s: float | None


def judge_scale_in(
    plan: ScalingPlan,
    current: int,
    alarm: LowAlarm | None,
    values: list[float | None],
    period_s: float,
    since_scale_in_s: float | None,
) -> ScaleInOutlook:
    """The outlook from the last complete periods' datapoints (oldest first, None for a period without one), the
    real length of a period, and the time since the last scale-in that still holds its cooldown (None if none)."""
    cooldown_s = plan.scale_in_cooldown_s * period_s / 60  # AWS's seconds pass as fast as its minutes do
    cooldown_left = 0.0 if since_scale_in_s is None else max(0.0, cooldown_s - since_scale_in_s)
    needed = alarm.needed if alarm else 0
    low_in_a_row = 0
    for value in reversed(values):
        if value is None or alarm is None or not value < alarm.threshold:
            break
        low_in_a_row += 1
    latest = values[-1] if values else None

    def outlook(verdict: Verdict, wait_s: float | None) -> ScaleInOutlook:
        return ScaleInOutlook(
            verdict,
            current,
            plan.min_capacity,
            min(low_in_a_row, needed),
            needed,
            latest,
            alarm.threshold if alarm else None,
            alarm.metric if alarm else None,
            cooldown_left,
            wait_s,
        )

    if plan.disable_scale_in or alarm is None:
        return outlook("disabled", None)
    if current <= plan.min_capacity:
        return outlook("at_minimum", None)
    if latest is None:
        return outlook("no_data", None)
    if not latest < alarm.threshold:
        return outlook("not_low", None)
    if low_in_a_row >= needed:
        return outlook("due", cooldown_left)
    return outlook("counting", max((needed - low_in_a_row) * period_s, cooldown_left))


class ScaleInService(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        cloudwatch: Any = None,
        sagemaker: Any = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"cloudwatch": cloudwatch, "sagemaker": sagemaker}
        )

    def outlook(self, endpoint: str, variant: str, state: ScalingState, period_s: float) -> ScaleInOutlook | None:
        """The variant's outlook under its policy in force; None when no target-tracking policy is there."""
        if state.policy is None:
            return None
        try:
            described = self._client("sagemaker").describe_endpoint(EndpointName=endpoint)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{endpoint}'") from exc
        counts = [
            v.get("DesiredInstanceCount", 0)
            for v in described.get("ProductionVariants", [])
            if v["VariantName"] == variant
        ]
        current = counts[0] if counts else 0
        low_names = [a.name for a in state.alarms if "-AlarmLow-" in a.name]
        alarm, values = None, []
        if low_names:
            alarm, values = self._low_alarm(low_names[0], period_s)
        return judge_scale_in(state.policy, current, alarm, values, period_s, _since_scale_in(state))

    def _low_alarm(self, name: str, period_s: float) -> tuple[LowAlarm | None, list[float | None]]:
        """The alarm and its last complete periods' datapoints, oldest first, as CloudWatch judges them."""
        cloudwatch = self._client("cloudwatch")
        try:
            found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the policy's AlarmLow") from exc
        if not found:
            return None, []
        raw = found[0]
        needed = int(raw.get("DatapointsToAlarm") or raw["EvaluationPeriods"])
        alarm = LowAlarm(name, raw["MetricName"], float(raw["Threshold"]), needed)
        length = query_period(period_s)
        grace = min(length / 2, 10.0)  # a period is judged a moment after it ends
        now = dt.datetime.now(dt.UTC).timestamp()
        end = math.floor((now - grace) / length) * length
        start = end - needed * length
        query = {
            "Id": "low",
            "MetricStat": {
                "Metric": {k: raw[k] for k in ("Namespace", "MetricName", "Dimensions")},
                "Period": length,
                "Stat": raw["Statistic"],
            },
        }
        try:
            result = cloudwatch.get_metric_data(
                MetricDataQueries=[query],
                StartTime=dt.datetime.fromtimestamp(start, dt.UTC),
                EndTime=dt.datetime.fromtimestamp(end, dt.UTC),
            )["MetricDataResults"][0]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the datapoints of {alarm.metric}") from exc
        by_index = {
            round((t.timestamp() - start) / length): v
            for t, v in zip(result["Timestamps"], result["Values"], strict=True)
        }
        return alarm, [by_index.get(i) for i in range(needed)]


def _since_scale_in(state: ScalingState) -> float | None:
    """Seconds since the last scale-in whose cooldown still counts (a later scale-out cancels it)."""
    for activity in state.activities:  # newest first
        if "AlarmHigh" in activity.cause:
            return None
        if "AlarmLow" in activity.cause and activity.start is not None:
            return (dt.datetime.now(dt.UTC) - activity.start).total_seconds()
    return None
