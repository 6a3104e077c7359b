"""Answered breeds against the training set's, the drift score per hour, and the CloudWatch alarm on it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import streamlit as st

from app.monitoring.drift_runner import EVERY_ENV, schedule_every_s
from app.monitoring.monitor_charts import breeds_chart, drift_chart
from app.widgets.formatting import timestamp
from services.core.access import Caller
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.monitoring.baseline import Baseline
from services.monitoring.capture_store import DayCaptures
from services.monitoring.drift import DRIFT_METRIC, MIN_REQUESTS, HourDrift, hourly_drift
from services.monitoring.drift_alarm import METRIC, NAMESPACE, DriftAlarm, DriftAlarmService
from services.monitoring.drift_schedule import newest_fresh

DEFAULT_THRESHOLD = 0.1
SAVED_KEY = "monitor_alarm_saved"


def drift_section(
    caller: Caller, settings: CloudSettings, endpoint: str, captures: DayCaptures, base: Baseline
) -> None:
    """The breeds chart always; drift and the alarm when the model's training set is known."""
    summary = captures.summary
    answers: Counter[str] = Counter()
    for breeds in summary.breeds_per_hour.values():
        answers.update(breeds)
    st.markdown("**Answered breeds against the training set's**")
    st.caption(base.note)
    if answers:
        st.plotly_chart(breeds_chart(answers, base.counts), key="monitor_breeds")
    else:
        st.caption("No breed answers on this day.")
    if not base.found:
        return
    drift = hourly_drift(summary.breeds_per_hour, base.counts)
    service = DriftAlarmService(settings)
    try:
        alarm = service.alarm(endpoint)
    except ServiceError as exc:
        st.error(exc.message)
        alarm = None
    st.markdown(f"**Drift per hour**: {DRIFT_METRIC} between an hour's answered breeds and the training set's")
    st.caption(
        f"0 when an hour's answers are spread over the breeds as the training photos are, 1 when they share no breed. "
        f"Hours with fewer than {MIN_REQUESTS} breed answers get no score."
    )
    if scored := [d for d in drift if d.distance is not None]:
        st.plotly_chart(drift_chart(drift, alarm.threshold if alarm else None), key="monitor_drift")
        newest = scored[-1]
        st.caption(
            f"Chance alone: an hour of {newest.answers} answers drawn straight from the training set scores up to "
            f"{newest.floor:.2f} (95 % of such hours); the newest scored hour ({newest.hour.replace('T', ' ')}:00 UTC) "
            f"scored {newest.distance:.2f}, {newest.beyond_chance:.2f} above chance. The floor falls as an hour holds "
            "more answers; the alarm judges the distance above it, so a quiet hour does not alarm by chance."
        )
    else:
        st.caption(f"No hour of this day had {MIN_REQUESTS} breed answers or more.")
    _publish_newest(service, endpoint, drift)
    alarm_panel(caller, service, endpoint, alarm)


def _publish_newest(service: DriftAlarmService, endpoint: str, drift: list[HourDrift]) -> None:
    """Send the newest scored hour to CloudWatch when it is fresh (the drift schedule does so too, page or not)."""
    newest = newest_fresh(drift, datetime.now(UTC))
    if newest is None or newest.beyond_chance is None:
        return
    try:
        service.publish(endpoint, newest.hour, newest.answers, newest.beyond_chance)
    except ServiceError as exc:
        st.warning(exc.message)


def _schedule_words() -> str:
    every = schedule_every_s()
    if every <= 0:
        return f"only by this page (the dashboard's drift schedule is off: {EVERY_ENV}=0)"
    return f"every {every:g} s by the dashboard's drift schedule, for every endpoint with an alarm,"


def alarm_panel(caller: Caller, service: DriftAlarmService, endpoint: str, alarm: DriftAlarm | None) -> None:
    st.markdown("**Drift alarm** (CloudWatch)")
    if saved := st.session_state.pop(SAVED_KEY, None):
        st.success(saved)
    if alarm is not None:
        state = f"{alarm.state} since {timestamp(alarm.updated)}" if alarm.updated else alarm.state
        text = f"Alarm `{alarm.name}` is **{state}** (threshold {alarm.threshold:.2f} above chance): {alarm.reason}"
        (st.error if alarm.state == "ALARM" else st.info)(text)
    else:
        st.caption("No drift alarm for this endpoint yet.")
    st.caption(
        f"The newest hour's distance above chance is published as metric `{METRIC}` in namespace `{NAMESPACE}` "
        f"(dimension EndpointName) {_schedule_words()} and when this page counts new captures; the alarm goes to "
        "ALARM when it is above the threshold and stays there until a score under it arrives."
    )
    with st.form("monitor_alarm_form"):
        threshold = st.number_input(
            f"Alarm when an hour's {DRIFT_METRIC} is this far above chance",
            min_value=0.01,
            max_value=0.99,
            value=alarm.threshold if alarm else DEFAULT_THRESHOLD,
            step=0.05,
            key="monitor_threshold",
        )
        if st.form_submit_button("Save the alarm"):
            try:
                service.set_threshold(caller, endpoint, float(threshold))
            except ServiceError as exc:
                st.error(exc.message)
            else:
                st.session_state[SAVED_KEY] = (
                    f"Alarm set: ALARM when an hour scores more than {threshold:.2f} above chance."
                )
                st.rerun()  # the state above reads the new alarm
