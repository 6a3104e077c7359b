"""The authorizer keeps compiled policies and decisions, as AWS's front ends do, and forgets them the moment IAM
changes: every kind of policy change takes effect at the next request, through real boto3; and decisions are
kept per value of the context keys the policies read, never across them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.auth.authorizer import Authorizer, request_context
from localcloud.core.registry import Call, Identity
from localcloud.core.state import Store
from localcloud.iam.provider import IAM
from tests.localcloud.iam.test_iam import ACCOUNT, ACCOUNT_TRUST, session_for


def document(effect: str, action: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]}


LIST, DENY, NOTHING = (
    document("Allow", "sagemaker:ListEndpoints"),
    document("Deny", "sagemaker:*"),
    document("Allow", "s3:ListBucket"),
)


def allowed(sagemaker) -> bool:
    try:
        sagemaker.list_endpoints()
    except ClientError as error:
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        return False
    return True


def test_every_policy_change_takes_effect_at_the_next_request(cloud):
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName="cached", AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))["Role"]["Arn"]
    managed = iam.create_policy(PolicyName="list-endpoints", PolicyDocument=json.dumps(LIST))["Policy"]["Arn"]
    sagemaker = session_for(cloud, arn, "cache").client("sagemaker", endpoint_url=cloud.endpoint_url)

    assert not allowed(sagemaker)  # decided (and kept) before each change below
    iam.attach_role_policy(RoleName="cached", PolicyArn=managed)
    assert allowed(sagemaker) and allowed(sagemaker)
    iam.put_role_policy(RoleName="cached", PolicyName="deny", PolicyDocument=json.dumps(DENY))
    assert not allowed(sagemaker)
    iam.delete_role_policy(RoleName="cached", PolicyName="deny")
    assert allowed(sagemaker)
    iam.create_policy_version(PolicyArn=managed, PolicyDocument=json.dumps(NOTHING), SetAsDefault=True)
    assert not allowed(sagemaker)
    iam.create_policy_version(PolicyArn=managed, PolicyDocument=json.dumps(LIST), SetAsDefault=True)
    assert allowed(sagemaker)
    iam.detach_role_policy(RoleName="cached", PolicyArn=managed)
    assert not allowed(sagemaker)
    iam.put_role_policy(RoleName="cached", PolicyName="inline", PolicyDocument=json.dumps(LIST))
    assert allowed(sagemaker)
    iam.delete_role_policy(RoleName="cached", PolicyName="inline")
    iam.delete_role(RoleName="cached")
    assert not allowed(sagemaker)  # the session outlives its role, and may do nothing


def test_a_decision_is_kept_per_value_of_the_keys_the_policies_read(cloud):
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName="regional", AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))["Role"]["Arn"]
    only_east = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sagemaker:ListEndpoints",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            }
        ],
    }
    iam.put_role_policy(RoleName="regional", PolicyName="east", PolicyDocument=json.dumps(only_east))
    session = session_for(cloud, arn, "regions")
    east = session.client("sagemaker", endpoint_url=cloud.endpoint_url, region_name="us-east-1")
    west = session.client("sagemaker", endpoint_url=cloud.endpoint_url, region_name="us-west-2")
    for _ in range(2):  # in turns, each answer from the cache must still be the one for its region
        assert allowed(east)
        assert not allowed(west)


def test_decisions_are_remembered_until_iam_changes(tmp_path: Path):
    iam = IAM(Store(tmp_path))
    root = Call("us-east-1", Identity("AKIA", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT))
    iam.op_CreateRole({"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(ACCOUNT_TRUST)}, root)
    iam.op_PutRolePolicy({"RoleName": "r", "PolicyName": "p", "PolicyDocument": json.dumps(LIST)}, root)
    authorizer = Authorizer(iam)
    context = request_context(ACCOUNT, "AROA:s", "us-east-1")

    def decide() -> object:
        return authorizer.decide("r", "sagemaker:ListEndpoints", "*", context)[0]

    first = decide()
    assert first.allowed and decide() is first  # kept: not evaluated again
    context["aws:CurrentTime"] = ["2030-01-01T00:00:00Z"]  # a key no policy of the role reads
    assert decide() is first
    iam.op_PutRolePolicy({"RoleName": "r", "PolicyName": "p", "PolicyDocument": json.dumps(NOTHING)}, root)
    assert not decide().allowed


@pytest.mark.parametrize("key", ["aws:CurrentTime", "aws:EpochTime"])
def test_a_policy_that_reads_the_time_is_decided_for_each_time(tmp_path: Path, key: str):
    iam = IAM(Store(tmp_path))
    root = Call("us-east-1", Identity("AKIA", f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, ACCOUNT))
    iam.op_CreateRole({"RoleName": "r", "AssumeRolePolicyDocument": json.dumps(ACCOUNT_TRUST)}, root)
    operator, until = ("DateLessThan", "2030-01-01T00:00:00Z")
    if key == "aws:EpochTime":
        operator, until = ("NumericLessThan", "1893456000")
    until_2030 = {**LIST, "Statement": [{**LIST["Statement"][0], "Condition": {operator: {key: until}}}]}
    iam.op_PutRolePolicy({"RoleName": "r", "PolicyName": "p", "PolicyDocument": json.dumps(until_2030)}, root)
    authorizer = Authorizer(iam)
    context = request_context(ACCOUNT, "AROA:s", "us-east-1")
    assert authorizer.decide("r", "sagemaker:ListEndpoints", "*", context)[0].allowed
    context[key] = ["2031-01-01T00:00:00Z" if key == "aws:CurrentTime" else "1924992000"]
    assert not authorizer.decide("r", "sagemaker:ListEndpoints", "*", context)[0].allowed
