"""Requests signed by botocore's SigV4 signer as localcloud's verifier receives them, for the tests and the
benchmarks: no server in between."""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from localcloud.auth.keys import AccessKey
from localcloud.core.protocol import Request

HOST = "127.0.0.1:4566"
LIST_ENDPOINTS = {"X-Amz-Target": "SageMaker.ListEndpoints"}


def signed(
    key: AccessKey,
    *,
    token: str | None = None,
    path: str = "/",
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
) -> Request:
    """A SageMaker POST signed with `key` (and session `token`): ListEndpoints unless `path`, `body` and
    `headers` say otherwise."""
    aws = AWSRequest(method="POST", url=f"http://{HOST}{path}", data=body, headers=headers or LIST_ENDPOINTS)
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key, token), "sagemaker", "us-east-1").add_auth(aws)
    return Request("POST", path, "", {k.lower(): v for k, v in aws.headers.items()} | {"host": HOST}, body)
