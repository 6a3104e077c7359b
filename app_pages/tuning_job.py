"""Tuning job: one hyperparameter tuning job (`?tuning_job=<name>`), live while it runs: status, counters,
elapsed and spend; Stop, Clone; the best trial with Deploy; the trials table; warnings; plots."""

from datetime import UTC, datetime

import streamlit as st

from app.auth import operators_only
from app.endpoints.deploy_panel import deploy_panel
from app.settings import current_settings
from app.tuning.tuning_view import best_trial, curve_trials, plots, summary_caption, trials_table, warnings
from app.widgets.jobs import duration, live, usd
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.tuning.analysis import findings
from services.tuning.spec import check_tuning_name
from services.tuning.tuner import TuningService
from services.tuning.tuning_records import TuningJob

operators_only("Tuning job")

settings = current_settings()
service = TuningService(settings=settings)

st.title("Tuning job")
st.page_link("app_pages/tune.py", label="All tuning jobs", icon=":material/arrow_back:")
name = (st.query_params.get("tuning_job") or "").strip()
if not name:
    typed = st.text_input("Tuning job name", key="tuning_job_pick").strip()
    if typed:
        st.query_params["tuning_job"] = typed
        st.rerun()
    st.info("Open a tuning job from the list on the Tune page, or type its name.")
    st.stop()
try:
    check_tuning_name(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
st.subheader(name)
KEY = f"tuning_{name}"


def curves(job: TuningJob, trials: list) -> dict[str, list[float]]:
    """Per-epoch objectives; an ended trial's are kept for the session (they no longer change)."""
    kept: dict[str, list[float]] = st.session_state.setdefault(f"{KEY}_curves", {})
    ended = {t.name for t in trials if t.status in {"Completed", "Stopped", "Failed"}}
    wanted = [t for t in curve_trials(job, trials) if t.name not in kept]
    try:
        fresh = service.objective_curves(job, wanted)
    except ServiceError as exc:
        st.caption(exc.message)
        fresh = {}
    kept.update({n: v for n, v in fresh.items() if n in ended})
    return {t.name: kept.get(t.name) or fresh.get(t.name, []) for t in trials if kept.get(t.name) or fresh.get(t.name)}


def status_part() -> bool:
    try:
        job = service.describe(name)
        trials = service.trials(name)
    except ServiceError as exc:
        st.error(exc.message)
        return False
    st.session_state[KEY] = job
    now = datetime.now(UTC)
    counters, objective = job.status_counters, job.objective_counters
    status, done, running = st.columns(3)
    status.metric("Status", job.status)
    done.metric("Trials ended", f"{len(trials) - counters.get('InProgress', 0)} of {job.max_jobs or len(trials)}")
    running.metric("Running", counters.get("InProgress", 0))
    scored, elapsed, spend = st.columns(3)
    scored.metric(
        "Objectives succeeded",
        f"{objective.get('Succeeded', 0)} of {len(trials)}",
        help=f"ObjectiveStatusCounters: {objective.get('Failed', 0)} failed, {objective.get('Pending', 0)} pending",
    )
    elapsed.metric("Elapsed", duration(job.elapsed_s(now)))
    spend.metric(
        "Spend so far", usd(job.spend(trials, now)), help="each trial's training time × instances × list price"
    )
    st.caption(summary_caption(job) + f". {COST_NOTE}")
    if job.failure_reason:
        st.error(f"Failed: {job.failure_reason}")
    if job.completion_reason:
        st.info(f"Completed early: {job.completion_reason}.")
    if not trials:
        st.caption("No trial has started yet.")
        return not job.ended
    best_trial(job, _classes(job))
    warnings(findings(job, trials, classes=_classes(job)))
    st.markdown("#### Trials")
    chosen = trials_table(job, trials, KEY)
    if chosen and st.button(f"Open {chosen}", key=f"{KEY}_open", type="primary"):
        st.switch_page("app_pages/job.py", query_params={"job": chosen})
    if not chosen:
        st.caption("Click a column header to sort; select a row to open that trial's job page.")
    st.markdown("#### Plots")
    plots(job, trials, curves(job, trials), KEY)
    return not job.ended


def _classes(job: TuningJob) -> int | None:
    """Classes in the dataset (read once per page visit; for the chance level of a loss objective)."""
    if f"{KEY}_classes" not in st.session_state:
        st.session_state[f"{KEY}_classes"] = service.class_count(job)
    return st.session_state[f"{KEY}_classes"]


live(KEY, status_part)
job: TuningJob | None = st.session_state.get(KEY)
if job is None:
    st.stop()

# -- stop and clone ---------------------------------------------------------------------------------------------
stop_col, clone_col, _ = st.columns([1, 2, 3])
if not job.ended and job.status != "Stopping":
    confirm = f"{KEY}_confirm_stop"
    if not st.session_state.get(confirm):
        if stop_col.button("Stop tuning job…", key=f"{KEY}_stop"):
            st.session_state[confirm] = True
            st.rerun()
    else:
        st.warning(f"Stop '{name}'? Its running trials stop too; no new trial starts.")
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button("Yes, stop it", key=f"{KEY}_stop_yes", type="primary"):
            st.session_state[confirm] = False
            try:
                service.stop(name)
            except ServiceError as exc:
                st.error(exc.message)
            else:
                st.session_state[f"live_{KEY}"] = True
                st.rerun()
        if no.button("Cancel", key=f"{KEY}_stop_no"):
            st.session_state[confirm] = False
            st.rerun()
clone_col.page_link(
    "app_pages/tune.py",
    label="Clone into the launch form",
    query_params={"tab": "launch", "clone": name},
    icon=":material/content_copy:",
)

# -- deploy the best trial ----------------------------------------------------------------------------------------
if job.best is not None and job.best.status == "Completed":
    try:
        artifact = service.training.describe(job.best.name).model_artifact
    except ServiceError as exc:
        st.caption(f"The best trial's model cannot be read: {exc.message}")
        artifact = None
    if artifact:
        st.page_link(
            "app_pages/evaluate.py",
            label="The best trial's evaluations",
            icon=":material/fact_check:",
            query_params={"tuning_job": name},
        )
        deploy_panel(settings, artifact, job.best.name, f"{KEY}_best")
