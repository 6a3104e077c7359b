"""Lambda's CloudWatch metrics in `AWS/Lambda`, with the dimensions AWS gives them, written in the
background (core/interfaces/metric_sink.py's BackgroundPublisher).

Dimensions, as AWS uses them: none (the account), `FunctionName` (every version and alias of a function),
`FunctionName, Resource` (`name:qualifier`, when a call names a version or alias) and `FunctionName,
Resource, ExecutedVersion` (a call through an alias, per version that ran it: how a weighted alias is
watched). Throttled calls count in Throttles and never in Invocations. ConcurrentExecutions is published
for the account and per function; provisioned-concurrency metrics per function and for the version or
alias that holds the configuration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from localcloud.core.interfaces.metric_sink import BackgroundPublisher, Datapoint, MetricSink

NAMESPACE = "AWS/Lambda"


@dataclass(frozen=True)
class Call:
    """Which function a call named and how, for the dimensions of its metrics."""

    function: str
    qualifier: str | None  # the version or alias the caller named
    alias: bool

    def dimensions(self, executed_version: str | None) -> list[dict[str, str]]:
        sets: list[dict[str, str]] = [{}, {"FunctionName": self.function}]
        if self.qualifier:
            resource = {"FunctionName": self.function, "Resource": f"{self.function}:{self.qualifier}"}
            sets.append(resource)
            if self.alias and executed_version:
                sets.append({**resource, "ExecutedVersion": executed_version})
        return sets


@dataclass(frozen=True)
class ProvisionedUse:
    """How an invocation of a version with provisioned concurrency met it."""

    qualifier: str  # the version or alias that holds the configuration
    served: bool  # a provisioned environment ran it (else it spilled over to on-demand)
    busy: int  # provisioned environments running at once, this one included
    allocated: int


class LambdaMetrics:
    """Turns invocations into datapoints and hands them to the Metrics service in batches."""

    def __init__(self, metrics: MetricSink) -> None:
        self._publisher = BackgroundPublisher(metrics, NAMESPACE)

    def invoked(
        self,
        call: Call,
        executed_version: str,
        *,
        error: bool,
        duration_ms: float,
        concurrent: int,
        account_concurrent: int,
        provisioned: ProvisionedUse | None,
    ) -> None:
        now = time.time()
        points: list[Datapoint] = []
        for dims in call.dimensions(executed_version):
            points += [
                ("Invocations", dims, now, 1.0, "Count"),
                ("Errors", dims, now, 1.0 if error else 0.0, "Count"),
                ("Duration", dims, now, duration_ms, "Milliseconds"),
            ]
        points += [
            ("ConcurrentExecutions", {}, now, float(account_concurrent), "Count"),
            ("ConcurrentExecutions", {"FunctionName": call.function}, now, float(concurrent), "Count"),
        ]
        if provisioned is not None:
            resource = f"{call.function}:{provisioned.qualifier}"
            for dims in ({"FunctionName": call.function}, {"FunctionName": call.function, "Resource": resource}):
                if provisioned.served:
                    points.append(("ProvisionedConcurrencyInvocations", dims, now, 1.0, "Count"))
                    points.append(("ProvisionedConcurrentExecutions", dims, now, float(provisioned.busy), "Count"))
                    if provisioned.allocated:
                        utilization = provisioned.busy / provisioned.allocated
                        points.append(("ProvisionedConcurrencyUtilization", dims, now, utilization, "None"))
                else:
                    points.append(("ProvisionedConcurrencySpilloverInvocations", dims, now, 1.0, "Count"))
        self._publisher.put(points)

    def throttled(self, call: Call) -> None:
        now = time.time()
        self._publisher.put([("Throttles", dims, now, 1.0, "Count") for dims in call.dimensions(None)])
