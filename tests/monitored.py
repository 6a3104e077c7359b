"""An endpoint with data capture on a real localcloud, fed real photos: for the Monitor page's tests."""

from __future__ import annotations

import time
from pathlib import Path

from localcloud.core.process import LocalCloudProcess
from services.core.clients import CloudSettings
from services.serving.deploy import DeployService
from services.training.job_spec import TrainingSpec
from services.training.sagemaker_training import TrainingService
from tests.captures import CONTENT_TYPES
from tests.channels import complete_breeds, upload_breeds

CAPTURE_BUCKET = "sagemaker-us-east-1-000000000000"


def serve_trained_model(cloud: LocalCloudProcess, endpoint: str, name: str, breeds: int = 3) -> str:
    """Train a 1-epoch model on the first `breeds` complete breeds (dataset `datasets/<name>`, job `<name>-job`) as
    the Train page launches it, and serve it on `endpoint` (no capture yet); the dataset's URI."""
    upload_breeds(cloud.client("s3"), CAPTURE_BUCKET, f"datasets/{name}", complete_breeds(breeds))
    data = f"s3://{CAPTURE_BUCKET}/datasets/{name}/"
    settings = CloudSettings(cloud.endpoint_url, "us-east-1", None)
    training = TrainingService(cloud.session(), settings=settings)
    job = f"{name}-job"
    training.launch(TrainingSpec(job, data, training.default_output_path(), epochs=1, batch_size=4))
    deadline = time.monotonic() + 600
    while not (described := training.describe(job)).ended:
        assert time.monotonic() < deadline, f"{job} still running"
        time.sleep(1)
    assert described.status == "Completed", described.failure_reason
    artifact = cloud.client("sagemaker").describe_training_job(TrainingJobName=job)["ModelArtifacts"]
    DeployService(cloud.session(), settings=settings).deploy_model(
        artifact["S3ModelArtifacts"], model_name=f"{name}-model", endpoint_name=endpoint
    )
    wait_in_service(cloud, endpoint)
    return data


def turn_capture_on(cloud: LocalCloudProcess, endpoint: str, model: str, destination: str) -> None:
    """A new endpoint config of `model` capturing every request and answer to `destination`, applied."""
    sagemaker = cloud.client("sagemaker")
    name = f"{endpoint}-capture"
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        },
    )
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
    wait_in_service(cloud, endpoint)


def wait_in_service(cloud: LocalCloudProcess, endpoint: str, timeout_s: float = 180) -> None:
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + timeout_s
    while (status := sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]) != "InService":
        assert status not in ("Failed", "OutOfService") and time.monotonic() < deadline, status
        time.sleep(0.5)


def send(cloud: LocalCloudProcess, endpoint: str, photos: list[Path]) -> None:
    runtime = cloud.client("sagemaker-runtime")
    for i, photo in enumerate(photos):
        runtime.invoke_endpoint(
            EndpointName=endpoint,
            Body=photo.read_bytes(),
            ContentType=CONTENT_TYPES[photo.suffix.lower()],
            InferenceId=f"visit-{i}",
        )


def captured_records(cloud: LocalCloudProcess, bucket: str, prefix: str) -> int:
    """The capture lines written under `prefix` so far."""
    s3 = cloud.client("s3")
    found = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".jsonl"):
                found += len(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines())
    return found


def wait_captured(cloud: LocalCloudProcess, bucket: str, prefix: str, records: int, timeout_s: float = 60) -> None:
    """Until the capture files under `prefix` hold `records` lines (localcloud flushes them off the request path)."""
    deadline = time.monotonic() + timeout_s
    while (found := captured_records(cloud, bucket, prefix)) < records:
        assert time.monotonic() < deadline, f"{found} of {records} captures written"
        time.sleep(0.5)
