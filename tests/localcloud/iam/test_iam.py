"""IAM, STS AssumeRole and enforcement through real boto3: a role's session can do what its
policies allow and is refused the rest with AWS's wording; the root key stays unrestricted."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.localcloud.conftest import deploy_echo, function_zip, lambda_role

ACCOUNT = "000000000000"
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ACCOUNT_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def iam(cloud):
    return cloud.client("iam")


def session_for(cloud, role_arn: str, name: str = "test-session") -> boto3.Session:
    credentials = cloud.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def test_roles_and_policies_round_trip_as_iam_answers(iam):
    role = iam.create_role(RoleName="round-trip", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/round-trip" and role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName="round-trip")["Role"]["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    inline = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    iam.put_role_policy(RoleName="round-trip", PolicyName="read", PolicyDocument=json.dumps(inline))
    assert iam.get_role_policy(RoleName="round-trip", PolicyName="read")["PolicyDocument"] == inline
    iam.attach_role_policy(RoleName="round-trip", PolicyArn=FULL_ACCESS)
    attached = iam.list_attached_role_policies(RoleName="round-trip")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonSageMakerFullAccess", "PolicyArn": FULL_ACCESS}]
    version = iam.get_policy_version(PolicyArn=FULL_ACCESS, VersionId="v1")["PolicyVersion"]
    assert {
        "Sid": "AllowAllNonAdminSageMakerActions",
        "Effect": "Allow",
        "Action": "sagemaker:*",
        "Resource": "*",
    } in version["Document"]["Statement"]
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    mine = next(r for r in details if r["RoleName"] == "round-trip")
    assert mine["RolePolicyList"] == [{"PolicyName": "read", "PolicyDocument": inline}]
    assert error_of(iam.delete_role, RoleName="round-trip")[0] == "DeleteConflict"


def test_bad_input_gets_iams_errors(iam):
    assert error_of(iam.create_role, RoleName="bad-doc", AssumeRolePolicyDocument="{nope")[0] == (
        "MalformedPolicyDocument"
    )
    iam.create_role(RoleName="taken", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    assert error_of(iam.create_role, RoleName="taken", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)) == (
        "EntityAlreadyExists",
        "Role with name taken already exists.",
    )
    code, _ = error_of(iam.attach_role_policy, RoleName="taken", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert code == "NoSuchEntity"
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    code, message = error_of(iam.put_role_policy, RoleName="taken", PolicyName="p", PolicyDocument=json.dumps(bad))
    assert (code, message) == ("MalformedPolicyDocument", "Policy statement must contain resources.")


def test_assume_role_checks_the_trust_policy(cloud, iam):
    arn = iam.create_role(RoleName="lambda-only", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    code, message = error_of(cloud.client("sts").assume_role, RoleArn=arn, RoleSessionName="me")
    assert code == "AccessDenied"
    assert (
        message == f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: sts:AssumeRole on resource: {arn}"
    )


def test_a_role_session_can_do_what_its_policies_allow_and_nothing_else(cloud, iam):
    deploy_echo(cloud, "allowed-endpoint")
    deploy_echo(cloud, "other-endpoint")
    cloud.wait_endpoint("allowed-endpoint")
    cloud.wait_endpoint("other-endpoint")
    arn = iam.create_role(RoleName="invoker", AssumeRolePolicyDocument=json.dumps(ACCOUNT_TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="invoker", PolicyArn=FULL_ACCESS)
    session = session_for(cloud, arn, "probe")
    sts = session.client("sts", endpoint_url=cloud.endpoint_url)
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/invoker/probe"
    sagemaker = session.client("sagemaker", endpoint_url=cloud.endpoint_url)
    assert {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]} >= {"allowed-endpoint"}
    code, message = error_of(session.client("lambda", endpoint_url=cloud.endpoint_url).list_functions)
    assert (code, message) == (
        "AccessDeniedException",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/invoker/probe is not authorized to perform: "
        "lambda:ListFunctions on resource: * because no identity-based policy allows the lambda:ListFunctions action",
    )
    s3 = session.client("s3", endpoint_url=cloud.endpoint_url)
    assert s3.list_buckets()["Buckets"]  # the managed policy lists every bucket, but reads only SageMaker's
    code, message = error_of(s3.get_object, Bucket="artifacts", Key="allowed-endpoint/model.tar.gz")
    assert code == "AccessDenied" and "s3:GetObject on resource: arn:aws:s3:::artifacts/allowed-endpoint" in message

    # Least privilege: InvokeEndpoint on one endpoint, nothing else.
    least = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sagemaker:InvokeEndpoint",
                "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/allowed-endpoint",
            }
        ],
    }
    iam.put_role_policy(RoleName="invoker", PolicyName="invoke-one", PolicyDocument=json.dumps(least))
    iam.detach_role_policy(RoleName="invoker", PolicyArn=FULL_ACCESS)
    runtime = session.client("sagemaker-runtime", endpoint_url=cloud.endpoint_url)
    answer = runtime.invoke_endpoint(EndpointName="allowed-endpoint", Body=b"abc", ContentType="text/plain")
    assert json.loads(answer["Body"].read())["length"] == 3
    code, message = error_of(
        runtime.invoke_endpoint, EndpointName="other-endpoint", Body=b"abc", ContentType="text/plain"
    )
    assert code == "AccessDeniedException"
    assert f"on resource: arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/other-endpoint" in message
    assert error_of(sagemaker.list_endpoints)[0] == "AccessDeniedException"

    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "sagemaker:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="invoker", PolicyName="deny-all", PolicyDocument=json.dumps(deny))
    _, message = error_of(runtime.invoke_endpoint, EndpointName="allowed-endpoint", Body=b"a", ContentType="text/plain")
    assert message.endswith("with an explicit deny in an identity-based policy")
    # The root key is never restricted.
    assert cloud.client("sagemaker").list_endpoints()["Endpoints"]


def test_simulation_names_the_deciding_statement(cloud, iam):
    arn = iam.create_role(RoleName="simulated", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="simulated", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=["logs:PutLogEvents", "sagemaker:InvokeEndpoint"]
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r for r in results}
    assert decisions["logs:PutLogEvents"]["EvalDecision"] == "allowed"
    assert decisions["logs:PutLogEvents"]["MatchedStatements"][0]["SourcePolicyId"].endswith(
        "AWSLambdaBasicExecutionRole"
    )
    assert decisions["sagemaker:InvokeEndpoint"]["EvalDecision"] == "implicitDeny"


WHO_AM_I = """
import os, boto3
from botocore.exceptions import ClientError

