"""The audit's findings on documents as IAM returns them (the managed ones are localcloud's copies): parliament's
where it judges, with its issue codes and severities, the dashboard's own where it does not."""

import pytest

from localcloud.iam.managed import MANAGED
from services.security.policy_audit import audit_role, lint, policy_findings, statement_findings, unbounded
from services.security.roles import PolicyDocument, RoleDetail, RoleUse

FUNCTION = RoleUse("function", "dog-breed-predict", "dog-breed-classifier")


def role(*policies: PolicyDocument, used_by=(FUNCTION,)) -> RoleDetail:
    return RoleDetail("r", "arn:aws:iam::000000000000:role/r", {}, policies, tuple(used_by))


def managed(name: str) -> PolicyDocument:
    return PolicyDocument(
        name.rsplit("/", 1)[-1], "aws-managed", MANAGED[name]["Document"], f"arn:aws:iam::aws:policy/{name}"
    )


def kinds(findings) -> set[tuple[str, str]]:
    return {(f.severity, f.kind) for f in findings}


def codes(findings) -> set[tuple[str, str, str]]:
    return {(f.severity, f.code, f.source) for f in findings}


def test_sagemaker_full_access_on_a_function_that_invokes_one_endpoint():
    findings = audit_role(role(managed("AmazonSageMakerFullAccess")))
    grant = next(f for f in findings if f.kind == "service-wide grant")
    assert grant.severity == "high"
    assert "dog-breed-predict" in grant.message and "invokes only dog-breed-classifier" in grant.message
    assert ("high", "wildcard action") in kinds(findings)  # sagemaker:*
    # parliament's judgements, with its own codes and severities
    assert ("low", "RESOURCE_STAR", "parliament") in codes(findings)
    assert ("medium", "CREDENTIALS_EXPOSURE", "parliament") in codes(findings)  # ecr:GetAuthorizationToken
    assert ("medium", "PERMISSIONS_MANAGEMENT_ACTIONS", "parliament") in codes(findings)  # iam:PassRole
    # PassRole on role/*, with a condition: IAM Access Analyzer's code
    assert ("medium", "PASS_ROLE_WITH_STAR_IN_RESOURCE", "dashboard") in codes(findings)
    assert ("medium", "data exfiltration") in kinds(findings)  # GetObject on *sagemaker* buckets
    assert findings[0].severity == "high"  # most severe first


def test_the_same_policy_on_a_role_nothing_uses_is_a_medium_grant():
    findings = audit_role(role(managed("AmazonSageMakerFullAccess"), used_by=()))
    assert ("medium", "service-wide grant") in kinds(findings)


def test_basic_execution_role_only_says_resource_star_for_log_actions():
    findings = audit_role(role(managed("service-role/AWSLambdaBasicExecutionRole")))
    assert codes(findings) == {("low", "RESOURCE_STAR", "parliament")}
    assert "logs:CreateLogGroup" in findings[0].message


def test_parliament_finds_privilege_escalation_and_unknown_actions():
    escalation = {"Effect": "Allow", "Action": ["iam:PutRolePolicy", "sts:AssumeRole"], "Resource": "*"}
    found = lint({"Version": "2012-10-17", "Statement": [escalation]}, "p")
    assert ("high", "PRIVILEGE_ESCALATION", "parliament") in codes(found)
    typo = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjectt", "Resource": "*"}]}
    assert ("low", "UNKNOWN_ACTION", "parliament") in codes(lint(typo, "p"))


def test_a_scoped_least_privilege_document_has_no_findings():
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadCode", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*/source/*"},
            {
                "Sid": "ListData",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringLike": {"s3:prefix": "datasets/*"}},
            },
            {
                "Sid": "PutMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricData"],
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
            },
        ],
    }
    assert policy_findings(document, "least-privilege") == []


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, ("critical", "wildcard action")),
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}, ("high", "wildcard action")),
        ({"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}, ("high", "privilege escalation")),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, ("high", "data exfiltration")),
        ({"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::*/*"}, ("high", "data exfiltration")),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, ("high", "wildcard action")),
    ],
)
def test_dangerous_statements(statement, expected):
    assert expected in kinds(statement_findings(statement, "p"))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Deny", "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/models/*"},
        {
            "Effect": "Allow",
            "Action": "sagemaker:InvokeEndpoint",
            "Resource": "arn:aws:sagemaker:us-east-1:000000000000:endpoint/dog-breed-classifier",
        },
    ],
)
def test_scoped_statements_have_no_findings(statement):
    assert statement_findings(statement, "p") == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", True),
        ("arn:aws:s3:::*", True),
        ("arn:aws:iam::*:role/*", True),
        ("arn:aws:s3:::*sagemaker*", False),
        ("arn:aws:s3:::bucket/*", False),
    ],
)
def test_unbounded_resource_patterns(pattern, expected):
    assert unbounded(pattern) is expected
