"""The network-isolation report against a real localcloud through boto3: jobs and models with and without
EnableNetworkIsolation, as SageMaker describes them."""

from __future__ import annotations

import socket

import pytest

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.security.isolation import IsolationService
from tests.clouds import sagemaker_role
from tests.localcloud.sagemaker.training_helpers import training_request

VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0aaa", "subnet-0bbb"]}


@pytest.fixture(scope="module")
def isolation_subjects(localcloud):
    """Two models and two training jobs, one of each isolated (the jobs fail at once: no code to download,
    which changes nothing of what they were created with)."""
    sagemaker, role = localcloud.client("sagemaker"), sagemaker_role(localcloud)
    container = {"Image": "pytorch-inference", "ModelDataUrl": "s3://nowhere/model.tar.gz"}
    sagemaker.create_model(ModelName="iso-report-open", ExecutionRoleArn=role, PrimaryContainer=container)
    sagemaker.create_model(
        ModelName="iso-report-closed",
        ExecutionRoleArn=role,
        PrimaryContainer=container,
        EnableNetworkIsolation=True,
        VpcConfig=VPC,
    )
    for name, isolation in (("iso-report-open-job", {}), ("iso-report-closed-job", {"EnableNetworkIsolation": True})):
        request = training_request(name, bucket="nowhere", channel="s3://nowhere/data", metrics=[])
        sagemaker.create_training_job(**request, **isolation)
    return localcloud


def test_the_report_tells_isolated_from_exposed_newest_first(aws_env, isolation_subjects) -> None:
    report = IsolationService(CloudSettings.from_env()).report()
    found = {(item.kind, item.name): item for item in report.jobs + report.models}
    closed = found[("model", "iso-report-closed")]
    assert closed.isolated and closed.subnets == ("subnet-0aaa", "subnet-0bbb")
    assert closed.security_groups == ("sg-0123456789abcdef0",)
    assert not found[("model", "iso-report-open")].isolated
    assert found[("training job", "iso-report-closed-job")].isolated
    open_job = found[("training job", "iso-report-open-job")]
    assert not open_job.isolated and open_job.status in ("InProgress", "Failed")
    exposed = {(item.kind, item.name) for item in report.exposed}
    assert {("model", "iso-report-open"), ("training job", "iso-report-open-job")} <= exposed
    assert not exposed & {("model", "iso-report-closed"), ("training job", "iso-report-closed-job")}
    for items in (report.jobs, report.models):
        assert [i.created for i in items] == sorted((i.created for i in items), reverse=True)


def test_the_newest_are_read_up_to_the_limit(aws_env, isolation_subjects) -> None:
    report = IsolationService(CloudSettings.from_env()).report(limit=1)
    assert [m.name for m in report.models] == ["iso-report-closed"]  # the newest model
    assert len(report.jobs) == 1


def test_a_cloud_that_is_down_is_said_so(monkeypatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = CloudSettings(f"http://127.0.0.1:{port}", "us-east-1", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(ServiceError) as failed:
        IsolationService(settings).report()
    assert "down or unreachable" in failed.value.message
