"""Lambda through real boto3: execution environments, cold and warm, errors and limits."""

from __future__ import annotations

import base64
import json
import re
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.localcloud.conftest import assert_shape, function_zip

ROLE = "arn:aws:iam::000000000000:role/test"

HANDLER = """
import os, time
CALLS = 0

def lambda_handler(event, context):
    global CALLS
    CALLS += 1
    print("handling", event.get("action"))
    action = event.get("action")
    if action == "fail":
        raise ValueError("asked to fail")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(7)
    if action == "big":
        return "x" * (6 * 1024 * 1024 + 10)
    if action == "echo":
        return event
    return {"statusCode": 200, "body": {"calls": CALLS, "greeting": os.environ.get("GREETING"),
            "pid": os.getpid(), "remaining": context.get_remaining_time_in_millis(),
            "endpoint": bool(os.environ.get("AWS_ENDPOINT_URL"))}}
"""


@pytest.fixture(scope="module")
def lambda_(cloud):
    client = cloud.client("lambda", config=Config(retries={"max_attempts": 1}, read_timeout=30))
    created = client.create_function(
        FunctionName="probe",
        Runtime="python3.11",
        Role=ROLE,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(HANDLER)},
        Timeout=2,
        Environment={"Variables": {"GREETING": "hi"}},
    )
    assert_shape(client, "CreateFunction", created)
    return client


def call(client, event: dict, **kwargs) -> tuple[dict, object]:
    response = client.invoke(FunctionName="probe", Payload=json.dumps(event).encode(), LogType="Tail", **kwargs)
    log = base64.b64decode(response["LogResult"]).decode()
    return response, (json.loads(response["Payload"].read()), log)


def test_cold_then_warm(lambda_):
    lambda_.update_function_configuration(FunctionName="probe", Environment={"Variables": {"GREETING": "hi"}})
    response, (first, log) = call(lambda_, {})
    assert_shape(lambda_, "Invoke", response)
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert first["body"]["greeting"] == "hi" and first["body"]["endpoint"]
    assert "handling None" in log
    assert re.search(
        r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB"
        r"\tMax Memory Used: \d+ MB\tInit Duration: [\d.]+ ms",
        log,
    )
    _, (second, log) = call(lambda_, {})
    assert second["body"]["pid"] == first["body"]["pid"]
    assert second["body"]["calls"] == first["body"]["calls"] + 1
    assert "Init Duration" not in log
    assert 0 < second["body"]["remaining"] <= 2000


def test_invocations_are_logged_to_the_functions_log_group(cloud, lambda_):
    """As on AWS: /aws/lambda/<name>, one stream per environment (`YYYY/MM/DD/[version]<id>`), START, the
    handler's output, END and REPORT, where a cold start's REPORT carries Init Duration."""
    lambda_.update_function_configuration(FunctionName="probe", Environment={"Variables": {"GREETING": "logged"}})
    _, (_, tail) = call(lambda_, {"action": "echo"})
    request_id = re.search(r"START RequestId: (\S+)", tail).group(1)
    logs = cloud.client("logs")
    deadline = time.monotonic() + 10
    while True:  # written in the background, after the answer
        events = logs.filter_log_events(logGroupName="/aws/lambda/probe", filterPattern=f'"{request_id}"')["events"]
        if len(events) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    messages = [e["message"] for e in events]
    assert messages[0].startswith(f"START RequestId: {request_id} Version: $LATEST")
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}") and "Init Duration" in messages[-1]
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", events[0]["logStreamName"])


