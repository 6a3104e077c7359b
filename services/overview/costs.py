"""What the account runs now and what it costs per hour (endpoint instances by type, provisioned Lambda
concurrency), what finished training cost, and tearing down everything billed by the hour: every endpoint with
its autoscaling, and every provisioned-concurrency config with its autoscaling.

Prices are the notional list prices of services/core/pricing.py; localcloud bills nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import HOSTING_HOURLY_USD, lambda_provisioned_hourly
from services.serving.endpoint_management import EndpointsService, EndpointView
from services.serving.scaling import DIMENSION, NAMESPACE, resource_id
from services.training.job_records import ENDED, parse_job

_FINISHED_JOBS = 100  # the newest finished jobs summed; ListTrainingJobs pages of 100
_PROVISIONED_DIMENSION = "lambda:function:ProvisionedConcurrency"


@dataclass(frozen=True)
class HourlyLine:
    """One thing that costs by the hour: `what` (an instance type, a function's alias), how many, the rate."""

    kind: str
    what: str
    count: int
    hourly_usd: float | None


@dataclass(frozen=True)
class Costs:
    running: list[HourlyLine]
    training_usd: float
    training_jobs: int
    unpriced_jobs: int
    errors: list[str]

    @property
    def hourly_usd(self) -> float:
        return sum(line.hourly_usd or 0.0 for line in self.running)


@dataclass(frozen=True)
class Provisioned:
    """One provisioned-concurrency config (on a function version or alias): billed for every configured
    environment, whether or not it serves a call."""

    function: str
    qualifier: str
    environments: int
    memory_mb: int
    architecture: str
    status: str
    since: datetime | None

    @property
    def resource_id(self) -> str:
        """Application Auto Scaling's name for it: `function:<name>:<alias|version>`."""
        return f"function:{self.function}:{self.qualifier}"

    @property
    def hourly_usd(self) -> float:
        return lambda_provisioned_hourly(self.memory_mb, self.environments, self.architecture)


@dataclass(frozen=True)
class TeardownItem:
    endpoint: str
    config: str
    scaled_variants: list[str]
    callers: list[str] = field(default_factory=list)
    """Lambda functions whose ENDPOINT_NAME names it: they are left calling a missing endpoint."""


@dataclass(frozen=True)
class TeardownPlan:
    """What "tear down everything" removes, listed for the operator's confirmation."""

    endpoints: list[TeardownItem]
    provisioned: list[Provisioned]
    scaled_provisioned: list[str]
    """Resource IDs of the provisioned concurrency that Application Auto Scaling manages (deregistered first)."""

    @property
    def empty(self) -> bool:
        return not self.endpoints and not self.provisioned

    @property
    def stranded_functions(self) -> dict[str, str]:
        """Function → the endpoint it still calls, for every function left calling a removed endpoint."""
        return {function: item.endpoint for item in self.endpoints for function in item.callers}


def provisioned_concurrency(lambda_client: Any) -> list[Provisioned]:
    """Every function's provisioned-concurrency configs (ListFunctions, then ListProvisionedConcurrencyConfigs
    per function); botocore's errors propagate to the caller."""
    found = []
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            configs = lambda_client.get_paginator("list_provisioned_concurrency_configs").paginate(
                FunctionName=function["FunctionName"]
            )
            for config in (c for config_page in configs for c in config_page.get("ProvisionedConcurrencyConfigs", [])):
                found.append(
                    Provisioned(
                        function=function["FunctionName"],
                        qualifier=config["FunctionArn"].rsplit(":", 1)[-1],
                        environments=config.get("RequestedProvisionedConcurrentExecutions") or 0,  # billed as set
                        memory_mb=function.get("MemorySize", 128),
                        architecture=(function.get("Architectures") or ["x86_64"])[0],
                        status=config.get("Status", ""),
                        since=_lambda_time(config.get("LastModified")),
                    )
                )
    return found


def _lambda_time(text: str | None) -> datetime | None:
    """Lambda's ISO-8601 times (`2026-07-30T10:00:00.000+0000`)."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


class CostService(AwsService):
    def __init__(self, settings: CloudSettings | None = None, *, boto3_session: boto3.Session | None = None) -> None:
        super().__init__(settings, boto3_session=boto3_session)
        self._endpoints = EndpointsService(self._settings, boto3_session=boto3_session)

    def costs(self) -> Costs:
        errors: list[str] = []
        running: list[HourlyLine] = []
        try:
            running += _endpoint_lines(self._endpoints.all())
        except ServiceError as exc:
            errors.append(exc.message)
        try:
            running += self._provisioned_lines()
        except ServiceError as exc:
            errors.append(exc.message)
        spent, jobs, unpriced = 0.0, 0, 0
        try:
            spent, jobs, unpriced = self._training_spend()
        except ServiceError as exc:
            errors.append(exc.message)
        return Costs(running, spent, jobs, unpriced, errors)

    def _provisioned_lines(self) -> list[HourlyLine]:
        """Provisioned concurrency per function version or alias: configured environments × memory × the
        GB-second rate, per hour."""
        try:
            configs = provisioned_concurrency(self._client("lambda"))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read provisioned concurrency") from exc
        return [
            HourlyLine(
                "Lambda provisioned concurrency",
                f"{c.function}:{c.qualifier} ({c.memory_mb} MB)",
                c.environments,
                c.hourly_usd,
            )
            for c in configs
        ]

    def _training_spend(self) -> tuple[float, int, int]:
        """Billable time × list price of the newest finished training jobs: (USD, jobs, jobs unpriced)."""
        sagemaker = self._client("sagemaker")
        try:
            summaries = sagemaker.list_training_jobs(
                SortBy="CreationTime", SortOrder="Descending", MaxResults=_FINISHED_JOBS
            )["TrainingJobSummaries"]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list training jobs") from exc
        spent, jobs, unpriced = 0.0, 0, 0
        for summary in summaries:
            if summary["TrainingJobStatus"] not in ENDED:
                continue
            try:
                job = parse_job(sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"]))
            except BOTO_ERRORS:
                continue
            jobs += 1
            if job.cost_usd is None:
                unpriced += 1
            else:
                spent += job.cost_usd
        return spent, jobs, unpriced

    def teardown_plan(self) -> TeardownPlan:
        """Every endpoint with its config, autoscaled variants and the functions calling it, and every
        provisioned-concurrency config: what "tear down everything" removes."""
        scaling = self._client("application-autoscaling")
        try:
            targets = [
                t
                for namespace in (NAMESPACE, "lambda")
                for page in scaling.get_paginator("describe_scalable_targets").paginate(ServiceNamespace=namespace)
                for t in page["ScalableTargets"]
            ]
            provisioned = provisioned_concurrency(self._client("lambda"))
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list what runs by the hour") from exc
        scaled = {t["ResourceId"] for t in targets if t["ScalableDimension"] == DIMENSION}
        endpoints = [
            TeardownItem(
                e.name,
                e.config_name,
                [v.name for v in e.variants if resource_id(e.name, v.name) in scaled],
                self._endpoints.functions_calling(e.name),
            )
            for e in self._endpoints.all()
        ]
        scaled_functions = {t["ResourceId"] for t in targets if t["ScalableDimension"] == _PROVISIONED_DIMENSION}
        return TeardownPlan(
            endpoints, provisioned, [p.resource_id for p in provisioned if p.resource_id in scaled_functions]
        )

    def teardown(self, plan: TeardownPlan) -> list[str]:
        """Remove what the confirmed plan lists (and nothing created since): autoscaling first, so that no
        scaling activity brings back what is being removed; then provisioned concurrency, endpoints and their
        configs. Models, functions and training artifacts stay: they cost nothing by the hour."""
        scaling, lambda_client = self._client("application-autoscaling"), self._client("lambda")
        done, failures = [], []
        for config in plan.provisioned:
            if config.resource_id in plan.scaled_provisioned:
                with contextlib.suppress(*BOTO_ERRORS):  # gone already: nothing scales it then
                    scaling.deregister_scalable_target(
                        ServiceNamespace="lambda",
                        ResourceId=config.resource_id,
                        ScalableDimension=_PROVISIONED_DIMENSION,
                    )
                    done.append(f"autoscaling of {config.function}:{config.qualifier}")
            try:
                lambda_client.delete_provisioned_concurrency_config(
                    FunctionName=config.function, Qualifier=config.qualifier
                )
                done.append(f"provisioned concurrency of {config.function}:{config.qualifier}")
            except BOTO_ERRORS as exc:
                failures.append(
                    from_client_error(
                        exc, what=f"remove the provisioned concurrency of {config.function}:{config.qualifier}"
                    ).message
                )
        done += self._teardown_endpoints(plan.endpoints, failures)
        if failures:
            raise ServiceError(" ".join(failures) + f" Removed: {', '.join(done) or 'nothing'}.")
        return done

    def _teardown_endpoints(self, items: list[TeardownItem], failures: list[str]) -> list[str]:
        scaling, sagemaker = self._client("application-autoscaling"), self._client("sagemaker")
        done = []
        for item in items:
            for variant in item.scaled_variants:
                with contextlib.suppress(*BOTO_ERRORS):  # gone already: DeleteEndpoint removes it anyway
                    scaling.deregister_scalable_target(
                        ServiceNamespace=NAMESPACE,
                        ResourceId=resource_id(item.endpoint, variant),
                        ScalableDimension=DIMENSION,
                    )
                    done.append(f"autoscaling of {item.endpoint}/{variant}")
            try:
                sagemaker.delete_endpoint(EndpointName=item.endpoint)
                done.append(f"endpoint {item.endpoint}")
            except BOTO_ERRORS as exc:
                failures.append(from_client_error(exc, what=f"delete endpoint '{item.endpoint}'").message)
                continue
            with contextlib.suppress(*BOTO_ERRORS):
                sagemaker.delete_endpoint_config(EndpointConfigName=item.config)
                done.append(f"endpoint config {item.config}")
        return done


def _endpoint_lines(endpoints: list[EndpointView]) -> list[HourlyLine]:
    """Instances serving now, summed per instance type."""
    counts: dict[str, int] = {}
    for endpoint in endpoints:
        for variant in endpoint.variants:
            if variant.instance_type and variant.current_instances:
                counts[variant.instance_type] = counts.get(variant.instance_type, 0) + variant.current_instances
    return [
        HourlyLine(
            "Endpoint instances",
            instance_type,
            count,
            None if instance_type not in HOSTING_HOURLY_USD else HOSTING_HOURLY_USD[instance_type] * count,
        )
        for instance_type, count in sorted(counts.items())
    ]
