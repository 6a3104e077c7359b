"""Evaluate in a real browser: the served classifier evaluated end to end on the real dogs-wiki-133 test photos by a
real batch transform, the results filling in live, then a click on a confusion-matrix cell shows its photos."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from services.core.clients import CloudSettings
from services.data.datasets import DatasetService
from tests.browser.conftest import settled

pytestmark = pytest.mark.browser
PREFIX = "datasets/dogs-wiki-133/"


@pytest.fixture(scope="module")
def sample_test_split(localcloud, datasets) -> str:
    service = DatasetService(
        settings=CloudSettings(localcloud.endpoint_url, "us-east-1", None), boto3_session=localcloud.session()
    )
    bucket = service.default_bucket()
    service.ensure_bucket(bucket)
    if not service.dataset_exists(bucket, PREFIX):
        service.upload_sample(bucket, PREFIX)
    return f"s3://{bucket}/{PREFIX}test/"


def choose(page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=re.compile(label)).click()
    page.get_by_role("option", name=option).click()


def test_evaluate_the_served_classifier_and_open_a_confusion_cell(page, dashboard_url, sample_test_split, tmp_path):
    page.goto(f"{dashboard_url}/evaluate?tab=new")
    page.get_by_text("endpoint", exact=True).click()
    # Until the rerun ends the training job's Model box stays on the page beside the endpoint's.
    expect(page.locator("input[aria-label='Model'][value^='endpoint ']")).to_be_visible(timeout=60_000)
    settled(page)
    expect(page.get_by_label("Model", exact=True)).to_have_count(1)
    choose(page, "Labelled set", sample_test_split)
    page.get_by_role("button", name="Evaluate").click()
    expect(page.get_by_text(re.compile(r"Completed: 91 of 91 photos answered"))).to_be_visible(timeout=240_000)
    top1 = page.get_by_test_id("stMetric").filter(has_text="Top-1 accuracy")
    expect(top1).to_contain_text(re.compile(r"\d+%"))
    expect(page.get_by_text(re.compile(r"95 % CI \d+%–\d+% \(\d+ of 91\)")).first).to_be_visible()
    expect(page.get_by_text("Expected calibration error")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Misclassified photos \(\d+\)"))).to_be_visible()

    chart = page.get_by_test_id("stPlotlyChart").first
    chart.scroll_into_view_if_needed()
    expect(chart.locator("g.heatmaplayer")).to_have_count(1)
    cell = chart.locator("g.trace.scatter path.point").first  # an invisible marker on a non-empty cell
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_text(re.compile(r"\d+ photo\(s\) in the selected cell\(s\)"))).to_be_visible(timeout=60_000)
    chart.screenshot(path=str(tmp_path / "confusion.png"))
    assert "Traceback" not in page.inner_text("body")
