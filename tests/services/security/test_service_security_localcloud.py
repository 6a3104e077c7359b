"""Roles, least privilege and the viewer identity against a real localcloud through boto3.

Tests that change a role use roles and functions of their own, so the session's default function
and roles stay as bootstrap made them for the rest of the suite.
"""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from classifier.packaging import build_lambda_zip
from services.core.access import Caller, NotAllowed
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.datasets import DatasetService
from services.security.least_privilege import POLICY_NAME, LeastPrivilegeService
from services.security.least_privilege_proof import LeastPrivilegeProof
from services.security.policy_audit import audit_role, policy_findings, unbounded
from services.security.roles import RoleService, listed
from services.serving.prediction import PredictionService
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION

OPERATOR, VIEWER = Caller("ana", "operator"), Caller(None, "viewer")
BROAD = [
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess",
]


def trust(principal: dict) -> str:
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def settings(aws_env) -> CloudSettings:
    return CloudSettings.from_env()


@pytest.fixture(scope="module")
def own_function(localcloud, tmp_path_factory):
    """A function of its own, on a role as broad as the original project's, calling the default endpoint."""
    iam, lambda_ = localcloud.client("iam"), localcloud.client("lambda")
    arn = iam.create_role(
        RoleName="sec-test-lambda", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"})
    )["Role"]["Arn"]
    for policy in BROAD:
        iam.attach_role_policy(RoleName="sec-test-lambda", PolicyArn=policy)
    code = build_lambda_zip(tmp_path_factory.mktemp("zip") / "function.zip").read_bytes()
    lambda_.create_function(
        FunctionName="sec-test-predict",
        Runtime="python3.11",
        Role=arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": code},
        Timeout=30,
        Environment={"Variables": {"ENDPOINT_NAME": DEFAULT_ENDPOINT}},
    )
    return "sec-test-predict"


def test_the_systems_roles_with_documents_users_and_findings(settings):
    roles = {r.name: r for r in RoleService(settings).roles()}
    function_role = roles["dog-breed-lambda-execution"]
    assert function_role.trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert {p.name for p in function_role.policies} >= {"AWSLambdaBasicExecutionRole", "AmazonSageMakerFullAccess"}
    assert all(p.document["Statement"] for p in function_role.policies)
    assert any(u.name == DEFAULT_FUNCTION and u.endpoint == DEFAULT_ENDPOINT for u in function_role.used_by)
    assert any(u.kind == "model" for u in roles["dog-breed-sagemaker-execution"].used_by)
    findings = audit_role(function_role)
    assert findings[0].severity == "high" and findings[0].kind == "service-wide grant"


def test_least_privilege_for_a_function_applied_simulated_and_proven(settings, own_function, dog_photo, localcloud):
    service = LeastPrivilegeService(settings)
    plan = service.for_function(own_function)
    statements = {p.sid: p.statement for p in plan.statements}
    invoke = statements["InvokeEndpoints"]
    assert invoke["Action"] == ["sagemaker:InvokeEndpoint"]
    assert invoke["Resource"] == f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{DEFAULT_ENDPOINT}"
    assert all("recent resources" in p.sources and not p.problems for p in plan.statements)
    assert "-# aws-managed AmazonSageMakerFullAccess" in plan.diff and "+# inline least-privilege" in plan.diff
    before = service.verify_by_simulation(plan)
    assert not all(c.ok for c in before)  # today's policies allow dangerous requests

    with pytest.raises(NotAllowed):
        service.apply(VIEWER, plan)
    applied_at = service.apply(OPERATOR, plan)
    role = RoleService(settings).role("sec-test-lambda")
    assert [(p.name, p.kind) for p in role.policies] == [(POLICY_NAME, "inline")]
    assert [f for f in audit_role(role) if f.severity in ("critical", "high")] == []
    checks = service.verify_by_simulation(plan)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    proof = LeastPrivilegeProof(settings).prove(plan, dog_photo.read_bytes(), applied_at=applied_at)
    steps = {s.step: s for s in proof.steps}
    assert proof.proven, proof.steps
    assert steps["classify"].detail.lower().startswith("answered: a dog, keeshond (")
    assert "AccessDenied" in steps["refuse"].detail and "sagemaker:InvokeEndpoint" in steps["refuse"].detail
    assert proof.seconds_from_apply is not None and proof.seconds_from_apply > 0
    functions = localcloud.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith("lp-proof")]  # the proof's copy is gone


def test_least_privilege_for_the_sagemaker_role_names_its_artifact_and_endpoint_logs(settings):
    plan = LeastPrivilegeService(settings).for_sagemaker_role("dog-breed-sagemaker-execution")
    by_sid = {p.sid: p.statement for p in plan.statements}
    model_data = "arn:aws:s3:::sagemaker-us-east-1-000000000000/dog-breed-efficientnet-lite0/model.tar.gz"
    assert model_data in listed(by_sid["ReadModelArtifacts"]["Resource"])
    # The next job's code, at a key no job has used yet, is covered: the Train page's layout.
    code = by_sid["ReadTrainingCode"]["Resource"]
    assert code == "arn:aws:s3:::sagemaker-us-east-1-000000000000/*/source/sourcedir.tar.gz"
    logs = json.dumps(by_sid["WriteLogs"]["Resource"])
    assert "/aws/sagemaker/Endpoints/*:*" in logs and "/aws/sagemaker/TrainingJobs:*" in logs
    assert by_sid["ListTrainingData"]["Condition"]["StringLike"]["s3:prefix"]
    via, endpoint = plan.target
    assert via == "endpoint"
    named = [p.statement for p in plan.statements if p.sid != "PutMetrics"]
    assert not [r for s in named for r in listed(s["Resource"]) if unbounded(r)]
    assert policy_findings(plan.document, "plan") == []
    assert all(not p.problems for p in plan.statements)


