"""SageMaker models, endpoints and InvokeEndpoint through real boto3, on small real artifacts."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import assert_shape, deploy_echo


def invoke(cloud, name: str, body: bytes = b"abc", content_type: str = "text/plain") -> dict:
    runtime = cloud.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType=content_type)
    return json.loads(response["Body"].read())


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    return error.value.response


def test_endpoint_goes_creating_then_in_service_and_answers(cloud):
    deploy_echo(cloud, "echo")
    sagemaker = cloud.client("sagemaker")
    assert sagemaker.describe_endpoint(EndpointName="echo")["EndpointStatus"] in ("Creating", "InService")
    description = cloud.wait_endpoint("echo")
    assert_shape(sagemaker, "DescribeEndpoint", description)
    variant = description["ProductionVariants"][0]
    assert (variant["VariantName"], variant["CurrentInstanceCount"]) == ("AllTraffic", 1)
    assert invoke(cloud, "echo") == {"greeting": "hello", "length": 3}
    listing = sagemaker.list_endpoints(NameContains="ech")
    assert_shape(sagemaker, "ListEndpoints", listing)
    assert [e["EndpointName"] for e in listing["Endpoints"]] == ["echo"]
    assert_shape(sagemaker, "DescribeModel", sagemaker.describe_model(ModelName="echo"))
    assert_shape(sagemaker, "DescribeEndpointConfig", sagemaker.describe_endpoint_config(EndpointConfigName="echo"))
    assert "echo" in [m["ModelName"] for m in sagemaker.list_models()["Models"]]


def test_handler_errors_come_back_as_model_error(cloud):
    cloud.wait_endpoint("echo")
    runtime = cloud.client("sagemaker-runtime")
    response = error_of(runtime.invoke_endpoint, EndpointName="echo", Body=b"bad", ContentType="text/plain")
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == 400
    assert "bad input, says the handler" in response["OriginalMessage"]
    response = error_of(runtime.invoke_endpoint, EndpointName="echo", Body=b"boom", ContentType="text/plain")
    assert response["OriginalStatusCode"] == 500
    assert invoke(cloud, "echo")["length"] == 3  # still serving


def test_unknown_endpoint_and_oversized_payload(cloud):
    runtime = cloud.client("sagemaker-runtime")
    response = error_of(runtime.invoke_endpoint, EndpointName="nope", Body=b"x", ContentType="text/plain")
    assert response["Error"]["Code"] == "ValidationError"
    assert "nope" in response["Error"]["Message"]
    cloud.wait_endpoint("echo")
    big = b"x" * (6 * 1024 * 1024 + 1)
    response = error_of(runtime.invoke_endpoint, EndpointName="echo", Body=big, ContentType="text/plain")
    assert response["Error"]["Code"] == "ValidationError"
    assert response["Error"]["Message"].endswith("has oversize body.")  # refused at the door, unread


def test_crashed_instance_gives_clear_error_then_recovers(cloud):
    cloud.wait_endpoint("echo")
    runtime = cloud.client("sagemaker-runtime")
    response = error_of(runtime.invoke_endpoint, EndpointName="echo", Body=b"x", ContentType="application/x-crash")
    assert response["Error"]["Code"] == "ModelError"
    assert "crashed" in response["Error"]["Message"]
    assert invoke(cloud, "echo")["greeting"] == "hello"  # the next request waits for the replacement


def test_killed_instance_is_replaced(cloud):
    cloud.wait_endpoint("echo")
    (pid,) = cloud.health()["endpoint_instances"]["echo"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    runtime = cloud.client("sagemaker-runtime")
    with pytest.raises(ClientError):
        runtime.invoke_endpoint(EndpointName="echo", Body=b"x", ContentType="text/plain")
    assert invoke(cloud, "echo")["length"] == 3
    assert cloud.health()["endpoint_instances"]["echo"] != [pid]


def test_update_endpoint_swaps_model(cloud):
    deploy_echo(cloud, "swap", greeting="v1")
    cloud.wait_endpoint("swap")
    sagemaker = cloud.client("sagemaker")
    deploy_echo_model_only(cloud, "swap-v2", greeting="v2")
    answers: list[str] = []
    done = threading.Event()

    def keep_calling() -> None:  # traffic throughout the update: none of it may fail
        while not done.is_set():
            answers.append(invoke(cloud, "swap")["greeting"])

    caller = threading.Thread(target=keep_calling)
    caller.start()
    sagemaker.update_endpoint(EndpointName="swap", EndpointConfigName="swap-v2")
    assert sagemaker.describe_endpoint(EndpointName="swap")["EndpointStatus"] in ("Updating", "InService")
    description = cloud.wait_endpoint("swap")
    time.sleep(1.0)  # past the old fleet's retirement
    done.set()
    caller.join()
    assert set(answers) <= {"v1", "v2"} and answers[-1] == "v2"
    assert description["EndpointConfigName"] == "swap-v2"
    assert invoke(cloud, "swap")["greeting"] == "v2"


def deploy_echo_model_only(cloud, name: str, *, greeting: str) -> None:
    from tests.localcloud.conftest import model_archive

    cloud.client("s3").put_object(Bucket="artifacts", Key=f"{name}/model.tar.gz", Body=model_archive(greeting))
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::000000000000:role/sagemaker-test",
        PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": f"s3://artifacts/{name}/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )


def test_broken_model_fails_with_reason(cloud):
    deploy_echo(cloud, "broken", broken=True)
    description = cloud.wait_endpoint("broken", status="Failed")
    assert description["EndpointStatus"] == "Failed"
    assert "no such module" in description["FailureReason"]
    runtime = cloud.client("sagemaker-runtime")
    response = error_of(runtime.invoke_endpoint, EndpointName="broken", Body=b"x", ContentType="text/plain")
    assert "not in service" in response["Error"]["Message"]


def test_name_rules_and_duplicates(cloud):
    sagemaker = cloud.client("sagemaker")
    response = error_of(
        sagemaker.create_model,
        ModelName="not_valid!",
        ExecutionRoleArn="arn:aws:iam::0:role/x",
        PrimaryContainer={"Image": "x"},
    )
    assert response["Error"]["Code"] == "ValidationException"
    deploy_echo(cloud, "dup")
    response = error_of(sagemaker.create_endpoint, EndpointName="dup", EndpointConfigName="dup")
    assert "already existing" in response["Error"]["Message"]
    response = error_of(
        sagemaker.create_endpoint_config,
        EndpointConfigName="c-missing",
        ProductionVariants=[
            {"VariantName": "A", "ModelName": "missing", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    assert "Could not find model" in response["Error"]["Message"]


def test_two_instances_share_the_load(cloud):
    deploy_echo(cloud, "pair", instances=2)
    description = cloud.wait_endpoint("pair")
    assert description["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert len(cloud.health()["endpoint_instances"]["pair"]) == 2
    assert all(invoke(cloud, "pair")["greeting"] == "hello" for _ in range(4))


def test_delete_endpoint_stops_instances(cloud):
    deploy_echo(cloud, "gone")
    cloud.wait_endpoint("gone")
    (pid,) = cloud.health()["endpoint_instances"]["gone"]
    sagemaker = cloud.client("sagemaker")
    sagemaker.delete_endpoint(EndpointName="gone")
    assert "gone" not in [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
