"""First start creates the defaults beside the server: a race with a user's script, a kill half-way
and a failure each leave a localcloud that serves, and a later start finishes the job."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from localcloud.core.bootstrap import ENDPOINT_NAME, FUNCTION_NAME, MODEL_NAME, default_bucket
from localcloud.core.process import LocalCloudProcess

BUCKET = default_bucket("us-east-1")


def assert_defaults_serve(cloud: LocalCloudProcess, photo: bytes) -> None:
    assert cloud.wait_endpoint(ENDPOINT_NAME)["EndpointStatus"] == "InService"
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT_NAME, Body=photo, ContentType="image/jpeg"
    )
    assert json.loads(answer["Body"].read())
    assert cloud.client("lambda").get_function(FunctionName=FUNCTION_NAME)["Configuration"]["State"]


def test_a_script_creating_the_default_bucket_at_start_does_not_kill_localcloud(tmp_path, dog_photo):
    cloud = LocalCloudProcess(tmp_path).start(ready=False)
    try:
        s3 = cloud.client("s3")
        # What the SageMaker Python SDK's default_bucket() does as soon as it runs.
        try:
            s3.create_bucket(Bucket=BUCKET)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
        health = cloud.wait_health("ok", "degraded")
        assert (health["status"], health["defaults"]) == ("ok", {"state": "ready"}), health
        assert cloud.process is not None and cloud.process.poll() is None
        assert_defaults_serve(cloud, dog_photo.read_bytes())
    finally:
        cloud.stop()


def test_a_start_killed_mid_bootstrap_is_finished_by_the_next(tmp_path, dog_photo):
    cloud = LocalCloudProcess(tmp_path).start(ready=False)
    sagemaker = cloud.client("sagemaker")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once the model exists, before the function does
        try:
            sagemaker.describe_model(ModelName=MODEL_NAME)
            break
        except ClientError:
            time.sleep(0.05)
    assert cloud.process is not None
    cloud.process.kill()
    cloud.process.wait()

    again = LocalCloudProcess(tmp_path).start()
    try:
        assert again.health()["defaults"] == {"state": "ready"}
        assert_defaults_serve(again, dog_photo.read_bytes())
    finally:
        again.stop()


def test_a_failing_bootstrap_is_reported_and_the_server_keeps_serving(tmp_path):
    # A region that does not exist: every request the bootstrap signs for it is refused.
    cloud = LocalCloudProcess(tmp_path, ["--region", "mars-1"]).start(ready=False)
    try:
        health = cloud.wait_health("ok", "degraded")
        assert health["status"] == "degraded" and health["defaults"]["state"] == "failed"
        assert "Credential should be scoped to a valid region" in health["defaults"]["error"]
        assert cloud.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        cloud.stop()


@pytest.fixture
def dog_photo(datasets):
    return datasets / "dogs-wiki-133" / "test" / "092.Keeshond" / "keeshond_5.jpg"
