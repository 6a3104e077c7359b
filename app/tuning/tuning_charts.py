"""Tuning views: Optuna's plotly figures (optimization history with the best so far, parallel coordinates,
hyperparameter importances, slice, contour) fed by an in-memory study built from the trials, plus each
trial's objective per epoch and a timeline of trials that shows how many ran at once. Trials are counted as
their names count them (from 001), on whole-number ticks."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import optuna
import optuna.visualization as vis
import plotly.graph_objects as go
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from services.tuning.tuning_records import Trial, TuningJob, tuned_value

optuna.logging.set_verbosity(optuna.logging.WARNING)
HEIGHT_PX = 360
STATUS_COLOURS = {
    "Completed": "#4e79a7",
    "InProgress": "#f28e2b",
    "Stopping": "#f28e2b",
    "Stopped": "#bab0ac",
    "Failed": "#e15759",
}
TRIAL_NUMBER = re.compile(r"-(\d{3})-[0-9a-z]{8}$")
"""SageMaker names a tuning job's trials ``<tuning job>-<NNN>-<8 characters>``, NNN counting from 001."""
OPTUNA_VIEWS = (
    "Optimization history",
    "Parallel coordinates",
    "Hyperparameter importance",
    "Objective per hyperparameter",
    "Contour",
)


def distributions(job: TuningJob) -> dict[str, BaseDistribution]:
    """Each tuned hyperparameter's range as Optuna sees one (log scale for Logarithmic ranges)."""
    config = job.raw["HyperParameterTuningJobConfig"]
    ranges = config.get("ParameterRanges") or job.raw.get("TrainingJobDefinition", {}).get("HyperParameterRanges", {})
    out: dict[str, BaseDistribution] = {}
    for r in ranges.get("ContinuousParameterRanges") or []:
        log = r.get("ScalingType") == "Logarithmic"
        out[r["Name"]] = FloatDistribution(float(r["MinValue"]), float(r["MaxValue"]), log=log)
    for r in ranges.get("IntegerParameterRanges") or []:
        log = r.get("ScalingType") == "Logarithmic"
        out[r["Name"]] = IntDistribution(int(r["MinValue"]), int(r["MaxValue"]), log=log)
    for r in ranges.get("CategoricalParameterRanges") or []:
        out[r["Name"]] = CategoricalDistribution([tuned_value(v) for v in r["Values"]])
    return out


def study(job: TuningJob, trials: list[Trial], curves: dict[str, list[float]] | None = None) -> optuna.Study:
    """An in-memory study holding the trials that have a finite objective, with their per-epoch values."""
    ranges = distributions(job)
    result = optuna.create_study(direction="maximize" if job.maximize else "minimize")
    made = []
    for trial in trials:
        if trial.objective is None or not math.isfinite(trial.objective):
            continue
        params = {name: trial.tuned[name] for name in ranges if name in trial.tuned}
        if len(params) != len(ranges) or not all(_inside(ranges[n], v) for n, v in params.items()):
            continue  # a value outside the range (a warm-start parent's wider one) would break Optuna's plots
        made.append(
            create_trial(
                state=TrialState.COMPLETE,
                value=trial.objective,
                params=params,
                distributions=ranges,
                user_attrs={"job": trial.name},
                intermediate_values=dict(enumerate((curves or {}).get(trial.name, []), 1)),
            )
        )
    result.add_trials(made)
    return result


def _inside(distribution: BaseDistribution, value: Any) -> bool:
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return distribution.low <= value <= distribution.high  # type: ignore[attr-defined]


def _styled(figure: go.Figure, title: str | None = None) -> go.Figure:
    figure.update_layout(height=HEIGHT_PX, margin={"t": 40 if title else 10, "l": 10, "r": 10}, title=title)
    return figure


def trial_number(name: str, position: int) -> int:
    """The number a trial's name gives it (``...-003-1a2b3c4d`` is 3), else its 1-based ``position``."""
    found = TRIAL_NUMBER.search(name)
    return int(found[1]) if found else position


def _whole_ticks(count: int) -> dict[str, Any]:
    """Axis settings for counted things (trials, epochs): whole numbers only, at most about ten ticks."""
    return {"tickformat": "d", "tick0": 1, "dtick": max(1, math.ceil(count / 10))}


def _count_trials_as_named(figure: go.Figure, found: optuna.Study) -> go.Figure:
    """Optuna counts trials from 0 in the order they were added; the names count from 001 and skip the trials
    that have no objective: x values and colour scales that are trial numbers become the names' numbers."""
    numbers = {t.number: trial_number(str(t.user_attrs.get("job", "")), t.number + 1) for t in found.trials}
    for trace in figure.data:
        if figure.layout.xaxis.title.text == "Trial" and trace.x is not None:
            trace.x = [numbers.get(x, x) for x in trace.x]
        marker = getattr(trace, "marker", None)
        if marker is not None and marker.colorbar is not None and marker.colorbar.title.text == "Trial":
            trace.marker.color = [numbers.get(c, c) for c in marker.color]
            trace.marker.colorbar.update(title_text="trial", **_whole_ticks(max(numbers.values(), default=1)))
    if figure.layout.xaxis.title.text == "Trial":
        figure.update_xaxes(title_text="trial", **_whole_ticks(max(numbers.values(), default=1)))
    return figure


