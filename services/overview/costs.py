"""What the account runs now and what it costs per hour (endpoint instances by type, provisioned Lambda
concurrency), what finished training cost, and tearing every endpoint down with its autoscaling.

Prices are the notional list prices of services/core/pricing.py; localcloud bills nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import HOSTING_HOURLY_USD, lambda_provisioned_hourly
from services.serving.endpoint_management import EndpointsService, EndpointView
from services.serving.scaling import DIMENSION, NAMESPACE, resource_id
from services.training.job_records import ENDED, parse_job

_FINISHED_JOBS = 100  # the newest finished jobs summed; ListTrainingJobs pages of 100


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
class TeardownItem:
    endpoint: str
    config: str
    scaled_variants: list[str]


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
        """Provisioned concurrency per function version or alias: allocated environments × memory × the
        GB-second rate, per hour."""
        lambda_client = self._client("lambda")
        lines = []
        try:
            functions = [
                f for page in lambda_client.get_paginator("list_functions").paginate() for f in page["Functions"]
            ]
            for function in functions:
                configs = lambda_client.list_provisioned_concurrency_configs(FunctionName=function["FunctionName"])
                for config in configs.get("ProvisionedConcurrencyConfigs", []):
                    count = config.get("RequestedProvisionedConcurrentExecutions") or 0  # billed as configured
                    qualifier = config["FunctionArn"].rsplit(":", 1)[-1]
                    lines.append(
                        HourlyLine(
                            "Lambda provisioned concurrency",
                            f"{function['FunctionName']}:{qualifier} ({function.get('MemorySize', 128)} MB)",
                            count,
                            lambda_provisioned_hourly(
                                function.get("MemorySize", 128), count, (function.get("Architectures") or ["x86_64"])[0]
                            ),
                        )
                    )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read provisioned concurrency") from exc
        return lines

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

    def teardown_plan(self) -> list[TeardownItem]:
        """Every endpoint, its config and its autoscaled variants: what "tear down everything" removes."""
        scaling = self._client("application-autoscaling")
        try:
            targets = [
                t
                for page in scaling.get_paginator("describe_scalable_targets").paginate(ServiceNamespace=NAMESPACE)
                for t in page["ScalableTargets"]
            ]
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="list scalable targets") from exc
        scaled = {t["ResourceId"] for t in targets if t["ScalableDimension"] == DIMENSION}
        return [
            TeardownItem(e.name, e.config_name, [v.name for v in e.variants if resource_id(e.name, v.name) in scaled])
            for e in self._endpoints.all()
        ]

    def teardown(self, plan: list[TeardownItem]) -> list[str]:
        """Remove what the confirmed plan lists (and nothing created since): autoscaling first, so that no
        scaling activity runs against an endpoint being deleted; then endpoints and their configs. Models and
        training artifacts stay: they cost nothing by the hour."""
        scaling, sagemaker = self._client("application-autoscaling"), self._client("sagemaker")
        done, failures = [], []
        for item in plan:
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
        if failures:
            raise ServiceError(" ".join(failures) + f" Removed: {', '.join(done) or 'nothing'}.")
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
