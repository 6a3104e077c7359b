"""Tuning charts from trials: Optuna's figures fed by an in-memory study, the per-epoch and timeline views;
the trials table."""

from datetime import UTC, datetime

from app.tuning.tuning_charts import (
    OPTUNA_VIEWS,
    epoch_positions,
    epochs_chart,
    optuna_figure,
    parallelism,
    planned_epochs,
    study,
    timeline_chart,
)
from app.tuning.tuning_view import chance_note, stop_mark, trials_frame
from bench.pages.tuning_page import described, summaries
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
    figures = {view: optuna_figure(found, view, ("learning_rate", "batch_size")) for view in OPTUNA_VIEWS}
    assert all(not isinstance(figure, str) for figure in figures.values()), figures
    assert "Best Value" in {trace.name for trace in figures["Optimization history"].data}


def test_too_few_trials_say_why() -> None:
    raw, _ = summaries(1)
    found = study(parse_tuning_job(described(1)), [parse_trial(s) for s in raw])
    assert optuna_figure(found, "Parallel coordinates", None) == "needs at least two trials with an objective"
    assert optuna_figure(found, "Contour", None) == "needs two tuned hyperparameters"


def test_a_contour_over_a_hyperparameter_every_trial_shared_says_why() -> None:
    """Two trials that both ran batch_size 32 (as a 2-trial Bayesian search often does) leave Optuna's contour
    empty axes: the tab says why instead."""
    raw, _ = summaries(4)
    for summary in raw:
        summary["TunedHyperParameters"] = {**summary["TunedHyperParameters"], "batch_size": '"32"'}
    found = study(parse_tuning_job(described(4)), [parse_trial(s) for s in raw])
    assert len(found.trials) >= 2
    assert optuna_figure(found, "Contour", ("batch_size", "learning_rate")) == (
        "needs two different values of batch_size: every trial so far ran with batch_size=32"
    )
    assert not isinstance(optuna_figure(found, "Objective per hyperparameter", None), str)


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


def with_epochs(epochs: int) -> dict:
    """The bench tuning job with a static ``epochs`` as the dashboard's launch form sends it."""
    raw = described(4)
    definition = {**raw["TrainingJobDefinition"], "StaticHyperParameters": {"epochs": f'"{epochs}"'}}
    return {**raw, "TrainingJobDefinition": definition}


def test_an_objective_printed_once_sits_at_the_trial_s_last_epoch() -> None:
    raw, _ = summaries(4)
    trials = [parse_trial(s) for s in raw]
    job = parse_tuning_job(with_epochs(2))
    completed = next(t for t in trials if t.status == "Completed")
    stopped = next(t for t in trials if t.status == "Stopped")
    assert planned_epochs(job, completed) == 2
    figure = epochs_chart({completed.name: [1.7]}, trials, "Test Loss", {completed.name: 2})
    assert list(figure.data[0].x) == [2]  # printed after testing, once: at epoch 2, not 1
    assert (figure.layout.xaxis.tickformat, figure.layout.xaxis.dtick) == ("d", 1)
    assert epoch_positions(3, 5, completed=True) == [3, 4, 5]
    assert epoch_positions(2, 5, completed=False) == [1, 2]  # per-epoch values of a trial stopped early
    curve = epochs_chart({stopped.name: [2.0, 1.8]}, trials, "validation:loss", {stopped.name: 2})
    assert list(curve.data[0].x) == [1, 2]


def test_trials_are_counted_as_their_names_count_them_on_whole_ticks() -> None:
    raw, curves = summaries(8)
    trials = [parse_trial(s) for s in raw]
    found = study(parse_tuning_job(described(8)), trials, curves)
    scored = [t.name for t in trials if t.objective is not None]
    history = optuna_figure(found, "Optimization history", None)
    objective = next(trace for trace in history.data if trace.name == "Objective Value")
    assert list(objective.x) == [int(name.split("-")[-2]) for name in scored]  # 001 is trial 1, gaps kept
    assert history.layout.xaxis.title.text == "trial"
    assert (history.layout.xaxis.tickformat, history.layout.xaxis.dtick) == ("d", 1)
    sliced = optuna_figure(found, "Objective per hyperparameter", None)
    coloured = [trace for trace in sliced.data if trace.marker.colorbar.title.text == "trial"]
    assert coloured and all(min(trace.marker.color) >= 1 for trace in coloured)
    assert coloured[0].marker.colorbar.tickformat == "d"


def test_a_best_loss_at_chance_level_is_flagged() -> None:
    raw, _ = summaries(4)
    scored = [s for s in raw if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    best = min(scored, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])

    def job_whose_best_scored(value: float):
        best_now = {**best, "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "x", "Value": value}}
        return parse_tuning_job({**described(4), "BestTrainingJob": best_now})

    assert chance_note(job_whose_best_scored(4.87), 133).startswith("Even the best trial is at chance level")
    assert "ln(133) = 4.890" in chance_note(job_whose_best_scored(4.87), 133)  # just under ln(133): still chance
    assert chance_note(job_whose_best_scored(2.1), 133) is None
    assert chance_note(job_whose_best_scored(4.87), None) is None  # classes unknown: nothing said
