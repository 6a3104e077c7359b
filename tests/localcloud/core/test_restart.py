"""State under the data dir survives a restart, and endpoints come back InService."""

from __future__ import annotations

import json
import time

from localcloud.core.process import LocalCloudProcess
from tests.localcloud.conftest import deploy_echo, function_zip, lambda_role


def test_restart_keeps_resources_and_serves_again(tmp_path):
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        deploy_echo(cloud, "kept")
        lambda_role(cloud)
        cloud.client("lambda").create_function(
            FunctionName="kept",
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/test",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": function_zip("def lambda_handler(event, context):\n    return event\n")},
        )
        lambda_ = cloud.client("lambda")
        lambda_.put_function_concurrency(FunctionName="kept", ReservedConcurrentExecutions=2)
        version = lambda_.publish_version(FunctionName="kept")["Version"]
        lambda_.create_alias(FunctionName="kept", Name="live", FunctionVersion=version)
        lambda_.put_provisioned_concurrency_config(
            FunctionName="kept", Qualifier="live", ProvisionedConcurrentExecutions=1
        )
        cloud.wait_endpoint("kept")
    finally:
        cloud.stop()

    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        description = cloud.client("sagemaker").describe_endpoint(EndpointName="kept")
        assert description["EndpointStatus"] == "InService"
        runtime = cloud.client("sagemaker-runtime")
        answer = runtime.invoke_endpoint(EndpointName="kept", Body=b"abcd", ContentType="text/plain")
        assert json.loads(answer["Body"].read()) == {"greeting": "hello", "length": 4}
        assert cloud.client("s3").head_object(Bucket="artifacts", Key="kept/model.tar.gz")["ContentLength"] > 0
        lambda_ = cloud.client("lambda")
        response = lambda_.invoke(FunctionName="kept", Payload=b'{"a": 1}')
        assert json.loads(response["Payload"].read()) == {"a": 1}
        assert lambda_.get_function_concurrency(FunctionName="kept")["ReservedConcurrentExecutions"] == 2
        assert lambda_.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 8
        deadline = time.monotonic() + 60  # the provisioned environment starts again
        while time.monotonic() < deadline:
            config = lambda_.get_provisioned_concurrency_config(FunctionName="kept", Qualifier="live")
            if config["Status"] != "IN_PROGRESS":
                break
            time.sleep(0.05)
        assert config["Status"] == "READY" and config["AllocatedProvisionedConcurrentExecutions"] == 1
        assert lambda_.invoke(FunctionName="kept", Qualifier="live", Payload=b"{}")["ExecutedVersion"] == version
    finally:
        cloud.stop()
