"""The Train page's EC2 machines tab: the machines launched for training, one machine's state, console,
curves (read from the console with the jobs' metric regexes) and notional cost; the same Debugger and
Profiler tabs as a job's page, on the recording the machine uploads; deploy its model, or terminate it after
a confirmation, as the Job page asks before stopping a job."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.endpoints.deploy_panel import deploy_panel
from app.training.debug_tabs import debugger_tab, profiler_tab
from app.training.job_charts import metric_charts
from app.widgets.formatting import timestamp as when
from app.widgets.jobs import live, usd
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.training.debugging import DebuggingService, JobRecording
from services.training.ec2_training import ALIVE, Ec2Job, Ec2TrainingService


def ec2_machines(settings: CloudSettings, ec2: Ec2TrainingService) -> None:
    """The EC2 machines tab."""
    try:
        machines = ec2.list_ec2_jobs()
    except ServiceError as exc:
        st.error(exc.message)
        machines = []
    if not machines:
        st.caption("No EC2 training machines launched from the dashboard.")
        return
    now = datetime.now(UTC)
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "instance": m.instance_id,
                    "job": m.job_name,
                    "state": m.state,
                    "type": m.instance_type,
                    "launched": when(m.launched),
                    "cost so far": usd(m.notional_cost(now)) if m.state in ALIVE else "",
                    "artifact": m.artifact,
                }
                for m in machines
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(COST_NOTE)
    chosen = st.selectbox("Machine", [m.instance_id for m in machines], key="ec2_chosen")
    described_key = f"ec2_{chosen}_described"

    def machine() -> bool:
        try:
            job = ec2.describe_ec2_job(chosen)
        except ServiceError as exc:
            st.error(exc.message)
            return False
        st.session_state[described_key] = job  # for the deploy and terminate parts below
        state_col, artifact_col, cost_col = st.columns(3)
        state_col.metric("State", job.state)
        artifact_col.metric("model.tar.gz", "uploaded" if job.artifact_present else "not yet")
        cost_col.metric("Cost so far", usd(job.notional_cost(datetime.now(UTC))) if job.state in ALIVE else "n/a")
        if job.state_reason:
            st.caption(job.state_reason)
        if job.artifact:
            st.caption(f"Artifact: {job.artifact}")
        charts = metric_charts(job.series)
        if charts:
            for column, (_title, chart) in zip(st.columns(len(charts)), charts, strict=True):
                column.plotly_chart(chart)
        st.code(job.console_output[-8000:] or "(no console output yet)", language=None, wrap_lines=True)
        return job.state in ALIVE

    live(f"ec2_{chosen}", machine, every="3s")  # its state change reruns the page, redrawing what follows
    described = st.session_state.get(described_key)
    if described and described.recording:
        _recording_tabs(settings, described, chosen)
    if described and described.artifact_present and described.artifact:  # it lands where a job's would
        deploy_panel(settings, described.artifact, described.job_name or chosen, f"ec2_{chosen}")
    if described and described.state != "terminated":
        _terminate(ec2, chosen)


def _recording_tabs(settings: CloudSettings, machine: Ec2Job, chosen: str) -> None:
    """The machine's recording (uploaded by its runner to ``machine.recording``) in the job page's tabs."""
    debugging = DebuggingService(settings=settings)
    name = machine.job_name or chosen

    def load() -> JobRecording:
        return debugging.recording_at(name, machine.recording, running=machine.state in ALIVE)

    debug_tab, profile_tab = st.tabs(["Debugger", "Profiler"], key=f"ec2_{chosen}_tab", on_change="rerun")
    if debug_tab.open:  # only the open tab is built, as on a job's page
        with debug_tab:
            debugger_tab(debugging, name, f"ec2_{chosen}", load)
    if profile_tab.open:
        with profile_tab:
            profiler_tab(debugging, name, f"ec2_{chosen}", load)


def _terminate(ec2: Ec2TrainingService, chosen: str) -> None:
    """Terminate with a question first; the answer's message lasts until the machine is gone."""
    confirm_key = f"ec2_{chosen}_confirm_terminate"
    if done := st.session_state.get(f"ec2_{chosen}_terminated"):
        st.success(done)
        return
    if not st.session_state.get(confirm_key):
        if st.button("Terminate…", key="ec2_terminate"):
            st.session_state[confirm_key] = True
            st.rerun()
        return
    st.warning(
        f"Terminate {chosen}? Training ends at once and the machine's disk is deleted; a model not yet "
        "uploaded is lost."
    )
    yes, no, _ = st.columns([1, 1, 4])
    if yes.button("Yes, terminate it", key="ec2_terminate_yes", type="primary"):
        st.session_state[confirm_key] = False
        try:
            state = ec2.terminate(chosen)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.session_state[f"ec2_{chosen}_terminated"] = f"{chosen} is {state}."
            st.session_state[f"live_ec2_{chosen}"] = True
            st.rerun()
    if no.button("Cancel", key="ec2_terminate_no"):
        st.session_state[confirm_key] = False
        st.rerun()
