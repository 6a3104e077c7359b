"""What the door holds is bounded: a body longer than AWS accepts for the operation is refused on its head, in
the service's words; past the connection cap, each service's throttling answer; past that, a closed door."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import time
from collections.abc import Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from localcloud.core.process import LocalCloudProcess
from localcloud.core.server import OVERFLOW_CONNECTIONS, Budget
from tests.clouds import running_localcloud
from tests.localcloud.core.door import client, error_of_call, raw_exchange, signed_head

MIB = 1024 * 1024
GIB = 1024 * MIB
CAP = 2  # the narrow door's connections served at once


def _json_payload(size: int) -> bytes:
    """A JSON string of exactly `size` bytes."""
    return b'"' + b"x" * (size - 2) + b'"'


def test_an_s3_put_over_5_gib_is_refused_before_its_body_is_asked_for(door):
    head = signed_head(door, "s3", "PUT", "/bucket/big.bin", {"Expect": "100-continue"}, 5 * GIB + 1)
    answer = raw_exchange(door.endpoint_url, head)
    assert answer.startswith(b"HTTP/1.1 400 ")  # no 100 Continue first: the client never sends the body
    assert b"<Code>EntityTooLarge</Code>" in answer
    assert b"<Message>Your proposed upload exceeds the maximum allowed size</Message>" in answer
    assert b"<ProposedSize>5368709121</ProposedSize><MaxSizeAllowed>5368709120</MaxSizeAllowed>" in answer
    assert b"Connection: close" in answer


def test_an_s3_put_of_exactly_5_gib_is_asked_for_its_body(door):
    head = signed_head(door, "s3", "PUT", "/bucket/big.bin", {"Expect": "100-continue"}, 5 * GIB)
    assert raw_exchange(door.endpoint_url, head, wait=1).startswith(b"HTTP/1.1 100 Continue\r\n")


def test_an_unsigned_upload_is_judged_as_s3(door):
    answer = raw_exchange(
        door.endpoint_url, b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nContent-Length: 6000000000\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400 ") and b"<Code>EntityTooLarge</Code>" in answer


def test_lambda_takes_6_mb_synchronously_and_1_mb_as_an_event(door):
    functions = client(door, "lambda")
    code, message, status = error_of_call(
        lambda c: c.invoke(FunctionName="absent", Payload=_json_payload(6 * MIB + 1)), functions
    )
    assert (code, status) == ("RequestTooLargeException", 413)
    assert message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    code, _, _ = error_of_call(lambda c: c.invoke(FunctionName="absent", Payload=_json_payload(6 * MIB)), functions)
    assert code == "ResourceNotFoundException"  # through the door: the function is what is missing
    code, message, status = error_of_call(
        lambda c: c.invoke(FunctionName="absent", InvocationType="Event", Payload=_json_payload(MIB + 1)), functions
    )
    assert (code, status) == ("RequestTooLargeException", 413)
    assert message == "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"


def test_invoke_endpoint_takes_6_mb_and_calls_more_an_oversize_body(door):
    runtime = client(door, "sagemaker-runtime")
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="absent", Body=b"x" * (6 * MIB + 1), ContentType="text/plain")
    error, metadata = refused.value.response["Error"], refused.value.response["ResponseMetadata"]
    assert (error["Code"], metadata["HTTPStatusCode"]) == ("ValidationError", 400)  # the model's ValidationError
    assert error["Message"] == f"Request {metadata['RequestId']} has oversize body."
    code, message, _ = error_of_call(
        lambda c: c.invoke_endpoint(EndpointName="absent", Body=b"x" * (6 * MIB), ContentType="text/plain"), runtime
    )
    assert code == "ValidationError" and "absent" in message  # through the door: no such endpoint


def test_cloudwatch_limits_each_operation_as_aws_does(door):
    metrics = client(door, "cloudwatch")

    def noise() -> str:  # what gzip cannot shrink much: botocore compresses this operation's body
        return base64.b64encode(os.urandom(768)).decode()

    datums = [
        {"MetricName": "m", "Dimensions": [{"Name": f"d{i}", "Value": noise()} for i in range(30)], "Value": 1}
        for _ in range(60)
    ]  # about 1.4 MB gzipped
    code, message, status = error_of_call(lambda c: c.put_metric_data(Namespace="n", MetricData=datums), metrics)
    assert (code, status) == ("RequestEntityTooLarge", 413)
    assert message.startswith("Request size ") and message.endswith(" exceeded 1048576 bytes")
    queries = [{"Id": f"q{i}", "Expression": "SUM(METRICS())" + " " * 1900} for i in range(400)]  # about 800 kB
    code, message, status = error_of_call(
        lambda c: c.get_metric_data(MetricDataQueries=queries, StartTime=0, EndTime=60), metrics
    )
    assert (code, status) == ("RequestEntityTooLarge", 413)
    assert message.endswith(" exceeded 614400 bytes")


def test_a_control_plane_body_over_10_mib_is_refused(door):
    target = {"X-Amz-Target": "SageMaker.ListEndpoints", "Content-Type": "application/x-amz-json-1.1"}
    answer = raw_exchange(door.endpoint_url, signed_head(door, "sagemaker", "POST", "/", target, 10 * MIB + 1))
    assert answer.startswith(b"HTTP/1.1 413 ") and b"RequestEntityTooLargeException" in answer
    assert b"Request size 10485761 exceeded 10485760 bytes" in answer


@given(st.lists(st.tuples(st.booleans(), st.just(0) | st.integers(min_value=1, max_value=3 * GIB)), max_size=30))
def test_bodies_held_at_once_stay_within_the_budget_and_a_lone_body_always_fits(steps):
    budget, held = Budget(GIB), []
    for take, size in steps:
        if take:
            fits = budget.take(size)
            assert fits or (held and size)  # refused only beside bodies already held, and never no body
            if fits:
                held.append(size)
        elif held:
            budget.give(held.pop())
        assert budget.used == sum(held)
        assert budget.used <= GIB or len([size for size in held if size]) == 1  # a lone body (empty ones aside)


@pytest.fixture(scope="module")
def narrow_door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """A localcloud that serves two connections at once."""
    args = ["--no-defaults", "--read-timeout", "1", "--max-connections", str(CAP)]
    with running_localcloud(tmp_path_factory.mktemp("narrow-door"), args) as process:
        yield process


@contextlib.contextmanager
def idle_connections(cloud: LocalCloudProcess, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections that send nothing (each holds a place at the door while open)."""
    port = int(cloud.endpoint_url.rsplit(":", 1)[1])
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _one_try(cloud: LocalCloudProcess, service: str):
    return cloud.client(service, config=Config(retries={"total_max_attempts": 1}))


