"""CloudWatch metric alarms: stored, evaluated against the stored metrics once a period, actions dispatched.

An alarm looks at its last `EvaluationPeriods` complete periods; `DatapointsToAlarm` of them breaching puts
it in ALARM, data that does not breach puts it in OK, no data (with TreatMissingData `missing`) in
INSUFFICIENT_DATA. As on AWS, it reads an evaluation range longer than that: when periods are missing but
the range holds at least `EvaluationPeriods` real datapoints, the most recent of them are judged and the
missing-data treatment is not used (AWS does not publish the range's length; localcloud's is twice the
evaluation periods). Actions run on a state change, except Auto Scaling actions, which AWS runs again at
every evaluation the alarm stays in ALARM. Periods are AWS's seconds on localcloud's clock (core/clock.py).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from localcloud.cloudwatch.statistics import STATISTICS, Bucket, invalid
from localcloud.core.clock import Clock
from localcloud.core.log import log
from localcloud.core.paginator import Paginator
from localcloud.core.protocol import ACCOUNT_ID, AwsError
from localcloud.core.registry import Call
from localcloud.core.state import Store

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
EVALUATION_RANGE = 2  # periods read back, in evaluation periods
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
ActionHandler = Callable[[str, dict[str, Any], list[float]], None]  # action ARN, alarm, recent datapoints
PAGES = Paginator(size="MaxRecords", invalid_code="InvalidNextToken")  # DescribeAlarms: NextToken and MaxRecords


class MetricBuckets(Protocol):
    """What the evaluator reads: the metric API's period-aligned buckets (provider.py's Metrics)."""

    def buckets(
        self,
        namespace: str,
        name: str,
        dimensions: dict[str, str],
        start: float,
        end: float,
        period: int,
        unit: str | None,
    ) -> dict[float, Bucket]: ...


def alarm_arn(region: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{name}"


def _not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Could not find alarm {name}.", 404)


class Alarms:
    """The alarm half of CloudWatch: its operations, its evaluator thread and its action handlers."""

    def __init__(self, store: Store, metrics: MetricBuckets, clock: Clock) -> None:
        self.store, self.metrics, self.clock = store, metrics, clock
        self._handlers: list[tuple[str, ActionHandler]] = []
        self._lock = threading.RLock()
        self._evaluated: dict[str, float] = {}  # alarm name -> end of the last period it judged
        threading.Thread(target=self._evaluate_forever, name="alarm-evaluator", daemon=True).start()

    def on_action(self, prefix: str, handler: ActionHandler) -> None:
        """Actions whose ARN starts with `prefix` (Auto Scaling policies) are handed to `handler`."""
        self._handlers.append((prefix, handler))

    # what target tracking and the operations share ----------------------------------
    def put(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        """Create or replace an alarm from PutMetricAlarm's params; a new one starts INSUFFICIENT_DATA."""
        _check(p)
        now = time.time()
        with self._lock:
            old = self.store.get("alarm", p["AlarmName"])
            alarm = {
                "ActionsEnabled": True,
                "OKActions": [],
                "AlarmActions": [],
                "InsufficientDataActions": [],
                "Dimensions": [],
                "DatapointsToAlarm": p["EvaluationPeriods"],
                "TreatMissingData": "missing",
                **{k: v for k, v in p.items() if k != "Tags"},
                "AlarmArn": alarm_arn(region, p["AlarmName"]),
                "AlarmConfigurationUpdatedTimestamp": now,
                "StateValue": "INSUFFICIENT_DATA",
                "StateReason": "Unchecked: Initial alarm creation",
                "StateUpdatedTimestamp": now,
                "StateTransitionedTimestamp": now,
            }
            if old is not None:  # an update keeps the state it was in
                for key in ("StateValue", "StateReason", "StateReasonData", "StateUpdatedTimestamp"):
                    if key in old:
                        alarm[key] = old[key]
            self.store.put("alarm", alarm["AlarmName"], alarm)
            self._evaluated.pop(alarm["AlarmName"], None)
        return alarm

    def delete(self, names: list[str]) -> None:
        with self._lock:
            for name in names:
                self.store.delete("alarm", name)
                self._evaluated.pop(name, None)

    # operations ---------------------------------------------------------------------
    def op_PutMetricAlarm(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        self.put(p, call.region)
        return {}

    def op_DescribeAlarms(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        alarms = self.store.all("alarm")
        if p.get("AlarmNames"):
            alarms = [a for a in alarms if a["AlarmName"] in p["AlarmNames"]]
        if "AlarmNamePrefix" in p:
            alarms = [a for a in alarms if a["AlarmName"].startswith(p["AlarmNamePrefix"])]
        if "StateValue" in p:
            alarms = [a for a in alarms if a["StateValue"] == p["StateValue"]]
        if "ActionPrefix" in p:
            alarms = [a for a in alarms if any(x.startswith(p["ActionPrefix"]) for x in a["AlarmActions"])]
        if p.get("AlarmTypes") and "MetricAlarm" not in p["AlarmTypes"]:
            alarms = []
        page, token = PAGES.page(alarms, p)
        result: dict[str, Any] = {"MetricAlarms": page, "CompositeAlarms": []}
        if token is not None:
            result["NextToken"] = token
        return result

    def op_DeleteAlarms(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        missing = [n for n in p["AlarmNames"] if self.store.get("alarm", n) is None]
        if missing:
            raise _not_found(missing[0])
        self.delete(p["AlarmNames"])
        return {}

    def op_SetAlarmState(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        """Set a state by hand, as AWS does: its actions run, and the next evaluation may set it back."""
        alarm = self.store.get("alarm", p["AlarmName"])
        if alarm is None:
            raise _not_found(p["AlarmName"])
        if "StateReasonData" in p:
            try:
                json.loads(p["StateReasonData"])
            except ValueError as exc:
                raise AwsError("InvalidFormat", "StateReasonData is not valid JSON.", 400) from exc
        self._transition(alarm, p["StateValue"], p["StateReason"], p.get("StateReasonData"), [])
        return {}

    # evaluation ---------------------------------------------------------------------
    def _evaluate_forever(self) -> None:
        while True:
            time.sleep(max(0.05, min(self.clock.seconds(60) / 10, 5.0)))
            for alarm in self.store.all("alarm"):
                try:
                    self.evaluate(alarm, time.time())
                except Exception as exc:  # noqa: BLE001 - one broken alarm must not stop the others
                    log(f"alarm {alarm['AlarmName']}: {type(exc).__name__}: {exc}")

    def evaluate(self, alarm: dict[str, Any], now: float) -> None:
        """Judge the alarm's last complete periods, once per period; a period is complete a moment after
        it ends (half a period, at most 10 s), so that datapoints still being written are counted."""
        length = self.clock.seconds(alarm["Period"])
        grace = min(length / 2, 10.0)
        end = math.floor((now - grace) / length) * length
        if self._evaluated.get(alarm["AlarmName"], 0.0) >= end:
            return
        self._evaluated[alarm["AlarmName"]] = end
        periods = alarm["EvaluationPeriods"]
        reach = EVALUATION_RANGE * periods
        start = end - reach * length
        buckets = self.metrics.buckets(
            alarm["Namespace"],
            alarm["MetricName"],
            {d["Name"]: d["Value"] for d in alarm["Dimensions"]},
            start,
            end,
            length,
            alarm.get("Unit"),
        )
        by_index = {round((t - start) / length): b for t, b in buckets.items()}
        window = [_value(alarm["Statistic"], by_index[i]) if i in by_index else None for i in range(reach)]
        values = in_evaluation(window, periods)
        state, reason = judge(alarm, values)
        data = {
            "version": "1.0",
            "queryDate": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(now)),
            "statistic": alarm["Statistic"],
            "period": alarm["Period"],
            "recentDatapoints": [v for v in values if v is not None],
            "threshold": alarm["Threshold"],
        }
        self._transition(alarm, state, reason, json.dumps(data), [v for v in values if v is not None])

    def _transition(
        self, alarm: dict[str, Any], state: str, reason: str, data: str | None, values: list[float]
    ) -> None:
        now = time.time()
        with self._lock:
            current = self.store.get("alarm", alarm["AlarmName"])
            if current is None:  # deleted meanwhile
                return
            changed = current["StateValue"] != state
            if changed:
                current.update(StateValue=state, StateReason=reason, StateUpdatedTimestamp=now)
                current["StateTransitionedTimestamp"] = now
                if data is not None:
                    current["StateReasonData"] = data
                self.store.put("alarm", current["AlarmName"], current)
        if not current["ActionsEnabled"]:
            return
        actions = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
        for arn in current[actions[state]]:
            for prefix, handler in self._handlers:
                if arn.startswith(prefix) and (changed or prefix.startswith("arn:aws:autoscaling:")):
                    handler(arn, current, values)


def in_evaluation(window: list[float | None], periods: int) -> list[float | None]:
    """The datapoints an alarm judges out of its evaluation range (oldest first): the `periods` most recent
    real ones when the range holds that many, else the last `periods` periods with their gaps."""
    present = [v for v in window if v is not None]
    if len(present) >= periods:
        return present[-periods:]
    return window[-periods:]


def judge(alarm: dict[str, Any], values: list[float | None]) -> tuple[str, str]:
    """The state the datapoints put an alarm in, and AWS's reason for it."""
    words, breaches = COMPARISONS[alarm["ComparisonOperator"]]
    threshold, needed = alarm["Threshold"], alarm["DatapointsToAlarm"]
    missing = alarm["TreatMissingData"]
    present = [v for v in values if v is not None]
    unknown = len(values) - len(present)
    bad = sum(1 for v in present if breaches(v, threshold)) + (unknown if missing == "breaching" else 0)
    shown = ", ".join(f"{v:g}" for v in present)
    if bad >= needed:
        plural = "s were" if bad > 1 else " was"
        return "ALARM", f"Threshold Crossed: {bad} datapoint{plural} [{shown}] {words} the threshold ({threshold:g})."
    if not present and missing in ("missing", "ignore"):
        if missing == "ignore":
            return alarm["StateValue"], alarm["StateReason"]
        return "INSUFFICIENT_DATA", f"Insufficient Data: {len(values)} datapoints were unknown."
    return "OK", (
        f"Threshold Crossed: {len(values) - bad} out of the last {len(values)} datapoints [{shown}] were not "
        f"{words} the threshold ({threshold:g}) (minimum {needed} datapoints for ALARM)."
    )


def _value(statistic: str, bucket: Bucket) -> float:
    count, total, low, high = bucket
    return {"SampleCount": count, "Sum": total, "Minimum": low, "Maximum": high, "Average": total / count}[statistic]


def _check(p: dict[str, Any]) -> None:
    """What PutMetricAlarm refuses beyond botocore's model."""
    if "Metrics" in p or "ExtendedStatistic" in p:
        raise invalid("localcloud evaluates alarms on one metric with a standard Statistic, not metric math.")
    for key in ("MetricName", "Namespace", "Statistic", "Period", "Threshold", "ComparisonOperator"):
        if key not in p:
            raise AwsError("MissingParameter", f"The parameter {key} is required.", 400)
    if p["Statistic"] not in STATISTICS:
        raise invalid(f"The value {p['Statistic']} for parameter Statistic is not one of {', '.join(STATISTICS)}.")
    if p["Period"] not in (10, 20, 30) and p["Period"] % 60:
        raise invalid("The parameter Period must be 10, 20, 30, or a multiple of 60.")
    if p["Period"] * p["EvaluationPeriods"] > 86400:
        raise invalid("The evaluation period (Period times EvaluationPeriods) must not exceed one day (86400 s).")
    if p.get("DatapointsToAlarm", 1) > p["EvaluationPeriods"]:
        raise invalid("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if p["ComparisonOperator"] not in COMPARISONS:
        raise invalid("localcloud evaluates static thresholds, not anomaly detection bands.")
    if p.get("TreatMissingData", "missing") not in ("missing", "ignore", "breaching", "notBreaching"):
        raise invalid("TreatMissingData must be one of missing, ignore, breaching, notBreaching.")
