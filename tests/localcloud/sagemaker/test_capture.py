"""SageMaker data capture on localcloud, with real boto3 and the real classifier endpoint on real photos: the
record format, sampling, InferenceId, capture modes and content types, a denied destination that never fails an
invocation, UpdateEndpoint turning capture on and off without downtime, and the configs AWS refuses."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcloud.auth.acting import ExecutionRoles
from localcloud.cloud import LocalCloud
from localcloud.core.bootstrap import MODEL_NAME, default_bucket
from localcloud.core.process import LocalCloudProcess
from localcloud.sagemaker.capture.capture_config import CaptureSettings, capture_record
from localcloud.sagemaker.capture.capture_writer import DataCapture
from tests.clouds import SAGEMAKER_TRUST, running_localcloud
from tests.conftest import DEFAULT_ENDPOINT
from tests.localcloud.conftest import CALL, assert_shape

FLUSH_S = 0.3  # --capture-flush-seconds: captures reach S3 this long after the request
BUCKET = default_bucket("us-east-1")  # the project's bucket, which the default role may write to
KEY = re.compile(
    r"(?P<prefix>.+)/(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/"
    r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl"
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """A localcloud with the default classifier endpoint, writing captures within FLUSH_S."""
    args = ["--capture-flush-seconds", str(FLUSH_S)]
    with running_localcloud(tmp_path_factory.mktemp("capture"), args, endpoint=DEFAULT_ENDPOINT) as process:
        yield process


@pytest.fixture(scope="module")
def photos(datasets: Path) -> list[Path]:
    return sorted((datasets / "dogs-wiki-133" / "test").glob("*/*.jpg"))[:12]


def capture(prefix: str, **overrides: Any) -> dict[str, Any]:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/{prefix}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        **overrides,
    }


def use(
    cloud: LocalCloudProcess,
    data_capture: dict[str, Any] | None,
    endpoint: str = DEFAULT_ENDPOINT,
    variants: dict[str, int] | None = None,
) -> str:
    """Update the endpoint to a config serving the default model with `data_capture` (on `variants`, instance
    counts by name: one AllTraffic instance unless given); wait until it serves."""
    sagemaker = cloud.client("sagemaker")
    name = f"capture-{uuid.uuid4().hex[:12]}"
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": MODEL_NAME,
                "InitialInstanceCount": count,
                "InstanceType": "ml.m5.large",
            }
            for variant, count in (variants or {"AllTraffic": 1}).items()
        ],
        **({"DataCaptureConfig": data_capture} if data_capture else {}),
    )
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == name:
            return name
        assert described["EndpointStatus"] in ("Updating", "InService"), described
        time.sleep(0.1)
    raise TimeoutError(f"{endpoint} did not move to {name}")


def invoke(cloud: LocalCloudProcess, photo: Path, endpoint: str = DEFAULT_ENDPOINT, **extra: Any) -> dict[str, Any]:
    response = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="image/jpeg", Body=photo.read_bytes(), **extra
    )
    return {**response, "Body": response["Body"].read()}


def records(cloud: LocalCloudProcess, prefix: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every capture file under the prefix and every record in them."""
    s3 = cloud.client("s3")
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/")
        for o in page.get("Contents", [])
    ]
    lines = []
    for key in keys:
        text = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        assert text.endswith("\n")
        lines += [json.loads(line) for line in text.splitlines()]
    return keys, lines


def wait_records(cloud: LocalCloudProcess, prefix: str, count: int, timeout: float = 30) -> tuple[list[str], list]:
    deadline = time.monotonic() + timeout
    while True:
        keys, found = records(cloud, prefix)
        if len(found) >= count or time.monotonic() > deadline:
            return keys, found
        time.sleep(0.2)


