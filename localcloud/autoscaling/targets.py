"""What Application Auto Scaling can scale in localcloud, one class per (namespace, dimension), as AWS names them:

- `sagemaker` / `endpoint/<name>/variant/<variant>` / `sagemaker:variant:DesiredInstanceCount`: an endpoint
  variant's instances (UpdateEndpointWeightsAndCapacities underneath);
- `lambda` / `function:<name>:<alias|version>` / `lambda:function:ProvisionedConcurrency`: a version's or alias's
  provisioned concurrency (PutProvisionedConcurrencyConfig underneath; 0 deletes the configuration).

autoscaling/provider.py (the API) and autoscaling/engine.py (the engine) ask a resource kind whether a resource
exists, its capacity, to change it, and which metric its predefined target-tracking metric is. cloud.py builds
the kinds over the services they scale, which each kind reaches only through what its Protocol names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from localcloud.core.protocol import ACCOUNT_ID, AwsError, validation
from localcloud.core.registry import Call, Identity

Done = Callable[[str | None], None]
"""Told once the change is fulfilled (None) or has failed (the reason)."""

_SYSTEM = Identity("", f"arn:aws:iam::{ACCOUNT_ID}:root", ACCOUNT_ID, ACCOUNT_ID)  # Auto Scaling's own calls
PROVISIONING_TIMEOUT_S = 600


class ResourceKind(Protocol):
    namespace: str
    dimension: str
    service_role: str
    min_capacity: int  # the least MinCapacity AWS accepts for this kind
    capacity_words: str  # "instance count", "concurrency": how activities name the capacity
    fulfilled_by: str  # "sagemaker", "lambda": the service named in a successful activity's message
    service_title: str  # "AmazonSageMaker", "AWSLambda": the service named in a failed one's
    predefined_metrics: tuple[str, ...]

    def check(self, resource_id: str, region: str) -> None:
        """Raise AWS's error unless the resource ID is well formed and the resource exists."""

    def capacity(self, resource_id: str) -> int: ...

    def resize(self, resource_id: str, region: str, desired: int, done: Done) -> None:
        """Start the change; raise AwsError when the service refuses it at once."""

    def predefined_metric(self, resource_id: str) -> dict[str, Any]:
        """The alarms' metric for the kind's predefined metric type."""


def _role(service: str, suffix: str) -> str:
    return (
        f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/{service}.application-autoscaling.amazonaws.com/"
        f"AWSServiceRoleForApplicationAutoScaling_{suffix}"
    )


class EndpointFleets(Protocol):
    """What scaling an endpoint variant asks of SageMaker (localcloud/sagemaker/provider.py)."""

    def endpoint(self, name: str, region: str) -> dict[str, Any]:
        """The endpoint's record; AWS's ValidationException when there is none."""

    def variant_instances(self, endpoint: str, variant: str) -> int:
        """The variant's desired instance count; AWS's ValidationException when it is not deployed."""

    def scale_variants(self, endpoint: str, counts: dict[str, int], done: Done) -> None:
        """Start changing the variants' instance counts; raise AwsError when SageMaker refuses at once."""


def endpoint_variant(resource_id: str) -> tuple[str, str]:
    """`endpoint/<name>/variant/<variant>` split into its names."""
    parts = resource_id.split("/")
    return parts[1], parts[3]


class EndpointVariants:
    namespace, dimension = "sagemaker", "sagemaker:variant:DesiredInstanceCount"
    service_role = _role("sagemaker", "SageMakerEndpoint")
    min_capacity, capacity_words, fulfilled_by, service_title = 1, "instance count", "sagemaker", "AmazonSageMaker"
    predefined_metrics = ("SageMakerVariantInvocationsPerInstance",)

    def __init__(self, sagemaker: EndpointFleets) -> None:
        self.sagemaker = sagemaker

    def check(self, resource_id: str, region: str) -> None:
        parts = resource_id.split("/")
        if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant":
            raise validation(f"Unsupported resource ID {resource_id}: expected endpoint/<name>/variant/<variant>.")
        endpoint, variant = endpoint_variant(resource_id)
        self.sagemaker.endpoint(endpoint, region)
        self.sagemaker.variant_instances(endpoint, variant)

    def capacity(self, resource_id: str) -> int:
        return self.sagemaker.variant_instances(*endpoint_variant(resource_id))

    def resize(self, resource_id: str, region: str, desired: int, done: Done) -> None:
        endpoint, variant = endpoint_variant(resource_id)
        self.sagemaker.scale_variants(endpoint, {variant: desired}, done)

    def predefined_metric(self, resource_id: str) -> dict[str, Any]:
        endpoint, variant = endpoint_variant(resource_id)
        return {
            "Namespace": "AWS/SageMaker",
            "MetricName": "InvocationsPerInstance",
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            "Statistic": "Sum",
        }


