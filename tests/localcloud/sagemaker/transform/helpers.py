"""Models, photos and job requests for the batch transform tests and benchmark: the real classifier, and a probe
model that says which instance answered and what it was sent."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from classifier.packaging import build_model_archive
from localcloud.core.process import LocalCloudProcess
from tests.clouds import sagemaker_role

ROOT = Path(__file__).resolve().parents[4]
ONNX = ROOT / "build" / "efficientnet_lite0.onnx"
BUCKET = "transform-data"
ENDED = ("Completed", "Failed", "Stopped")

PROBE_MODEL = textwrap.dedent("""
    import json, os, time
    failed_once = set()

    def model_fn(model_dir):
        return None

    def input_fn(body, content_type):
        if body == b"bad":
            raise ValueError("bad input, says the handler")
        if body.startswith(b"slow"):
            time.sleep(1.0)
        if body.startswith(b"stall"):
            time.sleep(3.0)
        if body.startswith(b"flaky") and body not in failed_once:
            failed_once.add(body)
            raise RuntimeError("flaky: fails the first time it sees a body")
        return body

    def predict_fn(data, model):
        return {"pid": os.getpid(), "length": len(data), "lines": data.count(b"\\n") + 1}

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
""")


def probe_archive() -> bytes:
    """A model.tar.gz whose handler answers its process id, the body's length and its number of lines."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = PROBE_MODEL.encode()
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def ensure_bucket(cloud: LocalCloudProcess, bucket: str = BUCKET) -> None:
    s3 = cloud.client("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)


def create_model(cloud: LocalCloudProcess, name: str, archive: bytes, role: str | None = None) -> None:
    """A SageMaker model of `archive`, run as `role` (the tests' role that may do anything by default)."""
    ensure_bucket(cloud)
    cloud.client("s3").put_object(Bucket=BUCKET, Key=f"models/{name}/model.tar.gz", Body=archive)
    cloud.client("sagemaker").create_model(
        ModelName=name,
        ExecutionRoleArn=role or sagemaker_role(cloud),
        PrimaryContainer={"Image": "pytorch-inference", "ModelDataUrl": f"s3://{BUCKET}/models/{name}/model.tar.gz"},
    )


def classifier_archive() -> bytes:
    """The real classifier's model.tar.gz, as the default endpoint deploys it."""
    with tempfile.TemporaryDirectory() as tmp:
        return build_model_archive(ONNX, Path(tmp) / "model.tar.gz").read_bytes()


def request(name: str, model: str, input_uri: str, output_uri: str, **extra: Any) -> dict[str, Any]:
    """A CreateTransformJob request: one ml.m5.large instance, SplitType None, unless `extra` says otherwise;
    `ContentType` and `SplitType` in `extra` go into TransformInput, `InstanceCount` into TransformResources."""
    data_type = extra.pop("S3DataType", "S3Prefix")
    transform_input: dict[str, Any] = {"DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": input_uri}}}
    for key in ("ContentType", "SplitType", "CompressionType"):
        if key in extra:
            transform_input[key] = extra.pop(key)
    output: dict[str, Any] = {"S3OutputPath": output_uri}
    for key in ("AssembleWith", "Accept"):
        if key in extra:
            output[key] = extra.pop(key)
    resources = {
        "InstanceType": extra.pop("InstanceType", "ml.m5.large"),
        "InstanceCount": extra.pop("InstanceCount", 1),
    }
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": transform_input,
        "TransformOutput": output,
        "TransformResources": resources,
        **extra,
    }


def wait_job(
    cloud: LocalCloudProcess, name: str, timeout: float = 180.0, statuses: tuple[str, ...] = ENDED, poll_s: float = 0.2
) -> dict:
    """The job's description once its status is one of `statuses` (the last one on timeout)."""
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + timeout
    while True:
        job = sagemaker.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(poll_s)


def outputs(cloud: LocalCloudProcess, prefix: str, bucket: str = BUCKET) -> dict[str, bytes]:
    """Every object under `prefix`, by key."""
    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def log_streams(cloud: LocalCloudProcess, job: str) -> dict[str, list[str]]:
    """The job's streams in /aws/sagemaker/TransformJobs and their messages."""
    logs = cloud.client("logs")
    group = "/aws/sagemaker/TransformJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job}/")["logStreams"]
    return {
        s["logStreamName"]: [
            e["message"]
            for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"], startFromHead=True)[
                "events"
            ]
        ]
        for s in streams
    }


def without_latency(answer: bytes | dict) -> dict:
    """A classifier answer without its timings, which differ from call to call."""
    parsed = json.loads(answer) if isinstance(answer, bytes) else dict(answer)
    parsed.pop("model_latency_ms", None)
    return parsed
