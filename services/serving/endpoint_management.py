"""Every endpoint with its variants, and the changes an operator makes to one: update it to another model,
instance type or count, delete it with its config and models, and point the Lambda function at it.

Read with the calls the SageMaker console uses (ListEndpoints, DescribeEndpoint, DescribeEndpointConfig,
DescribeModel); a variant's origin comes from services/serving/lineage.py. An update is a new endpoint config and
UpdateEndpoint, which SageMaker performs without downtime (the new fleet serves before the old one leaves).
On an autoscaled variant AWS allows a new model (RetainAllVariantProperties keeps the instance count autoscaling
set) and refuses another instance type until the variant is deregistered; its reason is shown as is.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import HOSTING_HOURLY_USD
from services.serving.data_capture import CaptureChoice, CaptureState, checked
from services.serving.deploy import INSTANCE_PATTERN, NAME_PATTERN, deploy_name
from services.serving.lineage import LineageService

ENDPOINT_VARIABLE = "ENDPOINT_NAME"
"""The Lambda function's environment variable naming the endpoint it calls (classifier/serving/lambda_function.py)."""


@dataclass(frozen=True)
class VariantView:
    """One production variant as it serves now; counts are None while SageMaker has not reported them."""

    name: str
    model_name: str
    training_job: str | None
    tuning_job: str | None
    instance_type: str | None
    current_instances: int | None
    desired_instances: int | None
    weight: float | None

    @property
    def hourly_usd(self) -> float | None:
        """List price of the instances serving now (None for a type the dashboard does not price)."""
        price = HOSTING_HOURLY_USD.get(self.instance_type or "")
        if price is None or self.current_instances is None:
            return None
        return price * self.current_instances


@dataclass(frozen=True)
class EndpointView:
    name: str
    status: str
    config_name: str
    created: datetime | None
    failure_reason: str | None
    variants: list[VariantView]
    capture: CaptureState | None = None  # what DescribeEndpoint says it captures now
    capture_config: dict[str, Any] | None = None  # its config's DataCaptureConfig, which an update carries over

    @property
    def hourly_usd(self) -> float | None:
        """What the endpoint costs per hour at its current size; None when a variant's type is unpriced."""
        prices = [v.hourly_usd for v in self.variants]
        return None if not prices or None in prices else sum(p for p in prices if p is not None)


@dataclass(frozen=True)
class LiveCounts:
    """What DescribeEndpoint alone says now: the status, the config serving and each variant's
    (current, desired) instance count; cheap enough to read every few seconds."""

    status: str
    config_name: str
    counts: dict[str, tuple[int | None, int | None]]


@dataclass(frozen=True)
class Deletion:
    """What `delete` removed, and the functions left calling a missing endpoint (the operator was warned)."""

    endpoint: str
    config: str | None
    models: list[str]


