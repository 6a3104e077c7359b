"""First start: create the default model, endpoint and Lambda function through the same
public APIs a user would call (boto3 against this localcloud), so nothing is special-cased.

The model is a SageMaker `model.tar.gz` registered with the AWS PyTorch inference image URI:
the very same artifact and requests deploy unchanged on SageMaker.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import boto3
from botocore.config import Config

from classifier.packaging import build_lambda_zip, build_model_archive
from localcloud.protocol import ACCOUNT_ID

MODEL_NAME = "dog-breed-efficientnet-lite0"
ENDPOINT_NAME = "dog-breed-classifier"
FUNCTION_NAME = "dog-breed-predict"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dog-breed-sagemaker-execution"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/dog-breed-lambda-execution"


def pytorch_inference_image(region: str) -> str:
    """The AWS Deep Learning Container for PyTorch inference (CPU) in `region`."""
    return f"763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"


def seed_defaults(endpoint_url: str, region: str, onnx_path: Path) -> None:
    session = boto3.Session(aws_access_key_id="localcloud", aws_secret_access_key="localcloud", region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 2})
    s3 = session.client("s3", endpoint_url=endpoint_url, config=config)
    sagemaker = session.client("sagemaker", endpoint_url=endpoint_url, config=config)
    lambda_ = session.client("lambda", endpoint_url=endpoint_url, config=config)

    bucket = f"sagemaker-{region}-{ACCOUNT_ID}"
    key = f"{MODEL_NAME}/model.tar.gz"
    with tempfile.TemporaryDirectory() as tmp:
        archive = build_model_archive(onnx_path, Path(tmp) / "model.tar.gz", model_name=MODEL_NAME)
        lambda_zip = build_lambda_zip(Path(tmp) / "function.zip").read_bytes()
        s3.create_bucket(Bucket=bucket)
        s3.upload_file(str(archive), bucket, key)

    sagemaker.create_model(
        ModelName=MODEL_NAME,
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={
            "Image": pytorch_inference_image(region),
            "ModelDataUrl": f"s3://{bucket}/{key}",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    sagemaker.create_endpoint_config(
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
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName=ENDPOINT_NAME)
    lambda_.create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.11",
        Role=LAMBDA_ROLE,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": lambda_zip},
        Timeout=30,
        MemorySize=512,
        Description="Classifies a dog photo through the dog-breed-classifier endpoint",
        Environment={"Variables": {"ENDPOINT_NAME": ENDPOINT_NAME}},
    )
