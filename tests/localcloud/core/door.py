"""Shared by the front-door tests: clients signed with any key or secret, requests signed by botocore
to send by hand, and raw bytes over a socket (the `door` fixture is in conftest.py)."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess


def client(
    door: LocalCloudProcess,
    service: str,
    *,
    key: str | None = None,
    secret: str | None = None,
    region: str = "us-east-1",
) -> Any:
    credentials = door.credentials
    return boto3.Session(
        aws_access_key_id=key or credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or credentials["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    ).client(service, endpoint_url=door.endpoint_url, config=Config(retries={"max_attempts": 1}))


def error_of_call(call: Callable[[Any], Any], service_client: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the ClientError `call(service_client)` raises."""
    with pytest.raises(ClientError) as raised:
        call(service_client)
    response = raised.value.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def signed_request(
    door: LocalCloudProcess,
    service: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> urllib.request.Request:
    """A request signed with botocore's SigV4 signer, to send by hand (urllib)."""
    credentials = Credentials(door.credentials["AWS_ACCESS_KEY_ID"], door.credentials["AWS_SECRET_ACCESS_KEY"])
    request = AWSRequest(method=method, url=door.endpoint_url + path, data=body, headers=headers or {})
    signer = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    signer(credentials, service, "us-east-1").add_auth(request)
    return urllib.request.Request(
        door.endpoint_url + path, data=body or None, method=method, headers=dict(request.headers.items())
    )


def raw_exchange(endpoint_url: str, data: bytes, *, drip: float = 0.0, wait: float = 5.0) -> bytes:
    """Send bytes on a fresh connection (a byte every `drip` seconds), then read what comes back until the
    server closes or `wait` seconds pass without a byte."""
    port = int(endpoint_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            if drip:
                for i in range(len(data)):
                    sock.sendall(data[i : i + 1])
                    time.sleep(drip)
            else:
                sock.sendall(data)
        except OSError:
            pass  # the server may cut us off mid-send: that is the point
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, OSError):
            pass
    return answer


def signed_head(
    door: LocalCloudProcess, service: str, method: str, path: str, headers: dict[str, str], content_length: int
) -> bytes:
    """The head of a signed request announcing `content_length` bytes of body, to send without the body
    (signed over an empty body: the door judges the length before it checks any signature)."""
    request = signed_request(door, service, method, path, b"", headers)
    head = f"{method} {path} HTTP/1.1\r\nHost: {door.endpoint_url.removeprefix('http://')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.header_items() if k.lower() not in ("host", "content-length"))
    return (head + f"Content-Length: {content_length}\r\n\r\n").encode()
