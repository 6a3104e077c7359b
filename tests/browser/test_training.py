"""Train in a real browser: launch a short job from the form, follow the link, and watch the job page
refresh itself until the job is Completed."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from services.core.clients import CloudSettings
from services.data.datasets import DatasetService
from services.training.job_spec import TrainingSpec, build_request, generate_job_name

pytestmark = pytest.mark.browser
PREFIX = "datasets/dogs-small/"


@pytest.fixture(scope="module")
def sample_uri(localcloud, datasets, tmp_path_factory) -> str:
    """A small real dataset (one photo per class and split of the sample) so the job is quick."""
    source = tmp_path_factory.mktemp("small-dataset")
    for folder in sorted((datasets / "dogs-wiki-133").glob("*/*")):
        target = source / folder.relative_to(datasets / "dogs-wiki-133")
        target.mkdir(parents=True)
        for photo in sorted(folder.iterdir())[:1]:
            shutil.copy(photo, target / photo.name)
    service = DatasetService(
        settings=CloudSettings(localcloud.endpoint_url, "us-east-1", None), boto3_session=localcloud.session()
    )
    bucket = service.default_bucket()
    service.ensure_bucket(bucket)
    service.upload_dataset(source, bucket, PREFIX)
    return f"s3://{bucket}/{PREFIX}"


def fill(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Tab")
    expect(box).to_have_value(value)


def test_launch_a_short_job_deploy_it_and_classify_with_it(page, dashboard_url, sample_uri, dog_photo):
    name = generate_job_name("browser")
    page.goto(f"{dashboard_url}/train")
    page.get_by_role("tab", name="Launch").click()
    fill(page, "Job name", name)
    fill(page, "Data channel `training` (S3 prefix with train/ valid/ test/)", sample_uri)
    fill(page, "Learning rate", "0.00100")
    fill(page, "Epochs", "1")
    fill(page, "Batch size", "16")
    fill(page, "Max runtime (s)", "600")
    cost = re.compile(r"Estimated cost: \$0\.2300 per hour.*\$0\.0383 if it runs the full")
    expect(page.get_by_text(cost)).to_be_visible()
    page.get_by_role("button", name="Launch", exact=True).click()
    outcome = page.get_by_text(f"Launched training job '{name}'.").or_(page.get_by_test_id("stAlertContentError"))
    expect(outcome.first).to_be_visible(timeout=120_000)
    assert page.get_by_text(f"Launched training job '{name}'.").is_visible(), page.inner_text("body")
    page.get_by_role("tab", name="Jobs").click()  # the list, drawn above the form, already has the new job
    expect(page.get_by_text(re.compile(r"running, refreshing every 3 s"))).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    page.get_by_role("tab", name="Launch").click()

    page.get_by_role("link", name=f"Watch {name}").click()
    expect(page.get_by_text(name).first).to_be_visible()
    # The status part refreshes itself every 2 s while the job runs: no reload here.
    expect(page.get_by_test_id("stMetricValue").filter(has_text="Completed").first).to_be_visible(timeout=300_000)
    expect(page.get_by_text(re.compile(r"Testing Accuracy: [0-9.]+")).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"Model: s3://.*/output/model\.tar\.gz"))).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()  # loss and accuracy curves
    expect(page.get_by_role("tab", name="Debugger")).to_be_visible()

    # Reuse: deploy the model to a new endpoint and classify a photo with it on Predict.
    page.get_by_role("button", name="Deploy", exact=True).click()
    endpoint = f"{name}-ep"
    expect(page.get_by_text(f"Endpoint '{endpoint}' created")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stMetricValue").filter(has_text="InService").first).to_be_visible(timeout=120_000)
    assert "Traceback" not in page.inner_text("body")

    # Lineage: the job says where its model serves; the endpoint names its job, dataset and breeds.
    page.reload()
    page.get_by_role("link", name=f"Serving on endpoint {endpoint}").click()
    expect(page.get_by_role("link", name=f"Training job {name}")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("It serves the 133 Udacity dog breeds")).to_be_visible()
    expect(page.get_by_role("link", name=f"Train again on {sample_uri}")).to_be_visible()
    page.get_by_role("link", name="Classify a photo with this endpoint").click()
    expect(page.get_by_role("combobox", name="Endpoint")).to_have_value(endpoint)  # the new endpoint is chosen
    expect(page.get_by_text("Upload a photo, take one with the camera")).to_be_visible()  # the page has settled
    page.locator("input[type=file]").first.set_input_files(str(dog_photo))
    expect(page.get_by_text(dog_photo.name).first).to_be_visible()
    # The 133-class model answers with the Udacity class names ("Keeshond"; ImageNet says "keeshond").
    expect(page.get_by_text("Dog: Keeshond")).to_be_visible()
    assert "Traceback" not in page.inner_text("body")


def test_a_selected_job_opens_in_the_same_tab(page, dashboard_url, localcloud):
    """Selecting a row and pressing Open switches page in this tab and session (no new tab, as the job-name
    links used to open)."""
    name = generate_job_name("browser-open")
    spec = TrainingSpec(job_name=name, data_uri="s3://no-such-bucket-x/d/", output_path="s3://x-out/o/")
    request = build_request(spec, region="us-east-1", role_arn="arn:aws:iam::000000000000:role/sagemaker-test")
    localcloud.client("sagemaker").create_training_job(**request)  # fails at once: its channel is empty
    page.goto(f"{dashboard_url}/train")
    fill(page, "Name contains", name)
    grid = page.get_by_test_id("stDataFrame").first
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * 1.5)  # the first row's selection box
    page.get_by_role("button", name=f"Open {name}").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    assert page.url.endswith(f"/job?job={name}") and len(page.context.pages) == 1
