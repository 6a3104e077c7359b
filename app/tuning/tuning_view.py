"""Parts of the tuning job page: the trials table, the best trial, warnings and the plots, each drawn from the
typed trials the service read (the page decides when to read them)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.tuning.tuning_charts import epochs_chart, optuna_figures, parallelism, study, timeline_chart
from app.widgets.formatting import timestamp as when
from services.tuning.analysis import Finding
from services.tuning.tuning_records import Trial, TuningJob

CURVES_SHOWN = 40
"""Trials whose per-epoch objective is read from their logs (the best and the newest): one log search each."""


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
    )
    rows = selection.selection.rows
    return str(frame.iloc[rows[0]]["trial"]) if rows else None


def best_trial(job: TuningJob) -> None:
    """The best trial's hyperparameters, objective, and a link to its job page."""
    best = job.best
    if best is None:
        st.caption("No trial has an objective yet.")
        return
    st.markdown(f"#### Best trial: {best.name}")
    value = f"{best.objective:.4f}" if best.objective is not None else "n/a"
    st.metric(f"{job.objective_type} {job.objective_metric}", value)
    st.caption("Tuned: " + ", ".join(f"{k}={v}" for k, v in best.tuned.items()))
    st.page_link("pages/job.py", label=f"Open {best.name}", query_params={"job": best.name}, icon="🔎")


def warnings(found: list[Finding]) -> None:
    for finding in found:
        st.warning(finding.message + (f" Trials: {', '.join(finding.trials[:10])}" if finding.trials else ""))
        if len(finding.trials) > 10:
            st.caption(f"… and {len(finding.trials) - 10} more.")


def plots(job: TuningJob, trials: list[Trial], curves: dict[str, list[float]], key: str) -> None:
    """Optuna's views, each trial's objective per epoch and the timeline, in tabs (cheap ones first)."""
    contour = None
    if len(job.tuned_names) >= 2:
        x_col, y_col = st.columns(2)
        x = x_col.selectbox("Contour: x", job.tuned_names, key=f"{key}_contour_x")
        y = y_col.selectbox("Contour: y", [n for n in job.tuned_names if n != x], key=f"{key}_contour_y")
        contour = (x, y) if x and y else None
    figures = optuna_figures(study(job, trials, curves), contour)
    names = [*figures, "Objective per epoch", "Timeline"]
    for tab, name in zip(st.tabs(names), names, strict=True):
        with tab:
            if name == "Objective per epoch":
                if curves:
                    st.plotly_chart(epochs_chart(curves, trials, job.objective_metric), key=f"{key}_epochs")
                    st.caption("Dotted: trials that stopped before their last epoch.")
                else:
                    st.caption("No trial has logged its objective yet.")
            elif name == "Timeline":
                st.plotly_chart(timeline_chart(trials), key=f"{key}_timeline")
                st.caption(f"At most {parallelism(trials)} trials ran at once (limit {job.max_parallel}).")
            elif isinstance(figures[name], str):
                st.caption(f"{name} {figures[name]}.")
            else:
                st.plotly_chart(figures[name], key=f"{key}_{name}")


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
