"""What runs now and what it costs per hour, what finished training cost, and "tear down everything"
after a confirmation listing exactly what will go."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.widgets.jobs import usd
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.overview.costs import CostService, TeardownPlan
from services.serving.endpoint_management import ENDPOINT_VARIABLE

_PLAN_KEY = "teardown_plan"
_DONE_KEY = "teardown_done"


def cost_panel(settings: CloudSettings) -> None:
    service = CostService(settings)
    with st.spinner("Adding up what runs…"):
        costs = service.costs()
    for error in costs.errors:
        st.warning(error)
    running, training = st.columns(2)
    running.metric("Running now, per hour", usd(costs.hourly_usd))
    training.metric(f"Finished training ({costs.training_jobs} jobs)", usd(costs.training_usd))
    if costs.running:
        st.dataframe(
            pd.DataFrame(
                [
                    {"what": f"{line.kind}: {line.what}", "count": line.count, "per hour": usd(line.hourly_usd)}
                    for line in costs.running
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("Nothing runs by the hour: no endpoint instances and no provisioned concurrency.")
    if costs.unpriced_jobs:
        st.caption(f"{costs.unpriced_jobs} finished job(s) ran on instance types the dashboard does not price.")
    st.caption(COST_NOTE)
    _teardown(service)


def _teardown(service: CostService) -> None:
    done: tuple[str, list[str]] | None = st.session_state.pop(_DONE_KEY, None)
    if done is not None:  # said after the rerun that re-read everything above
        kind, lines = done
        (st.success if kind == "success" else st.error)(lines[0])
        for line in lines[1:]:
            st.warning(line)
    if st.button("Tear down everything…", key="teardown_ask"):
        try:
            st.session_state[_PLAN_KEY] = service.teardown_plan()
        except ServiceError as exc:
            st.error(exc.message)
    plan: TeardownPlan | None = st.session_state.get(_PLAN_KEY)
    if plan is None:
        return
    if plan.empty:
        st.info("Nothing to tear down: no endpoints and no provisioned concurrency.")
        st.session_state.pop(_PLAN_KEY)
        return
    lines = [
        f"- endpoint `{item.endpoint}` and its config `{item.config}`"
        + (f", with the autoscaling of {', '.join(item.scaled_variants)}" if item.scaled_variants else "")
        for item in plan.endpoints
    ]
    lines += [
        f"- provisioned concurrency of `{p.function}:{p.qualifier}` ({p.environments} environment(s), "
        f"{usd(p.hourly_usd)} per hour)"
        + (", with its autoscaling" if p.resource_id in plan.scaled_provisioned else "")
        for p in plan.provisioned
    ]
    st.warning("This removes:\n" + "\n".join(lines) + "\n\nModels, functions and training artifacts stay.")
    stranded = _stranded(plan)
    if stranded:
        st.warning(stranded)
    confirm, cancel = st.columns(2)
    if confirm.button("Yes, tear all of it down", key="teardown_go", type="primary"):
        st.session_state.pop(_PLAN_KEY)
        try:
            removed = service.teardown(plan)
        except ServiceError as exc:
            st.session_state[_DONE_KEY] = ("error", [exc.message])
        else:
            after = [f"{line} Point them at another endpoint on the Lambda page." for line in [stranded] if line]
            st.session_state[_DONE_KEY] = ("success", ["Removed " + ", ".join(removed) + ".", *after])
        st.rerun()  # the endpoint list and the costs above are read again
    if cancel.button("Cancel", key="teardown_cancel"):
        st.session_state.pop(_PLAN_KEY)
        st.rerun()


def _stranded(plan: TeardownPlan) -> str:
    """The functions left calling a removed endpoint, in one sentence ('' when none)."""
    calls = [f"{function} calls {endpoint}" for function, endpoint in plan.stranded_functions.items()]
    if not calls:
        return ""
    return (
        f"Lambda function(s) left calling a removed endpoint ({ENDPOINT_VARIABLE}): {'; '.join(calls)}. "
        "Their invocations fail until they call an endpoint that exists."
    )
