"""Warnings over a tuning job's trials: NaN/infinite objectives, no better than chance, objectives never
printed, and an objective that tracks the batch size."""

import math
from datetime import UTC, datetime

from bench.pages.tuning_page import described
from services.tuning.analysis import findings, spearman
from services.tuning.tuning_records import Trial, parse_tuning_job

JOB = parse_tuning_job(described(6))  # Minimize validation:loss, tuning learning_rate and batch_size


def trial(
    i: int, objective: float | None, batch: int = 32, status: str = "Completed", objective_status: str = "Succeeded"
) -> Trial:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return Trial(
        f"t-{i:03d}",
        status,
        {"learning_rate": 0.01 * (i + 1), "batch_size": batch},
        objective,
        objective_status,
        now,
        now,
        now,
        None,
    )


def messages(trials: list[Trial], classes: int | None = 133) -> list[str]:
    return [f.message for f in findings(JOB, trials, classes=classes)]


def test_nan_and_infinite_objectives() -> None:
    found = findings(JOB, [trial(0, math.nan), trial(1, math.inf), trial(2, 1.0)], classes=None)
    assert found[0].message.startswith("2 trials ended with a NaN or infinite objective")
    assert found[0].trials == ("t-000", "t-001")


def test_no_better_than_chance_is_ln_classes() -> None:
    assert math.log(133) < 4.9
    found = messages([trial(0, 4.9), trial(1, 1.2)])
    assert found == [
        "1 trial is no better than chance: validation:loss ≥ ln(133) = 4.890, the cross-entropy of a uniform "
        "guess over 133 classes."
    ]


def test_trials_that_never_printed_the_objective() -> None:
    found = messages([trial(0, None, objective_status="Failed"), trial(1, 1.0)])
    assert len(found) == 1 and "ended without printing the objective 'validation:loss'" in found[0]


def test_an_objective_that_tracks_batch_size() -> None:
    tracked = [trial(i, 0.5 + b / 1000, batch=b) for i, b in enumerate((32, 64, 128, 256, 512))]
    found = messages(tracked)
    assert len(found) == 1 and "tracks the batch size almost perfectly (Spearman ρ = +1.00 over 5 trials)" in found[0]
    assert "not averaged per sample" in found[0]
    unrelated = [trial(i, o, batch=b) for i, (b, o) in enumerate(((32, 0.9), (64, 0.5), (128, 1.1), (256, 0.7)))]
    assert messages(unrelated) == []


def test_spearman_needs_variation() -> None:
    assert spearman([1, 2, 3], [1, 2, 3]) is None  # too few
    assert spearman([1, 1, 1, 1], [1, 2, 3, 4]) is None
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0


def test_completed_early_only_when_a_criterion_was_set_and_met() -> None:
    raw = described(6)
    best = {
        "FinalHyperParameterTuningJobObjectiveMetric": {"Value": 0.4},
        "TrainingJobName": "t",
        "TrainingJobStatus": "Completed",
    }  # noqa: E501
    details = {"TuningJobCompletionDetails": {"NumberOfTrainingJobsObjectiveNotImproving": 3}, "BestTrainingJob": best}
    assert parse_tuning_job({**raw, **details}).completion_reason is None  # AWS counts it regardless
    config = raw["HyperParameterTuningJobConfig"]
    criteria = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    with_limit = {
        **raw,
        **details,
        "HyperParameterTuningJobConfig": {**config, "TuningJobCompletionCriteria": criteria},
    }
    assert parse_tuning_job(with_limit).completion_reason == "the best objective did not improve for 3 jobs (limit 3)"
    target = {**config, "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.5}}
    reached = parse_tuning_job({**raw, **details, "HyperParameterTuningJobConfig": target}).completion_reason
    assert reached == "the best objective (0.4) reached the target 0.5"
