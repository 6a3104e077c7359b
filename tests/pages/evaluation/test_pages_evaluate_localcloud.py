"""The Evaluate page against a real localcloud: the served model evaluated on the offline sample's real test photos
by a real batch transform, its figures checked against the same photos sent to the endpoint one by one, kept in S3
for another operator; bad input (a folder without photos, a set of no breed the model knows, a model that is not
there, an unreadable photo that fails the transform) said in words; two models compared with McNemar's test."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import boto3
import pytest
from streamlit.testing.v1 import AppTest

from services.core.clients import CloudSettings
from services.data.datasets import DatasetService
from services.evaluation.breed_names import canonical, resolve
from services.evaluation.evaluations import EvaluationService
from services.evaluation.labelled_sets import LabelledSets
from services.evaluation.model_choices import ModelChoices
from services.serving.deploy import deploy_name
from services.serving.prediction import PredictionService
from services.training.job_spec import TrainingSpec, generate_job_name
from services.training.sagemaker_training import TrainingService
from tests.pages.conftest import dashboard

SAMPLE = "datasets/dogs-wiki-133/"
ENDPOINT = "dog-breed-classifier"


@pytest.fixture
def settings(aws_env) -> CloudSettings:
    return CloudSettings(aws_env.endpoint_url, "us-east-1", None)


@pytest.fixture
def sample(settings) -> str:
    """The offline sample uploaded as the Data page lays it out; its test split is the labelled set."""
    service = DatasetService(settings=settings)
    bucket = service.default_bucket()
    service.ensure_bucket(bucket)
    if not service.dataset_exists(bucket, SAMPLE):
        service.upload_sample(bucket, SAMPLE)
    return f"s3://{bucket}/{SAMPLE}test/"


def open_page(**query: str) -> AppTest:
    at = dashboard().run()
    at.switch_page("app_pages/evaluate.py")
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def until_ended(at: AppTest, limit_s: float = 240) -> AppTest:
    """Rerun the page (each run is one look of its live part) until the evaluation says it ended."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if any(re.match(r"(Completed|Failed|Stopped): ", c.value) for c in at.caption):
            return at
        time.sleep(1)
        at.run()
    raise AssertionError(f"the evaluation did not end: {[c.value for c in at.caption]}")


def endpoint_hits(datasets: Path) -> tuple[int, int, int]:
    """(photos, top-1 right, called not a dog): the test photos sent one by one to the endpoint."""
    service = PredictionService()
    photos = sorted((datasets / "dogs-wiki-133" / "test").glob("*/*"))
    right = not_dog = 0
    for photo in photos:
        answer = service.predict_image(photo.read_bytes(), via="endpoint", target=ENDPOINT)
        truth = canonical(photo.parent.name)
        right += resolve(answer.breeds[0].label, truth) == truth
        not_dog += answer.is_dog is False
    return len(photos), right, not_dog


def test_the_served_model_on_the_sample_test_split_and_kept_for_the_next_operator(
    aws_env, sample, settings, datasets
) -> None:
    at = open_page(tab="new")
    assert not at.exception, at.exception
    at.radio(key="evaluate_kind").set_value("endpoint").run()
    assert ENDPOINT in at.selectbox(key="evaluate_model_endpoint").value
    at.selectbox(key="evaluate_set").set_value(sample).run()
    at.button(key="evaluate_start").click().run()
    assert not at.error, [e.value for e in at.error]
    name = (
        at.query_params["evaluation"][0]
        if isinstance(at.query_params["evaluation"], list)
        else at.query_params["evaluation"]
    )
    assert name.startswith("eval-")
    at = until_ended(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    photos, right, not_dog = endpoint_hits(datasets)
    assert any(c.value.startswith(f"Completed: {photos} of {photos} photos answered") for c in at.caption)
    top1 = next(m for m in at.metric if m.label == "Top-1 accuracy")
    assert top1.value == f"{round(100 * right / photos)}%"
    assert any(f"({right} of {photos})" in c.value and c.value.startswith("95 % CI") for c in at.caption)
    assert next(m for m in at.metric if m.label == 'Called "not a dog"').value == f"{not_dog} of {photos}"
    assert any(m.label == "Expected calibration error" for m in at.metric)
    assert any(md.value == f"#### Misclassified photos ({photos - right})" for md in at.markdown)
    assert any(md.value.startswith("**Never right**") for md in at.markdown)
    assert any(md.value.startswith("**Most confused**") for md in at.markdown)
    assert any("The model cannot name 28 of the set's" in w.value for w in at.warning)  # ImageNet lacks 28 of them
    table = at.dataframe[-1].value
    assert {"Breed", "Photos", "Precision", "Recall", "F1"} <= set(table.columns) and table["Photos"].sum() == photos

    # Another operator, another session: the kept results, no second transform.
    jobs = boto3.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]
    other = open_page(endpoint=ENDPOINT, evaluation=name)
    assert not other.exception and not other.error, [e.value for e in other.error]
    assert next(m for m in other.metric if m.label == "Top-1 accuracy").value == top1.value
    assert name in set(other.dataframe[0].value["Evaluation"])  # listed as this endpoint's model's evaluation
    listed = other.dataframe[0].value  # status and accuracy first, in view before the long set URI
    assert list(listed.columns)[:5] == ["Evaluation", "Model", "Status", "Top-1", "Top-5"], list(listed.columns)
    assert boto3.client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == jobs
    bucket = sample.split("/")[2]
    kept = {
        o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"evaluations/{name}/")["Contents"]
    }
    assert {f"evaluations/{name}/evaluation.json", f"evaluations/{name}/results.json"} <= kept
    assert sum(key.endswith(".out") for key in kept) == photos


