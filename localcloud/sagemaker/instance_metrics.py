"""An endpoint's CloudWatch metrics in `AWS/SageMaker`, one set per request, written by a background thread
(core/interfaces/metric_sink.py's BackgroundPublisher).

As AWS publishes them, with dimensions EndpointName and VariantName: Invocations (1 a request),
InvocationsPerInstance (1 / the instances serving, so its Sum is the load on each: what target tracking
watches), ModelLatency (the instance's time) and OverheadLatency (the rest), both in microseconds, and
Invocation4XXErrors / Invocation5XXErrors (0 or 1, so their Average is the error rate); and, once a metric
period, each instance's CPUUtilization in `/aws/sagemaker/Endpoints` (InstanceCpu).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil

from localcloud.core.interfaces.metric_sink import BackgroundPublisher, MetricSink

NAMESPACE = "AWS/SageMaker"


class EndpointMetrics:
    """Turns finished requests into datapoints and hands them to the Metrics service in batches."""

    def __init__(self, metrics: MetricSink) -> None:
        self._publisher = BackgroundPublisher(metrics, NAMESPACE)

    def invoked(
        self, endpoint: str, variant: str, *, instances: int, status: int, model_s: float, total_s: float
    ) -> None:
        """One request answered with HTTP `status` by the model (0: no answer, the instance failed)."""
        now = time.time()
        dims = {"EndpointName": endpoint, "VariantName": variant}
        client_error = 400 <= status < 500
        self._publisher.put(
            [
                ("Invocations", dims, now, 1.0, "None"),
                ("InvocationsPerInstance", dims, now, 1.0 / max(1, instances), "None"),
                ("ModelLatency", dims, now, model_s * 1e6, "Microseconds"),
                ("OverheadLatency", dims, now, max(0.0, total_s - model_s) * 1e6, "Microseconds"),
                ("Invocation4XXErrors", dims, now, 1.0 if client_error else 0.0, "None"),
                ("Invocation5XXErrors", dims, now, 0.0 if client_error or status == 200 else 1.0, "None"),
            ]
        )


CPU_NAMESPACE = "/aws/sagemaker/Endpoints"


class InstanceCpu:
    """Each endpoint instance's CPU use, published once a metric period as AWS publishes it: CPUUtilization
    in `/aws/sagemaker/Endpoints` (dimensions EndpointName, VariantName), in percent summed over the
    instance's cores, one datapoint per instance (so Average is the CPU per instance)."""

    def __init__(
        self, metrics: MetricSink, fleets: Callable[[], list[tuple[str, str, list[int]]]], period_s: float
    ) -> None:
        self._publisher = BackgroundPublisher(metrics, CPU_NAMESPACE)
        self._fleets, self._period_s = fleets, period_s
        self._processes: dict[int, psutil.Process] = {}

    def start(self) -> InstanceCpu:
        threading.Thread(target=self._run_forever, name="endpoint-cpu", daemon=True).start()
        return self

    def _run_forever(self) -> None:
        while True:
            time.sleep(self._period_s)
            self.sample()

    def sample(self) -> None:
        """CPU since the last sample of every instance process; a new process is measured from its first
        sample on (psutil needs two readings)."""
        now, points, seen = time.time(), [], set()
        for endpoint, variant, pids in self._fleets():
            for pid in pids:
                seen.add(pid)
                try:
                    process = self._processes.get(pid)
                    if process is None:
                        self._processes[pid] = process = psutil.Process(pid)
                        process.cpu_percent(None)
                        continue
                    value = process.cpu_percent(None)
                except psutil.Error:
                    continue  # it stopped between the listing and the reading
                dims = {"EndpointName": endpoint, "VariantName": variant}
                points.append(("CPUUtilization", dims, now, value, "Percent"))
        for pid in set(self._processes) - seen:
            del self._processes[pid]
        if points:
            self._publisher.put(points)
