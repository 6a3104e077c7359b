"""Data, Train and Job pages against a real localcloud: the sample's summary, a short job launched from the
form, seen in the list and on its page until it completes."""

import re
import time

import pytest

from services.core.clients import CloudSettings
from services.data.datasets import SAMPLE_DATASET as SAMPLE
from services.data.datasets import DatasetService
from services.training.ec2_training import Ec2Options, Ec2TrainingService
from services.training.job_spec import TrainingSpec, artifact_uri, generate_job_name
from tests.pages.conftest import dashboard

SAMPLE_PREFIX = "datasets/dogs-wiki-133/"


@pytest.fixture
def sample(aws_env) -> str:
    """The offline sample in localcloud's default bucket (uploaded once per localcloud)."""
    service = DatasetService(settings=CloudSettings(aws_env.endpoint_url, "us-east-1", None))
    bucket = service.default_bucket()
    if not service.list_datasets(bucket) or SAMPLE_PREFIX not in service.list_datasets(bucket):
        service.upload_sample(bucket, SAMPLE_PREFIX)
    return f"s3://{bucket}/{SAMPLE_PREFIX}"


def open_page(path: str, **query):
    at = dashboard().run()
    at.switch_page(path)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def test_data_page_uploads_and_summarizes_the_sample(aws_env, sample) -> None:
    at = open_page("app_pages/data.py")
    assert not at.exception and not at.error
    at.button(key="data_sample").click().run()  # already there (the fixture): asked first, then replaced
    assert [w.value for w in at.warning][0].startswith("A dataset named 'dogs-wiki-133' is already in ")
    at.button(key="data_sample_replace").click().run()
    assert not at.exception and not at.error
    assert not any(w.value.startswith("A dataset named") for w in at.warning)
    assert any(w.value.startswith("111 of Udacity's 133 classes are here; 22 are missing") for w in at.warning)
    assert any("have a single training photo" in w.value for w in at.warning)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "111"
    assert (metrics["Train images"], metrics["Valid images"], metrics["Test images"]) == ("391", "103", "91")
    assert any("have no test images" in w.value for w in at.warning)
    assert at.success[0].value.startswith("Uploaded 585 files to s3://sagemaker-us-east-1-000000000000/")


def test_data_page_uploads_some_breeds_of_the_sample(aws_env) -> None:
    at = open_page("app_pages/data.py")
    picked = ["002.Afghan_hound", "005.Alaskan_malamute", "029.Border_collie"]
    at.multiselect(key="data_sample_breeds").set_value(picked).run()
    at.button(key="data_sample").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    uploaded = sum(1 for split in ("train", "valid", "test") for b in picked for _ in (SAMPLE / split / b).glob("*"))
    assert (
        at.success[0].value
        == f"Uploaded {uploaded} files to s3://sagemaker-us-east-1-000000000000/datasets/dogs-wiki-3/"
    )
    assert {m.label: m.value for m in at.metric}["Classes"] == "3"
    table = at.dataframe[0].value
    assert list(table["breed"]) == ["Afghan Hound", "Alaskan Malamute", "Border Collie"]  # as every page names them


