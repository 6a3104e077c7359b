"""A role's activity is found in the event history even when other callers' traffic fills its newest pages:
the reader also looks the role's sessions up by name."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from services.core.clients import CloudSettings
from services.security.activity import MAX_PAGES, ActivityService
from tests.clouds import running_localcloud

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    with running_localcloud(tmp_path_factory.mktemp("activity"), ["--no-defaults"]) as process:
        yield process


def test_a_roles_sessions_are_found_past_other_callers_traffic(cloud, monkeypatch):
    iam, s3 = cloud.client("iam"), cloud.client("s3")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    reads = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    iam.put_role_policy(RoleName="reader", PolicyName="read", PolicyDocument=json.dumps(reads))
    s3.create_bucket(Bucket="busy")
    s3.put_object(Bucket="busy", Key="wanted.txt", Body=b"x")
    credentials = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName="nightly-job")["Credentials"]
    as_role = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    ).client("s3", endpoint_url=cloud.endpoint_url)
    as_role.get_object(Bucket="busy", Key="wanted.txt")
    with ThreadPoolExecutor(8) as pool:  # the root's uploads push the role's read out of S3's newest pages
        list(pool.map(lambda i: s3.put_object(Bucket="busy", Key=f"noise/{i}", Body=b"."), range(MAX_PAGES * 50 + 1)))
    for name, value in cloud.env().items():
        monkeypatch.setenv(name, value)
    reader = ActivityService(CloudSettings.from_env())
    by_source = reader.role_activity(role, ["s3.amazonaws.com"])
    assert not by_source.accesses
    found = reader.role_activity(role, ["s3.amazonaws.com"], sessions=["nightly-job"])
    assert [(a.action, a.resources) for a in found.accesses] == [("s3:GetObject", ("arn:aws:s3:::busy/wanted.txt",))]
