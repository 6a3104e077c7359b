"""What runs now and what it costs per hour, what finished training cost, and "tear down everything"
after a confirmation listing exactly what will go."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.widgets.jobs import usd
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.overview.costs import CostService, TeardownItem

_PLAN_KEY = "teardown_plan"


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
    if st.button("Tear down everything…", key="teardown_ask"):
        try:
            st.session_state[_PLAN_KEY] = service.teardown_plan()
        except ServiceError as exc:
            st.error(exc.message)
    plan: list[TeardownItem] | None = st.session_state.get(_PLAN_KEY)
    if plan is None:
        return
    if not plan:
        st.info("There are no endpoints to tear down.")
        st.session_state.pop(_PLAN_KEY)
        return
    lines = [
        f"- endpoint `{item.endpoint}` and its config `{item.config}`"
        + (f", with the autoscaling of {', '.join(item.scaled_variants)}" if item.scaled_variants else "")
        for item in plan
    ]
    st.warning("This removes:\n" + "\n".join(lines) + "\n\nModels and training artifacts stay.")
    confirm, cancel = st.columns(2)
    if confirm.button("Yes, tear all of it down", key="teardown_go", type="primary"):
        st.session_state.pop(_PLAN_KEY)
        try:
            done = service.teardown(plan)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.success("Removed " + ", ".join(done) + ".")
    if cancel.button("Cancel", key="teardown_cancel"):
        st.session_state.pop(_PLAN_KEY)
        st.rerun()
