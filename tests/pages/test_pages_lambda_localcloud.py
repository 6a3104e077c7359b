"""The Lambda page under AppTest, against the session's localcloud: the function list, the endpoint change,
versions and aliases, reserved and provisioned concurrency (with the bad input the page must refuse), metrics,
and the Test tab with the original project's image event through the real classifier.

Changes are made on a function of the test's own, so the default function other tests classify with keeps its
settings."""

from __future__ import annotations

import json
import re
import time

import pytest

from classifier.packaging import build_lambda_zip
from services.core.access import Caller
from services.core.clients import CloudSettings
from services.security.least_privilege import LeastPrivilegeService
from tests.conftest import DEFAULT_ENDPOINT, DEFAULT_FUNCTION
from tests.localcloud.conftest import function_zip, lambda_role
from tests.pages.conftest import dashboard

PROBE = "lambda-page-probe"
HANDLER = """
import os

def lambda_handler(event, context):
    print("probe got", sorted(event))
    return {"statusCode": 200, "body": {"version": context.function_version, "endpoint": os.environ["ENDPOINT_NAME"]}}
"""


@pytest.fixture(scope="module")
def probe(localcloud):
    client = localcloud.client("lambda")
    client.create_function(
        FunctionName=PROBE,
        Runtime="python3.12",
        Role=lambda_role(localcloud, "lambda-page-probe"),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(HANDLER)},
        Environment={"Variables": {"ENDPOINT_NAME": "nowhere-yet"}},
    )
    client.publish_version(FunctionName=PROBE)
    client.create_alias(FunctionName=PROBE, Name="live", FunctionVersion="1")
    yield PROBE
    client.delete_function(FunctionName=PROBE)


@pytest.fixture
def lambda_page(aws_env, probe):
    at = dashboard().run()
    at.switch_page("app_pages/lambda.py").run()
    assert not at.exception
    at.selectbox(key="lambda_function").set_value(PROBE).run()
    assert not at.exception
    return at


def view(at, name: str):
    at.radio(key="lambda_view").set_value(name).run()
    assert not at.exception
    return at


def test_functions_are_listed_and_the_endpoint_changes(lambda_page) -> None:
    at = lambda_page
    table = at.dataframe[0].value
    row = table[table["function"] == DEFAULT_FUNCTION].iloc[0]
    assert row["endpoint it calls"] == DEFAULT_ENDPOINT and row["runtime"].startswith("python")
    at.text_input(key="lambda_endpoint_value").set_value("not-deployed")
    at.button(key="lambda_endpoint_change").click().run()
    assert "There is no endpoint 'not-deployed'" in at.error[0].value
    at.text_input(key="lambda_endpoint_value").set_value(DEFAULT_ENDPOINT)
    at.button(key="lambda_endpoint_change").click().run()
    assert f"now calls endpoint {DEFAULT_ENDPOINT}" in at.success[0].value


def test_versions_aliases_and_their_bad_input(lambda_page) -> None:
    at = view(lambda_page, "Versions & aliases")
    at.text_input(key="lambda_publish_description").set_value("first")
    at.button(key="lambda_publish").click().run()
    assert re.match(r"Version \d+ of lambda-page-probe is published", at.success[0].value)
    at.text_input(key="lambda_alias_name").set_value("2024")
    at.selectbox(key="lambda_alias_version").set_value("1")
    at.button(key="lambda_alias_save").click().run()
    assert "reserves for version numbers" in at.error[0].value
    at.text_input(key="lambda_alias_name").set_value("live")
    at.selectbox(key="lambda_alias_extra").set_value("1")
    at.button(key="lambda_alias_save").click().run()
    assert "two different versions" in at.error[0].value
    at.selectbox(key="lambda_alias_extra").set_value("1")
    at.selectbox(key="lambda_alias_version").set_value("$LATEST")
    at.number_input(key="lambda_alias_weight").set_value(1.5)
    at.button(key="lambda_alias_save").click().run()
    assert "outside 0-1" in at.error[0].value
    at.selectbox(key="lambda_alias_version").set_value("1")
    at.selectbox(key="lambda_alias_extra").set_value("none")
    at.button(key="lambda_alias_save").click().run()
    assert "Alias live points at version 1" in at.success[0].value
    at.selectbox(key="lambda_delete_version").set_value("1")
    at.button(key="lambda_delete").click().run()
    assert "alias live still sends calls to it" in at.error[0].value
    versions = at.dataframe[1].value
    assert list(versions["version"])[:2] == ["$LATEST", "1"] and versions["aliases"].iloc[1] == "live (100%)"


