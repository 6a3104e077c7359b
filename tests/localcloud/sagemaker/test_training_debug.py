"""Debugger and profiler fields of CreateTrainingJob against localcloud with real boto3: the real classifier
records while it trains, its TensorBoard directory reaches S3 (each file once complete), and DescribeTrainingJob
reports the rules' statuses as AWS words them (Error with the reason, Stopping and Stopped for a stopped job);
bad rule parameters get AWS's ValidationException."""

from __future__ import annotations

import json
import textwrap
import time

import pytest
from botocore.exceptions import ClientError

from classifier.recording.reader import load_recording
from localcloud.core.process import LocalCloudProcess
from tests.channels import complete_breeds, upload_breeds, upload_sourcedir
from tests.clouds import sagemaker_role
from tests.localcloud.conftest import assert_shape
from tests.localcloud.sagemaker.training_helpers import wait_training
from tests.localcloud.sagemaker.tuning_helpers import sourcedir

CLASSES = 8
RULE_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, datasets):
    process = LocalCloudProcess(tmp_path_factory.mktemp("debug-cloud"), ["--no-defaults"]).start()
    sagemaker_role(process)
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
        "RoleArn": "arn:aws:iam::000000000000:role/sagemaker-test",
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
        (
            {"DebugRuleConfigurations": [rule("C", "ClassImbalance", argmax="True")]},
            "its parameters are samples, threshold_imbalance, threshold_misprediction",
        ),
        (
            {"ProfilerRuleConfigurations": [rule("S", "StepOutlier", mode="EVAL")]},
            "mode must be one of TRAIN, GLOBAL or empty",
        ),
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


# A script of its own records into the TensorBoard LocalPath as the classifier does: three complete parts of a
# stream, then a last one that grows until the test releases it; a damaged timeline record for ClassImbalance.
# It shrugs SIGTERM off (as a script saving its model takes a while), so a stopped job stays Stopping until then.
PARTS_PROGRAM = textwrap.dedent("""
    import json, os, pathlib, signal, time
    out = pathlib.Path(os.environ["SM_OUTPUT_DIR"])
    signal.signal(signal.SIGTERM, lambda *_: None)
    events = out / "tensorboard" / "events" / "algo-1"
    events.mkdir(parents=True)
    for part in range(3):
        (events / f"part-{part}").write_bytes(bytes([part]) * 1000)
    timeline = out / "tensorboard" / "timeline" / "algo-1"
    timeline.mkdir(parents=True)
    classes = {"Record": "classes", "NodeId": "algo-1", "Step": 3, "TrainSamples": ["many"]}
    (timeline / "part-0.json").write_text(json.dumps(classes) + "\\n")
    with open(events / "part-3", "ab") as growing:
        while not (out / "release").exists():
            growing.write(b"3" * 100)
            growing.flush()
            time.sleep(0.1)
        growing.write(b"end")
""")


def parts_job(cloud, name: str, **extra) -> dict:
    """CreateTrainingJob for PARTS_PROGRAM, with the rules of ``request`` and ClassImbalance."""
    body = request(name, "0.01", **extra)
    body["HyperParameters"]["sagemaker_submit_directory"] = '"s3://dbg/code/parts.tar.gz"'
    body["DebugRuleConfigurations"] = [*body["DebugRuleConfigurations"], rule("ClassImbalance", "ClassImbalance")]
    cloud.client("s3").put_object(Bucket="dbg", Key="code/parts.tar.gz", Body=sourcedir(PARTS_PROGRAM))
    cloud.client("sagemaker").create_training_job(**body)
    return body


def release(cloud, name: str) -> None:
    """Let PARTS_PROGRAM finish (its host's SM_OUTPUT_DIR is under localcloud's data directory)."""
    (cloud.data_dir / "training" / name / "hosts" / "algo-1" / "output" / "release").touch()


def wait_for(check, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.2)
    return found


def test_each_part_is_uploaded_once_complete_and_the_growing_one_when_the_job_ends(cloud):
    parts_job(cloud, "parts")
    s3, sagemaker = cloud.client("s3"), cloud.client("sagemaker")
    prefix = "tensorboard/parts/events/algo-1/"

    def complete_parts() -> set[str] | None:
        listed = s3.list_objects_v2(Bucket="dbg", Prefix=prefix).get("Contents", [])
        found = {o["Key"][len(prefix) :] for o in listed}
        return found if found >= {"part-0", "part-1", "part-2"} else None

    seen = wait_for(complete_parts, "complete parts on S3")
    assert "part-3" not in seen  # still growing: S3 has no append, so it waits for the end
    assert sagemaker.describe_training_job(TrainingJobName="parts")["TrainingJobStatus"] == "InProgress"
    release(cloud, "parts")
    job = wait_training(cloud, "parts", timeout=60)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert s3.get_object(Bucket="dbg", Key=f"{prefix}part-3")["Body"].read().endswith(b"end")  # as it ended
    assert s3.get_object(Bucket="dbg", Key=f"{prefix}part-1")["Body"].read() == b"\x01" * 1000
    broken = statuses(job)["ClassImbalance"]
    assert broken["RuleEvaluationStatus"] == "Error"
    assert broken["StatusDetails"].startswith(
        "InternalServerError: Cannot evaluate ClassImbalance: it raised ValueError: could not convert string to float"
    )
    assert statuses(job)["LossNotDecreasing"]["RuleEvaluationStatus"] == "Error"  # no loss was ever recorded


def test_a_stopped_jobs_rules_are_stopping_then_stopped(cloud):
    parts_job(cloud, "halted")
    sagemaker = cloud.client("sagemaker")
    wait_for(
        lambda: sagemaker.describe_training_job(TrainingJobName="halted")["SecondaryStatus"] == "Training", "training"
    )
    sagemaker.stop_training_job(TrainingJobName="halted")

    def stopping() -> dict | None:
        job = sagemaker.describe_training_job(TrainingJobName="halted")
        return job if statuses(job)["LossNotDecreasing"]["RuleEvaluationStatus"] == "Stopping" else None

    during = wait_for(stopping, "rules Stopping")
    assert during["TrainingJobStatus"] == "Stopping"
    assert statuses(during, "ProfilerRuleEvaluationStatuses")["ProfilerReport-1"]["RuleEvaluationStatus"] == "Stopping"
    release(cloud, "halted")
    job = wait_training(cloud, "halted", timeout=60)
    assert job["TrainingJobStatus"] == "Stopped"
    assert_shape(sagemaker, "DescribeTrainingJob", job)
    final = {name: s["RuleEvaluationStatus"] for name, s in statuses(job).items()}
    assert final == {
        "LossNotDecreasing": "Stopped",  # not judged as if the job had ended: it never saw a loss
        "ExplodingTensor": "Stopped",
        "VanishingGradient": "Stopped",
        "ClassImbalance": "Error",  # an Error reached before the stop stays
    }
    assert statuses(job, "ProfilerRuleEvaluationStatuses")["ProfilerReport-1"]["RuleEvaluationStatus"] == "Stopped"
