"""Lambda's CloudWatch metrics in `AWS/Lambda`, with the dimensions AWS gives them, written by a background
thread so that no invocation waits on the database.

Dimensions, as AWS uses them: none (the account), `FunctionName` (every version and alias of a function),
`FunctionName, Resource` (`name:qualifier`, when a call names a version or alias) and `FunctionName,
Resource, ExecutedVersion` (a call through an alias, per version that ran it: how a weighted alias is
watched). Throttled calls count in Throttles and never in Invocations. ConcurrentExecutions is published
for the account and per function; provisioned-concurrency metrics per function and for the version or
alias that holds the configuration.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass

from localcloud.metrics import Metrics

NAMESPACE = "AWS/Lambda"
Datapoint = tuple[str, dict[str, str], float, float, str]  # name, dimensions, timestamp, value, unit


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

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._queue: queue.SimpleQueue[list[Datapoint]] = queue.SimpleQueue()
        threading.Thread(target=self._publish_forever, name="lambda-metrics", daemon=True).start()

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
        self._queue.put(points)

    def throttled(self, call: Call) -> None:
        now = time.time()
        self._queue.put([("Throttles", dims, now, 1.0, "Count") for dims in call.dimensions(None)])

    def _publish_forever(self) -> None:
        while True:
            batch = self._queue.get()
            while True:  # whatever else is waiting goes in the same transaction
                try:
                    batch += self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self._metrics.put_many(NAMESPACE, batch)
            except Exception as exc:  # noqa: BLE001 - a lost batch must not stop the next ones
                print(f"localcloud: could not write Lambda metrics: {type(exc).__name__}: {exc}", file=sys.stderr)