def test_bad_input_is_said_in_words(aws_env, sample, settings, datasets) -> None:
    bucket = sample.split("/")[2]
    s3 = boto3.client("s3")
    for photo in sorted((datasets / "negatives").iterdir())[:2]:
        s3.upload_file(str(photo), bucket, f"evaluate-tests/not-dogs/{photo.stem}/{photo.name}")
    at = open_page(tab="new")
    at.radio(key="evaluate_kind").set_value("endpoint").run()
    at.selectbox(key="evaluate_set").set_value("Another S3 folder of class folders…").run()
    for folder, message in [
        ("bucket-without-scheme/x/", "is not an S3 folder of class folders"),
        (f"s3://{bucket}/evaluate-tests/nothing-here/", "No photos in class folders under"),
        (f"s3://{bucket}/evaluate-tests/not-dogs/", "The model names none of the set's 2 class(es)"),
    ]:
        at.text_input(key="evaluate_folder").set_value(folder).run()
        at.button(key="evaluate_start").click().run()
        assert not at.exception
        assert any(message in e.value for e in at.error), (folder, [e.value for e in at.error])
        assert "evaluation" not in at.query_params
    missing = open_page(job="no-such-job")
    assert any("Training job 'no-such-job' has no model" in e.value for e in missing.error)
    unknown = open_page(evaluation="eval-20200101-000000-0000-nothing")
    assert any("There is no evaluation 'eval-20200101-000000-0000-nothing'" in e.value for e in unknown.error)


def test_a_transform_that_fails_on_an_unreadable_photo_says_why(aws_env, sample, settings, datasets) -> None:
    bucket = sample.split("/")[2]
    s3 = boto3.client("s3")
    keeshond = datasets / "dogs-wiki-133" / "test" / "092.Keeshond"
    photo = next(iter(sorted(keeshond.iterdir())))
    s3.upload_file(str(photo), bucket, f"evaluate-tests/broken/092.Keeshond/{photo.name}")
    s3.put_object(Bucket=bucket, Key="evaluate-tests/broken/092.Keeshond/zz-not-a-photo.jpg", Body=b"no image here")
    service = EvaluationService(settings=settings)
    choice = ModelChoices(settings).endpoint(ENDPOINT)
    record = service.start(choice, LabelledSets(settings).read(f"s3://{bucket}/evaluate-tests/broken/"))
    at = until_ended(open_page(evaluation=record.name))
    assert not at.exception
    failed = [e.value for e in at.error if e.value.startswith("The batch transform failed: ")]
    assert failed and "zz-not-a-photo.jpg" in failed[0], [e.value for e in at.error]
    assert service.record(record.name).status == "Failed"  # kept as failed for the next operator


def test_two_models_compared_on_the_same_set(aws_env, sample, settings) -> None:
    service = EvaluationService(settings=settings)
    choices = ModelChoices(settings)
    served = choices.endpoint(ENDPOINT)
    copy = choices.model(served.model_name)
    twin = type(copy)("model", "dog-breed-twin", "dog-breed-twin", copy.model_data_url)  # same artifact, own Model
    labelled = LabelledSets(settings).read(sample)
    records = [service.start(choice, labelled) for choice in (served, twin)]
    for record in records:
        tracker = service.track(record)
        deadline = time.monotonic() + 240
        while not tracker.record.ended and time.monotonic() < deadline:
            time.sleep(1)
            tracker = service.refresh(tracker)
        assert tracker.record.status == "Completed"
    at = open_page()
    at.segmented_control(key="evaluate_tab").set_value("compare").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = at.selectbox(key="compare_a").options
    at.selectbox(key="compare_a").set_value(next(o for o in labels if records[0].name in o)).run()
    at.selectbox(key="compare_b").set_value(
        next(o for o in at.selectbox(key="compare_b").options if records[1].name in o)
    ).run()
    verdict = [md.value for md in at.markdown if md.value.startswith("The difference is")]
    # The same network on the same photos: no photo is disputed, so the test calls it noise (p = 1).
    assert verdict and "**noise**" in verdict[0] and "p = 1" in verdict[0], verdict
    assert at.button(key=f"compare_{records[0].name}_deploy")  # the deploy panel, one click from an endpoint


