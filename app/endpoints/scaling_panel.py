"""The autoscaling panel of one endpoint variant: min, max, target tracking, cooldowns, scheduled actions,
the policy's alarms and their state, and the scaling activity history (which the SageMaker console lacks)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from app.endpoints.scale_in_note import scale_in_note
from app.widgets.formatting import timestamp as when
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.endpoint_metrics import CloudTiming
from services.serving.load_test import LoadSnapshot
from services.serving.scale_in import ScaleInService
from services.serving.scaling import (
    DEFAULT_COOLDOWN_S,
    Activity,
    ScalingPlan,
    ScalingService,
    ScalingState,
    suggested_target,
)

_METRICS = {
    "invocations": "Invocations per instance (SageMakerVariantInvocationsPerInstance)",
    "cpu": "CPU utilisation (%)",
}
SUGGESTED_KEY = "suggested_target"
"""Session key of AWS's suggested target per endpoint, from its last load test."""


def suggestion_keeper(endpoint: str) -> Callable[[LoadSnapshot], None]:
    """What the load-test panel calls when a test of `endpoint` ends: AWS's suggested target from its peak
    (peak RPS per instance × 0.5 × 60), kept for this form."""

    def keep(snapshot: LoadSnapshot) -> None:
        if snapshot.peak_rps_per_instance:
            st.session_state.setdefault(SUGGESTED_KEY, {})[endpoint] = suggested_target(snapshot.peak_rps_per_instance)

    return keep


def scaling_panel(settings: CloudSettings, endpoint: str, variant: str, timing: CloudTiming) -> None:
    service = ScalingService(settings)
    try:
        state = service.state(endpoint, variant)
    except ServiceError as exc:
        st.error(exc.message)
        return
    _form(service, endpoint, variant, state, timing)
    _scheduled(service, endpoint, variant, state)
    _status(settings, endpoint, variant, state.registered, timing)


def _form(service: ScalingService, endpoint: str, variant: str, state: ScalingState, timing: CloudTiming) -> None:
    plan = state.policy or ScalingPlan(1, 2, 30.0, scale_in_cooldown_s=DEFAULT_COOLDOWN_S)
    in_force = f", tracking {state.policy.target_value:g}" if state.policy else ""
    if state.registered:
        st.caption(
            f"Registered: {state.min_capacity} to {state.max_capacity} instances, policy `{state.policy_name}`"
            f"{in_force}."
        )
    else:
        st.caption("Not autoscaled: the instance count stays where it is set.")
    target_key = f"scaling_target_{endpoint}_{variant}"
    st.session_state.setdefault(target_key, float(plan.target_value))  # the field shows the policy in force
    suggested = st.session_state.get(SUGGESTED_KEY, {}).get(endpoint)
    if suggested:
        st.info(
            "From the last load test, AWS's rule (peak RPS per instance × 0.5 × 60) suggests a target of "
            f"{suggested:g}" + (f"; the policy in force tracks {state.policy.target_value:g}." if state.policy else ".")
        )
        st.button(
            f"Put {suggested:g} in the target field",
            key=f"scaling_use_suggestion_{endpoint}",
            on_click=_set_state,
            args=(target_key, float(suggested)),
            help="Fills the field only: the policy changes when you apply it.",
        )
        st.caption(
            "The rule wants the most one instance can answer: it holds only if the test pushed the instance to its "
            "limit (answered/s stopped following the requested rate, or latency climbed). Otherwise run it again "
            "at a higher rate."
        )
    limit = f" (this cloud allows {timing.instance_limit} endpoint instances)" if timing.instance_limit else ""
    with st.form(f"scaling_{endpoint}_{variant}"):
        low, high = st.columns(2)
        min_capacity = low.number_input("Minimum instances", value=plan.min_capacity, step=1)
        max_capacity = high.number_input(f"Maximum instances{limit}", value=plan.max_capacity, step=1)
        metric = st.radio("Track", list(_METRICS), format_func=_METRICS.get, index=list(_METRICS).index(plan.metric))
        target = st.number_input(
            "Target value",
            step=1.0,
            key=target_key,
            help="Invocations per instance per minute, or CPU percent (summed over an instance's cores).",
        )
        out_col, in_col = st.columns(2)
        scale_out = out_col.number_input("Scale-out cooldown (s)", value=plan.scale_out_cooldown_s, step=10)
        scale_in = in_col.number_input("Scale-in cooldown (s)", value=plan.scale_in_cooldown_s, step=10)
        disable_in = st.checkbox("Disable scale-in", value=plan.disable_scale_in)
        submitted = st.form_submit_button("Apply autoscaling")
    if submitted:
        new_plan = ScalingPlan(
            int(min_capacity), int(max_capacity), float(target), metric, int(scale_in), int(scale_out), disable_in
        )
        try:
            alarms = service.apply(endpoint, variant, new_plan, instance_limit=timing.instance_limit)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.success(
                f"Autoscaling set: {new_plan.min_capacity} to {new_plan.max_capacity} instances; "
                f"alarms {', '.join(alarms)}."
            )
    if state.registered and st.button("Remove autoscaling", key=f"scaling_remove_{endpoint}"):
        try:
            service.remove(endpoint, variant)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.success("Autoscaling removed: the policy, its alarms and the scheduled actions are gone.")


