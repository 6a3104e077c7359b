"""The Lambda page in a real browser: an operator sets reserved concurrency, the page refuses more than the
account allows with AWS's reason, and the setting is what Lambda itself then reports."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.localcloud.conftest import function_zip, lambda_role

pytestmark = pytest.mark.browser

FUNCTION = "lambda-browser-probe"
HANDLER = """
def lambda_handler(event, context):
    return {"statusCode": 200, "body": "{}"}
"""


@pytest.fixture(scope="module")
def probe(localcloud):
    """A function of its own (the default one, which other tests classify with, keeps its settings)."""
    client = localcloud.client("lambda")
    client.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=lambda_role(localcloud, "lambda-browser-probe"),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": function_zip(HANDLER)},
    )
    yield client
    client.delete_function(FunctionName=FUNCTION)


def test_an_operator_sets_reserved_concurrency(page, dashboard_url, probe):
    page.goto(f"{dashboard_url}/lambda?function={FUNCTION}")
    page.get_by_text("Concurrency", exact=True).click()
    expect(page.get_by_text("Reserved concurrency costs nothing")).to_be_visible()
    box = page.get_by_label(re.compile(r"Reserved executions \(this account allows at most \d+\)"))
    box.fill("50")
    page.get_by_role("button", name="Set reserved concurrency").click()
    expect(page.get_by_text("decreases account's UnreservedConcurrentExecution below its minimum")).to_be_visible()
    assert probe.get_function_concurrency(FunctionName=FUNCTION).get("ReservedConcurrentExecutions") is None

    box.fill("2")
    page.get_by_role("button", name="Set reserved concurrency").click()
    expect(page.get_by_text(f"{FUNCTION}: reserved 2.")).to_be_visible()
    assert probe.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 2
    # Load test here once the Endpoints page's panel is wired in: calls beyond 2 at once come back throttled.
    page.get_by_role("button", name="Remove the reservation").click()
    expect(page.get_by_text(f"{FUNCTION}: no reservation.")).to_be_visible()
    assert "Traceback" not in page.inner_text("body")
