"""What is running and costing money now: jobs, EC2 machines, provisioned concurrency and endpoints, priced;
each list fails alone."""

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from services.core.clients import CloudSettings
from services.overview.activity import Activity, Charge, endpoint_charges, hourly_total, running_work
from services.overview.connection import EndpointSummary
from services.training.ec2_training import JOB_TAG

SETTINGS = CloudSettings(endpoint_url=None, region="us-east-1", profile=None)
STARTED = datetime(2026, 5, 9, 7, 0, tzinfo=UTC)
ARN = "arn:aws:sagemaker:us-east-1:000000000000:training-job/"


@pytest.fixture
def stubs(boto3_session: boto3.Session) -> Iterator[dict[str, Stubber]]:
    stubs = {name: Stubber(boto3_session.client(name)) for name in ("sagemaker", "ec2", "lambda")}
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def summary(name: str, status: str) -> dict[str, object]:
    return {"TrainingJobName": name, "TrainingJobArn": ARN + name, "CreationTime": STARTED, "TrainingJobStatus": status}


def description(name: str, status: str, instance_type: str, count: int) -> dict[str, object]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": ARN + name,
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "image"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "ModelArtifacts": {"S3ModelArtifacts": ""},
        "CreationTime": STARTED,
        "TrainingStartTime": STARTED,
    }


def instance(instance_id: str, state: str, instance_type: str) -> dict[str, object]:
    return {
        "InstanceId": instance_id,
        "InstanceType": instance_type,
        "LaunchTime": STARTED,
        "State": {"Name": state, "Code": 16},
        "Tags": [{"Key": JOB_TAG, "Value": f"job-of-{instance_id}"}],
    }


def work(stubs: dict[str, Stubber]) -> Activity:
    return running_work(
        SETTINGS,
        sagemaker_client=stubs["sagemaker"].client,
        ec2_client=stubs["ec2"].client,
        lambda_client=stubs["lambda"].client,
    )


def list_jobs(stub: Stubber, status: str, jobs: list[dict[str, object]]) -> None:
    expected = {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 100, "StatusEquals": status}
    stub.add_response("list_training_jobs", {"TrainingJobSummaries": jobs}, expected)


def test_running_jobs_and_machines_with_their_hourly_price(stubs: dict[str, Stubber]) -> None:
    list_jobs(stubs["sagemaker"], "InProgress", [summary("job-a", "InProgress")])
    list_jobs(stubs["sagemaker"], "Stopping", [])
    stubs["sagemaker"].add_response("describe_training_job", description("job-a", "InProgress", "ml.m5.xlarge", 2))
    stubs["ec2"].add_response(
        "describe_instances",
        {
            "Reservations": [
                {
                    "Instances": [
                        instance("i-0123456789abcdef0", "running", "m5.xlarge"),
                        instance("i-0123456789abcdef1", "terminated", "m5.xlarge"),  # no longer billed
                        instance("i-0123456789abcdef2", "pending", "x9.mega"),  # billed, but no known price
                    ]
                }
            ]
        },
    )
    stubs["lambda"].add_response("list_functions", {"Functions": []})
    activity = work(stubs)
    assert activity.errors == [] and activity.provisioned == []
    assert activity.jobs == [Charge("training job", "job-a", "InProgress", "ml.m5.xlarge", 2, 0.46, STARTED)]
    assert [(m.name, m.status, m.hourly_usd, m.job_name) for m in activity.machines] == [
        ("i-0123456789abcdef0", "running", 0.192, "job-of-i-0123456789abcdef0"),
        ("i-0123456789abcdef2", "pending", None, "job-of-i-0123456789abcdef2"),
    ]
    assert hourly_total([*activity.jobs, *activity.machines]) == (pytest.approx(0.652), 1)


def test_each_list_fails_on_its_own(stubs: dict[str, Stubber]) -> None:
    list_jobs(stubs["sagemaker"], "InProgress", [])
    list_jobs(stubs["sagemaker"], "Stopping", [])
    stubs["ec2"].add_client_error("describe_instances", service_error_code="UnauthorizedOperation")
    stubs["lambda"].add_client_error("list_functions", service_error_code="AccessDeniedException")
    activity = work(stubs)
    assert activity.jobs == [] and activity.machines is None and activity.provisioned is None
    assert len(activity.errors) == 2 and "list EC2 training machines" in activity.errors[0]
    assert "read provisioned concurrency" in activity.errors[1]


def test_only_endpoints_with_instances_up_are_charged() -> None:
    endpoints = [
        EndpointSummary("up", "InService", 2, STARTED, "ml.m5.large"),
        EndpointSummary("starting", "Creating", 0, STARTED, "ml.m5.large"),
        EndpointSummary("broken", "Failed", None, STARTED, "ml.m5.large"),
        EndpointSummary("odd", "InService", 1, STARTED, "ml.z9.huge"),
    ]
    charges = endpoint_charges(endpoints)
    assert [(c.name, c.count, c.hourly_usd) for c in charges] == [("up", 2, 0.23), ("odd", 1, None)]
    assert hourly_total(charges) == (pytest.approx(0.23), 1)