def test_launch_from_the_form_see_it_listed_and_running_then_stop_it(aws_env, sample) -> None:
    """The completed view (curves, final metrics, artifact, deploy) is checked by the browser test, which
    waits for its job anyway; this one stops its job so the two never compete for the CPU."""
    name = generate_job_name("page-test")
    at = open_page("app_pages/train.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.text_input(key="train_job_name").set_value(name)
    at.text_input(key="train_data_uri").set_value(sample)
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_batch").set_value(16)
    at.radio(key="train_fine_tune").set_value("head")
    assert any("Estimated cost: $0.2300 per hour" in i.value for i in at.info)
    at.button(key="train_launch").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value == f"Launched training job '{name}'."
    # The list (drawn above the form) shows the new job at once and refreshes itself.
    assert name in at.dataframe[0].value["job"].tolist()
    assert any("running, refreshing every 3 s" in c.value for c in at.caption)
    stamp = re.compile(r"updated \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")  # every time in the house's one form
    assert any(stamp.search(c.value) for c in at.caption)

    at = open_page("app_pages/job.py", job=name)
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Status"] == "InProgress"
    # Running: how far it is, not "Billable time n/a / Cost n/a".
    assert {"Elapsed", "Epoch", "Time left", "Cost so far"} <= set(metrics) and "Billable time" not in metrics
    assert metrics["Epoch"].endswith("of 1")
    # At most three figures to a row, so that "InProgress" and "2 min 31 s" are not cut to "InPr…", "2 mi…".
    assert all(column.weight >= 1 / 3 - 1e-9 for column in at.columns if column.get("metric"))
    assert at.button(key=f"job_{name}_older").disabled  # a few lines so far: nothing older to page to

    missing = open_page("app_pages/job.py", job="no-such-job-x")
    assert missing.error and not [m for m in missing.markdown if "Logs" in m.value]

    at.button(key=f"job_{name}_stop").click().run()
    assert [w for w in at.warning if w.value.startswith(f"Stop '{name}'?")]
    at.button(key=f"job_{name}_stop_yes").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not [w for w in at.warning if w.value.startswith("Stop")]  # the question is gone once answered
    assert any(i.value.startswith("Stopping: the training script got SIGTERM") for i in at.info)

    sagemaker = aws_env.client("sagemaker")
    deadline = time.monotonic() + 60
    while sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in {"InProgress", "Stopping"}:
        assert time.monotonic() < deadline, "the job did not stop within a minute"
        time.sleep(0.5)
    at = open_page("app_pages/job.py", job=name)
    assert {m.label: m.value for m in at.metric}["Status"] == "Stopped"
    assert not [b for b in at.button if b.key == f"job_{name}_stop"]  # nothing left to stop
    assert not at.info  # "Stopping: …" is gone; the page says what the stop left instead
    assert at.success or at.warning
    saved = bool(at.success)
    assert saved == bool([r for r in at.radio if r.key == f"job_{name}_mode"])  # deployable only if saved


def test_cloning_prefills_the_form(aws_env, sample) -> None:
    sagemaker = aws_env.client("sagemaker")
    jobs = sagemaker.list_training_jobs(MaxResults=1)["TrainingJobSummaries"]
    if not jobs:
        pytest.skip("no job to clone yet")
    at = open_page("app_pages/train.py")
    at.selectbox(key="train_clone_source").set_value(jobs[0]["TrainingJobName"])
    at.button(key="train_clone").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Form pre-filled from")
    assert at.text_input(key="train_job_name").value != jobs[0]["TrainingJobName"]


def test_form_values_survive_switching_between_sagemaker_and_ec2(aws_env) -> None:
    """The SageMaker-only and EC2-only fields are hidden in turn; what the operator typed comes back."""
    at = open_page("app_pages/train.py")
    at.selectbox(key="train_instance_type").set_value("ml.c5.2xlarge")
    at.number_input(key="train_max_runtime").set_value(1200).run()
    at.radio(key="train_target").set_value("Plain EC2 machine").run()
    at.text_input(key="ec2_type").set_value("c5.2xlarge").run()
    at.radio(key="train_target").set_value("SageMaker training job").run()
    assert at.selectbox(key="train_instance_type").value == "ml.c5.2xlarge"
    assert at.number_input(key="train_max_runtime").value == 1200
    assert any("× ml.c5.2xlarge" in i.value for i in at.info)
    at.radio(key="train_target").set_value("Plain EC2 machine").run()
    assert at.text_input(key="ec2_type").value == "c5.2xlarge"
    assert not at.exception and not at.error


def test_an_ec2_machines_uploaded_model_can_be_deployed(aws_env) -> None:
    """The machine's model lands where a job's would; once it is there the EC2 tab offers Deploy (and no
    Terminate for a machine that is gone)."""
    settings = CloudSettings(aws_env.endpoint_url, "us-east-1", None)
    service = Ec2TrainingService(aws_env.session(), settings=settings)
    spec = TrainingSpec(
        job_name=generate_job_name("ec2-page"), data_uri="s3://no-such-bucket-x/d/", output_path="s3://ec2-page-out/o/"
    )
    s3 = aws_env.client("s3")
    s3.create_bucket(Bucket="ec2-page-out")
    bucket, _, key = artifact_uri(spec).removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=b"a model.tar.gz")  # as if this machine had uploaded it
    request = service.build_request(spec, Ec2Options(ami="ami-0123456789abcdef0", instance_profile=None))
    instance_id = aws_env.client("ec2").run_instances(**request)["Instances"][0]["InstanceId"]
    deadline = time.monotonic() + 60
    while service.describe_ec2_job(instance_id).state != "terminated":  # its user data fails fast: no data
        assert time.monotonic() < deadline
        time.sleep(0.5)

    at = open_page("app_pages/train.py")
    at.selectbox(key="ec2_chosen").set_value(instance_id).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["model.tar.gz"] == "uploaded"
    assert at.radio(key=f"ec2_{instance_id}_mode").value == "New endpoint"  # the deploy panel
    assert not [b for b in at.button if b.key == "ec2_terminate"]
