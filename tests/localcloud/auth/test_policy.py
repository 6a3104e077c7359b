"""The policy evaluator against the cases AWS documents (IAM User Guide: policy evaluation logic,
the elements reference, condition operators)."""

from __future__ import annotations

import pytest

from localcloud.auth.policy import evaluate, parse, resource_matches, trust_allows
from localcloud.core.protocol import AwsError

BUCKET = "arn:aws:s3:::dog-photos"


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def decide(action: str, resource: str, *statements: dict, context: dict | None = None) -> str:
    return evaluate([parse(doc(*statements))], action, resource, context).decision


def test_no_statement_that_applies_is_an_implicit_deny():
    assert (
        decide("s3:GetObject", f"{BUCKET}/a.jpg", {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET})
        == "implicitDeny"
    )


def test_an_explicit_deny_overrides_any_allow():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*"}
    assert decide("s3:DeleteObject", f"{BUCKET}/a.jpg", allow, deny) == "explicitDeny"
    assert decide("s3:GetObject", f"{BUCKET}/a.jpg", allow, deny) == "allowed"


def test_actions_match_case_insensitively_with_wildcards():
    statement = {"Effect": "Allow", "Action": ["S3:get*", "sagemaker:InvokeEndpoin?"], "Resource": "*"}
    assert decide("s3:GetObject", "*", statement) == "allowed"
    assert decide("sagemaker:InvokeEndpoint", "*", statement) == "allowed"
    assert decide("sagemaker:InvokeEndpointAsync", "*", statement) == "implicitDeny"


def test_not_action_allows_everything_but_its_list():
    # AWS's example: everything except IAM.
    statement = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert decide("s3:GetObject", "*", statement) == "allowed"
    assert decide("iam:CreateUser", "*", statement) == "implicitDeny"


def test_not_resource_denies_everywhere_but_its_list():
    allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "s3:*", "NotResource": [BUCKET, f"{BUCKET}/*"]}
    assert decide("s3:GetObject", f"{BUCKET}/a.jpg", allow, deny) == "allowed"
    assert decide("s3:GetObject", "arn:aws:s3:::other/a.jpg", allow, deny) == "explicitDeny"


def test_resource_wildcards_stay_within_their_arn_segment():
    assert resource_matches(
        "arn:aws:sagemaker:*:000000000000:endpoint/dog-*",
        "arn:aws:sagemaker:us-east-1:000000000000:endpoint/dog-breed-classifier",
    )
    assert not resource_matches(
        "arn:aws:sagemaker:*:000000000000:endpoint/dog-*",
        "arn:aws:sagemaker:us-east-1:111111111111:endpoint/dog-breed-classifier",
    )
    assert resource_matches(
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*",
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:log-stream:2026/x",
    )
    assert not resource_matches(f"{BUCKET}/*", BUCKET)  # the bucket is not an object in it


def test_conditions_follow_the_documented_operator_rules():
    statement = {
        "Effect": "Allow",
        "Action": "sagemaker:InvokeEndpoint",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    }
    assert decide("sagemaker:InvokeEndpoint", "*", statement, context={"aws:RequestedRegion": ["eu-west-1"]}) == (
        "allowed"
    )
    assert decide("sagemaker:InvokeEndpoint", "*", statement, context={"aws:requestedregion": ["ap-south-1"]}) == (
        "implicitDeny"
    )
    assert decide("sagemaker:InvokeEndpoint", "*", statement) == "implicitDeny"  # a missing key is false


def test_negated_ifexists_and_null_operators_on_a_missing_key():
    def with_condition(condition: dict, context: dict | None = None) -> str:
        return decide(
            "s3:GetObject",
            "*",
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition},
            context=context,
        )

    assert with_condition({"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}) == "allowed"
    assert with_condition({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}) == "allowed"
    assert with_condition({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, {"aws:SourceVpc": ["vpc-2"]}) == (
        "implicitDeny"
    )
    assert with_condition({"Null": {"aws:TokenIssueTime": "true"}}) == "allowed"
    assert with_condition({"Null": {"aws:TokenIssueTime": "false"}}) == "implicitDeny"
    assert with_condition({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": ["false"]}) == "allowed"
    assert with_condition({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": ["127.0.0.1"]}) == (
        "allowed"
    )
    assert with_condition({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ["100"]}) == "implicitDeny"
    assert (
        with_condition({"ForAllValues:StringLike": {"aws:TagKeys": "team-*"}}, {"aws:TagKeys": ["team-a", "team-b"]})
        == "allowed"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "Syntax errors in policy."),
        ({"Version": "2012-10-17"}, "Missing required field Statement"),
        (doc({"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}), "Effect"),
        (doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
        (doc({"Effect": "Allow", "Action": "s3:*"}), "Policy statement must contain resources."),
        (doc({"Effect": "Allow", "Action": "GetObject", "Resource": "*"}), "prefaced by a vendor"),
        (
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}),
            "should not specify a principal",
        ),
        (
            doc({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringSorta": {"a": "b"}}}),
            "Invalid Condition type",
        ),
        ({"Version": "2013-01-01", "Statement": []}, "legacy parsing"),
    ],
)
def test_malformed_documents_are_refused_as_iam_refuses_them(document, message):
    with pytest.raises(AwsError) as refused:
        parse(document)
    assert refused.value.code == "MalformedPolicyDocument" and message in refused.value.message


def test_a_trust_policy_lets_in_only_the_principals_it_names():
    trust = parse(
        doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        trust=True,
    )
    assert trust_allows(trust, "Service", "lambda.amazonaws.com", "000000000000", "sts:AssumeRole").allowed
    assert not trust_allows(trust, "AWS", "arn:aws:iam::000000000000:root", "000000000000", "sts:AssumeRole").allowed
    account = parse(
        doc({"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "sts:AssumeRole"}), trust=True
    )
    assert trust_allows(account, "AWS", "arn:aws:iam::000000000000:root", "000000000000", "sts:AssumeRole").allowed
