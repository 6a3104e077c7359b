"""The policy evaluator against the cases AWS documents (IAM User Guide: policy evaluation logic,
the elements reference, condition operators)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcloud.auth.policy import RequestContext, context_keys, evaluate, parse, resource_matches, trust_allows
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


# ---------------------------------------------------------------- set qualifiers, as "single-valued vs multivalued
# context keys" documents them: ForAllValues is true for an absent key, ForAnyValue false; negation is per value.

TAG_KEYS = st.lists(st.sampled_from(["team", "owner", "cost", "env"]), max_size=4, unique=True)


def decide_on(operator: str, policy_values: list[str], request: list[str] | None, *, as_set: bool = True) -> str:
    """The decision of a one-condition Allow on aws:TagKeys; `request` None: the key is absent."""
    statement = {
        "Effect": "Allow",
        "Action": "iam:TagRole",
        "Resource": "*",
        "Condition": {operator: {"aws:TagKeys": policy_values}},
    }
    context = None if request is None else RequestContext({"aws:TagKeys": request}, ["aws:TagKeys"] if as_set else [])
    return evaluate([parse(doc(statement))], "iam:TagRole", "*", context).decision


@given(policy_values=TAG_KEYS.filter(bool), request=st.none() | TAG_KEYS)
def test_set_qualifiers_compare_the_requests_set_with_the_policys(policy_values, request):
    allowed, values = set(policy_values), request or []
    present = request is not None and bool(request)
    expected = {
        "ForAllValues:StringEquals": all(v in allowed for v in values),
        "ForAnyValue:StringEquals": present and any(v in allowed for v in values),
        "ForAllValues:StringNotEquals": all(v not in allowed for v in values),
        "ForAnyValue:StringNotEquals": present and any(v not in allowed for v in values),
        "ForAllValues:StringEqualsIfExists": all(v in allowed for v in values),  # IfExists adds nothing to a set
        "ForAnyValue:StringEqualsIfExists": present and any(v in allowed for v in values),
    }
    for operator, holds in expected.items():
        assert (decide_on(operator, policy_values, request) == "allowed") == holds, operator


@given(policy_values=TAG_KEYS.filter(bool), value=st.sampled_from(["team", "owner", "cost", "env"]))
def test_plain_operators_compare_one_value_and_refuse_a_set(policy_values, value):
    hit = value in policy_values
    assert (decide_on("StringEquals", policy_values, [value], as_set=False) == "allowed") == hit
    assert (decide_on("StringNotEquals", policy_values, [value], as_set=False) == "allowed") != hit
    # A multivalued key needs a set qualifier: a plain operator does not match it, negated or not.
    assert decide_on("StringEquals", policy_values, [value], as_set=True) == "implicitDeny"
    assert decide_on("StringNotEquals", policy_values, [value, "x"], as_set=False) == "implicitDeny"
    # Absent: false, except for negated operators and IfExists.
    assert decide_on("StringEquals", policy_values, None) == "implicitDeny"
    assert decide_on("StringNotEquals", policy_values, None) == "allowed"
    assert decide_on("StringEqualsIfExists", policy_values, None) == "allowed"


def test_the_documented_forallvalues_deny_example():
    # IAM User Guide, multivalued context keys: Deny iam:Tag* when ForAllValues:StringNotLike aws:TagKeys key1*.
    deny = {
        "Effect": "Deny",
        "Action": ["iam:Tag*", "iam:UnTag*"],
        "Resource": ["*"],
        "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
    }
    allow = {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}

    def tagging(keys: list[str] | None) -> str:
        context = None if keys is None else RequestContext({"aws:TagKeys": keys}, ["aws:TagKeys"])
        return evaluate([parse(doc(allow, deny))], "iam:TagUser", "*", context).decision

    assert tagging(["key1:legal"]) == "allowed"
    assert tagging(["key1:hr", "key1:personnel"]) == "allowed"
    assert tagging(["key2:audit"]) == "explicitDeny"
    assert tagging(["key1:legal", "key2:audit"]) == "allowed"  # not every value is unlike key1*
    assert tagging(None) == "explicitDeny"  # no key: ForAllValues is true


@pytest.mark.parametrize(
    ("condition", "context", "decision"),
    [
        ({"Null": {"aws:TokenIssueTime": "true"}}, {"aws:TokenIssueTime": []}, "allowed"),  # no value is null
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ["ten"]}, "implicitDeny"),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2018-08-16T12:00:00Z"}},
            {"aws:CurrentTime": ["1700000000"]},
            "allowed",
        ),
        ({"BinaryEquals": {"key:blob": "QmluYXJ5"}}, {"key:blob": ["QmluYXJ5"]}, "allowed"),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": ["127.0.0.1"]}, "allowed"),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::dog-*"}},
            {"aws:SourceArn": ["arn:aws:s3:::dog-photos"]},
            "allowed",
        ),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:s3:::dog-*"}}, {}, "allowed"),
    ],
)
def test_typed_operators(condition, context, decision):
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
    assert decide("s3:GetObject", "*", statement, context=context) == decision


# ---------------------------------------------------------------- policy variables


def test_policy_variables_take_the_requests_values():
    own_folder = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{BUCKET}/home/${{aws:username}}/*",
        "Condition": {"StringEquals": {"s3:prefix": "${aws:username, 'guest'}/"}},
    }
    policies = [parse(doc(own_folder))]
    bob = {"aws:username": ["bob"], "s3:prefix": ["bob/"]}
    assert evaluate(policies, "s3:GetObject", f"{BUCKET}/home/bob/a.jpg", bob).allowed
    assert not evaluate(policies, "s3:GetObject", f"{BUCKET}/home/eve/a.jpg", bob).allowed
    # No value and no default: the resource matches nothing, and the simulator names the key.
    anonymous = evaluate(policies, "s3:GetObject", f"{BUCKET}/home/bob/a.jpg", {"s3:prefix": ["guest/"]})
    assert (anonymous.decision, anonymous.missing_context) == ("implicitDeny", ("aws:username",))
    # A value's own `*` is no wildcard; ${*} is a literal star; 2008-10-17 has no variables.
    assert not evaluate(policies, "s3:GetObject", f"{BUCKET}/home/bob/a.jpg", {"aws:username": ["*"]}).allowed
    star = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/${{*}}"}
    assert decide("s3:GetObject", f"{BUCKET}/*", star) == "allowed"
    assert decide("s3:GetObject", f"{BUCKET}/a.jpg", star) == "implicitDeny"
    literal = parse({"Version": "2008-10-17", "Statement": [{**own_folder, "Condition": {}}]})
    assert not evaluate([literal], "s3:GetObject", f"{BUCKET}/home/bob/a.jpg", bob).allowed
    assert evaluate([literal], "s3:GetObject", f"{BUCKET}/home/${{aws:username}}/a", {}).allowed


# ---------------------------------------------------------------- what the simulator reports


def test_missing_context_values_are_the_keys_of_the_statements_for_this_request():
    policies = [
        parse(
            doc(
                {
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"}},
                },
                {
                    "Effect": "Deny",
                    "Action": "s3:PutObject",
                    "Resource": "*",
                    "Condition": {"Null": {"aws:MultiFactorAuthAge": "true"}},
                },
            )
        )
    ]
    decision = evaluate(policies, "s3:GetObject", "*", {"aws:securetransport": ["true"]})
    assert decision.decision == "implicitDeny" and decision.missing_context == ("aws:SourceIp",)
    assert context_keys(policies) == ["aws:SourceIp", "aws:SecureTransport", "aws:MultiFactorAuthAge"]


def test_every_matching_deny_is_reported():
    denies = [{"Sid": f"d{n}", "Effect": "Deny", "Action": "s3:*", "Resource": "*"} for n in range(2)]
    decision = evaluate([parse(doc({"Effect": "Allow", "Action": "*", "Resource": "*"}, *denies))], "s3:GetObject", "*")
    assert [s.sid for _, s in decision.matched] == ["d0", "d1"]


STATEMENTS = st.lists(
    st.fixed_dictionaries(
        {"Effect": st.sampled_from(["Allow", "Deny"]), "Action": st.sampled_from(["s3:*", ["s3:Get*", "logs:*"]])},
        optional={"Sid": st.text('abc{}[]",:', max_size=6), "Resource": st.sampled_from(["*", ["a", "b{}"]])},
    ).map(lambda s: {"Resource": "*", **s}),
    min_size=1,
    max_size=4,
)


@given(statements=STATEMENTS, indent=st.none() | st.integers(0, 4), single=st.booleans(), statement_first=st.booleans())
def test_statement_positions_point_at_the_statements_braces(statements, indent, single, statement_first):
    body = statements[0] if single and len(statements) == 1 else statements
    document = {"Statement": body, "Version": "2012-10-17"} if statement_first else doc(*statements)
    if not statement_first and single:
        document["Statement"] = body
    text = json.dumps(document, indent=indent)
    lines = text.split("\n")
    for statement, parsed in zip(statements, parse(text).statements, strict=True):
        (start_line, start_column), (end_line, end_column) = parsed.start, parsed.end
        # The simulator's columns count from 1 and stand just after the brace (the AWS CLI's examples).
        assert lines[start_line - 1][start_column - 2] == "{" and lines[end_line - 1][end_column - 2] == "}"
        opening = sum(len(line) + 1 for line in lines[: start_line - 1]) + start_column - 2
        closing = sum(len(line) + 1 for line in lines[: end_line - 1]) + end_column - 2
        assert json.loads(text[opening : closing + 1]) == statement
