"""Tuning jobs through real boto3: requests shaped as the SageMaker Python SDK sends them, and waiting."""

from __future__ import annotations

import copy
import io
import json
import tarfile
import textwrap
import time
from typing import Any

from localcloud.core.process import LocalCloudProcess

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312"

# A quick script-mode program: its objective after each epoch is its learning rate, so a test knows
# which trials are weak; `epoch` tells how many epochs a trial ran.
PROGRAM = textwrap.dedent("""
    import argparse, json, os, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--sleep", type=float, default=0.0)
    args, unknown = parser.parse_known_args()
    print("unknown", unknown, "hps", os.environ["SM_HPS"], flush=True)
    print("train files", sorted(os.listdir(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "train"))), flush=True)
    for epoch in range(1, args.epochs + 1):
        time.sleep(args.sleep)
        print(f"Epoch {epoch}/{args.epochs}: valid_acc={args.learning_rate:.4f}", flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
        json.dump({"learning_rate": args.learning_rate}, f)
""")

METRICS = [
    {"Name": "validation:accuracy", "Regex": r"valid_acc=([0-9\.]+)"},
    {"Name": "epoch", "Regex": r"Epoch ([0-9]+)/"},
]


def sourcedir(program: str = PROGRAM) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = program.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def request(
    name: str,
    *,
    bucket: str = "tuning",
    data: str = "data",
    strategy: str = "Random",
    max_jobs: int | None = 4,
    parallel: int = 2,
    continuous: list[dict[str, str]] | None = None,
    integer: list[dict[str, str]] | None = None,
    categorical: list[dict[str, Any]] | None = None,
    static: dict[str, str] | None = None,
    metric: str = "validation:accuracy",
    metrics: list[dict[str, str]] | None = None,
    warm_start: dict[str, Any] | None = None,
    max_runtime: int = 600,
    **config: Any,
) -> dict[str, Any]:
    """CreateHyperParameterTuningJob as the SDK's HyperparameterTuner sends it: static values JSON-quoted,
    categorical values JSON-quoted, the objective and ranges in the tuning job config."""
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    ranges: dict[str, Any] = {
        "ContinuousParameterRanges": continuous if continuous is not None else [],
        "IntegerParameterRanges": integer or [],
        "CategoricalParameterRanges": categorical or [],
    }
    if continuous is None and not integer and not categorical:
        ranges["ContinuousParameterRanges"] = [
            {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.9", "ScalingType": "Logarithmic"}
        ]
    hyper = {"epochs": "3", **(static or {})}
    body = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": metric},
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": "Off",
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"s3://{bucket}/code/sourcedir.tar.gz"',
                "sagemaker_container_log_level": "20",
                "sagemaker_region": '"us-east-1"',
                **{k: json.dumps(v) for k, v in hyper.items()},
            },
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": metrics or METRICS,
            },
            "RoleArn": "arn:aws:iam::000000000000:role/tuning",
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{bucket}/{data}",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        },
    }
    if warm_start:
        body["WarmStartConfig"] = warm_start
    return body


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of a request with one nested key (dotted path) set."""
    out = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


def wait_tuning(cloud: LocalCloudProcess, name: str, timeout: float = 240, interval: float = 0.3) -> dict[str, Any]:
    """DescribeHyperParameterTuningJob once the job has ended, polled every `interval` s (as it stands after
    `timeout` s)."""
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + timeout
    while True:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped") or time.monotonic() > deadline:
            return job
        time.sleep(interval)


def trials(cloud: LocalCloudProcess, name: str) -> list[dict[str, Any]]:
    """Every trial, paging as the SDK's analytics does (MaxResults 100, NextToken)."""
    sagemaker, out, token = cloud.client("sagemaker"), [], None
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100, **({"NextToken": token} if token else {})
        )
        out += page["TrainingJobSummaries"]
        token = page.get("NextToken")
        if not token:
            return sorted(out, key=lambda t: t["TrainingJobName"])


def final(cloud: LocalCloudProcess, trial: str, metric: str) -> float:
    job = cloud.client("sagemaker").describe_training_job(TrainingJobName=trial)
    return {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}[metric]
