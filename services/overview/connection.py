"""What the dashboard is connected to: which cloud, which account and region, what is deployed, and
whether localcloud is healthy.

Every part is read independently, so one unreachable service adds a line to `Overview.errors` instead of
blanking the page.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import boto3

from services.core.clients import CloudSettings, make_client
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.localcloud_probe import localcloud_health
from services.security.identity import signing_credentials

T = TypeVar("T")


@dataclass(frozen=True)
class EndpointSummary:
    """One row of the endpoints table; `instance_count` is None when DescribeEndpoint was refused,
    `instance_type` when its endpoint config could not be read (or it has none: serverless)."""

    name: str
    status: str
    instance_count: int | None
    created: datetime | None
    instance_type: str | None = None


@dataclass(frozen=True)
class FunctionSummary:
    """One row of the functions table."""

    name: str
    runtime: str | None
    memory_mb: int | None
    last_modified: datetime | None


@dataclass(frozen=True)
class Overview:
    """`cloud` is "localcloud", "AWS" (no endpoint URL) or "custom endpoint" (an URL that is not localcloud)."""

    cloud: str
    endpoint_url: str | None
    account: str | None
    region: str
    caller_arn: str | None
    credentials: str
    """Which key signs (masked) and where it came from; never the secret."""
    endpoints: list[EndpointSummary] | None
    """None when they could not be listed (the reason is in `errors`), unlike [] for none there."""
    functions: list[FunctionSummary] | None
    health: str | None
    errors: list[str]


def get_overview(
    settings: CloudSettings,
    *,
    boto3_session: boto3.Session | None = None,
    sts_client: Any = None,
    sagemaker_client: Any = None,
    lambda_client: Any = None,
) -> Overview:
    """Read identity, endpoints, functions and health side by side (four independent round trips)."""

    def client(given: Any, service_name: str) -> Any:
        return given or make_client(service_name, settings, boto3_session=boto3_session)

    with ThreadPoolExecutor(max_workers=4) as pool:
        health_job = pool.submit(probe_health, settings.endpoint_url)
        identity_job = pool.submit(_attempt, lambda: _identity(client(sts_client, "sts")), "read the account")
        endpoints_job = pool.submit(
            _attempt, lambda: _endpoints(client(sagemaker_client, "sagemaker")), "list endpoints"
        )
        functions_job = pool.submit(_attempt, lambda: _functions(client(lambda_client, "lambda")), "list functions")
    health = health_job.result()
    identity, identity_error = identity_job.result()
    account, caller_arn = identity or (None, None)
    endpoints, endpoints_error = endpoints_job.result()
    functions, functions_error = functions_job.result()
    if settings.endpoint_url is None:
        cloud = "AWS"
    elif health is not None:
        cloud = "localcloud"
    else:
        cloud = "custom endpoint"
    errors = [e for e in (identity_error, endpoints_error, functions_error) if e]
    return Overview(
        cloud=cloud,
        endpoint_url=settings.endpoint_url,
        account=account,
        region=settings.region,
        caller_arn=caller_arn,
        credentials=signing_credentials(settings, boto3_session=boto3_session).description,
        endpoints=endpoints,
        functions=functions,
        health=health,
        errors=list(dict.fromkeys(errors)),  # an unreachable cloud gives the same message three times
    )


def probe_health(endpoint_url: str | None) -> str | None:
    """Ask the configured endpoint whether it is localcloud; its status ("ok" …) if so, else None."""
    health = localcloud_health(endpoint_url)
    return None if health is None else str(health.get("status") or "unknown")


def _attempt(read: Callable[[], T], what: str) -> tuple[T | None, str | None]:
    try:
        return read(), None
    except BOTO_ERRORS as exc:
        return None, from_client_error(exc, what=what).message
    except ServiceError as exc:
        return None, exc.message


def _identity(sts: Any) -> tuple[str, str]:
    identity = sts.get_caller_identity()
    return identity["Account"], identity["Arn"]


def _endpoints(sagemaker: Any) -> list[EndpointSummary]:
    summaries = []
    for page in sagemaker.get_paginator("list_endpoints").paginate():
        for endpoint in page["Endpoints"]:
            count, instance_type = _instances(sagemaker, endpoint["EndpointName"])
            summaries.append(
                EndpointSummary(
                    name=endpoint["EndpointName"],
                    status=endpoint["EndpointStatus"],
                    instance_count=count,
                    created=endpoint.get("CreationTime"),
                    instance_type=instance_type,
                )
            )
    return summaries


def _instances(sagemaker: Any, name: str) -> tuple[int | None, str | None]:
    """Current instances over all variants and their type (what an endpoint costs by the hour):
    ListEndpoints says neither, DescribeEndpoint gives the count, its endpoint config the type."""
    try:
        description = sagemaker.describe_endpoint(EndpointName=name)
    except BOTO_ERRORS:
        return None, None  # deleted between the two calls, or no describe permission: the row still shows
    counts = [
        v["CurrentInstanceCount"] for v in description.get("ProductionVariants", []) if "CurrentInstanceCount" in v
    ]
    instance_type = None
    if description.get("EndpointConfigName"):
        try:
            config = sagemaker.describe_endpoint_config(EndpointConfigName=description["EndpointConfigName"])
            types = {v["InstanceType"] for v in config.get("ProductionVariants", []) if v.get("InstanceType")}
            instance_type = types.pop() if len(types) == 1 else None
        except BOTO_ERRORS:
            pass  # the config was deleted under a live endpoint, or no permission: type unknown
    return (sum(counts) if counts else None), instance_type


def _functions(lambda_client: Any) -> list[FunctionSummary]:
    return [
        FunctionSummary(
            name=function["FunctionName"],
            runtime=function.get("Runtime"),
            memory_mb=function.get("MemorySize"),
            last_modified=_lambda_time(function.get("LastModified")),
        )
        for page in lambda_client.get_paginator("list_functions").paginate()
        for function in page["Functions"]
    ]


def _lambda_time(value: str | None) -> datetime | None:
    """Lambda's LastModified is a string (`2026-01-01T00:00:00.000+0000`), unlike SageMaker's datetimes."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None
