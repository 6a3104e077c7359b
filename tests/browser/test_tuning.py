"""Tune in a real browser: launch a two-trial tuning job from the form, follow the link, and see its best trial
and its parallel-coordinates plot once the page (refreshing itself) shows it Completed."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from services.core.clients import CloudSettings
from services.data.datasets import DatasetService
from services.tuning.spec import generate_tuning_name

pytestmark = pytest.mark.browser
PREFIX = "datasets/dogs-tune-small/"


@pytest.fixture(scope="module")
def small_uri(localcloud, datasets, tmp_path_factory) -> str:
    """Twenty breeds, two photos per class and split (over 32 training photos): a trial takes seconds."""
    source = tmp_path_factory.mktemp("tune-dataset")
    for split in ("train", "valid", "test"):
        for folder in sorted((datasets / "dogs-wiki-133" / "train").iterdir())[:20]:
            target = source / split / folder.name
            target.mkdir(parents=True)
            for photo in sorted((datasets / "dogs-wiki-133" / split / folder.name).glob("*"))[:2]:
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


def test_launch_two_trials_and_see_parallel_coordinates_and_best_trial(page, dashboard_url, small_uri, tmp_path):
    artifacts = tmp_path
    name = generate_tuning_name("browser")
    page.goto(f"{dashboard_url}/tune")
    page.get_by_role("tab", name="Launch").click()
    fill(page, "Tuning job name", name)
    fill(page, "Data channel `training` (S3 prefix with train/ valid/ test/)", small_uri)
    fill(page, "Epochs", "1")
    fill(page, "Batch size", "4")
    fill(page, "Max training jobs", "2")
    fill(page, "Max parallel jobs", "2")
    expect(page.get_by_text(re.compile(r"Up to 2 trials; 2 at a time: \$0\.4600 per hour"))).to_be_visible()
    page.get_by_role("button", name="Launch tuning job").click()
    outcome = page.get_by_text(f"Launched tuning job '{name}'.").or_(page.get_by_test_id("stAlertContentError"))
    expect(outcome.first).to_be_visible(timeout=120_000)
    assert page.get_by_text(f"Launched tuning job '{name}'.").is_visible(), page.inner_text("body")

    page.get_by_role("link", name=f"Watch {name}").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").filter(has_text="Completed").first).to_be_visible(timeout=300_000)
    expect(page.get_by_text(re.compile(rf"Best trial: {name}-00\d-[0-9a-f]{{8}}"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(rf"Open {name}-00"))).to_be_visible()
    page.get_by_role("tab", name="Parallel coordinates").click()
    chart = page.get_by_role("tabpanel", name="Parallel coordinates").get_by_test_id("stPlotlyChart")
    expect(chart).to_be_visible()
    # Optuna's parallel coordinates: an axis per tuned hyperparameter beside the objective.
    for axis in ("Objective Value", "learning_rate", "batch_size"):
        expect(chart.locator(f"text[data-unformatted='{axis}']").first).to_be_visible()
    chart.screenshot(path=str(artifacts / "parallel-coordinates.png"))
    expect(page.get_by_role("button", name="Deploy", exact=True)).to_be_visible()
    assert "Traceback" not in page.inner_text("body")