THROTTLED = [
    ("s3", lambda c: c.list_buckets(), ("SlowDown", "Please reduce your request rate.", 503)),
    ("sagemaker", lambda c: c.list_endpoints(), ("ThrottlingException", "Rate exceeded", 400)),
    ("lambda", lambda c: c.list_functions(), ("TooManyRequestsException", "Rate Exceeded.", 429)),
    ("sts", lambda c: c.get_caller_identity(), ("Throttling", "Rate exceeded", 400)),
    ("ec2", lambda c: c.describe_instances(), ("RequestLimitExceeded", "Request limit exceeded.", 503)),
    ("cloudwatch", lambda c: c.list_metrics(), ("Throttling", "Rate exceeded", 400)),
    ("logs", lambda c: c.describe_log_groups(), ("ThrottlingException", "Rate exceeded", 400)),
]


def test_past_the_cap_each_service_answers_throttling_in_its_own_words(narrow_door):
    with idle_connections(narrow_door, CAP):
        for service, call, expected in THROTTLED:
            assert error_of_call(call, _one_try(narrow_door, service)) == expected, service
        with pytest.raises(ClientError) as throttled:
            _one_try(narrow_door, "lambda").list_functions()
        assert throttled.value.response["Reason"] == "CallerRateLimitExceeded"
    _wait_for_room(narrow_door)
    assert narrow_door.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_past_the_cap_and_the_overflow_a_connection_is_closed_at_once(narrow_door):
    with idle_connections(narrow_door, CAP + OVERFLOW_CONNECTIONS):
        answer = raw_exchange(narrow_door.endpoint_url, b"GET /_localcloud/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer == b""
    _wait_for_room(narrow_door)
    assert narrow_door.health()["status"] == "ok"


def _wait_for_room(cloud: LocalCloudProcess) -> None:
    """Until closed connections' places have come free (the server sees each close at once)."""
    for _ in range(100):
        if cloud.health().get("status") == "ok":
            return
        time.sleep(0.05)
