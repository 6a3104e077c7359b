"""Each strategy tunes the real classifier/training/train.py on a slice of dogs-wiki-133 (head mode, features cached,
one or two epochs), through real boto3; and a dataset without train/ fails its tuning job."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from classifier.packaging import build_sourcedir
from localcloud.core.process import LocalCloudProcess
from tests.clouds import sagemaker_role
from tests.localcloud.sagemaker.tuning_helpers import request, trials, wait_tuning

CLASSES = 10  # the first ten breeds: about 35 training photos, so a trial takes seconds
OBJECTIVE = [
    {"Name": "validation:accuracy", "Regex": r"valid_acc=([0-9\.]+)"},
    {"Name": "epoch", "Regex": r"Epoch ([0-9]+)/"},
]
LR = [{"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}]
BATCH = [{"Name": "batch_size", "Values": ['"8"', '"16"']}]
STATIC = {"fine_tune": "head", "cache_features": "true", "seed": "0"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory, datasets):
    process = LocalCloudProcess(tmp_path_factory.mktemp("tuning-classifier"), ["--no-defaults"]).start()
    sagemaker_role(process, "tuning")  # the trials run as the definition's role
    s3 = process.client("s3")
    s3.create_bucket(Bucket="tuning")
    source = datasets / "dogs-wiki-133"
    breeds = sorted(p.name for p in (source / "train").iterdir())[:CLASSES]
    for split in ("train", "valid", "test"):
        for breed in breeds:
            for photo in sorted((source / split / breed).glob("*")) if (source / split / breed).exists() else []:
                key = f"{split}/{breed}/{photo.name}"
                s3.upload_file(str(photo), "tuning", f"dogs/{key}")
                if split != "train":
                    s3.upload_file(str(photo), "tuning", f"no-train/{key}")
    with tempfile.TemporaryDirectory() as scratch:
        archive = build_sourcedir(Path(scratch) / "sourcedir.tar.gz")
        s3.upload_file(str(archive), "tuning", "code/sourcedir.tar.gz")
    yield process
    process.stop()


def _job(name: str, strategy: str, **kwargs) -> dict:
    return request(name, data="dogs", strategy=strategy, metrics=OBJECTIVE, RandomSeed=11, **kwargs)


def test_every_strategy_tunes_the_classifier(cloud):
    sagemaker = cloud.client("sagemaker")
    jobs = {
        "bayesian": _job(
            "bayesian",
            "Bayesian",
            max_jobs=3,
            parallel=2,
            continuous=LR,
            categorical=BATCH,
            static={**STATIC, "epochs": "1"},
        ),
        "random": _job("random", "Random", max_jobs=2, continuous=LR, static={**STATIC, "epochs": "1"}),
        "grid": _job("grid", "Grid", max_jobs=None, continuous=[], categorical=BATCH, static={**STATIC, "epochs": "1"}),
        "hyperband": _job(
            "hyperband",
            "Hyperband",
            max_jobs=2,
            continuous=LR,
            static={**STATIC, "epochs": "2"},
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 2}},
        ),
    }
    for body in jobs.values():
        sagemaker.create_hyper_parameter_tuning_job(**body)
    logs = cloud.client("logs")
    for name in jobs:
        job = wait_tuning(cloud, name, timeout=600)
        assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
        found = trials(cloud, name)
        expected = {"bayesian": 3, "random": 2, "grid": 2, "hyperband": 2}[name]
        assert len(found) == expected and job["ObjectiveStatusCounters"]["Succeeded"] == expected
        best = job["BestTrainingJob"]
        assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(
            t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in found
        )
        for trial in found:  # train.py received the tuned values as it would on AWS
            events = logs.filter_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs",
                logStreamNamePrefix=f"{trial['TrainingJobName']}/",
                filterPattern='"Training on"',
            )["events"]
            line = events[0]["message"]
            tuned = trial["TunedHyperParameters"]
            if "learning_rate" in tuned:
                assert f"learning_rate={float(tuned['learning_rate']):g}" in line
            if "batch_size" in tuned:
                assert f"batch_size={tuned['batch_size'].strip(chr(34))}" in line
    grid = sorted(t["TunedHyperParameters"]["batch_size"] for t in trials(cloud, "grid"))
    assert grid == ['"16"', '"8"']


def test_a_dataset_without_train_fails_the_tuning_job(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        **request("missing-train", data="no-train", metrics=OBJECTIVE, max_jobs=4, parallel=1, static=STATIC)
    )
    job = wait_tuning(cloud, "missing-train", timeout=300)
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert "has no train/ folder" in job["FailureReason"]
    assert len(trials(cloud, "missing-train")) == 1
