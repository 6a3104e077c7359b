"""The Security page and sign-in under AppTest, against the session's localcloud."""

import pytest

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
