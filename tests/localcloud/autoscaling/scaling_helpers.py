"""Endpoint autoscaling through real boto3, for the tests and the benchmarks: a variant as Application Auto
Scaling names it, and callers loading an endpoint."""

from __future__ import annotations

import threading
import time
from typing import Any

from botocore.config import Config

from localcloud.core.process import LocalCloudProcess

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def resource(name: str, variant: str = "AllTraffic") -> str:
    """An endpoint variant's ResourceId."""
    return f"endpoint/{name}/variant/{variant}"


def target(name: str, **kwargs: Any) -> dict[str, Any]:
    """The arguments naming an endpoint's AllTraffic variant as a scalable target, with `kwargs` added."""
    return {"ServiceNamespace": "sagemaker", "ResourceId": resource(name), "ScalableDimension": DIMENSION, **kwargs}


class Load:
    """Callers invoking an endpoint through boto3 until stopped; each answer's end time and latency, and every
    failure, kept."""

    def __init__(
        self,
        cloud: LocalCloudProcess,
        name: str,
        callers: int,
        pause_s: float,
        *,
        body: bytes = b"hi",
        content_type: str = "text/plain",
        config: Config | None = None,
    ) -> None:
        self.runtime = cloud.client("sagemaker-runtime", config=config)
        self.name, self.body, self.content_type, self.pause_s = name, body, content_type, pause_s
        self.samples: list[tuple[float, float]] = []  # (end time, latency ms)
        self.failures: list[Exception] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._call) for _ in range(callers)]
        for thread in self._threads:
            thread.start()

    def _call(self) -> None:
        while not self._stop.is_set():
            start = time.perf_counter()
            try:
                self.runtime.invoke_endpoint(EndpointName=self.name, Body=self.body, ContentType=self.content_type)[
                    "Body"
                ].read()
                self.samples.append((time.time(), (time.perf_counter() - start) * 1000))
            except Exception as exc:  # noqa: BLE001 - a failure of any kind counts
                self.failures.append(exc)
            self._stop.wait(self.pause_s)

    @property
    def ok(self) -> int:
        """How many calls were answered."""
        return len(self.samples)

    def between(self, start: float, end: float) -> list[float]:
        """The latencies (ms) of the calls answered from `start` to `end` (epoch seconds)."""
        return [ms for t, ms in self.samples if start <= t < end]

    def stop(self) -> None:
        """Stop every caller and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