class ProvisionedFunctions(Protocol):
    """What scaling provisioned concurrency asks of Lambda (localcloud/awslambda/concurrency.py): its
    configuration API, called as Auto Scaling's own, and two look-ups."""

    def provisioned_config(self, function: str, qualifier: str, region: str) -> tuple[str, dict[str, Any] | None]:
        """(function name, its configuration for the version or alias or None); ResourceNotFound when the
        function, version or alias does not exist."""

    def provisioned_requested(self, name: str, qualifier: str) -> int:
        """The provisioned concurrency configured for a version or alias (0 when none)."""

    def op_PutProvisionedConcurrencyConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]: ...

    def op_GetProvisionedConcurrencyConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]: ...

    def op_DeleteProvisionedConcurrencyConfig(self, p: dict[str, Any], call: Call) -> dict[str, Any]: ...


def function_qualifier(resource_id: str) -> tuple[str, str]:
    """`function:<name>:<alias|version>` split into its names."""
    _, name, qualifier = resource_id.split(":", 2)
    return name, qualifier


class ProvisionedConcurrency:
    namespace, dimension = "lambda", "lambda:function:ProvisionedConcurrency"
    service_role = _role("lambda", "LambdaConcurrency")
    min_capacity, capacity_words, fulfilled_by, service_title = 0, "concurrency", "lambda", "AWSLambda"
    predefined_metrics = ("LambdaProvisionedConcurrencyUtilization",)

    def __init__(self, lambda_: ProvisionedFunctions) -> None:
        self.lambda_ = lambda_

    def _params(self, resource_id: str) -> dict[str, Any]:
        name, qualifier = function_qualifier(resource_id)
        return {"FunctionName": name, "Qualifier": qualifier}

    def check(self, resource_id: str, region: str) -> None:
        parts = resource_id.split(":")
        if len(parts) != 3 or parts[0] != "function" or not parts[1] or not parts[2]:
            raise validation(f"Unsupported resource ID {resource_id}: expected function:<name>:<alias|version>.")
        if parts[2] == "$LATEST":
            raise validation("Provisioned concurrency scales a published version or an alias, not $LATEST.")
        self.lambda_.provisioned_config(parts[1], parts[2], region)  # the function and its qualifier exist

    def capacity(self, resource_id: str) -> int:
        return self.lambda_.provisioned_requested(*function_qualifier(resource_id))

    def resize(self, resource_id: str, region: str, desired: int, done: Done) -> None:
        call, params = Call(region, _SYSTEM), self._params(resource_id)
        if desired == 0:
            if self.capacity(resource_id) > 0:  # nothing configured is already zero (Delete would be refused)
                self.lambda_.op_DeleteProvisionedConcurrencyConfig(params, call)
            done(None)
            return
        self.lambda_.op_PutProvisionedConcurrencyConfig({**params, "ProvisionedConcurrentExecutions": desired}, call)

        def follow() -> None:  # fulfilled once the environments are READY, as Lambda reports it
            deadline = time.monotonic() + PROVISIONING_TIMEOUT_S
            while time.monotonic() < deadline:
                try:
                    status = self.lambda_.op_GetProvisionedConcurrencyConfig(params, call)
                except AwsError as error:
                    done(error.message)
                    return
                if status["Status"] == "READY":
                    done(None)
                    return
                if status["Status"] == "FAILED":
                    done(status.get("StatusReason", "Lambda could not provision the environments."))
                    return
                time.sleep(0.2)
            done("Provisioning did not finish in time.")

        threading.Thread(target=follow, name=f"provisioning {resource_id}", daemon=True).start()

    def predefined_metric(self, resource_id: str) -> dict[str, Any]:
        name, qualifier = function_qualifier(resource_id)
        return {
            "Namespace": "AWS/Lambda",
            "MetricName": "ProvisionedConcurrencyUtilization",
            "Dimensions": [
                {"Name": "FunctionName", "Value": name},
                {"Name": "Resource", "Value": f"{name}:{qualifier}"},
            ],
            "Statistic": "Average",  # AWS's default for this metric's alarms
        }