def trail_of(cloud: LocalCloudProcess, role: str, endpoint: str, event: str) -> list[dict[str, Any]]:
    """The event history's records of `event` made as `role` for `endpoint` (SageMaker's session name)."""
    pages = cloud.client("cloudtrail").get_paginator("lookup_events")
    attributes = [{"AttributeKey": "Username", "AttributeValue": endpoint}]
    found = [
        json.loads(e["CloudTrailEvent"]) for page in pages.paginate(LookupAttributes=attributes) for e in page["Events"]
    ]
    return [
        r
        for r in found
        if r["eventName"] == event and r["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] == role
    ]


def settled(cloud: LocalCloudProcess, prefix: str) -> list[dict[str, Any]]:
    """The records once every queued capture has had time to be written."""
    time.sleep(FLUSH_S * 4 + 0.5)
    return records(cloud, prefix)[1]


def test_every_request_captured_in_sagemakers_format(cloud, photos):
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    kms = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config = use(cloud, capture(prefix, KmsKeyId=kms))
    sagemaker = cloud.client("sagemaker")
    described = sagemaker.describe_endpoint(EndpointName=DEFAULT_ENDPOINT)
    assert_shape(sagemaker, "DescribeEndpoint", described)
    assert described["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/{prefix}",
        "KmsKeyId": kms,
    }
    stored = sagemaker.describe_endpoint_config(EndpointConfigName=config)
    assert_shape(sagemaker, "DescribeEndpointConfig", stored)
    assert stored["DataCaptureConfig"]["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]

    started = time.time()
    answers = {}
    for i, photo in enumerate(photos):
        extra = {"InferenceId": f"visitor-{i}"} if i % 2 == 0 else {}  # half of them name their inference
        answers[photo] = (extra.get("InferenceId"), invoke(cloud, photo, **extra)["Body"])
    keys, found = wait_records(cloud, prefix, len(photos))

    assert len(found) == len(photos)
    for key in keys:
        parts = KEY.fullmatch(key)
        assert parts, key
        assert (parts["prefix"], parts["endpoint"], parts["variant"]) == (prefix, DEFAULT_ENDPOINT, "AllTraffic")
    by_input = {base64.b64decode(r["captureData"]["endpointInput"]["data"]): r for r in found}
    for photo, (inference_id, answer) in answers.items():
        record = by_input[photo.read_bytes()]
        assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
        assert record["eventVersion"] == "0"
        assert record["captureData"]["endpointInput"] == {
            "observedContentType": "image/jpeg",
            "mode": "INPUT",
            "data": base64.b64encode(photo.read_bytes()).decode(),
            "encoding": "BASE64",
        }
        assert record["captureData"]["endpointOutput"] == {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "data": answer.decode(),  # a listed JSON type: captured as text
            "encoding": "JSON",
        }
        metadata = record["eventMetadata"]
        assert set(metadata) == {"eventId", "inferenceTime"} | ({"inferenceId"} if inference_id else set())
        assert metadata.get("inferenceId") == inference_id
        uuid.UUID(metadata["eventId"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", metadata["inferenceTime"])
        when = time.mktime(time.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert started - 1 <= when <= time.time() + 1
    assert len({r["eventMetadata"]["eventId"] for r in found}) == len(found)
    puts = trail_of(
        cloud, "dog-breed-sagemaker-execution", DEFAULT_ENDPOINT, "PutObject"
    )  # written as the model's role
    assert {r["requestParameters"]["key"] for r in puts if r["requestParameters"]["key"].startswith(prefix)} == set(
        keys
    )
    assert all(r["userIdentity"]["invokedBy"] == "sagemaker.amazonaws.com" for r in puts)


def test_every_instance_of_every_variant_captures_under_its_variant(cloud, photos):
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    use(cloud, capture(prefix), variants={"AllTraffic": 2, "Canary": 1})
    served = {"AllTraffic": 0, "Canary": 0}
    for i, photo in enumerate(photos):
        variant = "Canary" if i % 3 == 0 else "AllTraffic"
        answer = invoke(cloud, photo, TargetVariant=variant, InferenceId=f"{variant}-{i}")
        served[answer["InvokedProductionVariant"]] += 1
    keys, found = wait_records(cloud, prefix, len(photos))
    assert len(found) == len(photos)
    folders = {KEY.fullmatch(key)["variant"] for key in keys}
    assert folders == {"AllTraffic", "Canary"}
    for key in keys:
        variant = KEY.fullmatch(key)["variant"]
        text = cloud.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        assert all(json.loads(line)["eventMetadata"]["inferenceId"].startswith(variant) for line in text.splitlines())
    assert served == {"AllTraffic": 8, "Canary": 4}


def test_input_only_json_as_text_and_unlisted_types_as_base64(cloud, photos):
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    use(cloud, capture(prefix, CaptureOptions=[{"CaptureMode": "Input"}]))
    runtime = cloud.client("sagemaker-runtime")
    request = json.dumps({"image": base64.b64encode(photos[0].read_bytes()).decode()})
    runtime.invoke_endpoint(EndpointName=DEFAULT_ENDPOINT, ContentType="application/json", Body=request)
    invoke(cloud, photos[1])
    _, found = wait_records(cloud, prefix, 2)
    assert all(set(r["captureData"]) == {"endpointInput"} for r in found)  # no output captured
    inputs = {r["captureData"]["endpointInput"]["encoding"]: r["captureData"]["endpointInput"] for r in found}
    assert inputs["JSON"]["data"] == request and inputs["JSON"]["observedContentType"] == "application/json"
    assert base64.b64decode(inputs["BASE64"]["data"]) == photos[1].read_bytes()

    # Output only, and no content types listed: SageMaker base64-encodes everything.
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    plain = capture(prefix, CaptureOptions=[{"CaptureMode": "Output"}])
    del plain["CaptureContentTypeHeader"]
    use(cloud, plain)
    answer = invoke(cloud, photos[2])["Body"]
    _, found = wait_records(cloud, prefix, 1)
    assert [r["captureData"] for r in found] == [
        {
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": base64.b64encode(answer).decode(),
                "encoding": "BASE64",
            }
        }
    ]


def test_sampling_none_and_half(cloud, photos):
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    use(cloud, capture(prefix, InitialSamplingPercentage=0))
    assert (
        cloud.client("sagemaker").describe_endpoint(EndpointName=DEFAULT_ENDPOINT)["DataCaptureConfig"][
            "CurrentSamplingPercentage"
        ]
        == 0
    )
    for photo in photos:
        invoke(cloud, photo)
    assert settled(cloud, prefix) == []

    # 50 %: of 120 requests, the count captured is Binomial(120, 0.5): outside 35..85 with odds under 1e-5.
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    use(cloud, capture(prefix, InitialSamplingPercentage=50))
    small = min(photos, key=lambda p: p.stat().st_size)
    for i in range(120):
        invoke(cloud, small, InferenceId=str(i))
    found = settled(cloud, prefix)
    assert 35 <= len(found) <= 85, len(found)
    ids = [r["eventMetadata"]["inferenceId"] for r in found]
    assert len(set(ids)) == len(ids)  # each sampled request captured once


def test_denied_destination_answers_every_request_and_counts_the_drops(cloud, photos):
    """A model whose role may read its artifact and write logs, but not put objects: every invocation answers,
    every capture is dropped, counted in CloudWatch and said in the endpoint's log group."""
    iam, sagemaker = cloud.client("iam"), cloud.client("sagemaker")
    role = iam.create_role(RoleName="capture-denied", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "logs:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"},
        ],
    }
    iam.put_role_policy(RoleName="capture-denied", PolicyName="no-put", PolicyDocument=json.dumps(policy))
    default = sagemaker.describe_model(ModelName=MODEL_NAME)
    sagemaker.create_model(
        ModelName="denied-model", ExecutionRoleArn=role["Arn"], PrimaryContainer=default["PrimaryContainer"]
    )
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    sagemaker.create_endpoint_config(
        EndpointConfigName="denied",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "denied-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        DataCaptureConfig=capture(prefix),
    )
    sagemaker.create_endpoint(EndpointName="denied", EndpointConfigName="denied")
    assert cloud.wait_endpoint("denied")["EndpointStatus"] == "InService"

    answers = [invoke(cloud, photo, endpoint="denied") for photo in photos[:6]]
    assert all(a["ResponseMetadata"]["HTTPStatusCode"] == 200 and json.loads(a["Body"]) for a in answers)
    assert settled(cloud, prefix) == []

    cloudwatch, logs = cloud.client("cloudwatch"), cloud.client("logs")
    dims = [{"Name": "EndpointName", "Value": "denied"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    deadline, dropped, events = time.monotonic() + 30, 0.0, []
    while time.monotonic() < deadline and (dropped < 6 or not events):
        stats = cloudwatch.get_metric_statistics(
            Namespace="LocalCloud/DataCapture",
            MetricName="DroppedCaptures",
            Dimensions=dims,
            StartTime=time.time() - 600,
            EndTime=time.time() + 60,
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        dropped = sum(d["Sum"] for d in stats)
        try:
            events = logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/denied")["events"]
        except ClientError:
            events = []
        time.sleep(0.3)
    assert dropped == 6
    assert events and all(e["logStreamName"] == "AllTraffic/data-capture" for e in events)
    assert any("AccessDenied" in e["message"] and "dropped" in e["message"] for e in events)
    refused = trail_of(cloud, "capture-denied", "denied", "PutObject")
    assert refused and all(r["errorCode"] == "AccessDenied" for r in refused)
    assert all(r["requestParameters"]["key"].startswith(prefix + "/denied/AllTraffic/") for r in refused)
    sagemaker.delete_endpoint(EndpointName="denied")


def test_update_endpoint_turns_capture_off_and_on_without_downtime(cloud, photos):
    prefix = f"capture/{uuid.uuid4().hex[:8]}"
    use(cloud, capture(prefix))
    failures: list[Exception] = []
    answered = [0]
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                invoke(cloud, photos[0])
                answered[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                failures.append(exc)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        use(cloud, capture(prefix, EnableCapture=False))
        summary = cloud.client("sagemaker").describe_endpoint(EndpointName=DEFAULT_ENDPOINT)["DataCaptureConfig"]
        assert (summary["EnableCapture"], summary["CaptureStatus"]) == (False, "Stopped")
        before_off = len(settled(cloud, prefix))
        time.sleep(1)
        assert len(records(cloud, prefix)[1]) == before_off  # nothing more while it is off
        use(cloud, None)  # a config without capture: DescribeEndpoint says nothing of it
        assert "DataCaptureConfig" not in cloud.client("sagemaker").describe_endpoint(EndpointName=DEFAULT_ENDPOINT)
        use(cloud, capture(prefix))
        time.sleep(1)
    finally:
        stop.set()
        worker.join()
    assert failures == []
    assert answered[0] > 0
    assert len(settled(cloud, prefix)) > before_off  # captured again once back on


_UNCHECKED = Config(retries={"max_attempts": 0}, parameter_validation=False)
_BAD = st.one_of(
    st.integers(min_value=101, max_value=10**6).map(lambda n: {"InitialSamplingPercentage": n}),
    st.integers(max_value=-1, min_value=-(10**6)).map(lambda n: {"InitialSamplingPercentage": n}),
    st.sampled_from(["bucket/prefix", "s3:/bucket", "http://bucket/x", "ftp://bucket", "s3://"]).map(
        lambda uri: {"DestinationS3Uri": uri}
    ),
    st.text(min_size=1, max_size=20)
    .filter(lambda m: m not in ("Input", "Output", "InputAndOutput"))
    .map(lambda mode: {"CaptureOptions": [{"CaptureMode": mode}]}),
    st.just({"CaptureOptions": []}),
    st.just({"KmsKeyId": "key id with spaces"}),
    st.just({"CaptureContentTypeHeader": {"JsonContentTypes": ["not a content type"]}}),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=_BAD)
def test_bad_capture_configs_are_refused_and_create_nothing(cloud, bad):
    sagemaker = cloud.client("sagemaker", config=_UNCHECKED)
    name = f"bad-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ClientError) as refused:
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": MODEL_NAME,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            DataCaptureConfig=capture("bad", **bad),
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.describe_endpoint_config(EndpointConfigName=name)


def test_a_full_queue_drops_captures_never_the_request(tmp_path):
    """In-process: a capture queue that holds nothing drops every capture at once (offer never blocks or raises),
    counts each in CloudWatch and says so in the endpoint's log group."""
    cloud = LocalCloud(tmp_path, "http://127.0.0.1:1")
    role = {"RoleName": "queue-test", "AssumeRolePolicyDocument": json.dumps(SAGEMAKER_TRUST)}
    role_arn = cloud.iam.op_CreateRole(role, CALL)["Role"]["Arn"]
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    cloud.iam.op_PutRolePolicy(
        {"RoleName": "queue-test", "PolicyName": "logs", "PolicyDocument": json.dumps(allow)}, CALL
    )
    roles = ExecutionRoles(cloud.authorizer, cloud.sts, cloud.trail, "sagemaker.amazonaws.com")
    capturing = DataCapture(cloud.s3, roles, cloud.metrics, cloud.logs, flush_s=0.1, max_queued_bytes=1)
    settings = CaptureSettings.of({"DataCaptureConfig": capture("full")})
    model = {"ExecutionRoleArn": role_arn, "ModelArn": "arn:aws:sagemaker:us-east-1:000000000000:model/m"}
    capturing.configure("full-queue", settings, {"AllTraffic": model})
    for _ in range(25):
        capturing.offer("full-queue", "AllTraffic", (b"photo", "image/jpeg"), (b"{}", "application/json"))
    dims = {"EndpointName": "full-queue", "VariantName": "AllTraffic"}
    deadline = time.monotonic() + 10
    while sum(cloud.metrics.series("LocalCloud/DataCapture", "DroppedCaptures", dims)) < 25:
        assert time.monotonic() < deadline, "the drops were never counted"
        time.sleep(0.05)
    assert cloud.metrics.series("LocalCloud/DataCapture", "CapturedRequests", dims) == []
    group = {"logGroupName": "/aws/sagemaker/Endpoints/full-queue"}
    events = cloud.logs.op_FilterLogEvents(group, CALL)["events"]
    assert any("dropped" in e["message"] and "queue was full" in e["message"] for e in events), events


_TEXT_TYPES = ["application/json", "text/csv"]


@settings(max_examples=200, deadline=None)
@given(
    body=st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode)),
    content_type=st.one_of(
        st.sampled_from([*_TEXT_TYPES, "Application/JSON; charset=utf-8", "image/jpeg"]), st.text(max_size=30)
    ),
    inference_id=st.one_of(st.none(), st.text(min_size=1, max_size=64)),
    modes=st.sampled_from([["Input"], ["Output"], ["InputAndOutput"], ["Input", "Output"]]),
)
def test_any_body_and_content_type_make_one_valid_json_line(body, content_type, inference_id, modes):
    """Whatever a caller sends, its capture is one line of valid JSON that gives the body back exactly: as text
    for a listed type that is UTF-8, else base64."""
    config = capture("p", CaptureOptions=[{"CaptureMode": m} for m in modes])
    config["CaptureContentTypeHeader"] = {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/csv"]}
    settings = CaptureSettings.of({"DataCaptureConfig": config})
    line = capture_record(settings, 1_765_000_000.5, (body, content_type), (body, content_type), inference_id)
    assert "\n" not in line
    record = json.loads(line)
    sides = {"endpointInput": "INPUT", "endpointOutput": "OUTPUT"}
    wanted = {
        k for k, on in (("endpointInput", settings.capture_input), ("endpointOutput", settings.capture_output)) if on
    }
    assert set(record["captureData"]) == wanted
    media = content_type.split(";")[0].strip().lower()
    for side, payload in record["captureData"].items():
        assert (payload["mode"], payload["observedContentType"]) == (sides[side], content_type)
        if payload["encoding"] == "BASE64":
            assert base64.b64decode(payload["data"]) == body
        else:
            assert payload["encoding"] == {"application/json": "JSON", "text/csv": "CSV"}[media]
            assert payload["data"].encode() == body
    assert record["eventMetadata"].get("inferenceId") == inference_id
    assert record["eventMetadata"]["inferenceTime"] == "2025-12-06T05:46:40Z"
    assert record["eventVersion"] == "0"
