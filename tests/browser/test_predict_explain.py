"""Why this breed, in a real browser: one click draws where the model looked over the photo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_one_click_draws_the_heat_map_over_the_photo(page, dashboard_url, dog_photo):
    page.goto(f"{dashboard_url}/predict")
    page.locator("input[type=file]").first.set_input_files([str(dog_photo)])
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Why Keeshond\?")).click()

    expect(page.get_by_text("Where the model looked for Keeshond")).to_be_visible()
    charts = page.get_by_test_id("stPlotlyChart")
    expect(charts).to_have_count(2)  # the breeds, then the map
    heat = charts.nth(1)
    expect(heat.locator("g.imagelayer image")).to_have_count(1)  # the photo itself
    expect(heat.locator("g.colorbar")).to_have_count(1)
    expect(heat.locator(".heatmaplayer image, g.hm image")).not_to_have_count(0)  # the heat drawn over it
    box = heat.locator("g.imagelayer image").bounding_box()
    assert box and abs(box["width"] / box["height"] - 220 / 249) < 0.03  # the photo keeps its aspect
    expect(page.get_by_text(re.compile(r"^50 calls \(1 reference \+ 49 masked copies, 4 at a time\)"))).to_be_visible()

    page.get_by_text("SageMaker endpoint").click()  # another model path, then back: the map from memory
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()
    page.get_by_text("Lambda function").click()
    expect(page.get_by_text(re.compile(r"^Remembered from an earlier click \(50 calls"))).to_be_visible()
    assert "Traceback" not in page.inner_text("body")
