"""How a service publishes CloudWatch metrics and reads them back without knowing CloudWatch: the interfaces
cloud.py hands the CloudWatch service (localcloud/cloudwatch/provider.py) through, and the background publisher
that batches per-request datapoints so that no request waits on the database."""

from __future__ import annotations

import queue
import threading
import time
from typing import Protocol

from localcloud.core.log import log

Datapoint = tuple[str, dict[str, str], float, float, str]  # name, dimensions, timestamp, value, unit
BATCH_LINGER_S = 0.05


class MetricSink(Protocol):
    """Where localcloud's runners publish datapoints."""

    def put(self, namespace: str, name: str, dimensions: dict[str, str], timestamp: float, value: float) -> None: ...

    def put_many(self, namespace: str, data: list[Datapoint]) -> None:
        """Datapoints `(name, dimensions, timestamp, value, unit)` in one transaction."""


class MetricSeries(Protocol):
    """Where a service reads a metric back."""

    def series(self, namespace: str, name: str, dimensions: dict[str, str]) -> list[float]:
        """Every value of one metric in the order it was put."""


class BackgroundPublisher:
    """Datapoints that localcloud's runners publish per request, written by one thread in batches, so that
    no request waits on the database (endpoint invocations, Lambda invocations)."""

    def __init__(self, metrics: MetricSink, namespace: str) -> None:
        self._metrics, self.namespace = metrics, namespace
        self._queue: queue.SimpleQueue[list[Datapoint]] = queue.SimpleQueue()
        threading.Thread(target=self._publish_forever, name=f"metrics {namespace}", daemon=True).start()

    def put(self, points: list[Datapoint]) -> None:
        self._queue.put(points)

    def _publish_forever(self) -> None:
        while True:
            batch = self._queue.get()
            time.sleep(BATCH_LINGER_S)  # let a burst of requests share one transaction
            while True:  # whatever else is waiting goes in the same transaction
                try:
                    batch += self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self._metrics.put_many(self.namespace, batch)
            except Exception as exc:  # noqa: BLE001 - a lost batch must not stop the next ones
                log(f"could not write {self.namespace} metrics: {type(exc).__name__}: {exc}")