def optuna_figure(found: optuna.Study, view: str, contour: tuple[str, str] | None) -> go.Figure | str:
    """One of Optuna's views (OPTUNA_VIEWS); where it cannot be drawn (too few trials, one hyperparameter for a
    contour), why not. Only the view on show is built."""
    draws: dict[str, Callable[[], go.Figure]] = {
        "Optimization history": lambda: vis.plot_optimization_history(found),
        "Parallel coordinates": lambda: vis.plot_parallel_coordinate(found),
        "Hyperparameter importance": lambda: vis.plot_param_importances(found),
        "Objective per hyperparameter": lambda: vis.plot_slice(found),
        "Contour": lambda: vis.plot_contour(found, params=list(contour or ())),
    }
    if view == "Contour" and not contour:
        return "needs two tuned hyperparameters"
    needed = 1 if view == "Optimization history" else 2
    if len(found.trials) < needed:
        return f"needs at least {'one trial' if needed == 1 else 'two trials'} with an objective"
    if view == "Contour" and contour:
        for name in contour:  # one value gives Optuna no area to fill: it draws empty axes
            values = {t.params[name] for t in found.trials if name in t.params}
            if len(values) < 2:
                return f"needs two different values of {name}: every trial so far ran with {name}={values.pop()}"
    try:
        return _styled(_count_trials_as_named(draws[view](), found))
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        return f"cannot be drawn yet: {exc}"


def planned_epochs(job: TuningJob, trial: Trial) -> int | None:
    """The epochs a trial was told to run: its tuned ``epochs``, else the definition's static one."""
    static = job.raw.get("TrainingJobDefinition", {}).get("StaticHyperParameters", {})
    value = trial.tuned.get("epochs", tuned_value(static["epochs"]) if "epochs" in static else None)
    return value if isinstance(value, int) and value > 0 else None


def epoch_positions(values: int, planned: int | None, completed: bool) -> list[int]:
    """The epochs a trial's ``values`` objective points belong to: one an epoch from the first, except where a
    completed trial printed fewer than it ran epochs (an objective printed after testing, once): those are its
    last epochs, so a 2-epoch trial's final objective sits at epoch 2."""
    if completed and planned and values < planned:
        return list(range(planned - values + 1, planned + 1))
    return list(range(1, values + 1))


def epochs_chart(
    curves: dict[str, list[float]], trials: list[Trial], metric: str, epochs: Mapping[str, int | None] | None = None
) -> go.Figure:
    """Each trial's objective after each epoch (``epochs``: the epochs each trial was told to run, to place an
    objective printed once at the trial's last epoch): early-stopped and Hyperband-halted trials end short."""
    status = {t.name: t.status for t in trials}
    epochs = epochs or {}
    figure = go.Figure()
    longest = 1
    for name, values in curves.items():
        stopped = status.get(name) == "Stopped"
        x = epoch_positions(len(values), epochs.get(name), status.get(name) == "Completed")
        longest = max(longest, x[-1] if x else 1)
        figure.add_trace(
            go.Scatter(
                x=x,
                y=values,
                mode="lines+markers",
                name=name + (" (stopped)" if stopped else ""),
                line={"dash": "dot" if stopped else "solid"},
                hovertemplate=f"{name}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>",
            )
        )
    figure.update_xaxes(title_text="epoch", range=[0.5, longest + 0.5], **_whole_ticks(longest))
    figure.update_yaxes(title_text=metric)
    figure.update_layout(showlegend=len(curves) <= 12)
    return _styled(figure)


def timeline_chart(trials: list[Trial], now: datetime | None = None) -> go.Figure:
    """One bar per trial from its start to its end (now while running), coloured by status: overlapping
    bars are trials that ran in parallel."""
    now = now or datetime.now(UTC)
    figure = go.Figure()
    for status, colour in STATUS_COLOURS.items():
        rows = [t for t in trials if t.status == status and (t.started or t.created)]
        if not rows:
            continue
        starts = [t.started or t.created for t in rows]
        figure.add_trace(
            go.Bar(
                y=[t.name for t in rows],
                x=[((t.ended_at or now) - s).total_seconds() * 1000 for t, s in zip(rows, starts, strict=True)],
                base=[s.isoformat() for s in starts],
                orientation="h",
                name=status,
                marker_color=colour,
                hovertemplate="%{y}<br>%{base} +%{x:,.0f} ms<extra>" + status + "</extra>",
            )
        )
    figure.update_xaxes(type="date", title_text="time (UTC)")
    order = [t.name for t in trials]  # trial order (creation), whatever the status
    figure.update_yaxes(
        autorange="reversed", categoryorder="array", categoryarray=order, showticklabels=len(trials) <= 40
    )
    figure.update_layout(barmode="overlay", height=max(HEIGHT_PX, min(1200, 18 * len(trials) + 120)))
    return _styled(figure)


def parallelism(trials: list[Trial], now: datetime | None = None) -> int:
    """The most trials that ran at the same time."""
    now = now or datetime.now(UTC)
    events: list[tuple[Any, int]] = []
    for t in trials:
        start = t.started or t.created
        if start is not None:
            events += [(start, 1), (t.ended_at or now, -1)]
    running = most = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        most = max(most, running)
    return most
