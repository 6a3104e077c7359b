"""Bad input at the door: each is answered (or cut off) and the server keeps serving."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

from localcloud.core.process import LocalCloudProcess
from tests.localcloud.core.door import raw_exchange, signed_request


def _refusal(request: urllib.request.Request) -> tuple[int, dict]:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    return refused.value.code, dict(refused.value.headers.items()) | {"body": refused.value.read()}


def test_unsigned_and_malformed_requests_are_refused(door):
    target = {"X-Amz-Target": "SageMaker.ListEndpoints", "Content-Type": "application/x-amz-json-1.1"}
    status, answer = _refusal(urllib.request.Request(door.endpoint_url + "/", data=b"{}", headers=target))
    assert (status, answer["x-amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")
    status, answer = _refusal(urllib.request.Request(door.endpoint_url + "/some-bucket"))
    assert status == 403 and b"<Code>AccessDenied</Code>" in answer["body"]
    garbled = {**target, "Authorization": "AWS4-HMAC-SHA256 Credential=nonsense"}
    status, answer = _refusal(urllib.request.Request(door.endpoint_url + "/", data=b"{}", headers=garbled))
    assert (status, answer["x-amzn-ErrorType"]) == (400, "IncompleteSignatureException")
    signed = signed_request(door, "sagemaker", "POST", "/", b"{}", target)
    signed.remove_header("X-amz-date")
    status, answer = _refusal(signed)
    assert (status, answer["x-amzn-ErrorType"]) == (400, "IncompleteSignatureException")
    assert b"X-Amz-Date" in answer["body"]


def test_unknown_services_and_targets_are_answered(door):
    status, answer = _refusal(
        signed_request(door, "dynamodb", "POST", "/", b"{}", {"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    )
    assert status == 400 and answer["x-amzn-ErrorType"] == "UnknownServiceException"
    for target in ("SageMaker.NoSuchOperation", "Bogus.ListEndpoints"):
        status, answer = _refusal(signed_request(door, "sagemaker", "POST", "/", b"{}", {"X-Amz-Target": target}))
        assert status == 400 and answer["x-amzn-ErrorType"] == "UnknownOperationException"


def _signed_bytes(door: LocalCloudProcess, body: bytes = b"{}") -> tuple[bytes, bytes]:
    target = {"X-Amz-Target": "SageMaker.ListEndpoints", "Content-Type": "application/x-amz-json-1.1"}
    request = signed_request(door, "sagemaker", "POST", "/", body, target)
    head = f"POST / HTTP/1.1\r\nHost: {door.endpoint_url.removeprefix('http://')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.header_items() if k.lower() != "host")
    return head.encode(), body


def test_a_body_shorter_than_its_content_length_times_out_cleanly(door):
    head, body = _signed_bytes(door)
    answer = raw_exchange(door.endpoint_url, head + f"Content-Length: {len(body) + 50}\r\n\r\n".encode() + body)
    assert answer.startswith(b"HTTP/1.1 408") and b"RequestTimeoutException" in answer
    assert door.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_a_body_longer_than_its_content_length_does_not_spill_into_the_next_request(door):
    head, body = _signed_bytes(door)
    answer = raw_exchange(
        door.endpoint_url,
        head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body + b"GARBAGE" * 100 + b"\r\n\r\n",
        wait=3,
    )
    assert answer.startswith(b"HTTP/1.1 200") and b'{"Endpoints":[]}' in answer
    assert b"Error code explanation: 400" in answer  # the extra bytes are not a request
    assert door.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_a_huge_content_length_is_refused_without_reading(door):
    head, _ = _signed_bytes(door)
    started = time.monotonic()
    answer = raw_exchange(door.endpoint_url, head + b"Content-Length: 10737418240\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413") and b"RequestEntityTooLargeException" in answer
    assert time.monotonic() - started < 5


def test_a_hundred_kilobytes_of_headers_are_refused(door):
    head, body = _signed_bytes(door)
    padding = b"".join(f"X-Padding-{i}: {'p' * 1000}\r\n".encode() for i in range(100))
    answer = raw_exchange(door.endpoint_url, head + padding + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert answer.startswith(b"HTTP/1.1 431")


def test_a_client_dripping_its_headers_is_cut_off_while_others_are_served(door):
    results: dict[str, bytes] = {}
    request = f"GET /_localcloud/health HTTP/1.1\r\nHost: x\r\nX-Slow: {'s' * 40}\r\n\r\n".encode()
    dripper = threading.Thread(
        target=lambda: results.setdefault("slow", raw_exchange(door.endpoint_url, request, drip=0.2, wait=15))
    )
    started = time.monotonic()
    dripper.start()
    time.sleep(0.5)
    assert door.client("s3").list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    dripper.join(timeout=30)
    assert results["slow"] == b"" or results["slow"].startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 0.2 * len(request)  # cut off well before the head was complete


def test_secrets_never_reach_the_log(door):
    secret = door.credentials["AWS_SECRET_ACCESS_KEY"]
    assert secret not in door.log_path.read_text()
    health = urllib.request.urlopen(door.endpoint_url + "/_localcloud/health").read().decode()
    assert secret not in health and door.credentials["AWS_ACCESS_KEY_ID"] not in health
