"""SageMaker Runtime's InvokeEndpoint: signed as `sagemaker` too, but REST-JSON with its own model.

Sends the request to the variant's fleet (localcloud/sagemaker/fleet.py), publishes the endpoint's
metrics for every request, answered or failed (localcloud/sagemaker/instance_metrics.py), and offers each
answered request to the endpoint's data capture (localcloud/sagemaker/capture/capture_writer.py, off the request path).
"""

from __future__ import annotations

import time
from typing import Any

from localcloud.core.protocol import ACCOUNT_ID, AwsError
from localcloud.core.registry import Call, Service
from localcloud.sagemaker.arns import SAGEMAKER_ARNS
from localcloud.sagemaker.fleet import Fleet
from localcloud.sagemaker.provider import SageMaker


class SageMakerRuntime(Service):
    """InvokeEndpoint over the endpoints SageMaker deployed."""

    model_name = "sagemaker-runtime"
    arn_templates = {"EndpointName": SAGEMAKER_ARNS["EndpointName"]}

    def __init__(self, sagemaker: SageMaker) -> None:
        self.sagemaker = sagemaker

    def op_InvokeEndpoint(self, p: dict[str, Any], call: Call) -> dict[str, Any]:
        region = call.region
        name = p["EndpointName"]
        endpoint = self.sagemaker.store.get_shared("endpoint", name)  # kept until an endpoint changes
        if endpoint is None:
            raise AwsError("ValidationError", f"Endpoint {name} of account {ACCOUNT_ID} not found.", 400)
        body: bytes = p["Body"]  # at most 6 MB: the door refuses a longer body before reading it
        fleets = self.sagemaker.fleets_of(name)
        if endpoint["EndpointStatus"] not in ("InService", "Updating") or not fleets:
            status = endpoint["EndpointStatus"]
            if status == "InService":  # resuming after a restart: instances are on their way
                fleet = self._wait_for_fleet(name)
            else:
                raise AwsError("ValidationError", f"Endpoint {name} is not in service (status {status}).", 400)
        else:
            target = p.get("TargetVariant")
            matching = [f for f in fleets if target in (None, f.variant)]
            if not matching:
                raise AwsError("ValidationError", f"Variant {target} not found on endpoint {name}.", 400)
            fleet = matching[0]
        started = time.perf_counter()
        content_type = p.get("ContentType") or "application/octet-stream"
        try:
            result = fleet.invoke(body, content_type, p.get("Accept") or "application/json")
        except AwsError:
            self.sagemaker.endpoint_metrics.invoked(
                name, fleet.variant, instances=fleet.instance_count, status=0, model_s=0.0, total_s=0.0
            )
            raise
        self.sagemaker.endpoint_metrics.invoked(
            name,
            fleet.variant,
            instances=fleet.instance_count,
            status=result.status,
            model_s=result.model_s,
            total_s=time.perf_counter() - started,
        )
        if result.status != 200:
            message = result.body.decode(errors="replace")
            kind = "client" if 400 <= result.status < 500 else "server"
            raise AwsError(
                "ModelError",
                f'Received {kind} error ({result.status}) from primary with message "{message}". '
                f"See /aws/sagemaker/Endpoints/{name} in account {ACCOUNT_ID} for more information.",
                424,
                OriginalStatusCode=result.status,
                OriginalMessage=message,
                LogStreamArn=f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{name}",
            )
        self.sagemaker.capture.offer(
            name, fleet.variant, (body, content_type), (result.body, result.content_type), p.get("InferenceId")
        )
        return {"Body": result.body, "ContentType": result.content_type, "InvokedProductionVariant": fleet.variant}

    def _wait_for_fleet(self, name: str, timeout: float = 120.0) -> Fleet:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fleets = self.sagemaker.fleets_of(name)
            if fleets:
                return fleets[0]
            endpoint = self.sagemaker.store.get("endpoint", name)
            if endpoint is None or endpoint["EndpointStatus"] == "Failed":
                break
            time.sleep(0.05)
        raise AwsError("ValidationError", f"Endpoint {name} has no running instance.", 400)
