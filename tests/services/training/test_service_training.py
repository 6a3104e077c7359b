"""Training requests exactly as AWS expects them (botocore Stubber), validation before any call, and the
reading side: list, describe with cost, stop, clone, logs and metric curves."""

import json
import tarfile
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.pricing import estimate_cost
from services.training.curves import LOG_GROUP
from services.training.job_spec import (
    DEFAULT_METRIC_DEFINITIONS,
    TrainingSpec,
    build_request,
    generate_job_name,
    image_uri,
    validate_spec,
)
from services.training.sagemaker_training import TrainingService

SETTINGS = CloudSettings(endpoint_url=None, region="us-east-1", profile=None)
ROLE = "arn:aws:iam::123456789012:role/dog-breed-sagemaker-execution"
BUCKET = "sagemaker-us-east-1-123456789012"


def spec(**changes) -> TrainingSpec:
    values = dict(
        job_name="dog-breed-1",
        data_uri=f"s3://{BUCKET}/datasets/dogs/",
        output_path=f"s3://{BUCKET}/training-output/",
        learning_rate=0.001,
        batch_size=32,
        epochs=3,
        fine_tune="head",
        instance_type="ml.m5.xlarge",
    )
    values.update(changes)
    return TrainingSpec(**values)


def test_create_training_job_request_is_the_sdk_shape() -> None:
    request = build_request(spec(), region="us-east-1", role_arn=ROLE)
    assert request == {
        "TrainingJobName": "dog-breed-1",
        "HyperParameters": {
            "learning_rate": "0.001",
            "batch_size": "32",
            "epochs": "3",
            "fine_tune": '"head"',
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/dog-breed-1/source/sourcedir.tar.gz"',
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": '"dog-breed-1"',
            "sagemaker_region": '"us-east-1"',
        },
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312",
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
                {"Name": "train:accuracy", "Regex": r"train_acc=([0-9\.]+)"},
                {"Name": "validation:loss", "Regex": r"valid_loss=([0-9\.]+)"},
                {"Name": "validation:accuracy", "Regex": r"valid_acc=([0-9\.]+)"},
                {"Name": "test:loss", "Regex": r"Testing Loss: ([0-9\.]+)"},
                {"Name": "test:accuracy", "Regex": r"Testing Accuracy: ([0-9\.]+)"},
            ],
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/datasets/dogs/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/training-output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "TensorBoardOutputConfig": {
            "S3OutputPath": f"s3://{BUCKET}/training-output/dog-breed-1/tensorboard",
            "LocalPath": "/opt/ml/output/tensorboard",
        },
    }
    # botocore's own model accepts it (the Stubber validates parameters against the service model).
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:x"}, request)
        client.create_training_job(**request)


def test_metric_regexes_read_the_training_script_lines() -> None:
    import re

    lines = (
        "Epoch 1/3: train_loss=1.2345 train_acc=0.4567 valid_loss=1.3456 valid_acc=0.4321\n"
        "Testing Loss: 1.2345\nTesting Accuracy: 0.4567\n"
    )
    values = {name: float(re.search(regex, lines).group(1)) for name, regex in DEFAULT_METRIC_DEFINITIONS}
    assert values == {
        "train:loss": 1.2345,
        "train:accuracy": 0.4567,
        "validation:loss": 1.3456,
        "validation:accuracy": 0.4321,
        "test:loss": 1.2345,
        "test:accuracy": 0.4567,
    }


