"""Signed requests: localcloud's own keys and the profile every AWS tool reads, SigV4 verified as AWS
does (presigned URLs and chunk-signed uploads too), and refusals in each protocol's words."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
import pytest
from botocore.config import Config

from localcloud.core.process import LocalCloudProcess
from localcloud.core.profile import profile_paths
from tests.localcloud.core.door import client, error_of_call, signed_request

# ---------------------------------------------------------------- keys and profile


def test_first_start_writes_a_private_profile_every_tool_reads(door):
    credentials, config = profile_paths(door.data_dir)
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    for path in (credentials, config):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = door.credentials["AWS_ACCESS_KEY_ID"]
    assert key.startswith("AKIA") and len(key) == 20
    assert len(door.credentials["AWS_SECRET_ACCESS_KEY"]) == 40
    assert f"endpoint_url = {door.endpoint_url}" in config.read_text()
    # A session built from the profile alone (no endpoint URL, no keys) reaches localcloud.
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(config),
        "AWS_PROFILE": "localcloud",
    }
    saved = {k: os.environ.get(k) for k in [*env, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"]}
    try:
        for name in saved:
            os.environ.pop(name, None)
        os.environ.update(env)
        session = boto3.Session()
        assert session.client("sagemaker").list_endpoints()["Endpoints"] == []
        identity = session.client("sts").get_caller_identity()
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert identity["Account"] == "000000000000"


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_works_with_the_profile_and_no_endpoint_url(door):
    credentials, config = profile_paths(door.data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(credentials), AWS_CONFIG_FILE=str(config), AWS_PROFILE="localcloud")
    result = subprocess.run(["aws", "sagemaker", "list-endpoints"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Endpoints"] == []


def test_the_key_survives_a_restart(tmp_path):
    first = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    key = first.credentials
    first.stop()
    second = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        assert second.credentials == key
        assert second.client("s3").list_buckets()["Buckets"] == []
    finally:
        second.stop()


# ---------------------------------------------------------------- refusals per protocol

WRONG_SECRET = {
    "sagemaker": ("InvalidSignatureException", lambda c: c.list_endpoints()),
    "lambda": ("InvalidSignatureException", lambda c: c.list_functions()),
    "logs": ("InvalidSignatureException", lambda c: c.describe_log_groups()),
    "sts": ("SignatureDoesNotMatch", lambda c: c.get_caller_identity()),
    "s3": ("SignatureDoesNotMatch", lambda c: c.list_buckets()),
    "ec2": ("AuthFailure", lambda c: c.describe_instances()),
}
UNKNOWN_KEY = {
    "sagemaker": "UnrecognizedClientException",
    "lambda": "UnrecognizedClientException",
    "logs": "UnrecognizedClientException",
    "sts": "InvalidClientTokenId",
    "s3": "InvalidAccessKeyId",
    "ec2": "AuthFailure",
}


@pytest.mark.parametrize("service", sorted(WRONG_SECRET))
def test_a_wrong_secret_is_refused_in_the_services_own_words(door, service):
    expected, call = WRONG_SECRET[service]
    secret = door.credentials["AWS_SECRET_ACCESS_KEY"]
    wrong = client(door, service, secret=secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    code, message, status = error_of_call(call, wrong)
    assert code == expected
    assert status in (401, 403)
    assert secret not in message
    if service != "ec2":
        assert message.startswith("The request signature we calculated does not match")


@pytest.mark.parametrize("service", sorted(UNKNOWN_KEY))
def test_an_unknown_key_is_refused_in_the_services_own_words(door, service):
    _, call = WRONG_SECRET[service]
    code, _, status = error_of_call(call, client(door, service, key="AKIAIOSFODNN7EXAMPLE"))
    assert (code, status) == (UNKNOWN_KEY[service], 401 if service == "ec2" else 403)


def test_a_request_signed_more_than_15_minutes_off_is_expired(door, monkeypatch):
    real_now = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real_now() - dt.timedelta(minutes=16))
    code, message, _ = error_of_call(lambda c: c.list_endpoints(), client(door, "sagemaker"))
    assert code == "InvalidSignatureException" and message.startswith("Signature expired:")
    code, _, _ = error_of_call(lambda c: c.list_buckets(), client(door, "s3"))
    assert code == "RequestTimeTooSkewed"
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real_now() + dt.timedelta(minutes=16))
    code, message, _ = error_of_call(lambda c: c.get_caller_identity(), client(door, "sts"))
    assert code == "SignatureDoesNotMatch" and message.startswith("Signature not yet current:")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real_now() - dt.timedelta(minutes=14))
    assert client(door, "sagemaker").list_endpoints()["Endpoints"] == []  # within the window


def test_another_region_is_served_and_a_made_up_one_refused(door):
    assert client(door, "sagemaker", region="eu-west-1").list_endpoints()["Endpoints"] == []
    code, message, _ = error_of_call(lambda c: c.list_endpoints(), client(door, "sagemaker", region="mars-1"))
    assert code == "InvalidSignatureException"
    assert message == "Credential should be scoped to a valid region, not 'mars-1'."


# ---------------------------------------------------------------- S3's other ways of signing


@pytest.mark.parametrize("version", ["s3", "s3v4"])  # boto3 presigns S3 URLs with SigV2 unless told
def test_presigned_urls_work_and_cannot_be_tampered_with(door, version):
    s3 = boto3.Session(
        aws_access_key_id=door.credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=door.credentials["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).client("s3", endpoint_url=door.endpoint_url, config=Config(signature_version=version))
    bucket = f"presigned-{version}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/a photo+1.jpg", Body=b"woof")
    params = {"Bucket": bucket, "Key": "dir/a photo+1.jpg"}
    url = s3.generate_presigned_url("get_object", Params=params)
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"woof"
    tampered = url.replace("Signature=", "Signature=A")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered)
    assert refused.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()
    short = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(short)
    body = expired.value.read()
    assert expired.value.code == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def _sign_streaming_upload(door: LocalCloudProcess, path: str, chunks: list[bytes], *, tamper: bool = False):
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT, signed chunk by chunk as AWS documents it."""
    key, secret = door.credentials["AWS_ACCESS_KEY_ID"], door.credentials["AWS_SECRET_ACCESS_KEY"]
    now = dt.datetime.now(dt.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    host = door.endpoint_url.removeprefix("http://")

    def sign(text: str) -> str:
        k = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
        for part in ("us-east-1", "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        return hmac.new(k, text.encode(), hashlib.sha256).hexdigest()

    decoded = sum(len(c) for c in chunks)
    headers = {
        "host": host,
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(decoded),
        "content-encoding": "aws-chunked",
    }
    signed = sorted(headers)
    canonical = "\n".join(
        [
            "PUT",
            path,
            "",
            *(f"{h}:{headers[h]}" for h in signed),
            "",
            ";".join(signed),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        ]
    )
    seed = sign("\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]))
    body, previous = b"", seed
    for data in [*chunks, b""]:
        signature = sign(
            "\n".join(
                [
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    amz_date,
                    scope,
                    previous,
                    hashlib.sha256(b"").hexdigest(),
                    hashlib.sha256(data).hexdigest(),
                ]
            )
        )
        sent = data.upper() if tamper and data else data
        body += f"{len(data):x};chunk-signature={signature}\r\n".encode() + sent + b"\r\n"
        previous = signature
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={seed}"
    )
    request = urllib.request.Request(door.endpoint_url + path, data=body, method="PUT", headers=headers)
    return request


def test_streaming_uploads_are_verified_chunk_by_chunk(door):
    s3 = client(door, "s3")
    s3.create_bucket(Bucket="streamed")
    with urllib.request.urlopen(_sign_streaming_upload(door, "/streamed/k", [b"a" * 70000, b"bark"])) as response:
        assert response.status == 200
    assert s3.get_object(Bucket="streamed", Key="k")["Body"].read() == b"a" * 70000 + b"bark"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(_sign_streaming_upload(door, "/streamed/k", [b"woof"], tamper=True))
    assert refused.value.code == 403 and b"SignatureDoesNotMatch" in refused.value.read()
    assert s3.get_object(Bucket="streamed", Key="k")["ContentLength"] == 70004  # nothing replaced


def test_a_body_that_is_not_what_was_signed_is_refused(door):
    s3 = client(door, "s3")
    s3.create_bucket(Bucket="hashes")
    request = signed_request(door, "s3", "PUT", "/hashes/k", b"original")
    request.data = b"replaced"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400 and b"XAmzContentSHA256Mismatch" in refused.value.read()
