"""The Tune form's spec: every bad input the issue lists is refused before any call with AWS's reason, the
request passes botocore's own validation, and Clone gives the spec back."""

from dataclasses import replace

import botocore.session
import pytest
from botocore.validate import ParamValidator
from hypothesis import given
from hypothesis import strategies as st

from services.core.errors import ServiceError
from services.training.job_spec import TrainingSpec
from services.tuning.request import build_tuning_request, spec_from_description
from services.tuning.spec import (
    ORIGINAL_RANGES,
    ParameterRange,
    TuningSpec,
    fit_to_training_split,
    grid_size,
    max_cost,
    original_preset,
    trial_count,
    validate_tuning_spec,
)

TRAINING = TrainingSpec(job_name="x", data_uri="s3://bucket/data/", output_path="s3://bucket/out/", epochs=2)
LR = ParameterRange("learning_rate", "Continuous", 0.001, 0.1, "Logarithmic")
BATCH = ParameterRange("batch_size", "Categorical", values=("16", "32"))


def spec(**changes) -> TuningSpec:
    base = TuningSpec(
        name="tune-test",
        training=TRAINING,
        objective_metric="validation:accuracy",
        objective_type="Maximize",
        ranges=(LR, BATCH),
        strategy="Random",
        max_jobs=4,
        max_parallel=2,
    )
    return replace(base, **changes)


def refused(bad: TuningSpec) -> str:
    with pytest.raises(ServiceError) as caught:
        validate_tuning_spec(bad)
    return caught.value.message


def test_a_good_spec_passes_and_its_request_is_valid_for_botocore() -> None:
    good = spec(target_value=0.9, not_improving_jobs=3, random_seed=7, warm_start_parents=("earlier",))
    validate_tuning_spec(good)
    request = build_tuning_request(good, region="us-east-1", role_arn="arn:aws:iam::000000000000:role/r")
    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model("CreateHyperParameterTuningJob").input_shape)
    assert not report.has_errors(), report.generate_report()
    config = request["HyperParameterTuningJobConfig"]
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "batch_size", "Values": ['"16"', '"32"']}
    ]
    assert config["ParameterRanges"]["ContinuousParameterRanges"][0]["MinValue"] == "0.001"
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "learning_rate" not in static and "batch_size" not in static and static["fine_tune"] == '"head"'
    assert config["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.9,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3},
    }


def test_grid_with_a_continuous_range() -> None:
    assert "The Grid search strategy supports only categorical hyperparameter ranges; ['learning_rate']" in refused(
        spec(strategy="Grid", max_jobs=None)
    )


def test_too_few_combinations_for_max_jobs() -> None:
    message = refused(spec(strategy="Random", ranges=(BATCH,), max_jobs=10))
    assert "You don't have enough combinations of hyperparameter ranges." in message
    assert "[2.0] must be equal or greater than the value of MaxNumberOfJobs, [10]" in message


def test_hyperband_with_early_stopping_auto() -> None:
    assert "must be Off with the Hyperband strategy" in refused(spec(strategy="Hyperband", early_stopping="Auto"))


def test_logarithmic_range_with_a_bound_at_or_below_zero() -> None:
    bad = replace(LR, min_value=0.0)
    assert "Logarithmic scaling works only for ranges that have values greater than 0" in refused(spec(ranges=(bad,)))


def test_min_not_below_max() -> None:
    bad = replace(LR, min_value=0.1, max_value=0.1)
    assert "must be less than its MaxValue" in refused(spec(ranges=(bad,)))


def test_thirty_one_categorical_values() -> None:
    bad = ParameterRange("batch_size", "Categorical", values=tuple(str(n) for n in range(1, 32)))
    assert "Member must have length less than or equal to 30" in refused(spec(ranges=(bad,)))


def test_objective_that_is_not_a_metric_definition() -> None:
    assert "[Test Loss], isn't valid" in refused(spec(objective_metric="Test Loss"))


def test_parallel_above_max_jobs_or_quota() -> None:
    assert "MaxParallelTrainingJobs (3) cannot be greater than MaxNumberOfTrainingJobs (2)" in refused(
        spec(max_jobs=2, max_parallel=3)
    )
    assert "'Number of parallel training jobs per tuning job' is 10" in refused(spec(max_jobs=20, max_parallel=11))