class EndpointsService(AwsService):
    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
        lambda_client: Any = None,
    ) -> None:
        super().__init__(
            settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker_client, "lambda": lambda_client}
        )
        self._lineage = LineageService(self._settings, boto3_session=boto3_session, sagemaker_client=sagemaker_client)

    def names(self) -> list[str]:
        try:
            pages = self._client("sagemaker").get_paginator("list_endpoints").paginate()
            return sorted(e["EndpointName"] for page in pages for e in page["Endpoints"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list endpoints") from exc

    def all(self) -> list[EndpointView]:
        """Every endpoint, described; one deleted while listing is left out."""
        views = []
        for name in self.names():
            with contextlib.suppress(ServiceError):
                views.append(self.describe(name))
        return views

    def describe(self, name: str) -> EndpointView:
        sagemaker = self._client("sagemaker")
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{name}'") from exc
        live = {v["VariantName"]: v for v in endpoint.get("ProductionVariants", [])}
        variants = []
        for configured in config["ProductionVariants"]:
            serving = live.get(configured["VariantName"], {})
            origin = self._lineage.model(configured["ModelName"])
            variants.append(
                VariantView(
                    name=configured["VariantName"],
                    model_name=configured["ModelName"],
                    training_job=origin.training_job,
                    tuning_job=origin.tuning_job,
                    instance_type=configured.get("InstanceType"),
                    current_instances=serving.get("CurrentInstanceCount"),
                    desired_instances=serving.get("DesiredInstanceCount"),
                    weight=serving.get("CurrentWeight", configured.get("InitialVariantWeight")),
                )
            )
        return EndpointView(
            name=name,
            status=endpoint["EndpointStatus"],
            config_name=endpoint["EndpointConfigName"],
            created=endpoint.get("CreationTime"),
            failure_reason=endpoint.get("FailureReason"),
            variants=variants,
            capture=CaptureState.of(endpoint),
            capture_config=config.get("DataCaptureConfig"),
        )

    def live_counts(self, name: str) -> LiveCounts:
        """The endpoint's instance counts as they are now (autoscaling changes them under an open page)."""
        try:
            endpoint = self._client("sagemaker").describe_endpoint(EndpointName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{name}'") from exc
        return LiveCounts(
            endpoint["EndpointStatus"],
            endpoint["EndpointConfigName"],
            {
                v["VariantName"]: (v.get("CurrentInstanceCount"), v.get("DesiredInstanceCount"))
                for v in endpoint.get("ProductionVariants", [])
            },
        )

    def models(self) -> list[str]:
        """Model names, newest first, for deploying one that already exists."""
        try:
            pages = (
                self._client("sagemaker")
                .get_paginator("list_models")
                .paginate(SortBy="CreationTime", SortOrder="Descending")
            )
            return [m["ModelName"] for page in pages for m in page["Models"]]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list models") from exc

    def update(
        self, name: str, *, model_name: str, instance_type: str, instance_count: int, keep_instance_count: bool = False
    ) -> str:
        """A new endpoint config with one variant and UpdateEndpoint; the new config's name.

        SageMaker keeps the old fleet serving until the new one is InService, so no request fails.
        `keep_instance_count` sends RetainAllVariantProperties: the variant keeps its current DesiredInstanceCount
        (what autoscaling made it) rather than `instance_count`.
        """
        problems = []
        if not NAME_PATTERN.fullmatch(model_name or ""):
            problems.append(f"'{model_name}' is not a valid model name.")
        if not INSTANCE_PATTERN.fullmatch(instance_type or ""):
            problems.append(f"'{instance_type}' is not an ml.* instance type.")
        if instance_count < 1:
            problems.append("Instance count must be at least 1.")
        if problems:
            raise ServiceError(" ".join(problems), code="ValidationError")
        current = self.describe(name)
        if current.status != "InService":
            raise ServiceError(f"Endpoint '{name}' is {current.status}; it can be updated once it is InService.")
        variant = current.variants[0].name if current.variants else "AllTraffic"
        sagemaker = self._client("sagemaker")
        # Seconds and a random tail: two updates in one second (or a refused one just before) never collide.
        config_name = deploy_name(name, time.strftime("-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2))
        try:
            sagemaker.create_endpoint_config(
                EndpointConfigName=config_name,
                ProductionVariants=[
                    {
                        "VariantName": variant,
                        "ModelName": model_name,
                        "InitialInstanceCount": instance_count,
                        "InstanceType": instance_type,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                # A new model keeps capturing as the endpoint did.
                **({"DataCaptureConfig": current.capture_config} if current.capture_config else {}),
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"create a config for endpoint '{name}'") from exc
        try:
            sagemaker.update_endpoint(
                EndpointName=name, EndpointConfigName=config_name, RetainAllVariantProperties=keep_instance_count
            )
        except BOTO_ERRORS as exc:
            with contextlib.suppress(*BOTO_ERRORS):
                sagemaker.delete_endpoint_config(EndpointConfigName=config_name)
            raise from_client_error(exc, what=f"update endpoint '{name}'") from exc
        return config_name

    def set_capture(self, endpoint: str, choice: CaptureChoice | None) -> str:
        """A copy of the endpoint's config with capture as chosen (None: stopped, where it was set), and
        UpdateEndpoint keeping every variant's instance count; the new config's name."""
        checked(choice)
        sagemaker = self._client("sagemaker")
        try:
            described = sagemaker.describe_endpoint(EndpointName=endpoint)
            current = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"read endpoint '{endpoint}'") from exc
        if described["EndpointStatus"] != "InService":
            raise ServiceError(
                f"Endpoint '{endpoint}' is {described['EndpointStatus']}; capture can change once it is InService."
            )
        capture = choice.config() if choice else None
        if choice is None and current.get("DataCaptureConfig"):
            capture = {**current["DataCaptureConfig"], "EnableCapture": False}
        name = deploy_name(endpoint, time.strftime("-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(2))
        try:
            sagemaker.create_endpoint_config(
                EndpointConfigName=name,
                ProductionVariants=current["ProductionVariants"],
                **({"DataCaptureConfig": capture} if capture else {}),
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"create a config for endpoint '{endpoint}'") from exc
        try:
            sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name, RetainAllVariantProperties=True)
        except BOTO_ERRORS as exc:
            with contextlib.suppress(*BOTO_ERRORS):
                sagemaker.delete_endpoint_config(EndpointConfigName=name)
            raise from_client_error(exc, what=f"update endpoint '{endpoint}'") from exc
        return name

    def function_names(self) -> list[str]:
        try:
            pages = self._client("lambda").get_paginator("list_functions").paginate()
            return sorted(f["FunctionName"] for page in pages for f in page["Functions"])
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list functions") from exc

    def functions_calling(self, endpoint: str) -> list[str]:
        """The Lambda functions whose ENDPOINT_NAME is this endpoint: deleting it would break them."""
        try:
            pages = self._client("lambda").get_paginator("list_functions").paginate()
            return sorted(
                f["FunctionName"]
                for page in pages
                for f in page["Functions"]
                if (f.get("Environment") or {}).get("Variables", {}).get(ENDPOINT_VARIABLE) == endpoint
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list functions") from exc

    def point_function(self, function: str, endpoint: str) -> None:
        """Set the function's ENDPOINT_NAME, keeping its other variables."""
        if not NAME_PATTERN.fullmatch(endpoint or ""):
            raise ServiceError(f"'{endpoint}' is not a valid endpoint name.", code="ValidationError")
        lambda_client = self._client("lambda")
        try:
            config = lambda_client.get_function_configuration(FunctionName=function)
            variables = dict((config.get("Environment") or {}).get("Variables", {}))
            variables[ENDPOINT_VARIABLE] = endpoint
            lambda_client.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"point function '{function}' at endpoint '{endpoint}'") from exc

    def delete(self, name: str, *, with_models: bool = True) -> Deletion:
        """DeleteEndpoint (which also removes its scalable targets), then its config and (optionally) the
        models that config named. AWS would delete a model another endpoint still serves, so only the
        models no other endpoint serves are deleted."""
        current = self.describe(name)
        sagemaker = self._client("sagemaker")
        try:
            sagemaker.delete_endpoint(EndpointName=name)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what=f"delete endpoint '{name}'") from exc
        config: str | None = current.config_name
        try:
            sagemaker.delete_endpoint_config(EndpointConfigName=current.config_name)
        except BOTO_ERRORS:
            config = None  # shared with another endpoint or gone already: the endpoint is what costs
        models = []
        if with_models:
            still_served = {v.model_name for other in self.all() if other.name != name for v in other.variants}
            for model in {v.model_name for v in current.variants} - still_served:
                with contextlib.suppress(*BOTO_ERRORS):
                    sagemaker.delete_model(ModelName=model)
                    models.append(model)
        return Deletion(name, config, sorted(models))