def _scheduled(service: ScalingService, endpoint: str, variant: str, state: ScalingState) -> None:
    with st.expander(f"Scheduled actions ({len(state.scheduled)})"):
        if state.scheduled:
            st.dataframe(
                pd.DataFrame(
                    [
                        {"name": s.name, "schedule": s.schedule, "min": s.min_capacity, "max": s.max_capacity}
                        for s in state.scheduled
                    ]
                ),
                hide_index=True,
            )
        with st.form(f"schedule_{endpoint}"):
            name = st.text_input("Name", value="business-hours")
            schedule = st.text_input("Schedule", value="cron(0 8 * * ? *)", help="at(…), rate(…) or cron(…), UTC")
            low, high = st.columns(2)
            min_capacity = low.number_input("Minimum", value=1, step=1)
            max_capacity = high.number_input("Maximum", value=2, step=1)
            if st.form_submit_button("Schedule"):
                try:
                    service.put_scheduled_action(
                        endpoint, variant, name.strip(), schedule.strip(), int(min_capacity), int(max_capacity)
                    )
                except ServiceError as exc:
                    st.error(exc.message)
                else:
                    st.success(f"Scheduled '{name.strip()}'.")


def _set_state(key: str, value: float) -> None:
    st.session_state[key] = value


def _status(settings: CloudSettings, endpoint: str, variant: str, registered: bool, timing: CloudTiming) -> None:
    """Alarms, why there is no scale-in yet (with a countdown) and activities, refreshed every 2 s while the
    variant is autoscaled (they change as it scales) and the operator keeps the refresh on."""
    refresh = st.toggle("Refresh alarms and activities", value=registered, key=f"scaling_live_{endpoint}")

    @st.fragment(run_every="2s" if refresh else None)
    def live() -> None:
        try:
            state = ScalingService(settings).state(endpoint, variant)
        except ServiceError as exc:
            st.error(exc.message)
            return
        st.markdown("##### Alarms of the policy")
        if state.alarms:
            st.dataframe(
                pd.DataFrame(
                    [
                        {"alarm": a.name, "state": a.state, "threshold": a.threshold, "reason": a.reason}
                        for a in state.alarms
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        else:
            st.caption("No alarms: no target-tracking policy.")
        try:
            outlook = ScaleInService(settings).outlook(endpoint, variant, state, timing.period_s)
        except ServiceError as exc:
            st.warning(exc.message)
        else:
            scale_in_note(outlook, timing.period_s)
        st.markdown("##### Scaling activities")
        if state.activities:
            st.dataframe(activities_frame(state.activities), hide_index=True, width="stretch")
        else:
            st.caption("No scaling activities yet.")

    live()


def activities_frame(activities: list[Activity]) -> pd.DataFrame:
    """The scaling activities in the order AWS lists them, with times in the dashboard's UTC form."""
    return pd.DataFrame(
        [
            {
                "description": a.description,
                "cause": a.cause,
                "status": a.status,
                "start": when(a.start),
                "end": when(a.end),
                "status message": a.status_message,
            }
            for a in activities
        ]
    )
