"""Localcloud processes for the tests' fixtures and the benchmarks: started in a folder, stopped on leaving."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from localcloud.core.process import LocalCloudProcess


def point_boto3_at(cloud: LocalCloudProcess, monkeypatch: pytest.MonkeyPatch) -> LocalCloudProcess:
    """Point boto3 (and so the dashboard's services) at `cloud` for one test: its endpoint and keys, no profile."""
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in cloud.env().items():
        monkeypatch.setenv(name, value)
    return cloud


@contextlib.contextmanager
def running_localcloud(
    data_dir: Path, args: Sequence[str] = (), *, endpoint: str | None = None
) -> Iterator[LocalCloudProcess]:
    """A localcloud started in `data_dir` with `args`, handed over once `endpoint` (if named) is in service."""
    cloud = LocalCloudProcess(data_dir, list(args)).start()
    try:
        if endpoint:
            cloud.wait_endpoint(endpoint)
        yield cloud
    finally:
        cloud.stop()


SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SAGEMAKER_ROLE = "sagemaker-test"
"""The execution role the tests' training jobs and models run as: SageMaker may assume it, and it may read and
write any bucket, logs and metrics (SageMaker makes every access for a job as its role, as on AWS)."""


def sagemaker_role(cloud: LocalCloudProcess, name: str = SAGEMAKER_ROLE) -> str:
    """The tests' SageMaker execution role in `cloud`, made on first use; its ARN."""
    iam = cloud.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:*", "logs:*", "cloudwatch:PutMetricData", "sagemaker:*"],
                "Resource": "*",
            }
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="tests-run-anything", PolicyDocument=json.dumps(document))
    return arn
