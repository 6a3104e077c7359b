"""The audit's findings on documents as IAM returns them (the managed ones are localcloud's copies)."""

import pytest

from localcloud.iam.managed import MANAGED
from services.security.policy_audit import audit_role, statement_findings, unbounded
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


def test_sagemaker_full_access_on_a_function_that_invokes_one_endpoint():
    findings = audit_role(role(managed("AmazonSageMakerFullAccess")))
    grant = next(f for f in findings if f.kind == "service-wide grant")
    assert grant.severity == "high"
    assert "dog-breed-predict" in grant.message and "invokes only dog-breed-classifier" in grant.message
    assert ("high", "wildcard action") in kinds(findings)  # sagemaker:*
    assert ("medium", "resource *") in kinds(findings)
    assert ("medium", "privilege escalation") in kinds(findings)  # PassRole on role/*, with a condition
    assert ("medium", "data exfiltration") in kinds(findings)  # GetObject on *sagemaker* buckets
    assert findings[0].severity == "high"  # most severe first


def test_the_same_policy_on_a_role_nothing_uses_is_a_medium_grant():
    findings = audit_role(role(managed("AmazonSageMakerFullAccess"), used_by=()))
    assert ("medium", "service-wide grant") in kinds(findings)


def test_basic_execution_role_only_says_resource_star_for_log_actions():
    findings = audit_role(role(managed("service-role/AWSLambdaBasicExecutionRole")))
    assert kinds(findings) == {("medium", "resource *")}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, ("critical", "wildcard action")),
        ({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}, ("critical", "privilege escalation")),
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