def test_other_limits() -> None:
    assert "at least 3" in refused(spec(not_improving_jobs=2))
    assert "not a hyperparameter of the training script" in refused(
        spec(ranges=(ParameterRange("momentum", "Continuous", 0.1, 0.9),))
    )
    assert "not a valid tuning job name" in refused(spec(name="x" * 33))
    assert "MaxNumberOfTrainingJobs is required" in refused(spec(max_jobs=None))


def test_grid_counts_its_trials_and_the_cost_is_bounded() -> None:
    grid = spec(
        strategy="Grid",
        ranges=(BATCH, ParameterRange("fine_tune", "Categorical", values=("head", "last-blocks"))),
        max_jobs=None,
        max_parallel=2,
    )
    validate_tuning_spec(grid)
    assert grid_size(grid.ranges) == 4 and trial_count(grid) == 4
    # 4 trials × 1 × ml.m5.xlarge ($0.23/h) × 1 h max runtime each.
    assert max_cost(grid) == pytest.approx(4 * 0.23)


def test_the_original_projects_preset() -> None:
    preset = original_preset(TRAINING, name="hpo-original")
    validate_tuning_spec(preset)
    assert preset.ranges == ORIGINAL_RANGES
    assert (preset.objective_metric, preset.objective_type, preset.max_jobs) == ("Test Loss", "Minimize", 2)
    assert ("Test Loss", r"Testing Loss: ([0-9\.]+)") in preset.training.metric_definitions


@given(train_size=st.integers(min_value=1, max_value=2000))
def test_the_preset_fitted_to_any_training_split_is_launchable_there(train_size: int) -> None:
    """Its batch sizes reach 512: on a smaller split, the sizes that fit are kept (or the largest power of two
    that fits), every change is said, and the spec passes the check that refused the unfitted preset."""
    preset = original_preset(TRAINING, name="hpo-original")
    fitted, changes = fit_to_training_split(preset, train_size)
    validate_tuning_spec(fitted, train_size=train_size)
    values = next(r.values for r in fitted.ranges if r.name == "batch_size")
    assert all(int(v) <= train_size for v in values)
    assert set(values) <= set(ORIGINAL_RANGES[1].values) or values == (str(2 ** (train_size.bit_length() - 1)),)
    assert (changes == []) == (train_size >= 512) and fitted.ranges[0] == ORIGINAL_RANGES[0]
    if changes:
        assert changes == [
            f"batch_size 32/64/128/256/512 became {'/'.join(values)}: the training split has {train_size} images, "
            "and the training script refuses a batch larger than that."
        ]


@given(
    low=st.integers(min_value=1, max_value=600), span=st.integers(min_value=1, max_value=600), size=st.integers(1, 900)
)
def test_an_integer_batch_range_is_cut_at_the_training_split(low: int, span: int, size: int) -> None:
    tuned = spec(ranges=(LR, ParameterRange("batch_size", "Integer", low, low + span, "Linear")))
    fitted, changes = fit_to_training_split(tuned, size)
    validate_tuning_spec(fitted, train_size=size)
    assert bool(changes) == (low + span > size)


def test_clone_gives_the_spec_back() -> None:
    original = spec(strategy="Hyperband", min_resource=1, max_resource=2, random_seed=3, not_improving_jobs=4)
    request = build_tuning_request(original, region="us-east-1", role_arn="arn:aws:iam::000000000000:role/r")
    described = {**request, "HyperParameterTuningJobStatus": "Completed"}
    cloned = spec_from_description(described, new_name="tune-test")
    assert cloned == replace(
        original, training=replace(TRAINING, job_name="tune-test", role_arn="arn:aws:iam::000000000000:role/r")
    )


def test_clone_reads_the_sdks_tuning_resource_config() -> None:
    """Recent SageMaker Python SDKs send HyperParameterTuningResourceConfig instead of ResourceConfig."""
    original = spec()
    request = build_tuning_request(original, region="us-east-1", role_arn="arn:aws:iam::000000000000:role/r")
    definition = dict(request["TrainingJobDefinition"])
    resources = definition.pop("ResourceConfig")
    definition["HyperParameterTuningResourceConfig"] = {
        "AllocationStrategy": "Prioritized",
        "InstanceConfigs": [{k: resources[k] for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB")}],
    }
    described = {**request, "TrainingJobDefinition": definition, "HyperParameterTuningJobStatus": "Completed"}
    cloned = spec_from_description(described, new_name="tune-test")
    assert (cloned.training.instance_type, cloned.training.instance_count) == (
        resources["InstanceType"],
        resources["InstanceCount"],
    )
