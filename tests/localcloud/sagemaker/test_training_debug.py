"""Debugger and profiler fields of CreateTrainingJob against localcloud with real boto3: the real classifier
records while it trains, its TensorBoard directory reaches S3, and DescribeTrainingJob reports the rules'
statuses as AWS words them; bad rule parameters get AWS's ValidationException."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from classifier.recording.reader import load_recording
from localcloud.core.process import LocalCloudProcess
from tests.channels import complete_breeds, upload_breeds, upload_sourcedir
from tests.localcloud.conftest import assert_shape
from tests.localcloud.sagemaker.test_training import SAGEMAKER_TRUST
from tests.localcloud.sagemaker.training_helpers import wait_training

CLASSES = 8
RULE_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, datasets):
    process = LocalCloudProcess(tmp_path_factory.mktemp("debug-cloud"), ["--no-defaults"]).start()
    process.client("iam").create_role(RoleName="test", AssumeRolePolicyDocument=SAGEMAKER_TRUST)
    s3 = process.client("s3")
    s3.create_bucket(Bucket="dbg")
    source = datasets / "dogs-wiki-133"
    upload_breeds(s3, "dbg", "dogs", complete_breeds(CLASSES, source), source)
    upload_sourcedir(s3, "dbg")
    yield process
    process.stop()


def rule(name: str, rule_to_invoke: str, **parameters: str) -> dict:
    return {
        "RuleConfigurationName": name,
        "RuleEvaluatorImage": RULE_IMAGE,
        "RuleParameters": {"rule_to_invoke": rule_to_invoke, **parameters},
    }


def request(name: str, learning_rate: str, **extra) -> dict:
    body = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::000000000000:role/test",
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://dbg/code/sourcedir.tar.gz"',
            "learning_rate": json.dumps(learning_rate),
            "batch_size": '"8"',
            "epochs": '"3"',
        },
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://dbg/dogs"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://dbg/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "TensorBoardOutputConfig": {"S3OutputPath": f"s3://dbg/tensorboard/{name}"},
        "DebugHookConfig": {"S3OutputPath": f"s3://dbg/debug/{name}", "HookParameters": {"train.save_interval": "1"}},
        "DebugRuleConfigurations": [
            rule("LossNotDecreasing", "LossNotDecreasing"),
            rule("ExplodingTensor", "ExplodingTensor"),
            rule("VanishingGradient", "VanishingGradient", threshold="1e-7"),
        ],
        "ProfilerConfig": {"S3OutputPath": "s3://dbg/profiler", "ProfilingIntervalInMilliseconds": 100},
        "ProfilerRuleConfigurations": [rule("ProfilerReport-1", "ProfilerReport")],
    }
    body.update(extra)
    return body


def statuses(job: dict, key: str = "DebugRuleEvaluationStatuses") -> dict[str, dict]:
    return {s["RuleConfigurationName"]: s for s in job[key]}


def recording(cloud, name: str):
    s3 = cloud.client("s3")
    prefix = f"tensorboard/{name}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="dbg", Prefix=prefix).get("Contents", [])]
    return load_recording({k[len(prefix) :]: s3.get_object(Bucket="dbg", Key=k)["Body"].read() for k in keys})


def test_sane_and_wild_learning_rates_get_their_rule_statuses(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_training_job(**request("sane", "0.01"))
    sagemaker.create_training_job(**request("wild", "50"))
    started = sagemaker.describe_training_job(TrainingJobName="sane")
    assert {s["RuleEvaluationStatus"] for s in started["DebugRuleEvaluationStatuses"]} <= {
        "InProgress",
        "NoIssuesFound",
    }

    sane = wait_training(cloud, "sane", timeout=240, interval=0.5)
    assert sane["TrainingJobStatus"] == "Completed", sane.get("FailureReason")
    assert_shape(sagemaker, "DescribeTrainingJob", sane)
    assert sane["ProfilingStatus"] == "Enabled"
    assert {n: s["RuleEvaluationStatus"] for n, s in statuses(sane).items()} == {
        "LossNotDecreasing": "NoIssuesFound",
        "ExplodingTensor": "NoIssuesFound",
        "VanishingGradient": "NoIssuesFound",
    }
    arn = statuses(sane)["LossNotDecreasing"]["RuleEvaluationJobArn"]
    assert arn.startswith("arn:aws:sagemaker:us-east-1:000000000000:processing-job/sane-LossNotDecreasing-")
    assert statuses(sane, "ProfilerRuleEvaluationStatuses")["ProfilerReport-1"]["RuleEvaluationStatus"] in (
        "NoIssuesFound",
        "IssuesFound",
    )
    rec = recording(cloud, "sane")  # the TensorBoard directory, synced to S3OutputPath
    assert rec.problems == [] and len(rec.scalars["Loss/train"].values) >= 12
    assert rec.hosts == ["algo-1"]
    times = rec.system[("algo-1", "cpu", "cpu0", "CPUUtilization")].steps
    assert len(times) > 3 and 0.05 < float(times[1] - times[0]) < 0.5  # ProfilingIntervalInMilliseconds 100

    wild = wait_training(cloud, "wild", timeout=240, interval=0.5)
    assert wild["TrainingJobStatus"] == "Completed", wild.get("FailureReason")
    fired = statuses(wild)["LossNotDecreasing"]
    assert fired["RuleEvaluationStatus"] == "IssuesFound"
    assert fired["StatusDetails"].startswith(
        "RuleEvaluationConditionMet: Evaluation of the rule LossNotDecreasing at step 10 resulted in the condition"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"DebugRuleConfigurations": [rule("L", "LossNotDecreasing", num_steps="ten")]},
            "num_steps must be an integer",
        ),
        ({"DebugRuleConfigurations": [rule("L", "LossNotDecreasing", diff_percent="-1")]}, "diff_percent must be"),
        ({"DebugRuleConfigurations": [rule("X", "NoSuchRule")]}, "rule_to_invoke must name a built-in rule"),
        ({"DebugRuleConfigurations": [rule("A", "Overfit"), rule("A", "Overfit")]}, "must be unique"),
        ({"ProfilerRuleConfigurations": [rule("P", "ProfilerReport", CPUBottleneck_threshold="500")]}, "at most 100"),
        ({"ProfilerConfig": {"ProfilingIntervalInMilliseconds": 300}}, "Member must be one of"),
        ({"TensorBoardOutputConfig": {"S3OutputPath": "s3://dbg/tb", "LocalPath": "/tmp/tb"}}, "under /opt/ml/"),
    ],
)
def test_bad_debugger_fields_are_refused_like_aws(cloud, change: dict, message: str) -> None:
    with pytest.raises(ClientError) as refused:
        cloud.client("sagemaker").create_training_job(**request("refused", "0.01", **change))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]


def test_a_data_parallel_job_records_both_hosts(cloud):
    sagemaker = cloud.client("sagemaker")
    body = request("two-hosts", "0.01", DebugRuleConfigurations=[rule("LossNotDecreasing", "LossNotDecreasing")])
    body["ResourceConfig"] = {**body["ResourceConfig"], "InstanceCount": 2}
    body["HyperParameters"] = {**body["HyperParameters"], "epochs": '"2"'}
    sagemaker.create_training_job(**body)
    job = wait_training(cloud, "two-hosts", timeout=240, interval=0.5)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    rec = recording(cloud, "two-hosts")
    assert rec.hosts == ["algo-1", "algo-2"]
    assert {key[0] for key in rec.system} == {"algo-1", "algo-2"}  # system use per host
    assert {r["NodeId"] for r in rec.records("phase")} == {"algo-1", "algo-2"}
    assert len(rec.scalars["Loss/train"].values) >= 4  # model data from the leader only (its half of the data)
    assert statuses(job)["LossNotDecreasing"]["RuleEvaluationStatus"] == "NoIssuesFound"


def test_a_job_that_fails_before_training_ends_its_rules_in_error(cloud):
    sagemaker = cloud.client("sagemaker")
    body = request("no-data", "0.01")
    body["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://dbg/no-such-prefix"
    sagemaker.create_training_job(**body)
    job = wait_training(cloud, "no-data", timeout=240, interval=0.5)
    assert job["TrainingJobStatus"] == "Failed"
    loss = statuses(job)["LossNotDecreasing"]
    assert loss["RuleEvaluationStatus"] == "Error"
    assert (
        loss["StatusDetails"] == "InternalServerError: Cannot evaluate LossNotDecreasing: Loss/train was not recorded."
    )