def test_image_uri_by_region_and_gpu() -> None:
    assert image_uri("training", "eu-west-1", "ml.g4dn.xlarge") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.6.0-gpu-py312-cu124-ubuntu22.04"
    )
    assert image_uri("inference", "us-west-2", "ml.m5.large") == (
        "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"job_name": "bad_name"}, "not a valid training job name"),
        ({"job_name": "x" * 64}, "not a valid training job name"),
        ({"job_name": "-starts-with-hyphen"}, "not a valid training job name"),
        ({"learning_rate": 0}, "Learning rate must be greater than 0"),
        ({"learning_rate": -0.1}, "Learning rate must be greater than 0"),
        ({"batch_size": 0}, "Batch size must be at least 1"),
        ({"epochs": 0}, "Epochs must be at least 1"),
        ({"instance_type": "ml.m5.huge"}, "Unknown instance type 'ml.m5.huge'"),
        ({"fine_tune": "everything"}, "Fine-tune must be one of head, last-blocks"),
        ({"data_uri": "/local/folder"}, "Data channel '/local/folder' is not an s3://bucket/prefix URI"),
        ({"role_arn": "admin"}, "is not an IAM role ARN"),
        ({"metric_definitions": (("loss", "loss="),)}, "needs one capture group"),
        ({"metric_definitions": (("loss", "([0-9"),)}, "does not compile"),
    ],
)
def test_bad_input_is_refused_with_a_message(changes, message) -> None:
    with pytest.raises(ServiceError, match=message.replace("(", r"\(")):
        validate_spec(spec(**changes))


def test_batch_size_larger_than_the_training_split() -> None:
    with pytest.raises(ServiceError, match="Batch size 512 is larger than the training split \\(391 images\\)"):
        validate_spec(spec(batch_size=512), train_size=391)
    validate_spec(spec(batch_size=391), train_size=391)


def test_several_problems_in_one_message() -> None:
    with pytest.raises(ServiceError) as raised:
        validate_spec(spec(learning_rate=0, epochs=0))
    assert "Learning rate" in raised.value.message and "Epochs" in raised.value.message


def test_generated_names_follow_the_rules() -> None:
    assert validate_spec(spec(job_name=generate_job_name())) is None
    assert len(generate_job_name("x" * 100)) == 63


@pytest.fixture
def aws(boto3_session):
    with mock_aws():
        yield boto3_session


def put_dataset(s3, prefix="datasets/dogs/", train=3) -> None:
    s3.create_bucket(Bucket=BUCKET)
    for i in range(train):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}train/001.Affenpinscher/{i}.jpg", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}valid/001.Affenpinscher/0.jpg", Body=b"x")


def test_launch_uploads_the_code_then_creates_the_job(aws) -> None:
    s3 = aws.client("s3", region_name="us-east-1")
    put_dataset(s3)
    sagemaker = aws.client("sagemaker", region_name="us-east-1")
    service = TrainingService(aws, sagemaker_client=sagemaker, s3_client=s3, settings=SETTINGS)
    expected = build_request(spec(batch_size=2), region="us-east-1", role_arn=ROLE)
    with Stubber(sagemaker) as stub:
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:job"}, expected)
        assert service.launch(spec(batch_size=2)) == "arn:job"
        stub.assert_no_pending_responses()
    body = s3.get_object(Bucket=BUCKET, Key="dog-breed-1/source/sourcedir.tar.gz")["Body"].read()
    with tarfile.open(fileobj=__import__("io").BytesIO(body)) as archive:
        assert "train.py" in archive.getnames()


def test_launch_refuses_a_batch_larger_than_the_data_before_creating_anything(aws) -> None:
    s3 = aws.client("s3", region_name="us-east-1")
    put_dataset(s3, train=3)
    sagemaker = aws.client("sagemaker", region_name="us-east-1")
    service = TrainingService(aws, sagemaker_client=sagemaker, s3_client=s3, settings=SETTINGS)
    with Stubber(sagemaker), pytest.raises(ServiceError, match="larger than the training split \\(3 images\\)"):
        service.launch(spec(batch_size=4))
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="dog-breed-1/").get("KeyCount") == 0


