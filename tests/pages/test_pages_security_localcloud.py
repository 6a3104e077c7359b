"""The Security page and sign-in under AppTest, against the session's localcloud."""

import json
import time

import pytest

from app.security.least_privilege_view import start_proof
from classifier.packaging import build_lambda_zip
from services.core.clients import CloudSettings
from services.security.least_privilege_proof import LeastPrivilegeProof
from services.security.users import UserStore
from tests.pages.conftest import dashboard


@pytest.fixture
def security_page(aws_env):
    at = dashboard().run()
    at.switch_page("pages/security.py").run()
    assert not at.exception
    return at


def test_roles_are_listed_with_their_audit(security_page) -> None:
    labels = [e.label for e in security_page.expander]
    function_role = next(label for label in labels if label.startswith("dog-breed-lambda-execution"))
    assert "high" in function_role
    assert any(label.startswith("dog-breed-sagemaker-execution") for label in labels)
    frames = [df.value for df in security_page.dataframe]
    assert any("service-wide grant" in set(frame.get("finding", [])) for frame in frames)


def test_simulating_an_action_shows_the_decision_and_the_statement(security_page) -> None:
    at = security_page
    at.radio(key="security_view").set_value("Simulate").run()
    at.selectbox(key="sim_role").set_value("dog-breed-lambda-execution")
    at.text_input(key="sim_action").set_value("sagemaker:DeleteEndpoint")
    at.text_input(key="sim_resource").set_value("arn:aws:sagemaker:us-east-1:000000000000:endpoint/x")
    at.button(key="sim_run").click().run()
    assert not at.exception
    assert "allowed" in at.success[0].value
    assert any("AmazonSageMakerFullAccess" in m.value for m in at.markdown)
    at.text_input(key="sim_action").set_value("iam:CreateRole")
    at.button(key="sim_run").click().run()
    assert "no policy allows it" in at.error[0].value


def test_generating_the_function_plan_shows_the_diff(security_page) -> None:
    at = security_page
    at.radio(key="security_view").set_value("Least privilege").run()
    at.selectbox(key="lp_function").set_value("dog-breed-predict")
    at.button(key="lp_generate").click().run()
    assert not at.exception
    diff = next(c.value for c in at.code if "least privilege" in c.value)
    assert "+# inline least-privilege" in diff and "-# aws-managed AmazonSageMakerFullAccess" in diff


def test_the_sagemaker_plan_shows_each_statements_evidence_and_parliaments_findings(security_page) -> None:
    at = security_page
    at.radio(key="security_view").set_value("Least privilege").run()
    at.radio(key="lp_kind").set_value("SageMaker execution role").run()
    at.selectbox(key="lp_role").set_value("dog-breed-sagemaker-execution")
    at.button(key="lp_generate").click().run()
    assert not at.exception
    statements = next(df.value for df in at.dataframe if "evidence" in df.value.columns)
    code = statements[statements["statement"] == "ReadTrainingCode"].iloc[0]
    assert code["resources"].endswith("/*/source/sourcedir.tar.gz") and "dashboard layout" in code["evidence"]
    assert set(statements["IAM definitions"]) == {"✓ actions, ARNs and keys exist"}
    assert any("CloudTrail" in c.value for c in at.caption)  # where the history stands is said
    assert any("No findings" in c.value for c in at.caption)  # parliament, beside the plan's document
    assert at.text_input(key="lp_channel").label == "Data channel for the proof's training job"


def test_an_applied_function_plan_is_proven_on_the_page(aws_env, localcloud, dog_photo, tmp_path) -> None:
    """The page's own function on a role of its own: apply, then the proof's table (classify, refuse) with
    the time from Apply."""
    iam, lambda_ = localcloud.client("iam"), localcloud.client("lambda")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName="page-lp-lambda", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName="page-lp-lambda", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    lambda_.create_function(
        FunctionName="page-lp-predict",
        Runtime="python3.11",
        Role=arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": build_lambda_zip(tmp_path / "function.zip").read_bytes()},
        Timeout=30,
        Environment={"Variables": {"ENDPOINT_NAME": "dog-breed-classifier"}},
    )
    at = dashboard().run()
    at.switch_page("pages/security.py").run()
    at.radio(key="security_view").set_value("Least privilege").run()
    at.selectbox(key="lp_function").set_value("page-lp-predict")
    at.button(key="lp_generate").click().run()
    at.button(key="lp_apply").click().run()
    assert "Applied least-privilege to page-lp-lambda" in at.success[0].value
    at.session_state["lp_photo"] = None  # AppTest has no file uploader: the proof gets its photo below
    plan = at.session_state["security_plan"]
    prover = LeastPrivilegeProof(CloudSettings.from_env())
    at.session_state["security_proof"] = start_proof(prover, plan, dog_photo.read_bytes(), time.time(), None)
    deadline = time.monotonic() + 120
    while at.session_state["security_proof"].running and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    assert not at.exception
    steps = next(df.value for df in at.dataframe if "what ran" in df.value.columns)
    assert list(steps["step"]) == ["wait for IAM", "classify", "refuse", "clean up"]
    assert set(steps["outcome"]) == {"✅ passed"}, steps[["step", "detail"]].to_dict("records")
    assert any(s.label.startswith("Proven") and "after Apply" in s.label for s in at.status)


def test_a_malformed_policy_is_refused_on_the_page(security_page) -> None:
    at = security_page
    at.radio(key="security_view").set_value("Manage roles").run()
    at.selectbox(key="mg_role").set_value("dog-breed-lambda-execution")
    at.text_input(key="mg_policy_name").set_value("broken")
    at.text_area(key="mg_document").set_value('{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}')
    at.button(key="mg_put").click().run()
    assert "refused the policy document" in at.error[0].value


@pytest.fixture
def users_mode(aws_env, tmp_path, monkeypatch):
    path = tmp_path / "users.json"
    monkeypatch.setenv("DASHBOARD_AUTH", "users")
    monkeypatch.setenv("DASHBOARD_USERS_FILE", str(path))
    monkeypatch.setenv("DASHBOARD_VIEWER_ROLE", "apptest-viewer")
    return UserStore(path).add("olga", "operator")


def test_a_guest_is_a_viewer_signing_as_the_viewer_role(users_mode) -> None:
    # The sign-in itself is driven in a real browser (tests/browser/test_security.py): AppTest drops the
    # sidebar that the entry script draws when it reruns.
    at = dashboard().run()
    assert not at.exception
    assert any("guest" in c.value for c in at.sidebar.caption)
    assert "assumed-role/apptest-viewer" in next(c.value for c in at.sidebar.caption if "Signing as" in c.value)
    # The Overview a guest sees links only to pages a guest may open (the Endpoint page is operators').
    pages = {link.proto.page for link in at.get("page_link")}
    assert "endpoint" not in pages and "job" not in pages and "train" not in pages
    assert at.text_input(key="auth_password").proto.type == at.text_input(key="auth_password").proto.PASSWORD
