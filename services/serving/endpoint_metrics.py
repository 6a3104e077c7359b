"""An endpoint variant's CloudWatch metrics for the live charts, in one GetMetricData call.

`AWS/SageMaker` (dimensions EndpointName, VariantName): Invocations and InvocationsPerInstance (Sum),
ModelLatency and OverheadLatency (p50, p99; microseconds), Invocation4XXErrors and Invocation5XXErrors (Sum);
`/aws/sagemaker/Endpoints`: CPUUtilization (Average; percent, summed over an instance's cores).
The period is the cloud's: one minute on AWS, shorter on a localcloud started with `--metric-period-seconds`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, from_client_error
from services.core.localcloud_probe import localcloud_health

AWS_PERIOD_S = 60
_PERIODS = (1, 5, 10, 20, 30)  # CloudWatch's high-resolution periods; otherwise a multiple of 60
SERIES: dict[str, tuple[str, str, str]] = {
    # id: (namespace, metric, statistic)
    "invocations": ("AWS/SageMaker", "Invocations", "Sum"),
    "per_instance": ("AWS/SageMaker", "InvocationsPerInstance", "Sum"),
    "model_p50": ("AWS/SageMaker", "ModelLatency", "p50"),
    "model_p99": ("AWS/SageMaker", "ModelLatency", "p99"),
    "overhead_p50": ("AWS/SageMaker", "OverheadLatency", "p50"),
    "overhead_p99": ("AWS/SageMaker", "OverheadLatency", "p99"),
    "errors_4xx": ("AWS/SageMaker", "Invocation4XXErrors", "Sum"),
    "errors_5xx": ("AWS/SageMaker", "Invocation5XXErrors", "Sum"),
    "cpu": ("/aws/sagemaker/Endpoints", "CPUUtilization", "Average"),
}


@dataclass(frozen=True)
class CloudTiming:
    """How long the cloud's one-minute metric period really is; `shortened` only on a localcloud started
    with `--metric-period-seconds` (AWS says nothing, so neither does the page)."""

    period_s: float
    shortened: bool
    instance_limit: int | None
    """The most endpoint instances the cloud allows together, where it says (localcloud's machine limit)."""
    cores: tuple[int, int] | None = None
    """(cores the endpoint instances hold, cores the machine has), where the cloud says (localcloud pins each
    instance to its type's share of the machine); None on AWS, where each instance is a machine of its own."""

    @property
    def oversubscribed(self) -> bool:
        """The instances want more cores than the machine has: they share, so another adds less capacity."""
        return self.cores is not None and self.cores[0] > self.cores[1]


@dataclass(frozen=True)
class MetricSeries:
    timestamps: list[dt.datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class VariantMetrics:
    endpoint: str
    variant: str
    period_s: int
    series: dict[str, MetricSeries]
    """Keyed as SERIES; each ascending in time."""

    def empty(self) -> bool:
        return not any(s.values for s in self.series.values())


def cloud_timing(settings: CloudSettings) -> CloudTiming:
    health = localcloud_health(settings.endpoint_url)
    if health is None:
        return CloudTiming(AWS_PERIOD_S, False, None)
    period = float(health.get("metric_period_seconds") or AWS_PERIOD_S)
    limit = health.get("endpoint_instance_limit")
    share = health.get("endpoint_cores") or {}
    cores = (int(share["instance_cores"]), int(share["machine_cores"])) if "machine_cores" in share else None
    return CloudTiming(period, period != AWS_PERIOD_S, int(limit) if limit is not None else None, cores)


def query_period(period_s: float) -> int:
    """The smallest period GetMetricData accepts that holds one of the cloud's metric periods."""
    for allowed in _PERIODS:
        if period_s <= allowed:
            return allowed
    return max(60, -(-int(period_s) // 60) * 60)


class EndpointMetricsService(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        cloudwatch: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"cloudwatch": cloudwatch})

    def variant_metrics(
        self, endpoint: str, variant: str = "AllTraffic", *, period_s: int = AWS_PERIOD_S, window_periods: int = 30
    ) -> VariantMetrics:
        """The last `window_periods` periods of every series in SERIES."""
        dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
        end = dt.datetime.now(dt.UTC)
        queries = [
            {
                "Id": key,
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
                    "Period": period_s,
                    "Stat": stat,
                },
            }
            for key, (namespace, metric, stat) in SERIES.items()
        ]
        try:
            answer = self._client("cloudwatch").get_metric_data(
                MetricDataQueries=queries,
                StartTime=end - dt.timedelta(seconds=period_s * window_periods),
                EndTime=end,
                ScanBy="TimestampAscending",
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read the metrics of endpoint '{endpoint}'") from exc
        series = {key: MetricSeries() for key in SERIES}
        for result in answer["MetricDataResults"]:
            pairs = sorted(zip(result["Timestamps"], result["Values"], strict=True))
            series[result["Id"]] = MetricSeries([t for t, _ in pairs], [v for _, v in pairs])
        return VariantMetrics(endpoint, variant, period_s, series)
