"""Monitor (Operate): what an endpoint is sent and answers, from its data capture; drift of its answers from the
training set with a CloudWatch alarm; review of captured photos and the way back to training."""

from datetime import UTC, datetime

import streamlit as st

from app.auth import operators_only
from app.monitoring.capture_panel import capture_off_panel
from app.monitoring.drift_view import drift_section
from app.monitoring.review_view import dataset_panel, review_section
from app.monitoring.traffic_view import traffic_section
from app.settings import current_settings
from services.core.errors import ServiceError
from services.monitoring.baseline import BaselineService
from services.monitoring.capture_setup import CaptureSetupService
from services.monitoring.capture_store import CaptureStore

caller = operators_only("Monitor")
settings = current_settings()
setups = CaptureSetupService(settings)

st.title("Monitor")
try:
    endpoints = setups.endpoints()
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
if not endpoints:
    st.info("No endpoints yet: deploy one on the Endpoints page, then monitor it here.")
    st.stop()
asked = st.query_params.get("endpoint")
name = st.selectbox(
    "Endpoint", endpoints, index=endpoints.index(asked) if asked in endpoints else 0, key="monitor_endpoint"
)
st.query_params["endpoint"] = name
try:
    setup = setups.setup(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
if not setup.enabled:
    capture_off_panel(settings, setup)
    if not setup.destination:
        st.stop()
else:
    status = setup.capture_status or "status unknown"
    st.caption(f"Capturing {setup.sampling_percent}% of requests to {setup.destination} ({status}).")

day_column, low_column = st.columns(2)
day = day_column.date_input("Day (UTC)", value=datetime.now(UTC).date(), key="monitor_day")
low = low_column.slider("Low confidence is under", 0.05, 0.95, 0.5, 0.05, key="monitor_low")
try:
    with st.spinner("Reading the captures' summaries…"):
        captures = CaptureStore(settings).day(setup, day)
        baseline, lineage = BaselineService(settings).for_endpoint(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
if not captures.files:
    st.info(
        f"No captures on {day:%Y-%m-%d} yet: captured requests appear within minutes of being served. "
        "Pick another day, or send the endpoint some photos (Predict page)."
    )
    st.stop()

traffic, drift, review = st.tabs(["Traffic", "Drift", "Review"])
with traffic:
    traffic_section(captures, low)
with drift:
    drift_section(caller, settings, name, captures, baseline)
with review:
    classes = lineage.breeds or sorted(baseline.counts)
    reviews = review_section(caller, settings, setup, captures, classes)
    if reviews is not None:
        dataset_panel(caller, settings, reviews, baseline, setup.bucket)
