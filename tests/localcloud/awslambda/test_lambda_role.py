"""Lambda acts as the function's role, as on AWS: the caller must be allowed to pass the role, and the
function's logs reach CloudWatch Logs only when its role may write them."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import LAMBDA_TRUST, function_zip

HANDLER = """
def lambda_handler(event, context):
    print("said by the handler")
    return {"statusCode": 200}
"""


def create(lambda_, name: str, role: str):
    return lambda_.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(HANDLER)},
    )


def streams(cloud, name: str, timeout: float = 5.0) -> list[dict]:
    """The function's log streams, once they appear (the writer batches off the request path)."""
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        found = (
            logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"] if _group(logs, name) else []
        )
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _group(logs, name: str) -> bool:
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    return any(g["logGroupName"] == f"/aws/lambda/{name}" for g in groups)


def test_logs_are_written_as_the_role_and_only_where_it_may(cloud):
    iam, lambda_ = cloud.client("iam"), cloud.client("lambda")
    silent = iam.create_role(RoleName="no-logs", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    create(lambda_, "silent", silent)
    create(lambda_, "chatty", "arn:aws:iam::000000000000:role/test")  # AWSLambdaBasicExecutionRole
    for name in ("silent", "chatty"):
        assert lambda_.invoke(FunctionName=name)["StatusCode"] == 200
    assert streams(cloud, "chatty")
    assert streams(cloud, "silent", timeout=1.5) == []
    trail = cloud.client("cloudtrail")
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "silent"}])
    refused = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
    assert any(r["eventName"] == "CreateLogStream" and r["errorCode"] == "AccessDenied" for r in refused)
    assert refused[0]["userIdentity"]["invokedBy"] == "lambda.amazonaws.com"


def test_a_caller_must_be_allowed_to_pass_the_role_to_lambda(cloud):
    iam = cloud.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    deployer = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    only_lambda = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="deployer", PolicyName="lambda", PolicyDocument=json.dumps(only_lambda))
    credentials = cloud.client("sts").assume_role(RoleArn=deployer, RoleSessionName="ci")["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )
    lambda_ = session.client("lambda", endpoint_url=cloud.endpoint_url)
    with pytest.raises(ClientError) as refused:
        create(lambda_, "passed", "arn:aws:iam::000000000000:role/test")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert (
        "is not authorized to perform: iam:PassRole on resource: arn:aws:iam::000000000000:role/test"
        in error["Message"]
    )
    to_lambda = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::000000000000:role/test",
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            }
        ],
    }
    iam.put_role_policy(RoleName="deployer", PolicyName="pass", PolicyDocument=json.dumps(to_lambda))
    assert create(lambda_, "passed", "arn:aws:iam::000000000000:role/test")["FunctionName"] == "passed"
