"""Tuning requests AWS refuses (nothing is created), warm start, and a restart in the middle of a tuning job."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from localcloud.core.process import LocalCloudProcess
from tests.clouds import sagemaker_role
from tests.localcloud.sagemaker.tuning_helpers import changed, request, sourcedir, trials, wait_tuning

RANGES = "HyperParameterTuningJobConfig.ParameterRanges"


def _upload(cloud: LocalCloudProcess) -> None:
    sagemaker_role(cloud, "tuning")  # the trials run as the definition's role
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="tuning")
    s3.put_object(Bucket="tuning", Key="data/train/001.A/a.jpg", Body=b"x")
    s3.put_object(Bucket="tuning", Key="code/sourcedir.tar.gz", Body=sourcedir())


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    process = LocalCloudProcess(tmp_path_factory.mktemp("tuning-requests"), ["--no-defaults"]).start()
    _upload(process)
    yield process
    process.stop()


def _categorical(*counts: int) -> dict:
    return {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [
            {"Name": f"p{i}", "Values": [str(v) for v in range(n)]} for i, n in enumerate(counts)
        ],
    }


def _continuous(low: str, high: str, scaling: str = "Linear") -> dict:
    return {
        "ContinuousParameterRanges": [
            {"Name": "learning_rate", "MinValue": low, "MaxValue": high, "ScalingType": scaling}
        ]
    }


BASE = request("bad")
BAD = {
    "grid with a continuous range": (changed(BASE, "HyperParameterTuningJobConfig.Strategy", "Grid"), "categorical"),
    "too few combinations": (changed(BASE, RANGES, _categorical(3)), "enough combinations"),
    "grid count not the combinations": (
        changed(changed(BASE, RANGES, _categorical(3, 2)), "HyperParameterTuningJobConfig.Strategy", "Grid"),
        "equal to the number",
    ),
    "hyperband with early stopping": (
        changed(
            changed(BASE, "HyperParameterTuningJobConfig.Strategy", "Hyperband"),
            "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
            "Auto",
        ),
        "must be Off",
    ),
    "logarithmic bound at zero": (changed(BASE, RANGES, _continuous("0", "0.1", "Logarithmic")), "greater than 0"),
    "min not below max": (changed(BASE, RANGES, _continuous("0.5", "0.5")), "less than its MaxValue"),
    "31 categorical values": (changed(BASE, RANGES, _categorical(31)), "less than or equal to 30"),
    "objective not a metric definition": (
        changed(BASE, "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName", "Test Loss"),
        "isn't valid",
    ),
    "more parallel than jobs": (
        changed(BASE, "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", 5),
        "cannot be greater",
    ),
    "parallel above the quota": (
        changed(
            changed(BASE, "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs", 11),
            "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
            20,
        ),
        "service limit",
    ),
    "warm start from a missing parent": (
        changed(
            BASE,
            "WarmStartConfig",
            {
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nobody"}],
                "WarmStartType": "TransferLearning",
            },
        ),
        "can't find",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_requests_are_refused_and_create_nothing(cloud, case):
    sagemaker = cloud.client("sagemaker")
    body, words = BAD[case]
    with pytest.raises(ClientError) as error:
        sagemaker.create_hyper_parameter_tuning_job(**body)
    assert words in error.value.response["Error"]["Message"]
    expected = {
        "parallel above the quota": "ResourceLimitExceeded",
        "warm start from a missing parent": "ResourceNotFound",
    }
    assert error.value.response["Error"]["Code"] == expected.get(case, "ValidationException")
    assert sagemaker.list_hyper_parameter_tuning_jobs(NameContains="bad")["HyperParameterTuningJobSummaries"] == []
    assert sagemaker.list_training_jobs(NameContains="bad")["TrainingJobSummaries"] == []


def test_a_taken_name_is_refused(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**request("taken", max_jobs=1, parallel=1))
    with pytest.raises(ClientError) as error:
        sagemaker.create_hyper_parameter_tuning_job(**request("taken", max_jobs=2, parallel=1))
    assert error.value.response["Error"]["Code"] == "ResourceInUse"
    job = wait_tuning(cloud, "taken")
    assert job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 1
    assert len(trials(cloud, "taken")) == 1


def test_warm_start_learns_from_its_parent(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**request("parent", strategy="Bayesian", max_jobs=4, RandomSeed=1))
    with pytest.raises(ClientError) as error:  # parents must have ended
        sagemaker.create_hyper_parameter_tuning_job(
            **request(
                "early-child",
                warm_start={
                    "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
                    "WarmStartType": "IdenticalDataAndAlgorithm",
                },
            )
        )
    assert "has not ended" in error.value.response["Error"]["Message"]
    parent = wait_tuning(cloud, "parent")
    warm = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    with pytest.raises(ClientError) as error:  # identical data and algorithm: static values unchanged
        sagemaker.create_hyper_parameter_tuning_job(**request("child", static={"epochs": "4"}, warm_start=warm))
    assert "TransferLearning" in error.value.response["Error"]["Message"]
    sagemaker.create_hyper_parameter_tuning_job(
        **request("child", strategy="Bayesian", max_jobs=2, parallel=1, RandomSeed=2, warm_start=warm)
    )
    child = wait_tuning(cloud, "child")
    assert child["HyperParameterTuningJobStatus"] == "Completed" and child["WarmStartConfig"] == warm
    values = {
        t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for t in trials(cloud, "parent") + trials(cloud, "child")
    }
    overall = child["OverallBestTrainingJob"]["TrainingJobName"]
    assert values[overall] == max(values.values())
    assert child["BestTrainingJob"]["TuningJobName"] == "child"
    assert parent["BestTrainingJob"]["TrainingJobName"] in values


def test_the_sdks_tuning_resource_config_runs_its_trials(cloud):
    """HyperParameterTuningResourceConfig (what recent SageMaker Python SDKs send) in place of ResourceConfig:
    trials run on its first instance config; both at once are refused."""
    sagemaker = cloud.client("sagemaker")
    sdk = request("sdk-resources", max_jobs=2, parallel=2)
    definition = sdk["TrainingJobDefinition"]
    resources = definition.pop("ResourceConfig")
    definition["HyperParameterTuningResourceConfig"] = {
        "AllocationStrategy": "Prioritized",
        "InstanceConfigs": [{"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}],
    }
    with pytest.raises(ClientError) as error:
        both = request("both-resources", max_jobs=2)
        both["TrainingJobDefinition"]["HyperParameterTuningResourceConfig"] = {"InstanceType": "ml.c5.xlarge"}
        sagemaker.create_hyper_parameter_tuning_job(**both)
    assert "not both" in error.value.response["Error"]["Message"]
    sagemaker.create_hyper_parameter_tuning_job(**sdk)
    assert wait_tuning(cloud, "sdk-resources")["HyperParameterTuningJobStatus"] == "Completed"
    for trial in trials(cloud, "sdk-resources"):
        described = sagemaker.describe_training_job(TrainingJobName=trial["TrainingJobName"])
        assert described["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge" != resources["InstanceType"]


def test_dataset_without_train_fails_the_job_after_its_first_trials(cloud):
    sagemaker = cloud.client("sagemaker")
    sagemaker.create_hyper_parameter_tuning_job(**request("no-train", data="code", max_jobs=6, parallel=2))
    job = wait_tuning(cloud, "no-train")
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert "train" in job["FailureReason"] and "BestTrainingJob" not in job
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 2 and len(trials(cloud, "no-train")) == 2


def test_a_restart_mid_tuning_loses_nothing(tmp_path):
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        _upload(cloud)
        cloud.client("sagemaker").create_hyper_parameter_tuning_job(
            **request("survivor", max_jobs=3, parallel=2, RandomSeed=5, static={"epochs": "6", "sleep": "0.4"})
        )
        while sum(t["TrainingJobStatus"] == "InProgress" for t in trials(cloud, "survivor")) < 2:
            time.sleep(0.1)
        interrupted = trials(cloud, "survivor")
    finally:
        cloud.stop()
    cloud = LocalCloudProcess(tmp_path, ["--no-defaults"]).start()
    try:
        job = wait_tuning(cloud, "survivor")
        assert job["HyperParameterTuningJobStatus"] == "Completed"
        assert job["TrainingJobStatusCounters"]["RetryableError"] == 2
        assert job["TrainingJobStatusCounters"]["Completed"] == 3
        found = trials(cloud, "survivor")
        assert len(found) == 5
        again = {t["TrainingJobName"]: t for t in found}
        for trial in interrupted:  # failed as interrupted, then run again with the same hyperparameters
            assert "interrupted" in again[trial["TrainingJobName"]]["FailureReason"]
            assert [t["TunedHyperParameters"] for t in found].count(trial["TunedHyperParameters"]) == 2
    finally:
        cloud.stop()
