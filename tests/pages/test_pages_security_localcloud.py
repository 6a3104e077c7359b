"""The Security page and sign-in under AppTest, against the session's localcloud."""

import json
import time

import pytest

from app.security.least_privilege_view import ProofRun, start_proof
from classifier.packaging import build_lambda_zip
from services.core.clients import CloudSettings, make_client
from services.security.least_privilege_proof import LeastPrivilegeProof, Proof, ProofStep
from services.security.users import UserStore
from tests.pages.conftest import dashboard


@pytest.fixture
def security_page(aws_env):
    at = dashboard().run()
    at.switch_page("app_pages/security.py").run()
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
    at.switch_page("app_pages/security.py").run()
    at.radio(key="security_view").set_value("Least privilege").run()
    at.selectbox(key="lp_function").set_value("page-lp-predict")
    at.button(key="lp_generate").click().run()
    at.button(key="lp_apply").click().run()
    at.button(key="lp_apply_confirm").click().run()
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
    assert set(steps["outcome"]) == {"✓ passed"}, steps[["step", "detail"]].to_dict("records")
    assert any(s.label.startswith("Proven") and "after Apply" in s.label for s in at.status)


def own_broad_function(localcloud, tmp_path, role: str, function: str) -> None:
    """A function of the test's own on a role as broad as the original project's (two managed policies)."""
    iam = localcloud.client("iam")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    for policy in ("service-role/AWSLambdaBasicExecutionRole", "AmazonSageMakerFullAccess"):
        iam.attach_role_policy(RoleName=role, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
    localcloud.client("lambda").create_function(
        FunctionName=function,
        Runtime="python3.11",
        Role=arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": build_lambda_zip(tmp_path / "function.zip").read_bytes()},
        Timeout=30,
        Environment={"Variables": {"ENDPOINT_NAME": "dog-breed-classifier"}},
    )


def test_apply_asks_first_and_afterwards_the_diff_reads_against_the_role_as_it_is(
    aws_env, localcloud, tmp_path
) -> None:
    own_broad_function(localcloud, tmp_path, "page-confirm-lambda", "page-confirm-predict")
    attached = localcloud.client("iam").list_attached_role_policies
    at = dashboard().run()
    at.switch_page("app_pages/security.py").run()
    at.radio(key="security_view").set_value("Least privilege").run()
    at.selectbox(key="lp_function").set_value("page-confirm-predict")
    at.button(key="lp_generate").click().run()
    at.button(key="lp_apply").click().run()
    assert not at.exception
    asked = at.warning[0].value
    assert "removes 2 policies" in asked and "AmazonSageMakerFullAccess (aws-managed, detached)" in asked
    assert len(attached(RoleName="page-confirm-lambda")["AttachedPolicies"]) == 2  # nothing done yet
    at.button(key="lp_apply_cancel").click().run()
    assert not at.warning and len(attached(RoleName="page-confirm-lambda")["AttachedPolicies"]) == 2

    at.button(key="lp_apply").click().run()
    at.button(key="lp_apply_confirm").click().run()
    assert "Applied least-privilege to page-confirm-lambda" in at.success[0].value
    assert attached(RoleName="page-confirm-lambda")["AttachedPolicies"] == []
    assert not any("aws-managed" in c.value for c in at.code)  # no detached policy reads as today's
    assert any("this plan now" in s.value for s in at.success)
    at.button(key="lp_apply").click().run()  # nothing left to remove: applied again without asking
    assert not at.warning and "Applied" in at.success[0].value


def test_another_role_chosen_hides_the_plan_and_the_proof_of_the_one_before(security_page) -> None:
    at = security_page
    at.radio(key="security_view").set_value("Least privilege").run()
    at.selectbox(key="lp_function").set_value("dog-breed-predict")
    at.button(key="lp_generate").click().run()
    function_role = at.session_state["security_plan"].role.name
    done = ProofStep("classify", "a photo through function dog-breed-predict", "passed", "answered", 1.0)
    at.session_state["security_proof"] = ProofRun(function_role, [done], Proof(function_role, (done,), time.time()))
    at.run()
    assert [s.label for s in at.status] and any(b.key == "lp_apply" for b in at.button)

    at.radio(key="lp_kind").set_value("SageMaker execution role").run()
    at.selectbox(key="lp_role").set_value("dog-breed-sagemaker-execution").run()
    assert not at.exception
    assert not any(b.key in {"lp_apply", "lp_prove"} for b in at.button)  # no plan of the other role to apply
    assert not at.status and not any("Proposed inline policy" in m.value for m in at.markdown)
    assert any(c.value.startswith("No plan for dog-breed-sagemaker-execution yet") for c in at.caption)
    at.button(key="lp_generate").click().run()
    assert at.button(key="lp_apply").label == "Apply to dog-breed-sagemaker-execution"
    assert not at.status  # the function role's proof is not this role's

    at.radio(key="lp_kind").set_value("Lambda function's role").run()  # its plan was replaced: generate again
    assert not any(b.key == "lp_apply" for b in at.button)


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


def test_only_an_operator_changes_where_the_dashboard_points(users_mode, aws_env) -> None:
    """A guest's server-side requests are signed by the dashboard: a guest gets no endpoint, profile or region
    input, and a value put into the session under their keys changes nothing."""
    at = dashboard().run()
    assert not at.exception
    keys = {box.key for box in at.text_input}
    assert not keys & {"settings_endpoint_url", "settings_profile", "settings_region"}
    assert any("Only operators change where the dashboard points" in c.value for c in at.sidebar.caption)
    at.session_state["settings_endpoint_url"] = "http://169.254.169.254"
    at.session_state["settings_region"] = "eu-west-1"
    at.run()
    chosen = at.session_state["cloud_settings"]
    assert (chosen.endpoint_url, chosen.region) == (aws_env.endpoint_url, "us-east-1")


def test_an_operator_changes_where_the_dashboard_points(aws_env) -> None:
    at = dashboard().run()  # sign-in off in the suite: an operator
    assert {"settings_endpoint_url", "settings_profile", "settings_region"} <= {box.key for box in at.text_input}


def test_the_event_history_finds_a_call_by_its_name_and_refuses_an_empty_value(security_page, aws_env) -> None:
    sagemaker = make_client("sagemaker", CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    sagemaker.list_models(NameContains="event-history-probe")
    at = security_page
    at.radio(key="security_view").set_value("Event history").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.dataframe[0].value.shape[0] > 0  # every event of the last 24 hours, on arrival
    first_table = at.dataframe[0].proto.id
    at.selectbox(key="eh_key").set_value("EventName").run()
    at.button(key="eh_lookup").click().run()  # no value typed: refused with the reason, nothing asked
    assert at.error[0].value == "The EventName to look up must be 1 to 2000 characters long."
    at.text_input(key="eh_value").set_value("ListModels")
    at.button(key="eh_lookup").click().run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert set(table["event name"]) == {"ListModels"} and set(table["event source"]) == {"sagemaker.amazonaws.com"}
    # A new lookup draws a new table: a row picked in the last one is not picked, by its number, in this one.
    assert at.dataframe[0].proto.id != first_table
    assert "Pick a row to read its whole CloudTrail record." in [c.value for c in at.caption]