def test_an_evaluation_that_ended_unwatched_is_listed_as_ended(aws_env, sample, settings) -> None:
    """Its record is kept when a page first sees the transform ended; the list looks at every evaluation it
    has as running, so it never says InProgress for one that ended unwatched (found on two browser walks)."""
    record = EvaluationService(settings=settings).start(
        ModelChoices(settings).endpoint(ENDPOINT), LabelledSets(settings).read(sample)
    )
    sagemaker = boto3.client("sagemaker")
    deadline = time.monotonic() + 240
    while sagemaker.describe_transform_job(TransformJobName=record.name)["TransformJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, "the transform did not end"
        time.sleep(1)
    at = open_page()  # the list alone, no evaluation opened
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.dataframe[0].value.set_index("Evaluation").loc[record.name, "Status"] == "Completed"
    at = open_page(evaluation=record.name)
    assert at.dataframe[0].value.set_index("Evaluation").loc[record.name, "Status"] == "Completed"


def test_the_endpoint_page_links_to_its_models_evaluations(aws_env) -> None:
    at = dashboard().run()
    at.switch_page("app_pages/endpoints.py")
    at.query_params["endpoint"] = ENDPOINT
    at.run()
    assert not at.exception
    links = {(link.proto.label, link.proto.query_string) for link in at.get("page_link")}
    assert ("Evaluations of the model it serves", f"endpoint={ENDPOINT}") in links, links


@pytest.fixture
def tiny(settings, datasets, tmp_path) -> str:
    """Four breeds, two photos per split: a training job of one epoch takes seconds."""
    source = datasets / "dogs-wiki-133"
    for split in ("train", "valid", "test"):
        for folder in sorted((source / "train").iterdir())[:4]:
            target = tmp_path / split / folder.name
            target.mkdir(parents=True)
            for photo in sorted((source / split / folder.name).glob("*"))[:2]:
                shutil.copy(photo, target / photo.name)
    service = DatasetService(settings=settings)
    bucket = service.default_bucket()
    service.ensure_bucket(bucket)
    if not service.dataset_exists(bucket, "datasets/dogs-tiny/"):
        service.upload_dataset(tmp_path, bucket, "datasets/dogs-tiny/")
    return f"s3://{bucket}/datasets/dogs-tiny/"


def test_a_trained_model_is_evaluated_from_its_job_page(aws_env, settings, tiny) -> None:
    """A job's 133-breed model names Udacity breeds: the Job page links to its evaluations, the Evaluate page picks
    it, creates its SageMaker Model and scores it on the dataset's test split."""
    training = TrainingService(settings=settings)
    name = generate_job_name("eval-tiny")
    training.launch(
        TrainingSpec(job_name=name, data_uri=tiny, output_path=training.default_output_path(), epochs=1, batch_size=4)
    )
    deadline = time.monotonic() + 300
    while (job := training.describe(name)).status not in {"Completed", "Failed", "Stopped"}:
        assert time.monotonic() < deadline
        time.sleep(2)
    assert job.status == "Completed", job.failure_reason

    page = dashboard().run()
    page.switch_page("app_pages/job.py")
    page.query_params["job"] = name
    page.run()
    links = {(link.proto.label, link.proto.query_string) for link in page.get("page_link")}
    assert ("Its evaluations", f"job={name}") in links, links

    at = open_page(job=name, tab="new")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert name in at.selectbox(key="evaluate_model_training job").value  # the linked job, picked
    at.selectbox(key="evaluate_set").set_value(f"{tiny}test/").run()
    at.button(key="evaluate_start").click().run()
    assert not at.error, [e.value for e in at.error]
    at = until_ended(at)
    assert any(re.match(r"Completed: (\d+) of \1 photos answered", c.value) for c in at.caption)
    assert not at.warning  # the trained head names all 133 Udacity breeds
    assert (
        boto3.client("sagemaker").describe_model(ModelName=deploy_name(name))["PrimaryContainer"]["ModelDataUrl"]
        == job.model_artifact
    )
