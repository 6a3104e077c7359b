"""SageMaker acts as the execution role it is handed, as on AWS: checked at creation (trust, iam:PassRole),
then every access it makes for a job or an endpoint decided by the role's policies, and written to the
CloudTrail event history."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from tests.clouds import SAGEMAKER_TRUST, running_localcloud, sagemaker_role
from tests.localcloud.conftest import model_archive
from tests.localcloud.sagemaker.test_training import METRICS, sourcedir
from tests.localcloud.sagemaker.training_helpers import training_request, wait_training

ACCOUNT = "000000000000"
READ_WRITE_LOGS = ["logs:CreateLogStream", "logs:PutLogEvents"]


def allow(*statements: tuple[list[str], str | list[str]]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements],
        }
    )


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    with running_localcloud(tmp_path_factory.mktemp("execution-role"), ["--no-defaults"]) as process:
        sagemaker_role(process)
        s3 = process.client("s3")
        for bucket in ("ml-bucket", "sagemaker-data", "plain-data"):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=sourcedir())
            s3.put_object(Bucket=bucket, Key="data/train/001.A/a.jpg", Body=b"x")
        yield process


def make_role(cloud: LocalCloudProcess, name: str, document: str | None = None, *, managed: str = "") -> str:
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]
    if document:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=document)
    if managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{managed}")
    return arn


def run_job(cloud: LocalCloudProcess, name: str, role: str, bucket: str = "ml-bucket", **changes) -> dict:
    request = training_request(
        name, bucket=bucket, channel=f"s3://{bucket}/data", metrics=METRICS, role=role, epochs="1"
    )
    request.update(changes)
    cloud.client("sagemaker").create_training_job(**request)
    return wait_training(cloud, name)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_a_role_sagemaker_may_not_assume_is_refused_at_creation(cloud):
    cloud.client("iam").create_role(
        RoleName="lambda-only",
        AssumeRolePolicyDocument=json.dumps(
            {
                **SAGEMAKER_TRUST,
                "Statement": [{**SAGEMAKER_TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}],
            }
        ),
    )
    sagemaker = cloud.client("sagemaker")
    for role in ("lambda-only", "no-such-role"):
        request = training_request(
            f"refused-{role}", bucket="ml-bucket", channel="s3://ml-bucket/data", metrics=[], role=role
        )
        code, message = error_of(sagemaker.create_training_job, **request)
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        assert code == "ValidationException"
        assert message == (
            f"Could not assume role {arn}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role."
        )
        code, _ = error_of(
            sagemaker.create_model,
            ModelName=f"refused-{role}",
            ExecutionRoleArn=arn,
            PrimaryContainer={"Image": "x", "ModelDataUrl": "s3://ml-bucket/m.tar.gz"},
        )
        assert code == "ValidationException"
    assert not [
        j for j in sagemaker.list_training_jobs()["TrainingJobSummaries"] if j["TrainingJobName"].startswith("refused")
    ]


def test_a_caller_must_be_allowed_to_pass_the_role(cloud):
    iam = cloud.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    caller = iam.create_role(RoleName="launcher", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="launcher", PolicyName="sm", PolicyDocument=allow((["sagemaker:*"], "*")))
    credentials = cloud.client("sts").assume_role(RoleArn=caller, RoleSessionName="ops")["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )
    sagemaker = session.client("sagemaker", endpoint_url=cloud.endpoint_url)
    request = training_request("passed", bucket="ml-bucket", channel="s3://ml-bucket/data", metrics=[], epochs="1")
    code, message = error_of(sagemaker.create_training_job, **request)
    assert code == "AccessDeniedException"
    assert (
        "is not authorized to perform: iam:PassRole on resource: arn:aws:iam::000000000000:role/sagemaker-test"
        in message
    )
    pass_to_sagemaker = {
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    iam.put_role_policy(
        RoleName="launcher",
        PolicyName="pass",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [pass_to_sagemaker]}),
    )
    assert sagemaker.create_training_job(**request)["TrainingJobArn"].endswith("training-job/passed")
    assert wait_training(cloud, "passed")["TrainingJobStatus"] == "Completed"


def test_a_role_that_cannot_read_its_data_fails_the_job_in_downloading(cloud):
    make_role(
        cloud, "reads-code-only", allow((["s3:GetObject"], "arn:aws:s3:::ml-bucket/code/*"), (["s3:ListBucket"], "*"))
    )
    job = run_job(cloud, "no-data-access", "reads-code-only")
    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert reason.startswith(
        "ClientError: Data download failed: AccessDenied (403) on s3://ml-bucket/data/train/001.A/a.jpg"
    )
    assert "assumed-role/reads-code-only/no-data-access is not authorized to perform: s3:GetObject" in reason
    stages = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert stages[-2:] == ["Downloading", "Failed"]


def test_a_role_that_cannot_write_the_model_fails_the_job_in_uploading(cloud):
    make_role(
        cloud,
        "reads-only",
        allow((["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::ml-bucket", "arn:aws:s3:::ml-bucket/*"])),
    )
    job = run_job(cloud, "no-upload", "reads-only")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        "ClientError: Artifact upload failed: AccessDenied (403) on s3://ml-bucket/output/no-upload/output/model.tar.gz"
    )
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == ["Uploading", "Failed"]
    # No logs: the role may not write them, and on AWS such a job runs without.
    streams = cloud.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="no-upload/"
    )["logStreams"]
    assert streams == []


def test_an_output_bucket_that_does_not_exist_is_not_made(cloud):
    output = {"S3OutputPath": "s3://no-such-output-bucket/output"}
    job = run_job(cloud, "no-bucket", "sagemaker-test", OutputDataConfig=output)
    assert job["TrainingJobStatus"] == "Failed"
    assert "NoSuchBucket (404) on s3://no-such-output-bucket/" in job["FailureReason"]
    assert "no-such-output-bucket" not in [b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]]


def test_sagemaker_full_access_reaches_only_sagemaker_named_buckets(cloud):
    make_role(cloud, "full-access", managed="AmazonSageMakerFullAccess")
    assert run_job(cloud, "in-sagemaker-bucket", "full-access", "sagemaker-data")["TrainingJobStatus"] == "Completed"
    job = run_job(cloud, "in-plain-bucket", "full-access", "plain-data")
    assert job["TrainingJobStatus"] == "Failed" and "AccessDenied (403) on s3://plain-data/" in job["FailureReason"]


def test_an_endpoint_whose_role_cannot_read_the_model_fails(cloud):
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    s3.put_object(Bucket="plain-data", Key="models/echo.tar.gz", Body=model_archive("hi"))
    make_role(cloud, "no-model-access", allow((READ_WRITE_LOGS, "*")))
    sagemaker.create_model(
        ModelName="unreadable",
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/no-model-access",
        PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": "s3://plain-data/models/echo.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="unreadable",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "unreadable",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="unreadable", EndpointConfigName="unreadable")
    endpoint = cloud.wait_endpoint("unreadable", "Failed", timeout=30)
    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"].startswith(
        'Failed to download model data for container "container_1" from URL: "s3://plain-data/models/echo.tar.gz".'
    )
    assert "AccessDenied" in endpoint["FailureReason"]


def test_the_event_history_holds_what_sagemaker_did_as_the_role(cloud):
    run_job(cloud, "traced", "sagemaker-test")
    trail = cloud.client("cloudtrail")
    events = [e for page in trail.get_paginator("lookup_events").paginate() for e in page["Events"]]
    assert [e["EventTime"] for e in events] == sorted((e["EventTime"] for e in events), reverse=True)
    as_role = [json.loads(e["CloudTrailEvent"]) for e in events if e["Username"] == "traced"]
    names = {(r["eventSource"], r["eventName"]) for r in as_role}
    assert {
        ("s3.amazonaws.com", "GetObject"),
        ("s3.amazonaws.com", "ListObjects"),
        ("s3.amazonaws.com", "PutObject"),
    } <= names
    assert ("logs.amazonaws.com", "PutLogEvents") in names and ("monitoring.amazonaws.com", "PutMetricData") in names
    code_read = next(
        r for r in as_role if r["eventName"] == "GetObject" and r["requestParameters"]["key"].startswith("code/")
    )
    assert code_read["userIdentity"]["type"] == "AssumedRole"
    assert code_read["userIdentity"]["invokedBy"] == "sagemaker.amazonaws.com"
    assert (
        code_read["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
        == f"arn:aws:iam::{ACCOUNT}:role/sagemaker-test"
    )
    assert code_read["resources"][0] == {
        "ARN": "arn:aws:s3:::ml-bucket/code/sourcedir.tar.gz",
        "accountId": ACCOUNT,
        "type": "AWS::S3::Object",
    }
    make_role(cloud, "traced-denied", allow((["s3:ListBucket"], "*")))
    run_job(cloud, "traced-denied", "traced-denied")
    denied = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "traced-denied"}])
    refusals = [json.loads(e["CloudTrailEvent"]) for e in denied["Events"]]
    assert [(r["eventName"], r.get("errorCode")) for r in refusals][0] == ("GetObject", "AccessDenied")
    # The caller's own calls are there too.
    created = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateTrainingJob"}]
    )
    assert "root" in {e["Username"] for e in created["Events"]}


def test_lookup_events_refuses_what_cloudtrail_refuses(cloud):
    trail = cloud.client("cloudtrail")
    first = trail.lookup_events(MaxResults=1)
    assert len(first["Events"]) == 1 and "NextToken" in first
    code, _ = error_of(
        trail.lookup_events,
        NextToken=first["NextToken"],
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "root"}],
    )
    assert code == "InvalidNextTokenException"
    attributes = [
        {"AttributeKey": "Username", "AttributeValue": "a"},
        {"AttributeKey": "EventName", "AttributeValue": "b"},
    ]
    assert error_of(trail.lookup_events, LookupAttributes=attributes)[0] == "InvalidLookupAttributesException"
    code, _ = error_of(trail.lookup_events, StartTime=2_000_000_000, EndTime=1_000_000_000)
    assert code == "InvalidTimeRangeException"
    assert trail.lookup_events(NextToken=first["NextToken"], MaxResults=1)["Events"][0] != first["Events"][0]
