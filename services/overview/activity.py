"""What is running and costing money right now: endpoints with instances up, training jobs in progress, the
dashboard's EC2 training machines that are up and Lambda provisioned concurrency, each with its hourly list price.

An operator's first question on opening the dashboard is "what is burning money?"; AWS's consoles answer
it in four places. Jobs, machines and provisioned concurrency are read independently (one failing adds a line
to `errors`), and endpoints come from the overview, which has already described them.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import boto3

from services.core.clients import CloudSettings, make_client
from services.core.errors import BOTO_ERRORS, ServiceError, from_client_error
from services.core.pricing import EC2_HOURLY_USD, HOSTING_HOURLY_USD, hourly_price
from services.overview.connection import EndpointSummary
from services.overview.costs import provisioned_concurrency
from services.training.ec2_training import Ec2TrainingService
from services.training.job_records import RUNNING
from services.training.sagemaker_training import TrainingService

Kind = Literal["endpoint", "training job", "EC2 machine", "provisioned concurrency"]

BILLED_ENDPOINT_STATUSES = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack"})
"""Endpoint states with instances up (and billed); Creating, Failed, OutOfService and Deleting have none yet
or any more."""

BILLED_MACHINE_STATES = frozenset({"pending", "running", "stopping", "shutting-down"})
"""EC2 bills an instance from pending until it has stopped or terminated."""


@dataclass(frozen=True)
class Charge:
    """One thing billed by the hour now. `name` is the endpoint or job name, the machine's instance id, or
    `<function>:<alias|version>` for provisioned concurrency (`count` environments, no instance type);
    `hourly_usd` is None for an instance type the dashboard has no price for (said, not guessed)."""

    kind: Kind
    name: str
    status: str
    instance_type: str | None
    count: int
    hourly_usd: float | None
    since: datetime | None
    job_name: str | None = None
    """For an EC2 machine, the training job it runs."""


@dataclass(frozen=True)
class Activity:
    """Training jobs in progress, EC2 machines up and provisioned concurrency (None when they could not be
    listed: see `errors`)."""

    jobs: list[Charge] | None
    machines: list[Charge] | None
    errors: list[str]
    provisioned: list[Charge] | None = None


def running_work(
    settings: CloudSettings,
    *,
    boto3_session: boto3.Session | None = None,
    sagemaker_client: Any = None,
    ec2_client: Any = None,
    lambda_client: Any = None,
) -> Activity:
    """Running training jobs (with their instances, from DescribeTrainingJob), EC2 training machines that are
    up and provisioned concurrency, read side by side."""
    training = TrainingService(boto3_session, sagemaker_client=sagemaker_client, settings=settings)
    ec2 = Ec2TrainingService(boto3_session, ec2_client=ec2_client, settings=settings)
    functions = lambda_client or make_client("lambda", settings, boto3_session=boto3_session)
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs_job = pool.submit(_attempt, lambda: _running_jobs(training))
        machines_job = pool.submit(_attempt, lambda: _machines_up(ec2))
        provisioned_job = pool.submit(_attempt, lambda: _provisioned(functions))
    jobs, jobs_error = jobs_job.result()
    machines, machines_error = machines_job.result()
    provisioned, provisioned_error = provisioned_job.result()
    errors = [e for e in (jobs_error, machines_error, provisioned_error) if e]
    return Activity(jobs, machines, list(dict.fromkeys(errors)), provisioned)


def endpoint_charges(endpoints: Iterable[EndpointSummary]) -> list[Charge]:
    """The endpoints with instances up, priced at the real-time inference list price."""
    return [
        Charge(
            kind="endpoint",
            name=e.name,
            status=e.status,
            instance_type=e.instance_type,
            count=e.instance_count or 0,
            hourly_usd=_times(HOSTING_HOURLY_USD.get(e.instance_type or ""), e.instance_count or 0),
            since=e.created,
        )
        for e in endpoints
        if e.status in BILLED_ENDPOINT_STATUSES and (e.instance_count or 0) > 0
    ]


def hourly_total(charges: Iterable[Charge]) -> tuple[float, int]:
    """USD per hour over the priced charges, and how many charges have no known price."""
    charges = list(charges)
    return sum(c.hourly_usd for c in charges if c.hourly_usd is not None), sum(c.hourly_usd is None for c in charges)


def _running_jobs(training: TrainingService) -> list[Charge]:
    names: list[str] = []
    for status in sorted(RUNNING):
        token = None
        while True:  # ListTrainingJobs pages by 100
            page = training.list_jobs(status=status, next_token=token)
            names += [job.name for job in page.jobs]
            token = page.next_token
            if not token:
                break
    charges = []
    for name in names:
        job = training.describe(name)
        charges.append(
            Charge(
                kind="training job",
                name=job.name,
                status=job.status,
                instance_type=job.instance_type,
                count=job.instance_count,
                hourly_usd=_times(hourly_price(job.instance_type), job.instance_count),
                since=job.started or job.created,
            )
        )
    return charges


def _machines_up(ec2: Ec2TrainingService) -> list[Charge]:
    return [
        Charge(
            kind="EC2 machine",
            name=m.instance_id,
            status=m.state,
            instance_type=m.instance_type,
            count=1,
            hourly_usd=EC2_HOURLY_USD.get(m.instance_type),
            since=m.launched,
            job_name=m.job_name,
        )
        for m in ec2.list_ec2_jobs()
        if m.state in BILLED_MACHINE_STATES
    ]


def _provisioned(lambda_client: Any) -> list[Charge]:
    """Provisioned concurrency is billed per configured environment, whether or not it serves a call."""
    try:
        configs = provisioned_concurrency(lambda_client)
    except BOTO_ERRORS as exc:
        raise from_client_error(exc, what="read provisioned concurrency") from exc
    return [
        Charge(
            kind="provisioned concurrency",
            name=f"{c.function}:{c.qualifier}",
            status=c.status,
            instance_type=None,
            count=c.environments,
            hourly_usd=c.hourly_usd,
            since=c.since,
        )
        for c in configs
        if c.environments > 0
    ]


def _times(price: float | None, count: int) -> float | None:
    return None if price is None else price * count


def _attempt(read: Any) -> tuple[list[Charge] | None, str | None]:
    try:
        return read(), None
    except ServiceError as exc:
        return None, exc.message
