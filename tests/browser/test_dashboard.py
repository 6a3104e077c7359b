"""What a visitor does, in a real browser: open the dashboard, upload photos, read the breed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def upload(page, *paths) -> None:
    page.locator("input[type=file]").first.set_input_files([str(p) for p in paths])


def test_overview_shows_the_cloud_and_what_is_deployed(page, dashboard_url):
    page.goto(dashboard_url)
    expect(page.get_by_text("localcloud", exact=True).first).to_be_visible()
    expect(page.get_by_text("000000000000").first).to_be_visible()
    expect(page.get_by_text("dog-breed-classifier").first).to_be_visible()
    expect(page.get_by_text("InService").first).to_be_visible()
    expect(page.get_by_text("dog-breed-predict").first).to_be_visible()


def test_upload_through_lambda_then_endpoint(page, dashboard_url, dog_photo, datasets):
    page.goto(f"{dashboard_url}/predict")
    upload(page, dog_photo, datasets / "negatives" / "skimage_coffee_cup.png")
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Not a dog"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"round trip [\d.]+ m?s")).first).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart")
    expect(chart).to_have_count(1)  # the dog's breeds; the cup gets a verdict, not a chart
    labels = chart.locator("g.ytick text")
    expect(labels).to_have_count(5)
    expect(labels.filter(has_text=re.compile(r"^Keeshond$"))).to_have_count(1)  # whole names as tick labels

    page.get_by_text("SageMaker endpoint").click()
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()
    expect(page.get_by_text(re.compile(r"model [\d.]+ m?s")).first).to_be_visible()
    assert "Traceback" not in page.inner_text("body")


def test_a_file_that_is_not_an_image_gets_a_message(page, dashboard_url, tmp_path, dog_photo):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("these are notes, not a photo")
    page.goto(f"{dashboard_url}/predict")
    upload(page, fake, dog_photo)
    expect(page.get_by_text(re.compile(r"not an image", re.IGNORECASE)).first).to_be_visible()
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()  # the other photo still renders
    assert "Traceback" not in page.inner_text("body")


def test_cloud_down_is_explained_from_the_sidebar(page, dashboard_url):
    page.goto(dashboard_url)
    url_box = page.get_by_role("textbox", name="Endpoint URL")
    url_box.fill("http://127.0.0.1:9")
    url_box.press("Enter")
    expect(
        page.get_by_text(re.compile(r"unreachable|could not connect|is localcloud running", re.IGNORECASE)).first
    ).to_be_visible()
    assert "Traceback" not in page.inner_text("body")
