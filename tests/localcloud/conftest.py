"""A localcloud without the default resources, and small artifacts to deploy on it."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator

import pytest
from botocore.validate import ParamValidator

from localcloud.auth.keys import root_identity
from localcloud.core.process import LocalCloudProcess
from localcloud.core.registry import Call
from tests.clouds import running_localcloud, sagemaker_role

READ_TIMEOUT = 1.0  # the `door` localcloud gives slow clients this long to send a request
CALL = Call("us-east-1", root_identity("AKIAEXAMPLE000000000"))  # for operations called in-process

ECHO_MODEL = textwrap.dedent("""
    import json, os

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "greeting.txt")) as f:
            return f.read()

    def input_fn(body, content_type):
        if content_type == "application/x-crash":
            os._exit(3)
        if content_type == "text/plain" and body == b"bad":
            raise ValueError("bad input, says the handler")
        if content_type == "text/plain" and body == b"boom":
            raise RuntimeError("the handler broke")
        return body

    def predict_fn(data, model):
        return {"greeting": model, "length": len(data)}

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def model_archive(greeting: str = "hello", *, broken: bool = False) -> bytes:
    """A real model.tar.gz: data file plus code/inference.py, as SageMaker expects."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        files = {
            "code/inference.py": "raise ImportError('no such module')" if broken else ECHO_MODEL,
            "greeting.txt": greeting,
        }
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def function_zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", textwrap.dedent(source))
    return buffer.getvalue()


def assert_shape(client, operation: str, response: dict) -> None:
    """The parsed response must fit botocore's output shape for the operation."""
    model = client.meta.service_model.operation_model(operation)
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if "Payload" in body:
        body["Payload"] = b""
    report = ParamValidator().validate(body, model.output_shape)
    assert not report.has_errors(), report.generate_report()


LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def lambda_role(cloud: LocalCloudProcess, name: str = "test") -> str:
    """A role Lambda may assume (CreateFunction insists, as on AWS) that may write its function's logs and
    nothing else (AWS's AWSLambdaBasicExecutionRole); its ARN."""
    iam = cloud.client("iam")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        pass
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    return arn


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """A bare localcloud, with the role `test` that the tests' functions run as."""
    with running_localcloud(tmp_path_factory.mktemp("bare-localcloud"), ["--no-defaults"]) as process:
        lambda_role(process)
        sagemaker_role(process)
        yield process


def deploy_echo(
    cloud: LocalCloudProcess, name: str, *, greeting: str = "hello", instances: int = 1, broken: bool = False
) -> None:
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    role = sagemaker_role(cloud)  # the endpoint reads its model as the model's execution role
    bucket = "artifacts"
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{name}/model.tar.gz", Body=model_archive(greeting, broken=broken))
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": f"s3://{bucket}/{name}/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """A localcloud that gives slow clients one second to send their request."""
    args = ["--no-defaults", "--read-timeout", str(READ_TIMEOUT)]
    with running_localcloud(tmp_path_factory.mktemp("front-door"), args) as process:
        yield process
