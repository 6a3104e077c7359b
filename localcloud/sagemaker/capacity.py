"""How many instances an endpoint variant runs: UpdateEndpointWeightsAndCapacities, and the resizing that
Application Auto Scaling asks for, within the machine's instance limit.

The endpoint is `Updating` while a variant grows or drains, `InService` after; DesiredInstanceCount is the
new count at once, CurrentInstanceCount follows the instances that serve. Asking for more instances than
the machine allows (`--endpoint-instances`) is refused as AWS refuses an account over its quota:
`ResourceLimitExceeded`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from localcloud.core.protocol import AwsError, validation
from localcloud.core.registry import Call
from localcloud.core.state import Store
from localcloud.sagemaker.fleet import Fleet

Done = Callable[[str | None], None]  # called with None when the change is fulfilled, else why it failed


class ScalingHooks(Protocol):
    """What SageMaker asks Application Auto Scaling (localcloud/autoscaling/provider.py)."""

    def scaled_variants(self, endpoint: str) -> list[str]: ...

    def endpoint_deleted(self, endpoint: str) -> None: ...


class Endpoints(Protocol):
    """What capacity asks of SageMaker's endpoints (localcloud/sagemaker/provider.py)."""

    def endpoint(self, name: str, region: str) -> dict[str, Any]: ...

    def fleet(self, name: str, variant: str) -> Fleet: ...

    def instance_type(self, endpoint: dict[str, Any], variant: str) -> str: ...

    def desired_instances(self) -> int:
        """Instances every endpoint's variants are to run, together."""


class Capacity:
    """Instance counts of every endpoint's variants, under one machine-wide limit."""

    def __init__(self, store: Store, endpoints: Endpoints, max_instances: int) -> None:
        self.store, self.endpoints = store, endpoints
        self.max_instances = max_instances
        self._lock = threading.Lock()

    def op_UpdateEndpointWeightsAndCapacities(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        endpoint = self.endpoints.endpoint(p["EndpointName"], call.region)
        counts = {}
        for wanted in p["DesiredWeightsAndCapacities"]:
            if "DesiredInstanceCount" in wanted:
                counts[wanted["VariantName"]] = wanted["DesiredInstanceCount"]
            else:
                self.endpoints.fleet(endpoint["EndpointName"], wanted["VariantName"])  # it must exist
        self.resize(endpoint["EndpointName"], counts)
        return {"EndpointArn": endpoint["EndpointArn"]}

    def resize(self, name: str, counts: dict[str, int], done: Done | None = None) -> None:
        """Start changing the variants' instance counts; refuse at once what AWS refuses at once."""
        with self._lock:
            endpoint = self.store.get("endpoint", name)
            if endpoint is None or endpoint["EndpointStatus"] != "InService":
                status = endpoint["EndpointStatus"] if endpoint else "deleted"
                raise validation(f'Cannot update in-progress endpoint "{name}" (status {status}).')
            fleets = {v: self.endpoints.fleet(name, v) for v in counts}
            for variant, count in counts.items():
                if count < 1:
                    raise validation(f"DesiredInstanceCount for variant {variant} must be at least 1.")
            delta = sum(max(0, count - fleets[v].desired) for v, count in counts.items())
            used = self.endpoints.desired_instances()
            if used + delta > self.max_instances:
                kind = self.endpoints.instance_type(endpoint, next(iter(counts)))
                raise AwsError(
                    "ResourceLimitExceeded",
                    f"The account-level service limit '{kind} for endpoint usage' is {self.max_instances} "
                    f"Instances, with current utilization of {used} Instances and a request delta of {delta} "
                    "Instances. Please use AWS Service Quotas to request an increase for this quota. If AWS "
                    "Service Quotas is not available, contact AWS support to request an increase for this quota.",
                )
            capacity = {**endpoint.get("VariantCapacity", {}), **counts}
            self.store.update(
                "endpoint", name, EndpointStatus="Updating", VariantCapacity=capacity, LastModifiedTime=time.time()
            )
            for variant, count in counts.items():
                fleets[variant].desired = count
        threading.Thread(target=self._apply, args=(name, fleets, counts, done), daemon=True).start()

    def _apply(self, name: str, fleets: dict[str, Any], counts: dict[str, int], done: Done | None) -> None:
        failure = None
        for variant, count in counts.items():
            try:
                fleets[variant].resize(count)
            except Exception as exc:  # noqa: BLE001 - reported in the endpoint and the activity
                failure = f"{type(exc).__name__}: {exc}"
                fleets[variant].desired = fleets[variant].instance_count
        if self.store.get("endpoint", name) is not None:
            self.store.update(
                "endpoint", name, EndpointStatus="InService", FailureReason=failure, LastModifiedTime=time.time()
            )
        if done is not None:
            done(failure)
