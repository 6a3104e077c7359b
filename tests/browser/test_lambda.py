"""The Lambda page in a real browser: an operator sets reserved concurrency, the page refuses more than the
account allows with AWS's reason, the setting is what Lambda itself then reports, and a load test beyond it
comes back partly throttled."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.localcloud.conftest import function_zip, lambda_role

pytestmark = pytest.mark.browser

FUNCTION = "lambda-browser-probe"
HANDLER = """
import time

def lambda_handler(event, context):
    time.sleep(0.3)  # long enough for calls to overlap under a load test
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

    page.get_by_label(re.compile(r"^Requests per second")).fill("10")
    page.get_by_label(re.compile(r"^Duration, s")).fill("4")
    page.get_by_label(re.compile(r"^In flight at most")).fill("8")
    page.get_by_label(re.compile(r"^Photos \(")).fill("3")
    page.get_by_role("button", name="Start load test").click()
    finished = page.get_by_text(re.compile(r"Finished: [1-9]\d* answered, [1-9]\d* throttled, 0 failed"))
    expect(finished).to_be_visible(timeout=60_000)
    page.get_by_role("button", name="Remove the reservation").click()
    expect(page.get_by_text(f"{FUNCTION}: no reservation.")).to_be_visible()
    assert "Traceback" not in page.inner_text("body")
