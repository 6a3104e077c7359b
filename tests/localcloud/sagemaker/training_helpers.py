"""Training jobs through real boto3, for the tests and the benchmarks: CreateTrainingJob shaped as the SageMaker
Python SDK sends it in script mode, and waiting for the job to end."""

from __future__ import annotations

import json
import time
from typing import Any

from localcloud.core.process import LocalCloudProcess
from tests.clouds import SAGEMAKER_ROLE
from tests.localcloud.sagemaker.tuning_helpers import IMAGE


def training_request(
    name: str,
    *,
    bucket: str,
    channel: str,
    metrics: list[dict[str, str]],
    role: str = SAGEMAKER_ROLE,
    count: int = 1,
    max_runtime: int = 600,
    **hyper: str,
) -> dict[str, Any]:
    """CreateTrainingJob for train.py from s3://bucket/code/sourcedir.tar.gz: hyperparameters JSON-quoted, as the
    SDK's estimator sends them, and `channel` as the File-mode channel `training`."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File", "MetricDefinitions": metrics},
        "RoleArn": f"arn:aws:iam::000000000000:role/{role}",
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{bucket}/code/sourcedir.tar.gz"',
            **{k: json.dumps(v) for k, v in hyper.items()},
        },
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": channel,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def wait_training(cloud: LocalCloudProcess, name: str, timeout: float = 60, interval: float = 0.2) -> dict[str, Any]:
    """DescribeTrainingJob once the job has ended, polled every `interval` s (as it stands after `timeout` s)."""
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + timeout
    while True:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") or time.monotonic() > deadline:
            return job
        time.sleep(interval)
