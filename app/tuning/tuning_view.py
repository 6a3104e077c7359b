"""Parts of the tuning job page: the trials table, the best trial, warnings and the plots, each drawn from the
typed trials the service read (the page decides when to read them)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import optuna
import pandas as pd
import streamlit as st

from app.tuning.tuning_charts import (
    OPTUNA_VIEWS,
    epochs_chart,
    optuna_figure,
    parallelism,
    planned_epochs,
    study,
    timeline_chart,
)
from app.widgets.formatting import MISSING
from app.widgets.formatting import timestamp as when
from services.tuning.analysis import Finding
from services.tuning.tuning_records import Trial, TuningJob

CURVES_SHOWN = 40
"""Trials whose per-epoch objective is read from their logs (the best and the newest): one log search each."""
IMPORTANCE_TRUSTED_FROM = 20
"""Trials from which hyperparameter importance is more than a guess: Optuna's fANOVA fits a random forest to
the trials, and from a handful of points its split of the variance follows whichever trial happened to be
best."""
CHANCE_MARGIN = 0.05
"""A loss within this share of ln(classes) is at chance level: a model that learned only how often each class
occurs scores the entropy of the class sizes, a little under ln(classes)."""


def stop_mark(job: TuningJob, trial: Trial) -> str:
    """Why a trial is Stopped: halted by the search (early stopping, Hyperband) or with the tuning job."""
    if trial.status != "Stopped":
        return ""
    if job.status in {"Stopping", "Stopped"} and job.early_stopping == "Off" and job.strategy != "Hyperband":
        return "stopped with the tuning job"
    return "Hyperband halted" if job.strategy == "Hyperband" else "early-stopped"


def trials_frame(job: TuningJob, trials: list[Trial], now: datetime) -> pd.DataFrame:
    """Every trial: status, each tuned value, final objective, duration, early-stop mark, failure reason."""
    rows = []
    for trial in trials:
        row: dict[str, object] = {"trial": trial.name, "status": trial.status}
        row.update({name: trial.tuned.get(name) for name in job.tuned_names})
        row.update(
            {
                job.objective_metric: trial.objective,
                "duration (s)": round(trial.duration_s(now) or 0.0, 1),
                "stopped": stop_mark(job, trial),
                "failure reason": trial.failure_reason or "",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def trials_table(job: TuningJob, trials: list[Trial], key: str) -> str | None:
    """The sortable table (click a header); returns the trial whose row is selected, to open its job page."""
    frame = trials_frame(job, trials, datetime.now(UTC))
    selection = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key=f"{key}_trials",
        on_select="rerun",
        selection_mode="single-row",
        column_config={job.objective_metric: st.column_config.NumberColumn(format="%.4f")},
        placeholder=MISSING,
    )
    rows = selection.selection.rows
    return str(frame.iloc[rows[0]]["trial"]) if rows else None


def best_trial(job: TuningJob, classes: int | None = None) -> None:
    """The best trial's hyperparameters, objective, and a link to its job page; a warning where even the best
    is at chance level (``classes``: the dataset's, where known)."""
    best = job.best
    if best is None:
        st.caption("No trial has an objective yet.")
        return
    st.markdown(f"#### Best trial: {best.name}")
    value = f"{best.objective:.4f}" if best.objective is not None else "n/a"
    st.metric(f"{job.objective_type} {job.objective_metric}", value)
    if note := chance_note(job, classes):
        st.warning(note)
    st.caption("Tuned: " + ", ".join(f"{k}={v}" for k, v in best.tuned.items()))
    st.page_link(
        "app_pages/job.py", label=f"Open {best.name}", query_params={"job": best.name}, icon=":material/search:"
    )


def chance_note(job: TuningJob, classes: int | None) -> str | None:
    """Why a best loss is no win: at or within CHANCE_MARGIN of ln(classes), the cross-entropy of a uniform
    guess, no trial has learned to tell the classes apart (None otherwise, or where that cannot be said)."""
    best = job.best
    objective = best.objective if best is not None else None
    if objective is None or not math.isfinite(objective) or not classes or classes < 2:
        return None
    if "loss" not in job.objective_metric.lower() or job.maximize:
        return None
    chance = math.log(classes)
    if objective < chance * (1 - CHANCE_MARGIN):
        return None
    return (
        f"Even the best trial is at chance level: its {job.objective_metric} {objective:.4f} is within "
        f"{CHANCE_MARGIN:.0%} of ln({classes}) = {chance:.3f}, the loss of a uniform guess over {classes} classes, "
        "so no trial has learned the breeds yet. Train for more epochs, widen the learning-rate range, or check "
        "the data before deploying it."
    )


def warnings(found: list[Finding]) -> None:
    for finding in found:
        st.warning(finding.message + (f" Trials: {', '.join(finding.trials[:10])}" if finding.trials else ""))
        if len(finding.trials) > 10:
            st.caption(f"… and {len(finding.trials) - 10} more.")


def plots(job: TuningJob, trials: list[Trial], curves: dict[str, list[float]], key: str) -> None:
    """Optuna's views, each trial's objective per epoch and the timeline, in tabs of which only the open one is
    built (each view is a study fit and a chart the browser draws)."""
    contour = None
    if len(job.tuned_names) >= 2:
        x_col, y_col = st.columns(2)
        x = x_col.selectbox("Contour: x", job.tuned_names, key=f"{key}_contour_x")
        y = y_col.selectbox("Contour: y", [n for n in job.tuned_names if n != x], key=f"{key}_contour_y")
        contour = (x, y) if x and y else None
    names = [*OPTUNA_VIEWS, "Objective per epoch", "Timeline"]
    for tab, name in zip(st.tabs(names, key=f"{key}_plot_tab", on_change="rerun"), names, strict=True):
        if not tab.open:
            continue
        with tab:
            if name == "Objective per epoch":
                _epochs(job, trials, curves, key)
            elif name == "Timeline":
                st.plotly_chart(timeline_chart(trials), key=f"{key}_timeline")
                st.caption(f"At most {parallelism(trials)} trials ran at once (limit {job.max_parallel}).")
            else:
                _optuna_view(study(job, trials, curves), name, contour, key)


def _optuna_view(found: optuna.Study, name: str, contour: tuple[str, str] | None, key: str) -> None:
    figure = optuna_figure(found, name, contour)
    if isinstance(figure, str):
        st.caption(f"{name} {figure}.")
        return
    st.plotly_chart(figure, key=f"{key}_{name}")
    if name == "Hyperparameter importance" and len(found.trials) < IMPORTANCE_TRUSTED_FROM:
        st.caption(
            f"Estimated from only {len(found.trials)} trials with an objective: below about "
            f"{IMPORTANCE_TRUSTED_FROM} the split follows whichever trial happened to do best, so read it as a hint."
        )


def _epochs(job: TuningJob, trials: list[Trial], curves: dict[str, list[float]], key: str) -> None:
    if not curves:
        st.caption("No trial has logged its objective yet.")
        return
    epochs = {t.name: planned_epochs(job, t) for t in trials}
    st.plotly_chart(epochs_chart(curves, trials, job.objective_metric, epochs), key=f"{key}_epochs")
    if all(len(values) == 1 for values in curves.values()):
        st.caption(
            f"{job.objective_metric} is printed once per trial, after training: each trial's point sits at its "
            "last epoch."
        )
    st.caption("Dotted: trials that stopped before their last epoch.")


def curve_trials(job: TuningJob, trials: list[Trial]) -> list[Trial]:
    """The trials whose curves are read: the best ones and the newest, at most CURVES_SHOWN."""
    sign = -1 if job.maximize else 1
    scored = sorted(
        (t for t in trials if t.objective is not None and math.isfinite(t.objective)),
        key=lambda t: sign * (t.objective or 0.0),
    )
    chosen = {t.name: t for t in scored[: CURVES_SHOWN // 2]}
    for trial in reversed(trials):
        if len(chosen) >= CURVES_SHOWN:
            break
        chosen.setdefault(trial.name, trial)
    return [t for t in trials if t.name in chosen]


def summary_caption(job: TuningJob) -> str:
    limit = f"{job.max_jobs} trials" if job.max_jobs else "every combination"
    return (
        f"{job.strategy} · {job.objective_type} {job.objective_metric} · {limit}, {job.max_parallel} at a time · "
        f"early stopping {job.early_stopping} · {job.instance_count} × {job.instance_type} · "
        f"created {when(job.created)}" + (f" · ended {when(job.ended_at)}" if job.ended_at else "")
    )