def lambda_handler(event, context):
    answer = {"key": os.environ["AWS_ACCESS_KEY_ID"][:4], "token": bool(os.environ.get("AWS_SESSION_TOKEN")),
              "arn": boto3.client("sts").get_caller_identity()["Arn"]}
    try:
        reply = boto3.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=event["endpoint"], Body=b"woof", ContentType="text/plain")
        answer["invoked"] = reply["Body"].read().decode()
    except ClientError as error:
        answer["refused"] = error.response["Error"]["Code"] + ": " + error.response["Error"]["Message"]
    return answer
"""


def test_a_function_signs_as_its_execution_role_and_is_held_to_its_policies(cloud, iam):
    lambda_ = cloud.client("lambda")
    code, message = error_of(
        lambda_.create_function,
        FunctionName="no-role",
        Runtime="python3.11",
        Handler="lambda_function.lambda_handler",
        Role=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist",
        Code={"ZipFile": function_zip(WHO_AM_I)},
    )
    assert (code, message) == (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
    deploy_echo(cloud, "function-target")
    cloud.wait_endpoint("function-target")
    role = lambda_role(cloud, "who-am-i-role")
    lambda_.create_function(
        FunctionName="who-am-i",
        Runtime="python3.11",
        Handler="lambda_function.lambda_handler",
        Role=role,
        Timeout=30,
        Code={"ZipFile": function_zip(WHO_AM_I)},
    )

    def invoke() -> dict:
        response = lambda_.invoke(FunctionName="who-am-i", Payload=json.dumps({"endpoint": "function-target"}))
        return json.loads(response["Payload"].read())

    answer = invoke()
    assert (answer["key"], answer["token"]) == ("ASIA", True)
    assert answer["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/who-am-i-role/who-am-i"
    assert answer["refused"].startswith(
        "AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role/"
        "who-am-i-role/who-am-i is not authorized to perform: sagemaker:InvokeEndpoint"
    )
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sagemaker:InvokeEndpoint",
                "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/function-target",
            }
        ],
    }
    iam.put_role_policy(RoleName="who-am-i-role", PolicyName="invoke", PolicyDocument=json.dumps(allow))
    assert json.loads(invoke()["invoked"]) == {"greeting": "hello", "length": 4}  # the next call, same environment