def test_launch_refuses_an_empty_or_missing_channel(aws) -> None:
    s3 = aws.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    service = TrainingService(aws, s3_client=s3, settings=SETTINGS)
    with pytest.raises(ServiceError, match="No images under s3://"):
        service.launch(spec())
    s3.put_object(Bucket=BUCKET, Key="datasets/dogs/valid/001.A/0.jpg", Body=b"x")
    with pytest.raises(ServiceError, match="has no train/ split"):
        service.launch(spec())


def test_a_refused_launch_removes_the_uploaded_code(aws) -> None:
    s3 = aws.client("s3", region_name="us-east-1")
    put_dataset(s3)
    sagemaker = aws.client("sagemaker", region_name="us-east-1")
    service = TrainingService(aws, sagemaker_client=sagemaker, s3_client=s3, settings=SETTINGS)
    with Stubber(sagemaker) as stub:
        stub.add_client_error(
            "create_training_job", "ResourceLimitExceeded", "The account-level service limit ... is 2 instances"
        )
        with pytest.raises(ServiceError, match="ResourceLimitExceeded"):
            service.launch(spec(batch_size=2))
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="dog-breed-1/").get("KeyCount") == 0


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def described(status="Completed", **extra):
    raw = {
        "TrainingJobName": "dog-breed-1",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/dog-breed-1",
        "TrainingJobStatus": status,
        "SecondaryStatus": "Completed" if status == "Completed" else "Training",
        "HyperParameters": build_request(spec(), region="us-east-1", role_arn=ROLE)["HyperParameters"],
        "AlgorithmSpecification": build_request(spec(), region="us-east-1", role_arn=ROLE)["AlgorithmSpecification"],
        "RoleArn": ROLE,
        "InputDataConfig": build_request(spec(), region="us-east-1", role_arn=ROLE)["InputDataConfig"],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/training-output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": NOW,
        "TrainingStartTime": NOW + timedelta(seconds=2),
        "SecondaryStatusTransitions": [
            {"Status": "Starting", "StartTime": NOW, "EndTime": NOW, "StatusMessage": "Preparing"},
            {"Status": "Training", "StartTime": NOW, "StatusMessage": "Training image download completed."},
        ],
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://{BUCKET}/training-output/dog-breed-1/output/model.tar.gz"},
    }
    raw.update(extra)
    return raw


@pytest.fixture
def stubbed(boto3_session):
    clients = {name: boto3_session.client(name) for name in ("sagemaker", "logs", "cloudwatch")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
    for stub in stubs.values():
        stub.activate()
    service = TrainingService(
        boto3_session,
        sagemaker_client=clients["sagemaker"],
        logs_client=clients["logs"],
        cloudwatch_client=clients["cloudwatch"],
        settings=SETTINGS,
    )
    yield service, stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def test_describe_decodes_and_prices(stubbed) -> None:
    service, stubs = stubbed
    raw = described(
        BillableTimeInSeconds=600,
        TrainingEndTime=NOW + timedelta(minutes=10),
        FinalMetricDataList=[{"MetricName": "Test Loss", "Value": 1.5, "Timestamp": NOW}],
    )
    stubs["sagemaker"].add_response("describe_training_job", raw, {"TrainingJobName": "dog-breed-1"})
    job = service.describe("dog-breed-1")
    assert job.hyperparameters == {"learning_rate": 0.001, "batch_size": 32, "epochs": 3, "fine_tune": "head"}
    assert job.billable_seconds == 600
    assert job.cost_usd == pytest.approx(estimate_cost("ml.m5.xlarge", 2, 600))  # 2 instances × 10 min × $0.23/h
    assert job.final_metrics == {"Test Loss": 1.5}
    assert [t.status for t in job.transitions] == ["Starting", "Training"]
    assert job.model_artifact.endswith("/dog-breed-1/output/model.tar.gz")
    assert job.ended


def test_list_jobs_is_one_page_with_filters(stubbed) -> None:
    service, stubs = stubbed
    stubs["sagemaker"].add_response(
        "list_training_jobs",
        {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": "dog-breed-1",
                    "TrainingJobArn": "arn:x",
                    "CreationTime": NOW,
                    "TrainingJobStatus": "InProgress",
                    "SecondaryStatus": "Training",
                }
            ],
            "NextToken": "t2",
        },
        {
            "StatusEquals": "InProgress",
            "NameContains": "dog",
            "SortBy": "Name",
            "SortOrder": "Ascending",
            "NextToken": "t1",
            "MaxResults": 50,
        },
    )
    page = service.list_jobs(
        status="InProgress",
        name_contains="dog",
        sort_by="Name",
        sort_order="Ascending",
        next_token="t1",
        max_results=50,
    )
    assert [j.name for j in page.jobs] == ["dog-breed-1"] and page.next_token == "t2" and page.any_running
    with pytest.raises(ServiceError, match="Unknown status"):
        service.list_jobs(status="Done")


