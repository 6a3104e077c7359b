"""First start: create the default model, endpoint and Lambda function through the same
public APIs a user would call (boto3 against this localcloud), so nothing is special-cased.

Every step adopts what already exists, so the bootstrap may race a user's script (the
SageMaker Python SDK's `default_bucket()` creates the default bucket too), and a start that
was killed half-way is finished by the next one. It runs beside the server: whatever goes
wrong is reported in `/_localcloud/health` and the log, and never ends the server.

The model is a SageMaker `model.tar.gz` registered with the AWS PyTorch inference image URI:
the very same artifact and requests deploy unchanged on SageMaker.

The server runs it as a process of its own (`python -m localcloud.core.bootstrap`, see `main`): the boto3
clients it needs hold their own copies of four service models, and building the artifacts passes the model's
bytes through memory: tens of megabytes that a server doing it in-process kept for as long as it ran.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from classifier.packaging import build_lambda_zip, build_model_archive
from localcloud.core.profile import KeyPair
from localcloud.core.protocol import ACCOUNT_ID

MODEL_NAME = "dog-breed-efficientnet-lite0"
ENDPOINT_NAME = "dog-breed-classifier"
FUNCTION_NAME = "dog-breed-predict"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dog-breed-sagemaker-execution"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dog-breed-lambda-execution"

# The answers that mean "it is already there": adopt it.
_ALREADY_THERE = {
    "BucketAlreadyOwnedByYou",
    "ResourceConflictException",  # Lambda: the function exists
    "EntityAlreadyExists",  # IAM: the role exists
}


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


# What the original project gave each role: the function's is far broader than it needs, which the
# Security page's audit is there to find and fix.
ROLES = {
    LAMBDA_ROLE: (
        "lambda.amazonaws.com",
        [
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
        ],
    ),
    SAGEMAKER_ROLE: ("sagemaker.amazonaws.com", ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]),
}


def pytorch_inference_image(region: str) -> str:
    """The AWS Deep Learning Container for PyTorch inference (CPU) in `region`."""
    return f"763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"


def default_bucket(region: str) -> str:
    return f"sagemaker-{region}-{ACCOUNT_ID}"


def _adopting(create: Callable[[], object], exists: Callable[[], bool]) -> None:
    """Create, unless it exists; a create that loses a race to another caller adopts theirs."""
    if exists():
        return
    try:
        create()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        if code not in _ALREADY_THERE and "already exist" not in message.lower():
            raise


def _found(call: Callable[[], object]) -> bool:
    try:
        call()
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (400, 404):
            return False
        raise
    return True


def seed_defaults(endpoint_url: str, region: str, onnx_path: Path, key: KeyPair) -> None:
    session = boto3.Session(
        aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key, region_name=region
    )
    config = Config(retries={"mode": "standard", "max_attempts": 3})
    s3 = session.client("s3", endpoint_url=endpoint_url, config=config)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint_url, config=config)
    lambda_ = session.client("lambda", endpoint_url=endpoint_url, config=config)
    iam = session.client("iam", endpoint_url=endpoint_url, config=config)

    for arn, (service, policies) in ROLES.items():
        name = arn.rsplit("/", 1)[1]
        _adopting(
            lambda name=name, service=service: iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(service)),
            lambda name=name: _found(lambda: iam.get_role(RoleName=name)),
        )
        for policy_arn in policies:  # attaching twice is a no-op, as on IAM
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)

    bucket = default_bucket(region)
    key_name = f"{MODEL_NAME}/model.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        _adopting(lambda: s3.create_bucket(Bucket=bucket), lambda: _found(lambda: s3.head_bucket(Bucket=bucket)))
        if not _found(lambda: s3.head_object(Bucket=bucket, Key=key_name)):
            archive = build_model_archive(onnx_path, Path(tmp) / "model.tar.gz", model_name=MODEL_NAME)
            s3.upload_file(str(archive), bucket, key_name)
        lambda_zip = build_lambda_zip(Path(tmp) / "function.zip").read_bytes()

    _adopting(
        lambda: sagemaker.create_model(
            ModelName=MODEL_NAME,
            ExecutionRoleArn=SAGEMAKER_ROLE,
            PrimaryContainer={
                "Image": pytorch_inference_image(region),
                "ModelDataUrl": f"s3://{bucket}/{key_name}",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            },
        ),
        lambda: _found(lambda: sagemaker.describe_model(ModelName=MODEL_NAME)),
    )
    _adopting(
        lambda: sagemaker.create_endpoint_config(
            EndpointConfigName=ENDPOINT_NAME,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": MODEL_NAME,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "InitialVariantWeight": 1.0,
                }
            ],
        ),
        lambda: _found(lambda: sagemaker.describe_endpoint_config(EndpointConfigName=ENDPOINT_NAME)),
    )
    _adopting(
        lambda: sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName=ENDPOINT_NAME),
        lambda: _found(lambda: sagemaker.describe_endpoint(EndpointName=ENDPOINT_NAME)),
    )
    _adopting(
        lambda: lambda_.create_function(
            FunctionName=FUNCTION_NAME,
            Runtime="python3.11",
            Role=LAMBDA_ROLE,
            Handler="lambda_function.lambda_handler",
            Code={"ZipFile": lambda_zip},
            Timeout=30,
            MemorySize=512,
            Description="Classifies a dog photo through the dog-breed-classifier endpoint",
            Environment={"Variables": {"ENDPOINT_NAME": ENDPOINT_NAME}},
        ),
        lambda: _found(lambda: lambda_.get_function(FunctionName=FUNCTION_NAME)),
    )


@dataclass(frozen=True)
class _RootKey:
    access_key_id: str
    secret_access_key: str


def main(argv: list[str] | None = None) -> int:
    """`python -m localcloud.core.bootstrap ENDPOINT_URL REGION MODEL_ONNX`, signing with the key in
    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (never on the command line, where `ps` shows it). Exports the
    model first if MODEL_ONNX is missing. Exits 1 with the reason as its last line on stderr."""
    endpoint_url, region, onnx = argv if argv is not None else sys.argv[1:]
    key = _RootKey(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    try:
        if not Path(onnx).exists():
            from classifier.training.export_onnx import export_onnx  # torch is needed only here

            print(f"exporting the default model to {onnx}", file=sys.stderr, flush=True)
            export_onnx(Path(onnx))
        seed_defaults(endpoint_url, region, Path(onnx), key)
    except Exception as exc:  # noqa: BLE001 - the reason goes to the server, which reports it
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
