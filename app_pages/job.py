"""Job: one training job (`?job=<name>`), live while it runs: status, curves, cost; logs, Debugger and Profiler
tabs; stop or deploy it."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.auth import operators_only
from app.endpoints.deploy_panel import deploy_panel
from app.settings import current_settings
from app.training.debug_tabs import debugger_tab, profiler_tab
from app.training.job_charts import metric_charts
from app.widgets.formatting import timestamp as when
from app.widgets.jobs import duration, live, usd
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.serving.lineage import LineageService
from services.training.debugging import DebuggingService
from services.training.job_records import TrainingJob
from services.training.job_spec import check_job_name
from services.training.sagemaker_training import TrainingService

operators_only("Job")

LOG_LINES = 200

settings = current_settings()
service = TrainingService(settings=settings)

st.title("Training job")
st.page_link("app_pages/train.py", label="All training jobs", icon=":material/arrow_back:")
name = (st.query_params.get("job") or "").strip()
if not name:
    typed = st.text_input("Job name", key="job_pick").strip()
    if typed:
        st.query_params["job"] = typed
        st.rerun()
    st.info("Open a job from the list on the Train page, or type its name.")
    st.stop()
try:
    check_job_name(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
st.subheader(name)
JOB_KEY = f"job_{name}"


# -- status, curves, cost (cheap calls first; the page shows each part as it arrives) -------------------------
def stopped_note(job: TrainingJob) -> None:
    """A stopped job has the model its script saved when told to stop, or none: say which."""
    if job.model_saved:
        st.success(
            f"Stopped. The training script saved the model of its last whole epoch (untested): {job.model_artifact}"
        )
    else:
        st.warning("Stopped before the training script saved a model (no whole epoch had ended): nothing to deploy.")


def status_part() -> bool:
    # Cheap first: one DescribeTrainingJob draws the status; the curves need a search of the job's log, which a
    # long or busy job makes slow, so they come after it, each read under a spinner that says what it waits for.
    try:
        with st.spinner(f"Reading training job {name}…"):
            job = service.describe(name)
    except ServiceError as exc:
        st.error(exc.message)
        return False
    st.session_state[JOB_KEY] = job
    now = datetime.now(UTC)
    # Three to a row: six in the page's width cut "InProgress" to "InPr…" and "Completed" to "Complet…".
    status, stage, cost = st.columns(3)
    status.metric("Status", job.status)
    stage.metric("Stage", job.secondary_status or "")
    if job.ended:
        cost.metric("Cost", usd(job.cost_usd), help="billable seconds × instances × on-demand list price")
        st.columns(3)[0].metric("Billable time", duration(job.billable_seconds))
    else:  # billing is known only at the end: show how far it is (once the curves are read) and the cost so far
        cost.metric("Cost so far", usd(job.notional_cost(now)), help="time training × instances × list price")
        elapsed, epoch, left = (column.empty() for column in st.columns(3))
        for slot, label in ((elapsed, "Elapsed"), (epoch, "Epoch"), (left, "Time left")):
            slot.metric(label, "…")
    st.caption(
        f"{job.instance_count} × {job.instance_type} · created {when(job.created)}"
        + (f" · ended {when(job.ended_at)}" if job.ended_at else "")
        + f" · {COST_NOTE}"
    )
    if job.status == "Stopping":
        st.info("Stopping: the training script got SIGTERM and has up to 2 minutes to save its model.")
    elif job.status == "Stopped":
        stopped_note(job)
    if job.status == "Failed":
        st.error(f"Failed: {job.failure_reason or 'no reason given'}")
        try:
            tail = service.log_tail(name, limit=30)
            if tail.lines:
                st.code("\n".join(line.message for line in tail.lines), language=None)
        except ServiceError as exc:
            st.caption(exc.message)
    if job.transitions:
        st.dataframe(
            pd.DataFrame(
                [
                    {"stage": t.status, "start": when(t.start), "end": when(t.end), "message": t.message}
                    for t in job.transitions
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    try:
        with st.spinner("Reading the curves from the job's log…"):
            series = service.metric_series(name, job)
    except ServiceError as exc:
        st.caption(exc.message)
        series = {}
    if not job.ended:
        progress = service.progress(job, series, now)
        elapsed.metric("Elapsed", duration(progress.elapsed_s) if job.started else "not training yet")
        epoch.metric("Epoch", f"{progress.epoch} of {progress.epochs or '?'}")
        left.metric("Time left", "≈ " + duration(progress.eta_s) if progress.eta_s is not None else "n/a")
    charts = metric_charts(series)
    if charts:
        for column, (_title, chart) in zip(st.columns(len(charts)), charts, strict=True):
            column.plotly_chart(chart)
    elif not job.ended:
        st.caption("Curves appear after the first epoch.")
    if job.final_metrics:
        st.dataframe(
            pd.DataFrame([{"metric": k, "value": v} for k, v in job.final_metrics.items()]),
            hide_index=True,
        )
    if job.model_artifact and job.status == "Completed":
        st.success(f"Model: {job.model_artifact}")
    st.caption("Hyperparameters: " + ", ".join(f"{k}={v}" for k, v in job.hyperparameters.items()))
    return not job.ended


live(JOB_KEY, status_part)
job: TrainingJob | None = st.session_state.get(JOB_KEY)


# -- logs: the newest lines, paged with CloudWatch tokens, never the whole stream ------------------------------
def logs_part() -> bool:
    token_key, stream_key = f"{JOB_KEY}_log_token", f"{JOB_KEY}_log_stream"
    token = st.session_state.get(token_key)
    try:
        page = service.log_tail(name, stream=st.session_state.get(stream_key), next_token=token, limit=LOG_LINES)
    except ServiceError as exc:
        st.caption(exc.message)
        return False
    if len(page.streams) > 1:
        st.selectbox("Stream", page.streams, key=stream_key)
    if not page.lines:
        st.caption("No log lines yet." if token is None else "No older lines.")
    else:
        st.code("\n".join(line.message for line in page.lines), language=None, height=360, wrap_lines=True)
    older, newest, _ = st.columns([1, 1, 4])
    at_start = len(page.lines) < LOG_LINES  # a short page: nothing older is left
    if older.button("Older lines", key=f"{JOB_KEY}_older", disabled=at_start):
        st.session_state[token_key] = page.older_token
        st.rerun(scope="fragment")
    if newest.button("Newest", key=f"{JOB_KEY}_newest", disabled=token is None):
        st.session_state[token_key] = None
        st.rerun(scope="fragment")
    # Follow the tail only while the job runs and the operator is not reading older lines.
    return token is None and st.session_state.get(f"live_{JOB_KEY}", False)


if job is None:  # the status part said why
    st.stop()

# Only the open tab is built: the Debugger and Profiler tabs hold a dozen charts each, and a tab that is not
# shown costs its reads and its drawing for nothing.
logs_tab, debug_tab, profile_tab = st.tabs(["Logs", "Debugger", "Profiler"], key=f"{JOB_KEY}_tab", on_change="rerun")
if logs_tab.open:
    with logs_tab:
        live(f"{JOB_KEY}_logs", logs_part)
if debug_tab.open:
    with debug_tab:
        debugger_tab(DebuggingService(settings=settings), name, JOB_KEY)
if profile_tab.open:
    with profile_tab:
        profiler_tab(DebuggingService(settings=settings), name, JOB_KEY)

# -- stop (with confirmation; the status part above says what stopping does, then what it left) -------------
if not job.ended and job.status != "Stopping":
    confirm_key = f"{JOB_KEY}_confirm_stop"
    if not st.session_state.get(confirm_key):
        if st.button("Stop job…", key=f"{JOB_KEY}_stop"):
            st.session_state[confirm_key] = True
            st.rerun()
    else:
        st.warning(
            f"Stop '{name}'? Billing ends; the script saves the model of its last whole epoch, if one has ended."
        )
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button("Yes, stop it", key=f"{JOB_KEY}_stop_yes", type="primary"):
            st.session_state[confirm_key] = False
            try:
                service.stop(name)
            except ServiceError as exc:
                st.error(exc.message)
            else:
                st.session_state[f"live_{JOB_KEY}"] = True
                st.rerun()  # the question is answered: draw the page without it
        if no.button("Cancel", key=f"{JOB_KEY}_stop_no"):
            st.session_state[confirm_key] = False
            st.rerun()

# -- lineage: what it learned from, where it serves ---------------------------------------------------------
if job.tuning_job:
    st.page_link(
        "app_pages/tuning_job.py",
        label=f"A trial of tuning job {job.tuning_job}",
        query_params={"tuning_job": job.tuning_job},
    )
if job.data_uri:
    st.page_link(
        "app_pages/train.py",
        label=f"Trained on {job.data_uri}: train again on it",
        query_params={"tab": "launch", "dataset": job.data_uri},
    )
if job.model_artifact and job.ended:
    try:
        serving = LineageService(settings).endpoints_serving(job.model_artifact)
    except ServiceError as exc:
        st.caption(f"Where this model serves is unknown: {exc.message}")
        serving = []
    for endpoint in serving:
        st.page_link(
            "app_pages/endpoints.py", label=f"Serving on endpoint {endpoint}", query_params={"endpoint": endpoint}
        )
    st.page_link(
        "app_pages/evaluate.py", label="Its evaluations", icon=":material/fact_check:", query_params={"job": name}
    )

# -- deploy ----------------------------------------------------------------------------------------------------
if job.model_artifact and (job.status == "Completed" or job.model_saved):
    deploy_panel(settings, job.model_artifact, name, JOB_KEY)
