"""What a function did, from CloudWatch: invocations, errors, throttles, concurrency, duration percentiles and
provisioned-concurrency use from `AWS/Lambda`; cold starts and their init durations from the REPORT lines in
the function's log group (`/aws/lambda/<name>`), which is where AWS records them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error

NAMESPACE = "AWS/Lambda"
MAX_WINDOW_MINUTES = 24 * 60
_INIT = re.compile(r"REPORT RequestId:.*?\bInit Duration:\s*([0-9.]+)\s*ms")
_LOG_EVENTS_CAP = 10_000  # FilterLogEvents pages read at most: a busy function's window is sampled, not scanned


@dataclass(frozen=True)
class MetricSpec:
    """One CloudWatch series the page charts: its metric, statistic, and whether it is per function only."""

    key: str
    metric: str
    stat: str
    label: str
    unit: str
    function_only: bool = False
    """AWS publishes ConcurrentExecutions per function (and account), not per version or alias."""


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("invocations", "Invocations", "Sum", "Invocations", "count"),
    MetricSpec("errors", "Errors", "Sum", "Errors", "count"),
    MetricSpec("throttles", "Throttles", "Sum", "Throttles", "count"),
    MetricSpec("concurrent", "ConcurrentExecutions", "Maximum", "Concurrent executions (max)", "count", True),
    MetricSpec("duration_p50", "Duration", "p50", "Duration p50", "ms"),
    MetricSpec("duration_p99", "Duration", "p99", "Duration p99", "ms"),
    MetricSpec(
        "provisioned_utilization", "ProvisionedConcurrencyUtilization", "Maximum", "Provisioned utilisation", "ratio"
    ),
    MetricSpec("provisioned_invocations", "ProvisionedConcurrencyInvocations", "Sum", "On provisioned", "count"),
    MetricSpec("spillover", "ProvisionedConcurrencySpilloverInvocations", "Sum", "Spillover (on-demand)", "count"),
)


@dataclass(frozen=True)
class Series:
    """One metric over the window, oldest first."""

    key: str
    label: str
    unit: str
    timestamps: list[datetime]
    values: list[float]

    def total(self) -> float:
        return sum(self.values)

    def peak(self) -> float | None:
        return max(self.values) if self.values else None


@dataclass(frozen=True)
class ColdStart:
    """One cold start: when its REPORT line was written and its Init Duration."""

    at: datetime
    init_ms: float


@dataclass(frozen=True)
class FunctionMetrics:
    """A function's (or one version's or alias's) metrics over a window."""

    function: str
    qualifier: str | None
    start: datetime
    end: datetime
    period_s: int
    series: dict[str, Series]
    cold_starts: list[ColdStart] = field(default_factory=list)
    cold_start_note: str | None = None
    """Why cold starts could not be read (no log group yet, logs not readable), if so."""

    def total(self, key: str) -> float:
        return self.series[key].total() if key in self.series else 0.0


def check_window(minutes: int, period_s: int) -> None:
    if not 1 <= minutes <= MAX_WINDOW_MINUTES:
        raise ServiceError(f"The window is 1 to {MAX_WINDOW_MINUTES} minutes; {minutes} is outside it.")
    if period_s not in (1, 5, 10, 20, 30) and period_s % 60:
        raise ServiceError(f"A period is 1, 5, 10, 20 or 30 seconds or a multiple of 60; {period_s} is not.")


class LambdaMetricsService(AwsService):
    """Reads `AWS/Lambda` metrics and the function's REPORT lines."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        cloudwatch_client: Any = None,
        logs_client: Any = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"cloudwatch": cloudwatch_client, "logs": logs_client}
        )

    def metrics(
        self,
        function: str,
        qualifier: str | None = None,
        *,
        minutes: int = 60,
        period_s: int = 60,
        now: datetime | None = None,
    ) -> FunctionMetrics:
        """The last `minutes` in `period_s` buckets; `qualifier` narrows to a version or alias (its Resource)."""
        check_window(minutes, period_s)
        end = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
        start = end - timedelta(minutes=minutes)
        queries = [_query(spec, function, qualifier, period_s) for spec in SPECS]
        try:
            results = self._client("cloudwatch").get_metric_data(
                MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
            )["MetricDataResults"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the metrics of '{function}'") from exc
        by_id = {r["Id"]: r for r in results}
        series = {}
        for spec in SPECS:
            raw = by_id.get(spec.key, {})
            pairs = sorted(zip(raw.get("Timestamps", []), raw.get("Values", []), strict=True))
            series[spec.key] = Series(
                spec.key, spec.label, spec.unit, [t for t, _ in pairs], [float(v) for _, v in pairs]
            )
        cold, note = self._cold_starts(function, qualifier, start, end)
        return FunctionMetrics(function, qualifier, start, end, period_s, series, cold, note)

    def _cold_starts(
        self, function: str, qualifier: str | None, start: datetime, end: datetime
    ) -> tuple[list[ColdStart], str | None]:
        """REPORT lines with an Init Duration: each is one cold start (a provisioned environment's init is not
        reported there, which is the point of provisioning)."""
        group = f"/aws/lambda/{function}"
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "filterPattern": '"REPORT RequestId" "Init Duration"',
            "startTime": int(start.timestamp() * 1000),
            "endTime": int(end.timestamp() * 1000),
        }
        found: list[ColdStart] = []
        try:
            for page in self._client("logs").get_paginator("filter_log_events").paginate(**kwargs):
                for event in page.get("events", []):
                    match = _INIT.search(event.get("message", ""))
                    if match and _stream_matches(event.get("logStreamName", ""), qualifier):
                        at = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
                        found.append(ColdStart(at, float(match.group(1))))
                if len(found) >= _LOG_EVENTS_CAP:
                    break
        except BOTO_ERRORS as exc:
            error = from_client_error(exc, what=f"read the log group {group}")
            if error.code == "ResourceNotFoundException":
                return [], f"No log group {group} yet: the function has not written logs."
            return [], error.message
        return found, None


def _stream_matches(stream: str, qualifier: str | None) -> bool:
    """A stream is named `YYYY/MM/DD/[version]<id>`: for a numbered version, keep its own streams. An alias's
    calls run on the versions it routes to, so for an alias (or none) every stream counts."""
    if qualifier is None or not qualifier.isdigit():
        return True
    return f"/[{qualifier}]" in stream


def _query(spec: MetricSpec, function: str, qualifier: str | None, period_s: int) -> dict[str, Any]:
    dimensions = [{"Name": "FunctionName", "Value": function}]
    if qualifier and not spec.function_only:
        dimensions.append({"Name": "Resource", "Value": f"{function}:{qualifier}"})
    return {
        "Id": spec.key,
        "Label": spec.label,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": spec.metric, "Dimensions": dimensions},
            "Period": period_s,
            "Stat": spec.stat,
        },
    }