def test_handler_error_is_function_error(lambda_):
    response, (payload, log) = call(lambda_, {"action": "fail"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "asked to fail" and payload["errorType"] == "ValueError"
    assert "Traceback" in log
    assert call(lambda_, {})[1][0]["statusCode"] == 200  # the environment survives


def test_timeout_and_crash(lambda_):
    response, (payload, _) = call(lambda_, {"action": "sleep", "seconds": 5})
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 2." in payload["errorMessage"]
    response, (payload, _) = call(lambda_, {"action": "exit"})
    assert response["FunctionError"] == "Unhandled"
    assert "exit status 7" in payload["errorMessage"]
    _, (payload, log) = call(lambda_, {})
    assert payload["statusCode"] == 200 and "Init Duration" in log  # a fresh environment


def test_payload_limits(lambda_):
    with pytest.raises(ClientError) as error:
        lambda_.invoke(FunctionName="probe", Payload=b'{"a": "' + b"x" * (6 * 1024 * 1024) + b'"}')
    assert error.value.response["Error"]["Code"] == "RequestTooLargeException"
    response, (payload, _) = call(lambda_, {"action": "big"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Function.ResponseSizeTooLarge"
    for not_json in (b"not json", '{"a": "é"}'.encode("utf-16")):
        with pytest.raises(ClientError) as error:
            lambda_.invoke(FunctionName="probe", Payload=not_json)
        assert error.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_the_event_arrives_as_sent(lambda_):
    """Line breaks between tokens, escaped ones inside strings, and any Unicode: the handler sees the same."""
    event = {"action": "echo", "text": "line\nbreak\r\n\u2028 é 🐕", "nested": [{"a": 1.5}, None, True]}
    payload = json.dumps(event, indent=2, ensure_ascii=False).replace("\n", "\r\n").encode()
    assert b"\r\n" in payload and "🐕".encode() in payload
    response = lambda_.invoke(FunctionName="probe", Payload=payload)
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == event


def test_update_configuration_retires_environments(lambda_):
    _, (before, _) = call(lambda_, {})
    updated = lambda_.update_function_configuration(
        FunctionName="probe", Environment={"Variables": {"GREETING": "hello"}}
    )
    assert_shape(lambda_, "UpdateFunctionConfiguration", updated)
    _, (after, log) = call(lambda_, {})
    assert after["body"]["greeting"] == "hello" and after["body"]["pid"] != before["body"]["pid"]
    assert "Init Duration" in log


def test_update_code(lambda_):
    source = "def lambda_handler(event, context):\n    return {'version': 2}\n"
    before = lambda_.get_function(FunctionName="probe")["Configuration"]["CodeSha256"]
    updated = lambda_.update_function_code(FunctionName="probe", ZipFile=function_zip(source))
    assert updated["CodeSha256"] != before
    assert call(lambda_, {})[1][0] == {"version": 2}
    lambda_.update_function_code(FunctionName="probe", ZipFile=function_zip(HANDLER))


def test_get_list_and_unknown(lambda_):
    got = lambda_.get_function(FunctionName="probe")
    assert_shape(lambda_, "GetFunction", got)
    assert got["Configuration"]["Handler"] == "lambda_function.lambda_handler"
    listing = lambda_.list_functions()
    assert_shape(lambda_, "ListFunctions", listing)
    assert "probe" in [f["FunctionName"] for f in listing["Functions"]]
    with pytest.raises(ClientError) as error:
        lambda_.invoke(FunctionName="nope", Payload=b"{}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        lambda_.create_function(
            FunctionName="probe",
            Runtime="python3.11",
            Role=ROLE,
            Handler="x.y",
            Code={"ZipFile": function_zip(HANDLER)},
        )
    assert error.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as error:
        lambda_.create_function(
            FunctionName="badzip", Runtime="python3.11", Role=ROLE, Handler="x.y", Code={"ZipFile": b"not a zip"}
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_concurrency_beyond_limit_is_throttled(cloud, lambda_):
    """The bare localcloud allows 10 concurrent executions; beyond that calls are throttled. Twenty callers
    on their own connections, so that on a loaded machine more than ten still overlap."""
    results: list[str] = []

    client = cloud.client(
        "lambda", config=Config(retries={"max_attempts": 1}, read_timeout=30, max_pool_connections=32)
    )

    def slow_call() -> None:
        try:
            client.invoke(FunctionName="probe", Payload=json.dumps({"action": "sleep", "seconds": 1.5}).encode())
            results.append("ok")
        except ClientError as error:
            results.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=slow_call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("TooManyRequestsException") >= 1
    assert results.count("ok") >= 8
