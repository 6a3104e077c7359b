"""Batch transform jobs as AWS defines them, with real boto3 against a real localcloud and a probe model that
answers which instance it is and what it was sent: sharding, splitting and batching, payload limits, each way a
job fails (and the words it fails with), stopping, listing, a restart, and requests refused with a 4xx."""

from __future__ import annotations

import gzip
import json
import time

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcloud.core.process import LocalCloudProcess
from tests.clouds import SAGEMAKER_TRUST, sagemaker_role
from tests.localcloud.conftest import assert_shape
from tests.localcloud.sagemaker.transform.helpers import (
    BUCKET,
    create_model,
    log_streams,
    outputs,
    probe_archive,
    request,
    wait_job,
)


@pytest.fixture(scope="module")
def probe(cloud):
    """The probe model, and ten small objects under numbers/."""
    create_model(cloud, "probe", probe_archive())
    s3 = cloud.client("s3")
    for i in range(10):
        s3.put_object(Bucket=BUCKET, Key=f"numbers/{i:02d}.txt", Body=str(i).encode() * (i + 1))
    return cloud


def restricted_role(cloud: LocalCloudProcess, name: str, statements: list[dict]) -> str:
    """An execution role SageMaker may assume that may read model artifacts and write logs, plus `statements`."""
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]["Arn"]
    base = [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/models/*"},
        {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
    ]
    document = {"Version": "2012-10-17", "Statement": base + statements}
    iam.put_role_policy(RoleName=name, PolicyName="transform", PolicyDocument=json.dumps(document))
    return arn


def run(cloud: LocalCloudProcess, name: str, model: str = "probe", source: str = "numbers/", **extra) -> dict:
    cloud.client("sagemaker").create_transform_job(
        **request(name, model, f"s3://{BUCKET}/{source}", f"s3://{BUCKET}/out/{name}", **extra)
    )
    return wait_job(cloud, name)


def test_instance_count_spreads_the_objects_across_real_instances(probe):
    job = run(probe, "two-instances", InstanceCount=2, MaxConcurrentTransforms=3)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    written = outputs(probe, "out/two-instances/")
    answers = {key.rsplit("/", 1)[1]: json.loads(body) for key, body in written.items()}
    assert sorted(answers) == [f"{i:02d}.txt.out" for i in range(10)]
    assert all(answers[f"{i:02d}.txt.out"]["length"] == i + 1 for i in range(10))
    pids = [answer["pid"] for answer in answers.values()]
    assert len(set(pids)) == 2 and sorted(pids.count(pid) for pid in set(pids)) == [5, 5]


def test_line_splitting_sends_one_record_or_mini_batches_up_to_the_payload_limit(probe):
    record = json.dumps({"x": "y" * 90})
    probe.client("s3").put_object(Bucket=BUCKET, Key="lines/ten.jsonl", Body=("\n".join([record] * 10) + "\n").encode())
    common = {"source": "lines/", "SplitType": "Line", "AssembleWith": "Line", "ContentType": "application/jsonlines"}
    single = run(probe, "single-records", BatchStrategy="SingleRecord", **common)
    multi = run(probe, "multi-records", BatchStrategy="MultiRecord", MaxPayloadInMB=1, **common)
    assert single["TransformJobStatus"] == multi["TransformJobStatus"] == "Completed"
    one_each = outputs(probe, "out/single-records/")["out/single-records/ten.jsonl.out"].decode().splitlines()
    assert [json.loads(line)["lines"] for line in one_each] == [1] * 10
    batched = outputs(probe, "out/multi-records/")["out/multi-records/ten.jsonl.out"].decode().splitlines()
    assert [json.loads(line)["lines"] for line in batched] == [10]  # 10 records of 100 bytes fit in 1 MB
    assert "BatchStrategy=MULTI_RECORD" in next(
        lines[0] for stream, lines in log_streams(probe, "multi-records").items() if stream.endswith("/data-log")
    )


def test_gzip_objects_are_unzipped_and_a_broken_manifest_fails_the_job(probe):
    s3 = probe.client("s3")
    s3.put_object(Bucket=BUCKET, Key="zipped/a.txt.gz", Body=gzip.compress(b"seven b"))
    zipped = run(probe, "zipped", source="zipped/", CompressionType="Gzip")
    assert zipped["TransformJobStatus"] == "Completed", zipped.get("FailureReason")
    assert json.loads(outputs(probe, "out/zipped/")["out/zipped/a.txt.gz.out"])["length"] == 7
    s3.put_object(Bucket=BUCKET, Key="manifests/broken.manifest", Body=b"not json")
    broken = run(probe, "broken-manifest", source="manifests/broken.manifest", S3DataType="ManifestFile")
    assert broken["TransformJobStatus"] == "Failed"
    assert broken["FailureReason"].startswith(
        f"ClientError: The manifest s3://{BUCKET}/manifests/broken.manifest is not a JSON array"
    )


def test_an_object_over_max_payload_fails_the_job_naming_it(probe):
    probe.client("s3").put_object(Bucket=BUCKET, Key="big/one.bin", Body=b"x" * (1024 * 1024 + 1))
    job = run(probe, "too-big", source="big/", MaxPayloadInMB=1)
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: transform-data/big/one.bin:")
    assert "MaxPayloadInMB" in job["FailureReason"]


def test_a_record_the_model_refuses_fails_the_job_with_the_model_s_words(probe):
    probe.client("s3").put_object(Bucket=BUCKET, Key="refused/bad.txt", Body=b"bad")
    job = run(probe, "refused", source="refused/")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: transform-data/refused/bad.txt: the model answered 400")
    assert "bad input, says the handler" in job["FailureReason"]
    data_log = next(lines for stream, lines in log_streams(probe, "refused").items() if stream.endswith("/data-log"))
    assert any(line.endswith("[sagemaker logs]: transform-data/refused/bad.txt: ClientError: 400") for line in data_log)


def test_model_client_config_times_out_and_retries_as_configured(probe):
    s3 = probe.client("s3")
    s3.put_object(Bucket=BUCKET, Key="stalled/stall.txt", Body=b"stall")
    config = {"InvocationsTimeoutInSeconds": 1, "InvocationsMaxRetries": 2}
    job = run(probe, "stalled", source="stalled/", ModelClientConfig=config)
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        "AlgorithmError: transform-data/stalled/stall.txt: the model did not answer within 1 seconds."
    )
    assert job["ModelClientConfig"] == config
    data_log = next(lines for stream, lines in log_streams(probe, "stalled").items() if stream.endswith("/data-log"))
    waited = "Model server did not respond to /invocations request within 1 seconds"
    assert sum(line.endswith(waited) for line in data_log) == 3  # the first try and two retries
    assert any(line.endswith("stall.txt: retrying (2 of 2)") for line in data_log)

    s3.put_object(Bucket=BUCKET, Key="flaky/flaky.txt", Body=b"flaky")
    retried = run(probe, "flaky-retried", source="flaky/", ModelClientConfig={"InvocationsMaxRetries": 1})
    assert retried["TransformJobStatus"] == "Completed"  # the 500 was tried again, and answered
    once = run(probe, "flaky-once", source="flaky/")  # no ModelClientConfig: no retry
    assert once["TransformJobStatus"] == "Failed" and "the model answered 500" in once["FailureReason"]


def test_a_role_that_cannot_read_or_write_fails_the_job_as_aws_reports_it(probe):
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}
    no_read = restricted_role(probe, "transform-no-read", [listing])
    reading = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/numbers/*"}
    no_write = restricted_role(probe, "transform-no-write", [listing, reading])
    create_model(probe, "probe-no-read", probe_archive(), role=no_read)
    create_model(probe, "probe-no-write", probe_archive(), role=no_write)
    unread = run(probe, "cannot-read", model="probe-no-read")
    assert unread["TransformJobStatus"] == "Failed"
    assert unread["FailureReason"].startswith(f"ClientError: Failed to download data from s3://{BUCKET}/numbers/00.txt")
    assert "AccessDenied" in unread["FailureReason"]
    unwritten = run(probe, "cannot-write", model="probe-no-write")
    assert unwritten["TransformJobStatus"] == "Failed"
    assert unwritten["FailureReason"].startswith("ClientError: Failed to upload results to s3://")
    assert "AccessDenied" in unwritten["FailureReason"]
    # What the role was refused is in the event history, made by the role as SageMaker.
    events = probe.client("cloudtrail").lookup_events(MaxResults=50)["Events"]
    denied = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] in ("GetObject", "PutObject")]
    assert any(d.get("errorCode") == "AccessDenied" and "transform-no-read" in d["userIdentity"]["arn"] for d in denied)


def test_a_model_whose_artifact_is_gone_fails_the_job(probe):
    create_model(probe, "probe-vanished", probe_archive())
    probe.client("s3").delete_object(Bucket=BUCKET, Key="models/probe-vanished/model.tar.gz")
    job = run(probe, "no-artifact", model="probe-vanished")
    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"].startswith('ClientError: Failed to download model data for container "container_1"')


def test_create_refuses_what_aws_refuses(probe):
    sagemaker = probe.client("sagemaker")
    with pytest.raises(ClientError) as missing:
        sagemaker.create_transform_job(**request("no-model", "nothing", f"s3://{BUCKET}/numbers/", f"s3://{BUCKET}/o"))
    assert missing.value.response["Error"]["Code"] == "ValidationException"
    assert missing.value.response["Error"]["Message"] == (
        'Could not find model "arn:aws:sagemaker:us-east-1:000000000000:model/nothing".'
    )
    with pytest.raises(ClientError) as empty:
        sagemaker.create_transform_job(**request("empty", "probe", f"s3://{BUCKET}/nothing-here/", f"s3://{BUCKET}/o"))
    assert empty.value.response["Error"]["Code"] == "ValidationException"
    assert empty.value.response["Error"]["Message"].startswith(
        f'No S3 objects found under S3 URL "s3://{BUCKET}/nothing-here/" given in input data source.'
    )
    no_list = restricted_role(probe, "transform-no-list", [])
    create_model(probe, "probe-no-list", probe_archive(), role=no_list)
    with pytest.raises(ClientError) as unlisted:
        sagemaker.create_transform_job(**request("unlisted", "probe-no-list", f"s3://{BUCKET}/numbers/", "s3://x/o"))
    assert f'the role "{no_list}" has "s3:ListBucket" permissions' in unlisted.value.response["Error"]["Message"]
    for payload, concurrency in ((101, None), (30, 4)):
        extra = {"MaxPayloadInMB": payload, **({"MaxConcurrentTransforms": concurrency} if concurrency else {})}
        with pytest.raises(ClientError) as limit:
            sagemaker.create_transform_job(**request("limits", "probe", f"s3://{BUCKET}/numbers/", "s3://x/o", **extra))
        assert limit.value.response["Error"]["Code"] == "ValidationException"
        assert "100 MB" in limit.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as capture:
        sagemaker.create_transform_job(
            **request(
                "captured",
                "probe",
                f"s3://{BUCKET}/numbers/",
                "s3://x/o",
                DataCaptureConfig={"DestinationS3Uri": "s3://x/c"},
            )
        )
    assert capture.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as too_many:
        sagemaker.create_transform_job(
            **request("too-many", "probe", f"s3://{BUCKET}/numbers/", "s3://x/o", InstanceCount=5)
        )
    assert too_many.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert sagemaker.list_transform_jobs(NameContains="too-many")["TransformJobSummaries"] == []
    for config in ({"InvocationsMaxRetries": 4}, {"InvocationsTimeoutInSeconds": 3601}):  # the ranges 0-3, 1-3600
        with pytest.raises(ClientError) as out_of_range:
            sagemaker.create_transform_job(
                **request("client", "probe", f"s3://{BUCKET}/numbers/", "s3://x/o", ModelClientConfig=config)
            )
        assert out_of_range.value.response["Error"]["Code"] == "ValidationException"


def test_a_name_in_use_is_refused(probe):
    sagemaker = probe.client("sagemaker")
    assert run(probe, "only-once")["TransformJobStatus"] == "Completed"
    with pytest.raises(ClientError) as again:
        sagemaker.create_transform_job(**request("only-once", "probe", f"s3://{BUCKET}/numbers/", "s3://x/o"))
    assert again.value.response["Error"]["Code"] == "ResourceInUse"
    assert "transform-job/only-once" in again.value.response["Error"]["Message"]


def test_stop_ends_the_job_stopping_then_stopped(probe):
    s3, sagemaker = probe.client("s3"), probe.client("sagemaker")
    for i in range(6):
        s3.put_object(Bucket=BUCKET, Key=f"slow/{i}.txt", Body=b"slow")
    sagemaker.create_transform_job(**request("stopped", "probe", f"s3://{BUCKET}/slow/", f"s3://{BUCKET}/out/stopped"))
    wait_job(probe, "stopped", statuses=("InProgress",))
    time.sleep(1.5)  # the instance is up and answering
    sagemaker.stop_transform_job(TransformJobName="stopped")
    assert sagemaker.describe_transform_job(TransformJobName="stopped")["TransformJobStatus"] in ("Stopping", "Stopped")
    job = wait_job(probe, "stopped")
    assert job["TransformJobStatus"] == "Stopped" and "FailureReason" not in job
    assert len(outputs(probe, "out/stopped/")) < 6
    with pytest.raises(ClientError) as again:
        sagemaker.stop_transform_job(TransformJobName="stopped")
    assert again.value.response["Error"]["Code"] == "ValidationException"


def test_list_filters_sorts_and_pages(probe):
    sagemaker = probe.client("sagemaker")
    for i in range(3):
        run(probe, f"listed-{i}")
    listing = sagemaker.list_transform_jobs(NameContains="listed", SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert_shape(sagemaker, "ListTransformJobs", listing)
    assert [j["TransformJobName"] for j in listing["TransformJobSummaries"]] == ["listed-0", "listed-1"]
    pages = sagemaker.get_paginator("list_transform_jobs").paginate(
        NameContains="listed", SortBy="Name", SortOrder="Descending", PaginationConfig={"PageSize": 2}
    )
    assert [j["TransformJobName"] for page in pages for j in page["TransformJobSummaries"]] == [
        "listed-2",
        "listed-1",
        "listed-0",
    ]
    newest_first = sagemaker.list_transform_jobs(NameContains="listed")["TransformJobSummaries"]
    assert [j["TransformJobName"] for j in newest_first] == ["listed-2", "listed-1", "listed-0"]
    completed = sagemaker.list_transform_jobs(StatusEquals="Completed", MaxResults=100)["TransformJobSummaries"]
    assert {"listed-0", "listed-1", "listed-2"} <= {j["TransformJobName"] for j in completed}
    failed = sagemaker.list_transform_jobs(StatusEquals="Failed", NameContains="listed")["TransformJobSummaries"]
    assert failed == []
    with pytest.raises(ClientError) as unknown:
        sagemaker.describe_transform_job(TransformJobName="never-made")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFound"


json_paths = st.text(alphabet="$.[]'*,:-0123456789abcxyz ", max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(input_filter=json_paths, payload=st.integers(0, 300), concurrency=st.integers(0, 10))
def test_any_request_is_answered_or_refused_with_a_4xx(probe, input_filter, payload, concurrency):
    """Never a 5xx: a request is created (then stopped, to keep the machine free) or refused as bad input."""
    sagemaker = probe.client("sagemaker")
    name = f"h-{time.monotonic_ns()}"
    try:
        sagemaker.create_transform_job(
            **request(
                name,
                "probe",
                f"s3://{BUCKET}/numbers/",
                f"s3://{BUCKET}/out/{name}",
                MaxPayloadInMB=payload,
                MaxConcurrentTransforms=concurrency,
                ContentType="application/json",
                DataProcessing={"InputFilter": input_filter},
            )
        )
    except ClientError as error:
        assert 400 <= error.response["ResponseMetadata"]["HTTPStatusCode"] < 500, error.response
        assert error.response["Error"]["Code"] in ("ValidationException", "ResourceLimitExceeded")
        return
    try:
        sagemaker.stop_transform_job(TransformJobName=name)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ValidationException"  # it already ended
    assert wait_job(probe, name)["TransformJobStatus"] in ("Stopped", "Failed", "Completed")


def test_a_restart_runs_an_unfinished_job_again(tmp_path):
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        sagemaker_role(cloud)
        create_model(cloud, "probe", probe_archive())
        s3 = cloud.client("s3")
        for i in range(4):
            s3.put_object(Bucket=BUCKET, Key=f"slow/{i}.txt", Body=b"slow")
        cloud.client("sagemaker").create_transform_job(
            **request("across-restart", "probe", f"s3://{BUCKET}/slow/", f"s3://{BUCKET}/out")
        )
        wait_job(cloud, "across-restart", statuses=("InProgress",))
        time.sleep(1.0)
    finally:
        cloud.stop()
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        job = wait_job(cloud, "across-restart")
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        assert sorted(outputs(cloud, "out/")) == [f"out/{i}.txt.out" for i in range(4)]
    finally:
        cloud.stop()
