"""Which training jobs and models run without network isolation, as SageMaker describes them.

The original project's security advice: run training and inference containers with `EnableNetworkIsolation`,
so that a script or handler that reaches out (a compromised dependency sending the data away) fails; SageMaker
still downloads the data and uploads the model itself, as the execution role. Only DescribeTrainingJob and
DescribeModel tell, so each listed job and model is described (the newest `limit` of each).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import boto3

from services.core.aws_service import AwsService
from services.core.clients import CloudSettings
from services.core.errors import BOTO_ERRORS, from_client_error

NEWEST = 50  # jobs and models described per visit, each


@dataclass(frozen=True)
class Isolation:
    """One training job or model: whether its container runs with no network, and the VPC it was given."""

    kind: Literal["training job", "model"]
    name: str
    isolated: bool
    created: dt.datetime
    status: str | None  # a training job's TrainingJobStatus; None for a model
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class IsolationReport:
    jobs: tuple[Isolation, ...]
    models: tuple[Isolation, ...]

    @property
    def exposed(self) -> tuple[Isolation, ...]:
        """What runs with the network: jobs first, newest first within each kind."""
        return tuple(item for item in (*self.jobs, *self.models) if not item.isolated)


def _isolation(kind: Literal["training job", "model"], name: str, described: dict[str, Any]) -> Isolation:
    vpc = described.get("VpcConfig") or {}
    return Isolation(
        kind=kind,
        name=name,
        isolated=bool(described.get("EnableNetworkIsolation")),
        created=described["CreationTime"],
        status=described.get("TrainingJobStatus"),
        subnets=tuple(vpc.get("Subnets", ())),
        security_groups=tuple(vpc.get("SecurityGroupIds", ())),
    )


class IsolationService(AwsService):
    """Reads SageMaker's descriptions; pass a client in tests, or let it build one."""

    def __init__(
        self,
        settings: CloudSettings | None = None,
        *,
        boto3_session: boto3.Session | None = None,
        sagemaker_client: Any = None,
    ) -> None:
        super().__init__(settings, boto3_session=boto3_session, clients={"sagemaker": sagemaker_client})

    def report(self, limit: int = NEWEST) -> IsolationReport:
        """The newest `limit` training jobs and models, each with its isolation."""
        return IsolationReport(self.training_jobs(limit), self.models(limit))

    def training_jobs(self, limit: int = NEWEST) -> tuple[Isolation, ...]:
        sagemaker = self._client("sagemaker")
        try:
            listed = sagemaker.list_training_jobs(SortBy="CreationTime", SortOrder="Descending", MaxResults=limit)
            names = [summary["TrainingJobName"] for summary in listed["TrainingJobSummaries"]]
            return tuple(
                _isolation("training job", name, sagemaker.describe_training_job(TrainingJobName=name))
                for name in names
            )
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the training jobs' network isolation") from exc

    def models(self, limit: int = NEWEST) -> tuple[Isolation, ...]:
        sagemaker = self._client("sagemaker")
        try:
            listed = sagemaker.list_models(SortBy="CreationTime", SortOrder="Descending", MaxResults=limit)
            names = [summary["ModelName"] for summary in listed["Models"]]
            return tuple(_isolation("model", name, sagemaker.describe_model(ModelName=name)) for name in names)
        except BOTO_ERRORS as exc:
            raise from_client_error(exc, what="read the models' network isolation") from exc
