"""Hyperparameter tuning jobs through real boto3, on a quick program whose objective is its learning rate."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import sqlite3
import time

import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from tests.clouds import sagemaker_role
from tests.localcloud.conftest import assert_shape
from tests.localcloud.sagemaker.training_helpers import wait_training
from tests.localcloud.sagemaker.tuning_helpers import final, request, sourcedir, trials, wait_tuning

LR = [{"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.9", "ScalingType": "Logarithmic"}]
BATCH = [{"Name": "batch_size", "Values": ['"32"', '"64"']}]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    process = LocalCloudProcess(tmp_path_factory.mktemp("tuning-cloud"), ["--no-defaults"]).start()
    sagemaker_role(process, "tuning")  # the trials run as the definition's role
    s3 = process.client("s3")
    s3.create_bucket(Bucket="tuning")
    for key in ("data/train/001.A/a.jpg", "data/valid/001.A/b.jpg", "flat/001.A/a.jpg"):
        s3.put_object(Bucket="tuning", Key=key, Body=b"x")
    s3.put_object(Bucket="tuning", Key="code/sourcedir.tar.gz", Body=sourcedir())
    yield process
    process.stop()


@pytest.fixture(scope="module")
def random_job(cloud):
    """A Random job of four trials, two at a time, seeded."""
    cloud.client("sagemaker").create_hyper_parameter_tuning_job(
        **request("random-a", RandomSeed=7, continuous=LR, categorical=BATCH)
    )
    return wait_tuning(cloud, "random-a")


def test_random_job_runs_its_trials_as_training_jobs(cloud, random_job):
    sagemaker = cloud.client("sagemaker")
    assert_shape(sagemaker, "DescribeHyperParameterTuningJob", random_job)
    assert random_job["HyperParameterTuningJobStatus"] == "Completed"
    assert random_job["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert random_job["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    found = trials(cloud, "random-a")
    assert [re.fullmatch(r"random-a-(\d{3})-[0-9a-f]{8}", t["TrainingJobName"]).group(1) for t in found] == [
        "001",
        "002",
        "003",
        "004",
    ]
    listed = {
        j["TrainingJobName"] for j in sagemaker.list_training_jobs(NameContains="random-a")["TrainingJobSummaries"]
    }
    assert listed == {t["TrainingJobName"] for t in found}
    for trial in found:
        job = sagemaker.describe_training_job(TrainingJobName=trial["TrainingJobName"])
        assert job["TuningJobArn"] == random_job["HyperParameterTuningJobArn"]
        hyper = job["HyperParameters"]
        assert hyper["_tuning_objective_metric"] == "validation:accuracy"
        assert hyper["epochs"] == '"3"' and hyper["batch_size"] in ('"32"', '"64"')  # static and categorical quoted
        assert 0.01 <= float(hyper["learning_rate"]) <= 0.9  # continuous bare
        assert trial["TunedHyperParameters"] == {k: hyper[k] for k in ("learning_rate", "batch_size")}
        value = trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert value == pytest.approx(float(hyper["learning_rate"]), abs=1e-4)  # read from its log with the regex
    best = max(found, key=lambda t: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert random_job["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert random_job["ConsumedResources"]["RuntimeInSeconds"] >= 0


def test_max_parallel_is_honoured(cloud, random_job):
    sagemaker = cloud.client("sagemaker")
    spans = []
    for trial in trials(cloud, "random-a"):
        job = sagemaker.describe_training_job(TrainingJobName=trial["TrainingJobName"])
        spans.append((job["CreationTime"], job["LastModifiedTime"]))
    for moment, _ in spans:
        assert sum(start <= moment < end for start, end in spans) <= 2


def test_random_search_is_reproducible_from_its_seed(cloud, random_job):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**request("random-b", RandomSeed=7, continuous=LR, categorical=BATCH))
    sagemaker.create_hyper_parameter_tuning_job(**request("random-c", RandomSeed=8, continuous=LR, categorical=BATCH))
    assert wait_tuning(cloud, "random-b")["HyperParameterTuningJobStatus"] == "Completed"
    assert wait_tuning(cloud, "random-c")["HyperParameterTuningJobStatus"] == "Completed"

    def drawn(name):
        return [t["TunedHyperParameters"] for t in trials(cloud, name)]

    assert drawn("random-b") == drawn("random-a")
    assert drawn("random-c") != drawn("random-a")


def test_listing_tuning_jobs_and_their_trials(cloud, random_job):
    sagemaker = cloud.client("sagemaker")
    listed = sagemaker.list_hyper_parameter_tuning_jobs(NameContains="random-a")
    assert_shape(sagemaker, "ListHyperParameterTuningJobs", listed)
    (summary,) = listed["HyperParameterTuningJobSummaries"]
    assert summary["Strategy"] == "Random" and summary["TrainingJobStatusCounters"]["Completed"] == 4
    page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="random-a", SortBy="FinalObjectiveMetricValue", SortOrder="Descending", MaxResults=3
    )
    assert_shape(sagemaker, "ListTrainingJobsForHyperParameterTuningJob", page)
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in page["TrainingJobSummaries"]]
    assert values == sorted(values, reverse=True) and len(values) == 3 and page["NextToken"]
    assert page["TrainingJobSummaries"][0]["TrainingJobName"] == random_job["BestTrainingJob"]["TrainingJobName"]
    with pytest.raises(ClientError) as error:
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="no-such-job")
    assert error.value.response["Error"]["Code"] == "ResourceNotFound"


def test_grid_runs_every_combination_once(cloud):
    sagemaker = cloud.client("sagemaker")
    grid = [{"Name": "learning_rate", "Values": ["0.1", "0.2", "0.3"]}, *BATCH]
    sagemaker.create_hyper_parameter_tuning_job(
        **request("grid-a", strategy="Grid", max_jobs=None, parallel=3, continuous=[], categorical=grid)
    )
    job = wait_tuning(cloud, "grid-a")
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["HyperParameterTuningJobConfig"]["ResourceLimits"].get("MaxNumberOfTrainingJobs") is None
    drawn = sorted(tuple(t["TunedHyperParameters"].values()) for t in trials(cloud, "grid-a"))
    assert drawn == sorted(itertools.product(["0.1", "0.2", "0.3"], ['"32"', '"64"']))


def test_early_stopping_auto_stops_trials_below_the_median(cloud):
    """One trial at a time in a known order: after three strong trials, weaker ones stop after an epoch."""
    sagemaker = cloud.client("sagemaker")
    rates = ["0.9", "0.8", "0.7", "0.1", "0.85", "0.05"]
    sagemaker.create_hyper_parameter_tuning_job(
        **request(
            "early-a",
            strategy="Grid",
            max_jobs=None,
            parallel=1,
            continuous=[],
            categorical=[{"Name": "learning_rate", "Values": rates}],
            static={"epochs": "5", "sleep": "0.4"},
            TrainingJobEarlyStoppingType="Auto",
        )
    )
    job = wait_tuning(cloud, "early-a")
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    by_rate = {t["TunedHyperParameters"]["learning_rate"]: t for t in trials(cloud, "early-a")}
    for rate in ("0.1", "0.05"):
        trial = by_rate[rate]
        assert trial["TrainingJobStatus"] == "Stopped"
        assert trial["ObjectiveStatus"] == "Succeeded"
        assert trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(float(rate))
        assert final(cloud, trial["TrainingJobName"], "epoch") < 5
    for rate in ("0.9", "0.8", "0.7", "0.85"):
        assert by_rate[rate]["TrainingJobStatus"] == "Completed"
        assert final(cloud, by_rate[rate]["TrainingJobName"], "epoch") == 5
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2 and job["ObjectiveStatusCounters"]["Succeeded"] == 6
    assert job["BestTrainingJob"]["TunedHyperParameters"]["learning_rate"] == "0.9"


def test_hyperband_halts_weak_trials_at_its_rungs(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        **request(
            "hyperband-a",
            strategy="Hyperband",
            max_jobs=6,
            parallel=1,
            continuous=LR,
            static={"epochs": "9", "sleep": "0.3"},
            RandomSeed=3,
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
        )
    )
    job = wait_tuning(cloud, "hyperband-a")
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    found = trials(cloud, "hyperband-a")
    epochs = {t["TrainingJobName"]: final(cloud, t["TrainingJobName"], "epoch") for t in found}
    stopped = [t for t in found if t["TrainingJobStatus"] == "Stopped"]
    assert stopped, "successive halving stopped no trial"
    for trial in stopped:  # halted at a rung (MinResource × 3^k), keeping the objective it had there
        assert epochs[trial["TrainingJobName"]] in (1, 3)
        assert trial["ObjectiveStatus"] == "Succeeded"
    best = job["BestTrainingJob"]
    assert best["TrainingJobStatus"] == "Completed" and epochs[best["TrainingJobName"]] == 9
    ordered = sorted(found, key=lambda t: t["CreationTime"])
    for i, trial in enumerate(ordered):  # each halted trial was beaten at its rung by an earlier one
        if trial["TrainingJobStatus"] == "Stopped":
            value = trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
            earlier = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in ordered[:i]]
            assert any(v > value for v in earlier)


def test_stop_stops_running_trials_and_delete_keeps_them(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        **request("stop-a", max_jobs=4, parallel=2, continuous=LR, static={"epochs": "200", "sleep": "0.5"})
    )
    while sum(t["TrainingJobStatus"] == "InProgress" for t in trials(cloud, "stop-a")) < 2:
        time.sleep(0.2)
    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-a")
    assert sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-a")[
        "HyperParameterTuningJobStatus"
    ] in ("Stopping", "Stopped")
    job = wait_tuning(cloud, "stop-a")
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    found = trials(cloud, "stop-a")
    assert len(found) == 2 and {t["TrainingJobStatus"] for t in found} == {"Stopped"}
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2
    with pytest.raises(ClientError) as error:  # stopping a finished tuning job
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-a")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    sagemaker.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-a")
    with pytest.raises(ClientError):
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-a")
    assert (
        sagemaker.describe_training_job(TrainingJobName=found[0]["TrainingJobName"])["TrainingJobStatus"] == "Stopped"
    )


def test_completion_criteria_end_the_job_early(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        **request(
            "target-a",
            strategy="Grid",
            max_jobs=None,
            parallel=1,
            continuous=[],
            categorical=[{"Name": "learning_rate", "Values": ["0.1", "0.6", "0.2", "0.3"]}],
            TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.5},
        )
    )
    job = wait_tuning(cloud, "target-a")
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert [t["TunedHyperParameters"]["learning_rate"] for t in trials(cloud, "target-a")] == ["0.1", "0.6"]
    assert_shape(sagemaker, "DescribeHyperParameterTuningJob", job)


def _damage_stored_range(cloud: LocalCloudProcess, name: str, max_value: str) -> None:
    """Rewrite a tuning job's stored range in localcloud's state file, as a crash or an older localcloud could
    have left it: every scheduling tick then refuses the record."""
    with contextlib.closing(sqlite3.connect(cloud.data_dir / "state.sqlite3", timeout=30)) as db, db:
        (data,) = db.execute("SELECT data FROM resources WHERE kind='tuning-job' AND name=?", (name,)).fetchone()
        record = json.loads(data)
        record["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]["MaxValue"] = (
            max_value
        )
        db.execute("UPDATE resources SET data=? WHERE kind='tuning-job' AND name=?", (json.dumps(record), name))


def test_a_tuning_job_whose_scheduling_keeps_failing_fails_with_the_reason(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(
        **request("damaged", max_jobs=3, parallel=1, continuous=LR, static={"epochs": "20", "sleep": "0.5"})
    )
    while not trials(cloud, "damaged"):  # its first trial runs, then the record is damaged under it
        time.sleep(0.1)
    _damage_stored_range(cloud, "damaged", "a lot")
    job = wait_tuning(cloud, "damaged")
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        "InternalServerError: scheduling the training jobs failed 10 times in a row: ValidationException: "
    )
    assert "'a lot' that is not a number" in job["FailureReason"]
    assert "HyperParameterTuningEndTime" in job
    (trial,) = trials(cloud, "damaged")
    ended = wait_training(cloud, trial["TrainingJobName"])  # the running trial is stopped with its job
    assert ended["TrainingJobStatus"] == "Stopped"
    assert_shape(sagemaker, "DescribeHyperParameterTuningJob", job)