def test_concurrency_rules_and_provisioned_status(lambda_page) -> None:
    at = view(lambda_page, "Concurrency")
    assert [m.label for m in at.metric][:2] == ["Account limit", "Unreserved pool"]
    assert any("costs nothing" in c.value for c in at.caption)
    assert any("costs money" in c.value for c in at.caption)
    at.number_input(key="lambda_reserved_value").set_value(10)
    at.button(key="lambda_reserved_set").click().run()
    assert "below its minimum value of [1]" in at.error[0].value
    at.number_input(key="lambda_reserved_value").set_value(2)
    at.button(key="lambda_reserved_set").click().run()
    assert "reserved 2" in at.success[0].value
    at.number_input(key="lambda_provisioned_count").set_value(3)
    at.selectbox(key="lambda_provisioned_on").set_value("live")
    at.button(key="lambda_provisioned_set").click().run()
    assert "should not be greater than the reservedConcurrentExecution" in at.error[0].value
    at.number_input(key="lambda_provisioned_count").set_value(1)
    at.button(key="lambda_provisioned_set").click().run()
    assert not at.error, at.error[0].value
    assert "1 provisioned environments requested" in at.success[0].value
    at.number_input(key="lambda_reserved_value").set_value(0)
    at.button(key="lambda_reserved_set").click().run()
    assert at.error, (at.exception, [s.value for s in at.success], at.dataframe[-1].value)
    assert "below the function's provisioned concurrency (1 in all)" in at.error[0].value
    deadline = time.monotonic() + 60
    while True:  # the status part refreshes itself; AppTest re-runs the page instead
        status = at.dataframe[-1].value
        if status["status"].iloc[0] == "READY" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        at.run()
    assert (status["status"].iloc[0], status["allocated"].iloc[0]) == ("READY", 1)
    assert status["cost"].iloc[0].startswith("$")
    at.button(key="lambda_provisioned_remove").click().run()
    at.button(key="lambda_reserved_remove").click().run()
    assert "no reservation" in at.success[0].value


def test_the_test_tab_classifies_the_sample_photo_and_shows_the_report(aws_env) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/lambda.py").run()
    at.selectbox(key="lambda_function").set_value(DEFAULT_FUNCTION).run()
    at = view(at, "Test")
    assert '"url": "https://' in at.text_area(key="lambda_test_event").value
    at.button(key="lambda_preset_image").click().run()
    assert json.loads(at.text_area(key="lambda_test_event").value)["image"].startswith("/9j/")  # a JPEG
    at.button(key="lambda_test_run").click().run()
    assert not at.exception
    assert "Execution succeeded" in at.success[0].value
    response = json.loads(at.code[0].value)
    assert response["statusCode"] == 200 and "keeshond" in response["body"].lower()
    assert "Duration" in [m.label for m in at.metric]
    assert "REPORT RequestId:" in at.code[1].value

    at.text_area(key="lambda_test_event").set_value('{"url": "http://169.254.169.254/latest/meta-data/"}')
    at.button(key="lambda_test_run").click().run()
    assert "public addresses only" in at.error[0].value


def test_metrics_show_the_calls(lambda_page) -> None:
    at = view(lambda_page, "Test")
    at.text_area(key="lambda_test_event").set_value("{}")
    at.button(key="lambda_test_run").click().run()
    at = view(at, "Metrics")
    deadline = time.monotonic() + 10
    while at.metric[0].value == "0" and time.monotonic() < deadline:  # metrics land a moment after the call
        time.sleep(0.2)
        at.run()
    assert int(at.metric[0].value) >= 1
    assert at.get("plotly_chart")


def test_the_overview_links_each_function_to_its_lambda_page(aws_env, probe) -> None:
    at = dashboard().run()
    links = {link.proto.query_string: link.proto.page for link in at.get("page_link")}
    assert links[f"function={PROBE}"].endswith("lambda")
    at.query_params["function"] = PROBE
    at.switch_page("app_pages/lambda.py").run()
    assert not at.exception
    assert at.selectbox(key="lambda_function").value == PROBE


def test_with_the_cloud_down_the_page_says_so(dead_cloud: str) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/lambda.py").run()
    assert not at.exception
    assert "unreachable" in at.error[0].value


def test_an_endpoint_changed_after_least_privilege_is_warned_and_the_policy_follows(aws_env, tmp_path) -> None:
    """The role's least-privilege policy names the endpoint the function called then; pointed elsewhere, the
    page says the calls will be refused and offers the policy update."""
    iam, lambda_ = aws_env.client("iam"), aws_env.client("lambda")
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    arn = iam.create_role(
        RoleName="lambda-page-lp", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    iam.attach_role_policy(RoleName="lambda-page-lp", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    lambda_.create_function(
        FunctionName="lambda-page-lp-predict",
        Runtime="python3.11",
        Role=arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": build_lambda_zip(tmp_path / "function.zip").read_bytes()},
        Environment={"Variables": {"ENDPOINT_NAME": "lambda-page-elsewhere"}},
    )
    least = LeastPrivilegeService(CloudSettings.from_env())
    least.apply(Caller("ana", "operator"), least.for_function("lambda-page-lp-predict"))
    at = dashboard().run()
    at.switch_page("app_pages/lambda.py").run()
    at.selectbox(key="lambda_function").set_value("lambda-page-lp-predict").run()
    assert not at.warning  # it calls the endpoint the policy names

    at.text_input(key="lambda_endpoint_value").set_value(DEFAULT_ENDPOINT)
    at.button(key="lambda_endpoint_change").click().run()
    assert not at.exception
    warning = at.warning[0].value
    assert "lets it invoke only lambda-page-elsewhere" in warning and "will be refused (AccessDenied)" in warning
    at.button(key="lambda_endpoint_policy_update").click().run()
    assert not at.exception
    note = at.success[0].value
    assert f"now allows invoking {DEFAULT_ENDPOINT}" in note and "calls lambda-page-elsewhere any more" in note
    assert not at.warning
