"""SageMaker training jobs through real boto3: the script-mode contract on a small real program."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import textwrap
import time

import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from services.core.clients import CloudSettings
from services.training.sagemaker_training import TrainingService
from tests.clouds import sagemaker_role
from tests.localcloud.conftest import assert_shape
from tests.localcloud.sagemaker.training_helpers import training_request, wait_training

PROGRAM = textwrap.dedent("""
    import argparse, json, os, sys, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--fail", default="no")
    parser.add_argument("--save_on_sigterm", default="no")
    args = parser.parse_args()
    host = os.environ["SM_CURRENT_HOST"]
    if args.save_on_sigterm == "yes":  # what a script-mode program does with its 120 s after a stop
        import signal
        def save_and_exit(signum, frame):
            with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
                json.dump({"stopped": True}, f)
            print("saved the model after SIGTERM", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, save_and_exit)
    print("hosts", os.environ["SM_HOSTS"], "current", host, flush=True)
    print("credentials", os.environ.get("AWS_ACCESS_KEY_ID", "none")[:4], flush=True)
    print("instance type", os.environ["SM_CURRENT_INSTANCE_TYPE"], flush=True)
    files = sorted(os.listdir(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "train")))
    print("train files", files, flush=True)
    if args.fail == "yes":
        print("about to fail: the data is wrong", file=sys.stderr, flush=True)
        sys.exit(3)
    for epoch in range(1, args.epochs + 1):
        time.sleep(args.sleep)
        loss = 1.0 / (epoch * args.learning_rate * 10)
        print(f"Epoch {epoch}/{args.epochs}: train_loss={loss:.4f} valid_acc={0.1 * epoch:.4f}", flush=True)
    print("Testing Loss: 0.5000", flush=True)
    if host == "algo-1":
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
            json.dump({"hps": json.loads(os.environ["SM_HPS"])}, f)
""")

METRICS = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
    {"Name": "validation:accuracy", "Regex": r"valid_acc=([0-9\.]+)"},
    {"Name": "Test Loss", "Regex": r"Testing Loss: ([0-9\.]+)"},
]


def sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = PROGRAM.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def training_cloud(tmp_path_factory):
    cloud = LocalCloudProcess(tmp_path_factory.mktemp("training-cloud"), ["--no-defaults"]).start()
    sagemaker_role(cloud)  # the jobs run as it
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="ml-bucket")
    for key in ("data/train/001.A/a.jpg", "data/train/002.B/b.jpg", "data/valid/001.A/c.jpg"):
        s3.put_object(Bucket="ml-bucket", Key=key, Body=b"x")
    s3.put_object(Bucket="ml-bucket", Key="code/sourcedir.tar.gz", Body=sourcedir())
    yield cloud
    cloud.stop()


def launch(
    cloud, name: str, *, count: int = 1, channel: str = "s3://ml-bucket/data", max_runtime: int = 600, **hyper: str
) -> None:
    request = training_request(
        name, bucket="ml-bucket", channel=channel, metrics=METRICS, count=count, max_runtime=max_runtime, **hyper
    )
    cloud.client("sagemaker").create_training_job(**request)


def test_job_runs_to_completed_with_metrics_logs_and_model(training_cloud):
    launch(training_cloud, "ok-job", epochs="3", learning_rate="0.1")
    job = wait_training(training_cloud, "ok-job")
    assert_shape(training_cloud.client("sagemaker"), "DescribeTrainingJob", job)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert final == {
        "train:loss": pytest.approx(1 / 3, abs=1e-3),
        "validation:accuracy": pytest.approx(0.3),
        "Test Loss": 0.5,
    }
    assert job["BillableTimeInSeconds"] >= 1
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == "s3://ml-bucket/output/ok-job/output/model.tar.gz"
    archive = training_cloud.client("s3").get_object(Bucket="ml-bucket", Key="output/ok-job/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(archive["Body"].read())) as tar:
        model = json.load(tar.extractfile("model.json"))
    assert model["hps"] == {"epochs": "3", "learning_rate": "0.1"}

    logs = training_cloud.client("logs")
    (stream,) = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="ok-job/")[
        "logStreams"
    ]
    assert stream["logStreamName"].startswith("ok-job/algo-1-")
    lines = [
        e["message"]
        for e in logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
    ]
    assert lines[1].startswith("Invoking script with the following command")
    assert "Epoch 3/3: train_loss=0.3333 valid_acc=0.3000" in lines
    assert "instance type ml.m5.large" in lines  # as the training toolkit sets it
    assert "credentials ASIA" in lines  # the job signs as its execution role, with temporary credentials

    metric = {
        "Namespace": "/aws/sagemaker/TrainingJobs",
        "MetricName": "train:loss",
        "Dimensions": [{"Name": "Host", "Value": "ok-job/algo-1"}],
    }
    results = training_cloud.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}
            for stat in ("Minimum", "SampleCount")
        ],
        StartTime=job["CreationTime"] - dt.timedelta(minutes=1),
        EndTime=job["TrainingEndTime"] + dt.timedelta(minutes=1),
    )["MetricDataResults"]
    by_id = {r["Id"]: sum(r["Values"]) if r["Id"] == "samplecount" else min(r["Values"]) for r in results}
    assert by_id == {"minimum": pytest.approx(1 / 3, abs=1e-3), "samplecount": 3}  # one point per epoch

    # The dashboard's curves: the three epochs end within a second, and still come out as three points.
    settings = CloudSettings(training_cloud.endpoint_url, "us-east-1", None)
    series = TrainingService(training_cloud.session(), settings=settings).metric_series("ok-job")
    assert [round(p.value, 4) for p in series["train:loss"]] == [1.0, 0.5, 0.3333]
    assert [p.value for p in series["validation:accuracy"]] == [0.1, 0.2, 0.3]


def test_failed_job_has_reason_and_last_lines(training_cloud):
    launch(training_cloud, "bad-job", fail="yes")
    job = wait_training(training_cloud, "bad-job")
    assert job["TrainingJobStatus"] == "Failed"
    assert "ExitCode 3" in job["FailureReason"]
    assert "the data is wrong" in job["FailureReason"]


def wait_for_line(cloud, name: str, text: str, timeout: float = 60) -> None:
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = logs.filter_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/", filterPattern=f'"{text}"'
        )["events"]
        if events:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} never logged {text!r}")


def test_stop_a_running_job_that_saves_nothing_leaves_no_model(training_cloud):
    launch(training_cloud, "long-job", epochs="100", sleep="0.5")
    wait_for_line(training_cloud, "long-job", "Epoch 1/100")
    sagemaker = training_cloud.client("sagemaker")
    sagemaker.stop_training_job(TrainingJobName="long-job")
    job = wait_training(training_cloud, "long-job")
    assert job["TrainingJobStatus"] == "Stopped"
    assert "Uploading" not in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    listing = training_cloud.client("s3").list_objects_v2(Bucket="ml-bucket", Prefix="output/long-job/")
    assert listing.get("KeyCount", 0) == 0  # no empty model.tar.gz
    with pytest.raises(ClientError) as error:
        sagemaker.stop_training_job(TrainingJobName="long-job")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_a_stopped_job_uploads_the_model_its_program_saved_on_sigterm(training_cloud):
    launch(training_cloud, "saving-job", epochs="100", sleep="0.5", save_on_sigterm="yes")
    wait_for_line(training_cloud, "saving-job", "Epoch 1/100")
    training_cloud.client("sagemaker").stop_training_job(TrainingJobName="saving-job")
    job = wait_training(training_cloud, "saving-job")
    assert job["TrainingJobStatus"] == "Stopped"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-3:] == ["Stopping", "Uploading", "Stopped"]
    archive = training_cloud.client("s3").get_object(Bucket="ml-bucket", Key="output/saving-job/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(archive["Body"].read())) as tar:
        assert json.load(tar.extractfile("model.json")) == {"stopped": True}


def test_max_runtime_stops_the_job(training_cloud):
    launch(training_cloud, "slow-job", epochs="100", sleep="0.5", max_runtime=2)
    job = wait_training(training_cloud, "slow-job")
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_two_instances_each_run_the_program(training_cloud):
    launch(training_cloud, "pair-job", count=2, epochs="1")
    job = wait_training(training_cloud, "pair-job")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    # Wall-clock time, as AWS reports it for a cluster: the bill is this times InstanceCount.
    assert job["BillableTimeInSeconds"] == job["TrainingTimeInSeconds"]


def test_two_jobs_compare_side_by_side(training_cloud):
    """The dashboard's compare view reads each job and its curves; a missing job is named, not fatal."""
    service = TrainingService(
        training_cloud.session(), settings=CloudSettings(training_cloud.endpoint_url, "us-east-1", None)
    )
    comparison = service.compare(["ok-job", "pair-job", "no-such-job"])
    assert [job.name for job in comparison.jobs] == ["ok-job", "pair-job"]
    assert [job.hyperparameters["epochs"] for job in comparison.jobs] == ["3", "1"]
    assert [len(comparison.series[name]["train:loss"]) for name in ("ok-job", "pair-job")] == [3, 1]
    assert comparison.errors and "no-such-job" in comparison.errors[0]