def test_stop_refuses_an_ended_job_and_stops_a_running_one(stubbed) -> None:
    service, stubs = stubbed
    stubs["sagemaker"].add_response("describe_training_job", described("Completed"), {"TrainingJobName": "dog-breed-1"})
    with pytest.raises(ServiceError, match="already ended \\(Completed\\); there is nothing to stop"):
        service.stop("dog-breed-1")
    stubs["sagemaker"].add_response(
        "describe_training_job", described("InProgress"), {"TrainingJobName": "dog-breed-1"}
    )
    stubs["sagemaker"].add_response("stop_training_job", {}, {"TrainingJobName": "dog-breed-1"})
    service.stop("dog-breed-1")


def test_clone_prefills_everything_under_a_new_name(stubbed) -> None:
    service, stubs = stubbed
    stubs["sagemaker"].add_response("describe_training_job", described(), {"TrainingJobName": "dog-breed-1"})
    clone = service.clone_spec("dog-breed-1", new_name="dog-breed-2")
    assert clone == spec(job_name="dog-breed-2", instance_count=2, role_arn=ROLE)


def test_log_tail_reads_the_newest_lines_of_algo_1(stubbed) -> None:
    service, stubs = stubbed
    stubs["logs"].add_response(
        "describe_log_streams",
        {
            "logStreams": [
                {"logStreamName": "dog-breed-1/algo-2-1700000000"},
                {"logStreamName": "dog-breed-1/algo-1-1700000000"},
            ]
        },
        {"logGroupName": LOG_GROUP, "logStreamNamePrefix": "dog-breed-1/"},
    )
    stubs["logs"].add_response(
        "get_log_events",
        {
            "events": [{"timestamp": 1700000000000, "message": "Epoch 1/3: train_loss=1.0", "ingestionTime": 1}],
            "nextForwardToken": "f/1",
            "nextBackwardToken": "b/1",
        },
        {
            "logGroupName": LOG_GROUP,
            "logStreamName": "dog-breed-1/algo-1-1700000000",
            "limit": 100,
            "startFromHead": False,
            "nextToken": "b/0",
        },
    )
    page = service.log_tail("dog-breed-1", next_token="b/0", limit=100)
    assert page.stream == "dog-breed-1/algo-1-1700000000"
    assert page.streams == ["dog-breed-1/algo-1-1700000000", "dog-breed-1/algo-2-1700000000"]
    assert [line.message for line in page.lines] == ["Epoch 1/3: train_loss=1.0"]
    assert (page.older_token, page.newer_token) == ("b/1", "f/1")


