"""State under the data dir survives a restart, and endpoints come back InService."""

from __future__ import annotations

import json

from localcloud.process import LocalCloudProcess
from tests.localcloud.conftest import deploy_echo, function_zip


def test_restart_keeps_resources_and_serves_again(tmp_path):
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        deploy_echo(cloud, "kept")
        cloud.client("lambda").create_function(
            FunctionName="kept",
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/test",
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": function_zip("def lambda_handler(event, context):\n    return event\n")},
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
        response = cloud.client("lambda").invoke(FunctionName="kept", Payload=b'{"a": 1}')
        assert json.loads(response["Payload"].read()) == {"a": 1}
    finally:
        cloud.stop()