def test_bad_requests(training_cloud):
    sagemaker = training_cloud.client("sagemaker")
    with pytest.raises(ClientError) as error:
        launch(training_cloud, "bad_name!")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    launch(training_cloud, "empty-channel", channel="s3://ml-bucket/nothing-here")
    job = wait_training(training_cloud, "empty-channel")
    assert job["TrainingJobStatus"] == "Failed" and "No S3 objects found" in job["FailureReason"]
    with pytest.raises(ClientError) as error:
        launch(training_cloud, "ok-job")
    assert "already exists" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        launch(training_cloud, "too-many", count=5)
    assert error.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    with pytest.raises(ClientError) as error:
        sagemaker.describe_training_job(TrainingJobName="no-such-job")
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_list_filters_sorts_and_pages(training_cloud):
    sagemaker = training_cloud.client("sagemaker")
    listing = sagemaker.list_training_jobs(NameContains="job", SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert_shape(sagemaker, "ListTrainingJobs", listing)
    names = [
        j["TrainingJobName"]
        for page in sagemaker.get_paginator("list_training_jobs").paginate(
            NameContains="job", SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 2}
        )
        for j in page["TrainingJobSummaries"]
    ]
    assert names == sorted(names) and "ok-job" in names and "empty-channel" not in names
    failed = sagemaker.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"]
    assert {"bad-job", "empty-channel"} <= {j["TrainingJobName"] for j in failed}


def test_restart_marks_running_job_failed(tmp_path):
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        sagemaker_role(cloud)
        s3 = cloud.client("s3")
        s3.create_bucket(Bucket="ml-bucket")
        s3.put_object(Bucket="ml-bucket", Key="data/train/001.A/a.jpg", Body=b"x")
        s3.put_object(Bucket="ml-bucket", Key="code/sourcedir.tar.gz", Body=sourcedir())
        launch(cloud, "cut-short", epochs="100", sleep="0.5")
        time.sleep(1.0)
    finally:
        cloud.stop()
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        job = cloud.client("sagemaker").describe_training_job(TrainingJobName="cut-short")
        assert job["TrainingJobStatus"] == "Failed"
        assert "interrupted" in job["FailureReason"]
    finally:
        cloud.stop()
