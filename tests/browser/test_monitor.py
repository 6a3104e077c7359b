"""The Monitor page in a real browser: the stock endpoint captures real photos (localcloud flushing its captures
every second), and an operator reviews the least confident one; the review lands in S3's manifest and the page
counts it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from localcloud.core.process import LocalCloudProcess
from tests.browser.conftest import running_dashboard
from tests.captures import real_photos
from tests.channels import DATASETS, required
from tests.clouds import running_localcloud
from tests.monitored import CAPTURE_BUCKET, send, turn_capture_on, wait_captured

pytestmark = pytest.mark.browser
ENDPOINT = "dog-breed-classifier"
MANIFEST = f"monitoring/{ENDPOINT}/reviews/manifests/output/output.manifest"


@pytest.fixture(scope="module")
def captured(tmp_path_factory) -> Iterator[LocalCloudProcess]:
    required(DATASETS)
    with running_localcloud(
        tmp_path_factory.mktemp("monitor-browser"), ["--capture-flush-seconds", "1"], endpoint=ENDPOINT
    ) as cloud:
        turn_capture_on(cloud, ENDPOINT, "dog-breed-efficientnet-lite0", f"s3://{CAPTURE_BUCKET}/datacapture")
        photos = real_photos(5, negatives=1)
        send(cloud, ENDPOINT, photos)
        wait_captured(cloud, CAPTURE_BUCKET, f"datacapture/{ENDPOINT}/", len(photos))
        yield cloud


def test_an_operator_reviews_a_captured_photo(page, captured, tmp_path):
    with running_dashboard(captured, tmp_path) as url:
        page.goto(f"{url}/monitor?endpoint={ENDPOINT}")
        expect(page.get_by_text(re.compile(r"Capturing 100% of requests"))).to_be_visible()
        requests = page.get_by_test_id("stMetric").filter(has_text="Requests captured").get_by_test_id("stMetricValue")
        expect(requests).to_have_text("6")
        page.get_by_role("tab", name="Review").click()
        expect(page.get_by_text("No photo reviewed yet")).to_be_visible()
        expect(page.get_by_text(re.compile(r"To review: 6 of this day's least confident answers"))).to_be_visible()
        expect(page.get_by_role("img").first).to_be_visible()  # the captured photo itself
        page.get_by_role("button", name="Not a dog").first.click()
        expect(page.get_by_text(re.compile(r"To review: 5 of this day's"))).to_be_visible()
        accuracy = page.get_by_test_id("stMetric").filter(has_text="Production accuracy on reviewed photos")
        expect(accuracy.get_by_test_id("stMetricDelta")).to_have_text(re.compile(r"^[01] of 1$"))
    lines = captured.client("s3").get_object(Bucket=CAPTURE_BUCKET, Key=MANIFEST)["Body"].read().splitlines()
    assert len(lines) == 1 and b'"class-name":"not a dog"' in lines[0]
