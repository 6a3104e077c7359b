"""Tune and Tuning job pages against a real localcloud: the original project's preset fitted to a small real
dataset and launched from the form (after a refusal with AWS's reason), listed, then its page once it completed:
best trial, trials, plots, warnings, Clone back into the form; the best trial's deploy panel names the endpoint
after the trial that won."""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from app.widgets.formatting import MISSING
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.datasets import DatasetService
from services.serving.deploy import deploy_name
from services.training.job_spec import TrainingSpec
from services.tuning.spec import ORIGINAL_RANGES, ParameterRange, generate_tuning_name, original_preset
from services.tuning.tuner import TuningService
from tests.pages.conftest import dashboard

PREFIX = "datasets/dogs-tiny/"


@pytest.fixture
def tiny(aws_env, datasets, tmp_path) -> str:
    """Four breeds, two photos per split: a trial takes seconds."""
    source = datasets / "dogs-wiki-133"
    for split in ("train", "valid", "test"):
        for folder in sorted((source / "train").iterdir())[:4]:
            target = tmp_path / split / folder.name
            target.mkdir(parents=True)
            for photo in sorted((source / split / folder.name).glob("*"))[:2]:
                shutil.copy(photo, target / photo.name)
    service = DatasetService(settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    bucket = service.default_bucket()
    service.ensure_bucket(bucket)
    if not service.dataset_exists(bucket, PREFIX):  # once per localcloud: the tests share it
        service.upload_dataset(tmp_path, bucket, PREFIX)
    return f"s3://{bucket}/{PREFIX}"


def open_page(path: str, **query):
    at = dashboard().run()
    at.switch_page(path)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_launch_the_preset_then_read_the_tuning_job(aws_env, tiny) -> None:
    at = open_page("app_pages/tune.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.text_input(key="tune_data_uri").set_value(tiny).run()
    at.button(key="tune_preset").click().run()
    # Fitted to the dataset: its few training images take none of the original 32–512 batch sizes.
    fitted = [
        re.search(
            rf"Changed for {tiny}: batch_size 32/64/128/256/512 became (\d+): the training split has (\d+) ", i.value
        )
        for i in at.info
        if i.value.startswith("The original project's tuning")
    ]
    assert fitted and fitted[0], [i.value for i in at.info]
    batch, train_images = int(fitted[0].group(1)), int(fitted[0].group(2))
    assert batch <= train_images < 2 * batch  # the largest power of two that fits
    assert at.selectbox(key="tune_objective").value == "Test Loss"
    assert at.radio(key="tune_objective_type").value == "Minimize"
    name = at.text_input(key="tune_name").value
    at.number_input(key="tune_epochs").set_value(1)
    at.number_input(key="tune_max_parallel").set_value(3)
    at.button(key="tune_launch").click().run()
    assert any(
        "MaxParallelTrainingJobs (3) cannot be greater than MaxNumberOfTrainingJobs (2)" in e.value for e in at.error
    )
    assert any("Up to 2 trials" in i.value for i in at.info)
    at.number_input(key="tune_max_parallel").set_value(2)
    at.button(key="tune_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value == f"Launched tuning job '{name}'."
    assert name in at.dataframe[0].value["tuning job"].tolist()

    service = TuningService(settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    deadline = time.monotonic() + 300
    while not service.describe(name).ended and time.monotonic() < deadline:
        time.sleep(1)
    at = open_page("app_pages/tuning_job.py", tuning_job=name)
    assert not at.exception and not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "Completed" and metrics["Trials ended"] == "2 of 2"
    assert metrics["Minimize Test Loss"] != "n/a"
    assert any(md.value.startswith(f"#### Best trial: {name}-00") for md in at.markdown)
    trials = at.dataframe[0].value
    assert len(trials) == 2 and set(trials["status"]) == {"Completed"}
    assert {"learning_rate", "batch_size", "Test Loss"} <= set(trials.columns)
    assert set(trials["batch_size"]) == {batch}
    assert at.dataframe[0].proto.placeholder == MISSING  # a trial without an objective reads "—", not "None"
    # Four classes: a loss at or above ln(4) is no better than chance, and the page says which trials.
    assert all(not w.value.startswith("Failed") for w in at.warning)

    best = service.describe(name).best.name
    at = open_page("app_pages/job.py", job=best)  # a trial's page leads back to its tuning job
    assert not at.exception
    assert f"A trial of tuning job {name}" in [link.proto.label for link in at.get("page_link")]

    at = open_page("app_pages/tune.py", tab="launch", clone=name)
    assert not at.exception
    assert any(s.value == f"Form pre-filled from tuning job '{name}'." for s in at.success)
    assert at.selectbox(key="tune_objective").value == "Test Loss"
    assert at.text_input(key="tune_name").value.startswith(name.rsplit("-", 2)[0])


def test_a_missing_tuning_job_is_explained(aws_env) -> None:
    at = open_page("app_pages/tuning_job.py", tuning_job="no-such-tuning")
    assert not at.exception
    assert at.error and "no-such-tuning" in at.error[0].value


def test_stop_a_running_tuning_job_from_its_page(aws_env, tiny) -> None:
    service = TuningService(settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    spec = original_preset(
        TrainingSpec(job_name="x", data_uri=tiny, output_path=service.training.default_output_path(), epochs=3),
        name=generate_tuning_name("page-stop"),
    )
    spec = replace(spec, ranges=(ORIGINAL_RANGES[0], ParameterRange("batch_size", "Categorical", values=("2", "4"))))
    service.launch(spec)
    at = open_page("app_pages/tuning_job.py", tuning_job=spec.name)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Status"] == "InProgress"
    at.button(key=f"tuning_{spec.name}_stop").click().run()
    at.button(key=f"tuning_{spec.name}_stop_yes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Status"] in {"Stopping", "Stopped"}
    deadline = time.monotonic() + 180
    while not service.describe(spec.name).ended and time.monotonic() < deadline:
        time.sleep(1)
    with pytest.raises(ServiceError, match="already ended"):
        service.stop(spec.name)
    at = open_page("app_pages/tuning_job.py", tuning_job=spec.name)
    assert {m.label: m.value for m in at.metric}["Status"] == "Stopped"
    assert not [b for b in at.button if b.key == f"tuning_{spec.name}_stop"]  # nothing left to stop


def deploy_panel_of_the_best() -> None:
    """The deploy panel as the tuning job page draws it, for the trial that is best in this run."""
    import streamlit as st

    from app.endpoints.deploy_panel import deploy_panel
    from services.core.clients import CloudSettings

    settings = CloudSettings("http://127.0.0.1:9", "us-east-1", None)  # nothing is called until Deploy
    deploy_panel(settings, "s3://bucket/output/model.tar.gz", st.session_state["best"], "tuning_t_best")


def test_the_suggested_endpoint_follows_the_best_trial_until_the_operator_types_one() -> None:
    at = AppTest.from_function(deploy_panel_of_the_best)
    at.session_state["best"] = "tune-260509-101010-001-aaaaaaaa"
    at.run()
    field = at.text_input(key="tuning_t_best_endpoint")
    assert field.value == deploy_name("tune-260509-101010-001-aaaaaaaa", "-ep")

    at.session_state["best"] = "tune-260509-101010-002-bbbbbbbb"  # a later trial won
    at.run()
    assert not at.exception
    assert at.text_input(key="tuning_t_best_endpoint").value == deploy_name("tune-260509-101010-002-bbbbbbbb", "-ep")

    at.text_input(key="tuning_t_best_endpoint").input("my-endpoint").run()
    at.session_state["best"] = "tune-260509-101010-003-cccccccc"
    at.run()
    assert at.text_input(key="tuning_t_best_endpoint").value == "my-endpoint"  # the operator's own name stays
