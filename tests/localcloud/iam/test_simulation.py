"""IAM's policy simulator through real boto3: SimulatePrincipalPolicy, SimulateCustomPolicy and
GetContextKeysFor*Policy answer with botocore's shapes and enums, and decide as the IAM User Guide documents."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from localcloud.core.protocol import AwsError
from localcloud.iam.simulation import request_context
from tests.localcloud.conftest import assert_shape

ACCOUNT = "000000000000"
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
ENDPOINT = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/dog-breeds"
OTHER_ENDPOINT = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/other"
# The AWS CLI's example for simulate-custom-policy, with the positions it shows.
CLI_POLICY = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
    '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}'
)
INVOKE_ONE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "InvokeOne", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": ENDPOINT},
        {
            "Sid": "OnlyFromTheVpc",
            "Effect": "Deny",
            "Action": "sagemaker:InvokeEndpoint",
            "Resource": "*",
            "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpc": "vpc-dogs"}},
        },
    ],
}


@pytest.fixture(scope="module")
def iam(cloud):
    return cloud.client("iam")


@pytest.fixture(scope="module")
def invoker(iam) -> str:
    """A role with an inline policy (pretty-printed, so positions span lines) and an AWS managed policy."""
    arn = iam.create_role(RoleName="simulated-invoker", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="simulated-invoker", PolicyName="invoke-one", PolicyDocument=json.dumps(INVOKE_ONE, indent=4)
    )
    iam.attach_role_policy(
        RoleName="simulated-invoker", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    )
    return arn


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def source_types(iam) -> list[str]:
    return iam.meta.service_model.shape_for("PolicySourceType").enum


def test_one_result_per_action_with_each_resources_own_decision(iam, invoker):
    vpc = [{"ContextKeyName": "aws:SourceVpc", "ContextKeyValues": ["vpc-dogs"], "ContextKeyType": "string"}]
    response = iam.simulate_principal_policy(
        PolicySourceArn=invoker,
        ActionNames=["sagemaker:InvokeEndpoint", "logs:PutLogEvents"],
        ResourceArns=[ENDPOINT, OTHER_ENDPOINT],
        ContextEntries=vpc,
    )
    assert_shape(iam, "SimulatePrincipalPolicy", response)
    invoke, logs = response["EvaluationResults"]
    assert (invoke["EvalActionName"], invoke["EvalResourceName"]) == ("sagemaker:InvokeEndpoint", "*")
    assert invoke["EvalDecision"] == "implicitDeny"  # the most restrictive over both endpoints
    assert invoke["MatchedStatements"] == [] and invoke["EvalDecisionDetails"] == {}
    by_resource = {r["EvalResourceName"]: r for r in invoke["ResourceSpecificResults"]}
    assert by_resource[OTHER_ENDPOINT]["EvalResourceDecision"] == "implicitDeny"
    allowed = by_resource[ENDPOINT]
    assert allowed["EvalResourceDecision"] == "allowed" and allowed["MissingContextValues"] == []
    # The inline policy by name, the Sid InvokeOne's braces on lines 4 and 9 of the pretty-printed text.
    assert allowed["MatchedStatements"] == [
        {
            "SourcePolicyId": "invoke-one",
            "SourcePolicyType": "role",
            "StartPosition": {"Line": 4, "Column": 10},
            "EndPosition": {"Line": 9, "Column": 10},
        }
    ]
    assert logs["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in logs["MatchedStatements"]] == [
        ("AWSLambdaBasicExecutionRole", "aws-managed")
    ]
    assert {m["SourcePolicyType"] for m in allowed["MatchedStatements"] + logs["MatchedStatements"]} <= set(
        source_types(iam)
    )


def test_a_deny_and_the_keys_the_request_did_not_supply(iam, invoker):
    result = iam.simulate_principal_policy(PolicySourceArn=invoker, ActionNames=["sagemaker:InvokeEndpoint"])
    (only,) = result["EvaluationResults"]
    # StringNotEqualsIfExists on an absent aws:SourceVpc is true: the Deny applies, and the key is named.
    assert only["EvalDecision"] == "explicitDeny" and only["MissingContextValues"] == ["aws:SourceVpc"]
    assert [(m["SourcePolicyId"], m["StartPosition"]["Line"]) for m in only["MatchedStatements"]] == [
        ("invoke-one", 10)
    ]
    assert "ResourceSpecificResults" not in only and "EvalDecisionDetails" not in only


def test_the_cli_examples_answers(iam):
    def at(time: str) -> dict:
        entry = {"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": [time], "ContextKeyType": "date"}
        response = iam.simulate_custom_policy(
            PolicyInputList=[CLI_POLICY], ActionNames=["dynamodb:CreateBackup"], ContextEntries=[entry]
        )
        assert_shape(iam, "SimulateCustomPolicy", response)
        return response["EvaluationResults"][0]

    allowed = at("2019-04-25T11:00:00Z")
    assert allowed == {
        "EvalActionName": "dynamodb:CreateBackup",
        "EvalResourceName": "*",
        "EvalDecision": "allowed",
        "MatchedStatements": [
            {
                "SourcePolicyId": "PolicyInputList.1",
                "SourcePolicyType": "none",
                "StartPosition": {"Line": 1, "Column": 38},
                "EndPosition": {"Line": 1, "Column": 167},
            }
        ],
        "MissingContextValues": [],
    }
    assert at("2014-04-25T11:00:00Z")["EvalDecision"] == "implicitDeny"
    variables = CLI_POLICY.replace(
        '"Resource":"*"', '"Resource":"arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}"'
    )
    keys = iam.get_context_keys_for_custom_policy(PolicyInputList=[variables])
    assert_shape(iam, "GetContextKeysForCustomPolicy", keys)
    assert keys["ContextKeyNames"] == ["aws:username", "aws:CurrentTime"]


def test_context_entry_types_and_set_qualifiers(iam):
    tagging = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sagemaker:AddTags",
                    "Resource": "*",
                    "Condition": {
                        "ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]},
                        "NumericLessThan": {"sagemaker:InstanceCount": 4},
                        "Bool": {"aws:SecureTransport": True},
                        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                    },
                }
            ],
        }
    )

    def decide(tag_keys: list[str] | None, count: str = "2") -> dict:
        entries = [
            {"ContextKeyName": "sagemaker:InstanceCount", "ContextKeyValues": [count], "ContextKeyType": "numeric"},
            {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"},
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"},
        ]
        if tag_keys is not None:
            entries.append(
                {"ContextKeyName": "aws:TagKeys", "ContextKeyValues": tag_keys, "ContextKeyType": "stringList"}
            )
        response = iam.simulate_custom_policy(
            PolicyInputList=[tagging], ActionNames=["sagemaker:AddTags"], ContextEntries=entries
        )
        return response["EvaluationResults"][0]

    assert decide(["team"])["EvalDecision"] == "allowed"
    assert decide(["team", "owner"])["EvalDecision"] == "implicitDeny"
    absent = decide(None)  # ForAllValues with no key is true; the simulator still names the key
    assert absent["EvalDecision"] == "allowed" and absent["MissingContextValues"] == ["aws:TagKeys"]
    assert decide([])["EvalDecision"] == "allowed"
    assert decide(["team"], count="8")["EvalDecision"] == "implicitDeny"
    code, message = error_of(
        iam.simulate_custom_policy,
        PolicyInputList=[tagging],
        ActionNames=["sagemaker:AddTags"],
        ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["not-an-ip"], "ContextKeyType": "ip"}],
    )
    assert code == "InvalidInput" and "aws:SourceIp" in message


def test_a_permissions_boundary_caps_what_the_policies_allow(iam, invoker):
    boundary = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    )
    response = iam.simulate_principal_policy(
        PolicySourceArn=invoker,
        ActionNames=["sagemaker:InvokeEndpoint", "logs:CreateLogStream"],
        ResourceArns=[ENDPOINT],
        ContextEntries=[
            {"ContextKeyName": "aws:SourceVpc", "ContextKeyValues": ["vpc-dogs"], "ContextKeyType": "string"}
        ],
        PermissionsBoundaryPolicyInputList=[boundary],
    )
    assert_shape(iam, "SimulatePrincipalPolicy", response)
    invoke, logs = response["EvaluationResults"]
    assert invoke["EvalDecision"] == "implicitDeny"
    assert invoke["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert logs["EvalDecision"] == "allowed"
    assert logs["ResourceSpecificResults"][0]["PermissionsBoundaryDecisionDetail"] == {
        "AllowedByPermissionsBoundary": True
    }


def test_results_page_with_marker_and_max_items(iam, invoker):
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    first = iam.simulate_principal_policy(PolicySourceArn=invoker, ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] and len(first["EvaluationResults"]) == 2
    rest = iam.simulate_principal_policy(
        PolicySourceArn=invoker, ActionNames=actions, MaxItems=2, Marker=first["Marker"]
    )
    assert not rest["IsTruncated"] and "Marker" not in rest
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=invoker, ActionNames=actions, PaginationConfig={"PageSize": 1}
    )
    assert [r["EvalActionName"] for page in pages for r in page["EvaluationResults"]] == actions
    assert error_of(iam.simulate_principal_policy, PolicySourceArn=invoker, ActionNames=actions, Marker="bogus")[0] == (
        "InvalidInput"
    )


def test_context_keys_of_a_roles_policies(iam, invoker):
    keys = iam.get_context_keys_for_principal_policy(
        PolicySourceArn=invoker,
        PolicyInputList=[
            CLI_POLICY.replace("aws:CurrentTime", "aws:sourcevpc").replace("DateGreaterThan", "StringLike")
        ],
    )
    assert_shape(iam, "GetContextKeysForPrincipalPolicy", keys)
    assert keys["ContextKeyNames"] == ["aws:SourceVpc"]  # one key, whatever its spelling


def test_bad_input_gets_iams_errors(iam, invoker):
    assert error_of(
        iam.simulate_principal_policy,
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody",
        ActionNames=["s3:GetObject"],
    ) == ("NoSuchEntity", "The user with name nobody cannot be found.")
    assert error_of(
        iam.simulate_principal_policy,
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/nobody",
        ActionNames=["s3:GetObject"],
    ) == ("NoSuchEntity", "The role with name nobody cannot be found.")
    code, message = error_of(
        iam.simulate_custom_policy, PolicyInputList=['{"Statement": []}'], ActionNames=["s3:GetObject"]
    )
    assert code == "InvalidInput" and message.startswith("PolicyInputList")
    code, message = error_of(
        iam.simulate_principal_policy, PolicySourceArn=invoker, ActionNames=["s3:GetObject"], ResourcePolicy=CLI_POLICY
    )
    assert code == "InvalidInput" and "ResourcePolicy" in message
    two_values = {"ContextKeyName": "aws:SourceVpc", "ContextKeyValues": ["a", "b"], "ContextKeyType": "string"}
    code, _ = error_of(
        iam.simulate_principal_policy,
        PolicySourceArn=invoker,
        ActionNames=["s3:GetObject"],
        ContextEntries=[two_values],
    )
    assert code == "InvalidInput"


VALID = {
    "numeric": st.integers(-(10**6), 10**6).map(str),
    "boolean": st.sampled_from(["true", "false", "TRUE"]),
    "date": st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    "ip": st.ip_addresses().map(str),
    "binary": st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode()),
}


@given(kind=st.sampled_from(sorted(VALID)), data=st.data(), listed=st.booleans())
def test_context_entries_take_the_values_their_type_names(kind, data, listed):
    values = data.draw(st.lists(VALID[kind], min_size=1, max_size=3 if listed else 1))
    entry = {
        "ContextKeyName": "svc:Key",
        "ContextKeyValues": values,
        "ContextKeyType": kind + ("List" if listed else ""),
    }
    context = request_context([entry])
    assert context.values("SVC:key") is not None and context.is_set("svc:key") == listed
    with pytest.raises(AwsError) as refused:
        request_context([{**entry, "ContextKeyValues": [*values[:-1], "not a " + kind]}])
    assert refused.value.code == "InvalidInput"
