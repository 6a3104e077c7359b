"""The drift score in CloudWatch: a custom metric per endpoint, and an alarm on it at the operator's threshold.

The drift schedule (drift_schedule.py) and the Monitor page publish the newest hour's drift beyond chance (its
distance above the noise floor, see drift.py), much as a Model Monitor schedule emits its metrics after each run.
The raw distance would alarm on chance: 20 answers over 111 breeds score about 0.8 with no drift at all. The
alarm (PutMetricAlarm) keeps its state between scores (TreatMissingData `ignore`), so it stays in ALARM until a
score under the threshold arrives.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3

from services.core.access import Caller, require_operator
from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

NAMESPACE = "DogBreedDashboard/Monitoring"
METRIC = "PredictionDriftBeyondChance"
ALARM_PREFIX = "dog-breed-drift-"
PERIOD_S = 60

_published: dict[tuple[str, str, str], tuple[str, int]] = {}  # (cloud, region, endpoint) → (hour, answers) sent
_lock = threading.Lock()


@dataclass(frozen=True)
class DriftAlarm:
    endpoint: str
    name: str
    threshold: float
    state: str
    reason: str
    updated: datetime | None


def alarm_name(endpoint: str) -> str:
    return ALARM_PREFIX + endpoint


class DriftAlarmService(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)

    def publish(self, endpoint: str, hour: str, answers: int, beyond_chance: float) -> bool:
        """Send `hour`'s drift beyond chance unless this very score was sent already; whether it was sent."""
        memo_key = self._memo_key(endpoint)
        with _lock:
            if _published.get(memo_key) == (hour, answers):
                return False
        try:
            self._client("cloudwatch").put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[
                    {
                        "MetricName": METRIC,
                        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}],
                        "Timestamp": datetime.now(UTC),
                        "Value": beyond_chance,
                        "Unit": "None",
                    }
                ],
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="publish the drift score to CloudWatch") from exc
        with _lock:
            _published[memo_key] = (hour, answers)
        return True

    def set_threshold(self, caller: Caller, endpoint: str, threshold: float) -> None:
        """Create or change the endpoint's drift alarm: ALARM when an hour's distance is more than `threshold`
        above what chance alone scores."""
        require_operator(caller, "set the drift alarm")
        if not 0.0 < threshold < 1.0:
            raise ServiceError(
                "The drift threshold is a Jensen–Shannon distance above chance: between 0 and 1, both excluded."
            )
        try:
            self._client("cloudwatch").put_metric_alarm(
                AlarmName=alarm_name(endpoint),
                AlarmDescription=(
                    f"The breeds that endpoint {endpoint} answers have drifted from its training set's classes "
                    "(an hour's Jensen–Shannon distance above what chance alone scores for as many answers); set on "
                    "the dashboard's Monitor page."
                ),
                Namespace=NAMESPACE,
                MetricName=METRIC,
                Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
                Statistic="Maximum",
                Period=PERIOD_S,
                EvaluationPeriods=1,
                Threshold=threshold,
                ComparisonOperator="GreaterThanThreshold",
                TreatMissingData="ignore",
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="create the drift alarm") from exc
        with _lock:  # a new or changed alarm is sent the current score at the next publish, not the next change
            _published.pop(self._memo_key(endpoint), None)

    def _memo_key(self, endpoint: str) -> tuple[str, str, str]:
        return (str(self._settings.endpoint_url), self._settings.region, endpoint)

    def alarm(self, endpoint: str) -> DriftAlarm | None:
        found = self._describe(AlarmNames=[alarm_name(endpoint)])
        return found[0] if found else None

    def all(self) -> list[DriftAlarm]:
        """Every endpoint's drift alarm (the schedule publishes a score for each)."""
        return self._describe(AlarmNamePrefix=ALARM_PREFIX)

    def firing(self) -> list[DriftAlarm]:
        """Every endpoint's drift alarm that is in ALARM now (the Overview shows them)."""
        return self._describe(AlarmNamePrefix=ALARM_PREFIX, StateValue="ALARM")

    def _describe(self, **query: object) -> list[DriftAlarm]:
        try:
            pages = self._client("cloudwatch").get_paginator("describe_alarms").paginate(**query)
            alarms = [a for page in pages for a in page["MetricAlarms"]]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the drift alarms") from exc
        return [
            DriftAlarm(
                endpoint=a["AlarmName"].removeprefix(ALARM_PREFIX),
                name=a["AlarmName"],
                threshold=float(a["Threshold"]),
                state=a["StateValue"],
                reason=a.get("StateReason", ""),
                updated=a.get("StateUpdatedTimestamp"),
            )
            for a in alarms
            if a.get("Namespace") == NAMESPACE
        ]
