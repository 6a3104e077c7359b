"""An endpoint's CloudWatch metrics in `AWS/SageMaker`, one set per request, written by a background thread
(metrics.BackgroundPublisher).

As AWS publishes them, with dimensions EndpointName and VariantName: Invocations (1 a request),
InvocationsPerInstance (1 / the instances serving, so its Sum is the load on each: what target tracking
watches), ModelLatency (the instance's time) and OverheadLatency (the rest), both in microseconds, and
Invocation4XXErrors / Invocation5XXErrors (0 or 1, so their Average is the error rate).
"""

from __future__ import annotations

import time

from localcloud.metrics import BackgroundPublisher, Metrics

NAMESPACE = "AWS/SageMaker"


class EndpointMetrics:
    """Turns finished requests into datapoints and hands them to the Metrics service in batches."""

    def __init__(self, metrics: Metrics) -> None:
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
