"""The tuning service through real boto3 against localcloud: a two-trial job of the real training script on a
slice of dogs-wiki-133, read back as typed trials with curves and clone; refusals that create nothing."""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import replace

import pytest

from localcloud.core.process import LocalCloudProcess
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.training.debugging import DebuggingService
from services.training.job_spec import TrainingSpec
from services.tuning.analysis import findings
from services.tuning.spec import ParameterRange, TuningSpec
from services.tuning.tuner import TuningService
from tests.clouds import sagemaker_role

CLASSES = 4
BUCKET = "tune-data"
ROLE = "arn:aws:iam::000000000000:role/sagemaker-test"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, datasets):
    process = LocalCloudProcess(tmp_path_factory.mktemp("tuning-service"), ["--no-defaults"]).start()
    sagemaker_role(process)
    s3 = process.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    source = datasets / "dogs-wiki-133"
    for split in ("train", "valid", "test"):
        for breed in sorted(p.name for p in (source / "train").iterdir())[:CLASSES]:
            for photo in sorted((source / split / breed).glob("*")) if (source / split / breed).exists() else []:
                s3.upload_file(str(photo), BUCKET, f"dogs/{split}/{breed}/{photo.name}")
                if split != "train":
                    s3.upload_file(str(photo), BUCKET, f"no-train/{split}/{breed}/{photo.name}")
    yield process
    process.stop()


@pytest.fixture
def service(cloud: LocalCloudProcess, monkeypatch: pytest.MonkeyPatch) -> TuningService:
    for name, value in cloud.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return TuningService(settings=CloudSettings(cloud.endpoint_url, "us-east-1", None))


def two_trials(name: str, data: str = "dogs") -> TuningSpec:
    return TuningSpec(
        name=name,
        training=TrainingSpec(
            job_name="x",
            data_uri=f"s3://{BUCKET}/{data}/",
            output_path=f"s3://{BUCKET}/output/",
            epochs=1,
            batch_size=8,
            role_arn=ROLE,
            instance_type="ml.m5.large",
        ),
        objective_metric="validation:loss",
        objective_type="Minimize",
        ranges=(
            ParameterRange("learning_rate", "Continuous", 0.001, 0.1, "Logarithmic"),
            ParameterRange("batch_size", "Categorical", values=("8", "16")),
        ),
        strategy="Random",
        max_jobs=2,
        max_parallel=2,
        random_seed=5,
    )


def wait(service: TuningService, name: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while True:
        job = service.describe(name)
        if job.ended or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def test_launch_read_trials_curves_clone_and_refusals(service: TuningService, cloud: LocalCloudProcess) -> None:
    spec = two_trials("svc-tune")
    assert service.launch(spec).endswith(":hyper-parameter-tuning-job/svc-tune")
    with pytest.raises(ServiceError, match="already exists"):
        service.launch(spec)
    job = wait(service, "svc-tune")
    assert job.status == "Completed", job.failure_reason
    assert job.status_counters["Completed"] == 2 and job.objective_counters["Succeeded"] == 2
    trials = service.trials("svc-tune")
    assert [t.name.startswith("svc-tune-00") for t in trials] == [True, True]
    assert {type(t.tuned["batch_size"]) for t in trials} == {int}  # '"8"' decoded
    assert job.best is not None and job.best.objective == min(t.objective for t in trials)
    curves = service.objective_curves(job, trials)
    assert set(curves) == {t.name for t in trials} and all(len(v) == 1 for v in curves.values())
    assert service.class_count(job) == CLASSES
    assert isinstance(findings(job, trials, classes=CLASSES), list)
    # Trials get no TensorBoardOutputConfig (a tuning job's definition has none): the best trial's recording is
    # read from its output.tar.gz, where its script put it, so the deployed model has its Debugger views.
    debugging = DebuggingService(settings=CloudSettings(cloud.endpoint_url, "us-east-1", None))
    best = debugging.job_recording(job.best.name)
    assert best.location == f"s3://{BUCKET}/output/{job.best.name}/output/output.tar.gz"
    assert best.recording.series("Loss/train") is not None and best.recording.system and best.notes == []
    other = next(t.name for t in trials if t.name != job.best.name)
    cloud.client("s3").put_object(
        Bucket=BUCKET, Key=f"output/{other}/output/output.tar.gz", Body=archive_without_recording()
    )
    bare = debugging.job_recording(other)
    assert bare.empty and bare.notes[0].startswith(f"{other} is a trial of tuning job svc-tune. SageMaker gives tuning")
    assert "It holds no recording in its tensorboard/ folder" in bare.notes[0]
    clone = service.clone_spec("svc-tune")
    assert clone.name.startswith("svc-tune-") and clone.ranges == spec.ranges
    with pytest.raises(ServiceError, match="already ended"):
        service.stop("svc-tune")


def archive_without_recording() -> bytes:
    """An output.tar.gz holding only the history a training script leaves beside its recording."""
    buffer, history = io.BytesIO(), b"[]"
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("history.json")
        info.size = len(history)
        tar.addfile(info, io.BytesIO(history))
    return buffer.getvalue()


def test_a_dataset_without_train_creates_nothing(service: TuningService, cloud: LocalCloudProcess) -> None:
    with pytest.raises(ServiceError, match="has no train/ split"):
        service.launch(two_trials("svc-no-train", data="no-train"))
    with pytest.raises(ServiceError, match="MaxParallelTrainingJobs"):
        service.launch(replace(two_trials("svc-bad"), max_parallel=3))
    names = [s.name for s in service.list_jobs().jobs]
    assert "svc-no-train" not in names and "svc-bad" not in names
    s3 = cloud.client("s3")
    for prefix in ("svc-no-train/", "svc-bad/"):  # no code uploaded for a refused launch
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("KeyCount", 0) == 0


def test_every_strategy_and_option_is_accepted_then_stopped(service: TuningService) -> None:
    """Hyperband with its resources, Grid over every combination, Bayesian with early stopping Auto, completion
    criteria and a warm start: each request is one localcloud (as AWS) accepts; each is stopped at once."""
    parent = two_trials("svc-parent")
    service.launch(parent)
    wait(service, "svc-parent")
    variants = {
        "svc-hyperband": replace(
            two_trials("svc-hyperband"),
            strategy="Hyperband",
            min_resource=1,
            max_resource=2,
            training=replace(parent.training, epochs=2),
        ),
        "svc-grid": replace(two_trials("svc-grid"), strategy="Grid", max_jobs=None, ranges=parent.ranges[1:]),
        "svc-bayes": replace(
            two_trials("svc-bayes"),
            strategy="Bayesian",
            early_stopping="Auto",
            target_value=0.1,
            not_improving_jobs=3,
            warm_start_parents=("svc-parent",),
            warm_start_type="IdenticalDataAndAlgorithm",
        ),
    }
    for name, spec in variants.items():
        service.launch(spec)
        service.stop(name)
    for name, spec in variants.items():
        job = service.describe(name)
        assert job.status in {"Stopping", "Stopped"} and job.strategy == spec.strategy
        assert service.clone_spec(name).ranges == spec.ranges
    assert service.describe("svc-grid").max_jobs is None
    assert service.describe("svc-bayes").raw["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
