"""Clicks whose outcome only a browser shows: links that stay in the visitor's tab and session, a refused URL
that is text and not a link, "Run again" after a remembered answer, and Data's way into the launch form."""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_overview_links_open_their_page_in_the_same_tab(page, dashboard_url):
    page.goto(dashboard_url)
    link = page.get_by_role("link", name=re.compile(r"^Endpoint dog-breed-classifier · InService · .* \$[0-9.]+\/h"))
    expect(link).to_be_visible()
    assert link.get_attribute("target") in (None, "", "_self")  # not _blank
    link.click()
    expect(page).to_have_url(re.compile(r"/predict\?endpoint=dog-breed-classifier$"))
    expect(page.get_by_role("combobox", name="Endpoint")).to_have_value("dog-breed-classifier")
    assert len(page.context.pages) == 1  # no new tab, so the sidebar's settings (this session) still apply


def test_a_refused_url_is_explained_and_never_a_link(page, dashboard_url):
    url = "http://10.0.0.1/dog.jpg"
    page.goto(f"{dashboard_url}/predict")
    page.get_by_text("SageMaker endpoint").click()
    box = page.get_by_role("textbox", name="…or an image URL")
    box.fill(url)
    box.press("Enter")
    refusal = re.compile(r"refused the request \(400\): Refusing to fetch .*10\.0\.0\.1 is a private")
    expect(page.get_by_text(refusal)).to_be_visible()
    expect(page.locator("a[href*='10.0.0.1']")).to_have_count(0)
    expect(page.locator("img[src*='10.0.0.1']")).to_have_count(0)
    assert "could not handle" not in page.inner_text("body")


def test_run_again_measures_afresh_after_a_remembered_answer(page, dashboard_url, dog_photo):
    page.goto(f"{dashboard_url}/predict")
    page.locator("input[type=file]").first.set_input_files(str(dog_photo))
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^round trip .*"))).not_to_contain_text("cached")
    page.get_by_text("SageMaker endpoint").click()
    expect(page.get_by_text(re.compile(r"model [\d.]+ m?s")).first).to_be_visible()
    page.get_by_text("Lambda function").click()  # back: the answer from the first call, said to be one
    expect(page.get_by_text(re.compile(r"cached, measured \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))).to_be_visible()
    page.get_by_role("button", name="Run again").click()
    expect(page.get_by_text(re.compile(r"cached, measured"))).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^round trip [\d.]+ m?s · function"))).to_be_visible()


def small_zip() -> bytes:
    buffer = io.BytesIO()
    photo = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 120, 40)).save(photo, format="JPEG")
    with zipfile.ZipFile(buffer, "w") as zf:
        for split in ("train", "valid", "test"):
            zf.writestr(f"{split}/001.A/a.jpg", photo.getvalue())
    return buffer.getvalue()


def test_train_on_this_dataset_opens_the_launch_form_with_it(page, dashboard_url, tmp_path):
    name = f"clicked-{uuid.uuid4().hex[:8]}"
    archive = tmp_path / f"{name}.zip"
    archive.write_bytes(small_zip())
    page.goto(f"{dashboard_url}/data")
    page.get_by_role("tab", name="Upload a zip").click()
    page.locator("input[type=file]").first.set_input_files(str(archive))
    expect(page.get_by_role("textbox", name="Dataset name").first).to_have_value(name)
    page.get_by_role("button", name="Upload zip").click()
    expect(page.get_by_text(re.compile(rf"Uploaded 3 files to s3://.*/datasets/{name}/"))).to_be_visible()
    uri = page.get_by_text(re.compile(r"^Uploaded 3 files to ")).inner_text().removeprefix("Uploaded 3 files to ")
    page.get_by_role("link", name="Train on this dataset").click()
    expect(page.get_by_role("tab", name="Launch")).to_have_attribute("aria-selected", "true")
    data = page.get_by_label("Data channel `training` (S3 prefix with train/ valid/ test/)", exact=True)
    expect(data).to_have_value(uri.strip())
    assert len(page.context.pages) == 1