def test_simulation_shows_the_deciding_statement(settings):
    service = RoleService(settings)
    role = service.role("dog-breed-lambda-execution")
    allowed = service.simulate(role, "sagemaker:CreateEndpoint", "arn:aws:sagemaker:us-east-1:000000000000:endpoint/x")
    assert allowed.decision == "allowed"
    assert allowed.statements[0][0] == "AmazonSageMakerFullAccess"
    assert allowed.statements[0][1]["Action"] == "sagemaker:*"
    denied = service.simulate(role, "iam:CreateRole", "*")
    assert (denied.decision, denied.statements) == ("implicitDeny", ())
    with pytest.raises(ServiceError, match="not an action"):
        service.simulate(role, "create everything", "*")


def test_bad_input_is_explained(settings, own_function):
    service = RoleService(settings)
    with pytest.raises(ServiceError) as malformed:
        service.put_inline_policy(OPERATOR, "sec-test-lambda", "bad", json.dumps({"Statement": [{"Effect": "Maybe"}]}))
    assert (
        malformed.value.code == "MalformedPolicyDocument" and "refused the policy document" in malformed.value.message
    )
    with pytest.raises(ServiceError, match="not JSON"):
        service.put_inline_policy(OPERATOR, "sec-test-lambda", "bad", "{not json")
    with pytest.raises(ServiceError) as unknown:
        service.attach(OPERATOR, "sec-test-lambda", "arn:aws:iam::aws:policy/NoSuchPolicy")
    assert unknown.value.code == "NoSuchEntity"
    with pytest.raises(ServiceError) as taken:
        service.create_role(OPERATOR, "sec-test-lambda", "lambda.amazonaws.com")
    assert taken.value.code == "EntityAlreadyExists" and "Choose another name" in taken.value.message


def test_a_role_a_function_uses_is_not_deleted_though_iam_would(settings, own_function, localcloud):
    service = RoleService(settings)
    with pytest.raises(ServiceError) as in_use:
        service.delete_role(OPERATOR, "sec-test-lambda")
    assert in_use.value.code == "RoleInUse" and own_function in in_use.value.message
    assert service.role("sec-test-lambda")
    # IAM itself allows it, as on AWS: a role of the same kind, used by nothing yet, goes.
    arn = service.create_role(OPERATOR, "sec-test-unused", "lambda.amazonaws.com")
    service.attach(OPERATOR, "sec-test-unused", BROAD[0])
    service.delete_role(OPERATOR, "sec-test-unused")
    with pytest.raises(ClientError):
        localcloud.client("iam").get_role(RoleName=arn.rsplit("/", 1)[1])


def test_viewer_sessions_assume_the_viewer_role_and_cannot_change_anything(settings, localcloud, dog_photo):
    viewer = CloudSettings(settings.endpoint_url, settings.region, None, viewer_role="sec-test-viewer")
    prediction = PredictionService(settings=viewer).predict_image(
        dog_photo.read_bytes(), via="endpoint", target=DEFAULT_ENDPOINT
    )
    assert prediction.breeds[0].label.lower() == "keeshond"
    # The service layer refuses before sending; the role's policy would refuse anyway.
    with pytest.raises(NotAllowed, match="CreateBucket"):
        DatasetService(settings=viewer).ensure_bucket("sec-test-viewer-bucket")
    with pytest.raises(NotAllowed):
        RoleService(viewer).create_role(VIEWER, "sec-test-by-viewer", "lambda.amazonaws.com")
    key = localcloud.client("sts").assume_role(
        RoleArn="arn:aws:iam::000000000000:role/sec-test-viewer", RoleSessionName="direct"
    )["Credentials"]
    s3 = localcloud.session().client(
        "s3",
        endpoint_url=localcloud.endpoint_url,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        aws_session_token=key["SessionToken"],
    )
    with pytest.raises(ClientError) as denied:
        s3.create_bucket(Bucket="sec-test-viewer-bucket")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_assume_role_denied_by_the_trust_policy_is_explained(settings, localcloud):
    localcloud.client("iam").create_role(
        RoleName="sec-test-lambda-only", AssumeRolePolicyDocument=trust({"Service": "lambda.amazonaws.com"})
    )
    viewer = CloudSettings(settings.endpoint_url, settings.region, None, viewer_role="sec-test-lambda-only")
    with pytest.raises(ServiceError) as refused:
        RoleService(viewer).roles()
    assert "access denied" in refused.value.message and "sts:AssumeRole" in refused.value.message


def test_the_proof_says_not_a_dog_and_shows_a_small_score_as_it_is(settings, cup_png):
    plan = LeastPrivilegeService(settings).for_function(DEFAULT_FUNCTION)
    proof = LeastPrivilegeProof(settings, poll_s=0.5).prove(plan, cup_png)
    classified = next(s.detail for s in proof.steps if s.step == "classify")
    assert re.fullmatch(r"answered: not a dog, dog score \d+(\.\d+)?%; top breed .+ \(\d+(\.\d\d)?%\)", classified)
    assert "(0%)" not in classified and "(0.00%)" not in classified
