"""Tuning charts from trials: Optuna's figures fed by an in-memory study, the per-epoch and timeline views;
the trials table."""

from datetime import UTC, datetime

from app.tuning.tuning_charts import epochs_chart, optuna_figures, parallelism, study, timeline_chart
from app.tuning.tuning_view import stop_mark, trials_frame
from bench.tuning_page import described, summaries
from services.tuning.tuning_records import parse_trial, parse_tuning_job


def test_a_study_from_trials_feeds_every_optuna_view() -> None:
    raw, curves = summaries(60)
    trials = [parse_trial(s) for s in raw]
    job = parse_tuning_job(described(60))
    found = study(job, trials, curves)
    scored = [t for t in trials if t.objective is not None]
    assert len(found.trials) == len(scored) and found.direction.name == "MINIMIZE"
    assert found.best_value == min(t.objective for t in scored)
    assert {t.user_attrs["job"] for t in found.trials if t.intermediate_values} == set(curves)
    figures = optuna_figures(found, ("learning_rate", "batch_size"))
    assert set(figures) == {
        "Optimization history",
        "Parallel coordinates",
        "Hyperparameter importance",
        "Objective per hyperparameter",
        "Contour",
    }
    assert all(not isinstance(figure, str) for figure in figures.values()), figures
    assert "Best Value" in {trace.name for trace in figures["Optimization history"].data}


def test_too_few_trials_say_why() -> None:
    raw, _ = summaries(1)
    figures = optuna_figures(study(parse_tuning_job(described(1)), [parse_trial(s) for s in raw]), None)
    assert figures["Parallel coordinates"] == "needs at least two trials with an objective"


def test_epochs_and_timeline() -> None:
    raw, curves = summaries(30)
    trials = [parse_trial(s) for s in raw]
    figure = epochs_chart(curves, trials, "validation:loss")
    assert len(figure.data) == len(curves)
    assert parallelism(trials) == 10  # ten at a time, as the bench data is built
    timeline = timeline_chart(trials)
    assert sum(len(bar.y) for bar in timeline.data) == 30


def test_stopped_trials_say_why() -> None:
    raw, _ = summaries(30)
    trials = [parse_trial(s) for s in raw]
    job = parse_tuning_job(described(30))  # early stopping Auto
    stopped = next(t for t in trials if t.status == "Stopped")
    assert stop_mark(job, stopped) == "early-stopped"
    assert stop_mark(job, next(t for t in trials if t.status == "Completed")) == ""
    config = {**job.raw["HyperParameterTuningJobConfig"], "TrainingJobEarlyStoppingType": "Off"}
    by_operator = parse_tuning_job(
        {**job.raw, "HyperParameterTuningJobStatus": "Stopped", "HyperParameterTuningJobConfig": config}
    )
    assert stop_mark(by_operator, stopped) == "stopped with the tuning job"
    frame = trials_frame(job, trials, datetime.now(UTC))
    assert list(frame.columns) == [
        "trial",
        "status",
        "batch_size",
        "learning_rate",
        "validation:loss",
        "duration (s)",
        "stopped",
        "failure reason",
    ]