def test_metric_series_reads_the_metric_lines_of_host_algo_1(stubbed) -> None:
    """One point per log line, so two epochs logged within the same second stay two points."""
    service, stubs = stubbed
    stubs["sagemaker"].add_response(
        "describe_training_job", described("InProgress"), {"TrainingJobName": "dog-breed-1"}
    )
    job = service.describe("dog-breed-1")
    at = int(NOW.timestamp() * 1000)
    request = {
        "logGroupName": LOG_GROUP,
        "logStreamNamePrefix": "dog-breed-1/algo-1-",
        "filterPattern": '?"train_loss=" ?"train_acc=" ?"valid_loss=" ?"valid_acc=" ?"Testing Loss: " '
        '?"Testing Accuracy: "',
    }
    lines = [
        "Epoch 1/2: train_loss=1.2000 train_acc=0.5000 valid_loss=1.1000 valid_acc=0.5500",
        "Epoch 2/2: train_loss=0.9000 train_acc=0.6000 valid_loss=1.0000 valid_acc=0.6000",
    ]
    first_page = {"events": [{"timestamp": at + i, "message": line} for i, line in enumerate(lines)], "nextToken": "t"}
    stubs["logs"].add_response("filter_log_events", first_page, request)
    last_page = {"events": [{"timestamp": at + 900, "message": "Testing Loss: 0.9500"}]}
    stubs["logs"].add_response("filter_log_events", last_page, {**request, "nextToken": "t"})
    series = service.metric_series("dog-breed-1", job)
    values = {metric: [p.value for p in points] for metric, points in series.items()}
    assert values == {
        "train:loss": [1.2, 0.9],
        "train:accuracy": [0.5, 0.6],
        "validation:loss": [1.1, 1.0],
        "validation:accuracy": [0.55, 0.6],
        "test:loss": [0.95],
    }


def test_metric_series_reads_cloudwatch_when_a_regex_gives_nothing_to_search_logs_by(stubbed) -> None:
    service, stubs = stubbed
    algorithm = {**build_request(spec(), region="us-east-1", role_arn=ROLE)["AlgorithmSpecification"]}
    algorithm["MetricDefinitions"] = [{"Name": "train:loss", "Regex": r"(?i)LOSS=([0-9\.]+)"}]
    job_raw = described("InProgress", AlgorithmSpecification=algorithm)
    stubs["sagemaker"].add_response("describe_training_job", job_raw, {"TrainingJobName": "dog-breed-1"})
    job = service.describe("dog-breed-1")
    query = {
        "Id": "m0",
        "Label": "train:loss",
        "MetricStat": {
            "Metric": {
                "Namespace": "/aws/sagemaker/TrainingJobs",
                "MetricName": "train:loss",
                "Dimensions": [{"Name": "Host", "Value": "dog-breed-1/algo-1"}],
            },
            "Period": ANY,
            "Stat": "Average",
        },
        "ReturnData": True,
    }
    stubs["cloudwatch"].add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                {
                    "Id": "m0",
                    "Label": "train:loss",
                    "Timestamps": [NOW + timedelta(seconds=20), NOW + timedelta(seconds=10)],
                    "Values": [0.9, 1.2],
                    "StatusCode": "Complete",
                },
            ]
        },
        {"MetricDataQueries": [query], "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"},
    )
    series = service.metric_series("dog-breed-1", job)
    assert [p.value for p in series["train:loss"]] == [1.2, 0.9]  # sorted by time


def test_metric_series_falls_back_to_final_metrics(stubbed) -> None:
    service, stubs = stubbed
    raw = described(
        FinalMetricDataList=[{"MetricName": "Test Loss", "Value": 1.5, "Timestamp": NOW}], TrainingEndTime=NOW
    )
    stubs["sagemaker"].add_response("describe_training_job", raw, {"TrainingJobName": "dog-breed-1"})
    stubs["logs"].add_response("filter_log_events", {"events": []}, None)
    series = service.metric_series("dog-breed-1")
    assert {k: [p.value for p in v] for k, v in series.items()} == {"Test Loss": [1.5]}


def test_hyperparameters_json_round_trip() -> None:
    encoded = build_request(spec(fine_tune="last-blocks"), region="us-east-1", role_arn=ROLE)["HyperParameters"]
    assert json.loads(encoded["fine_tune"]) == "last-blocks"
    assert json.loads(encoded["learning_rate"]) == 0.001
