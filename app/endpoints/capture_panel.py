"""Data capture in the dashboard: the deploy forms' option, an endpoint's capture status, and starting or stopping
it on a serving endpoint (UpdateEndpoint, without downtime)."""

from __future__ import annotations

import streamlit as st

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.data_capture import CaptureChoice, CaptureService
from services.serving.endpoint_management import EndpointsService, EndpointView


def _default_destination(settings: CloudSettings, key: str) -> str:
    """The project's bucket's capture prefix, read once per form (an STS call); empty, saying why, if unreadable."""
    field = f"{key}_capture_destination"
    if field not in st.session_state:
        try:
            st.session_state[field] = CaptureService(settings).default_destination()
        except ServiceError as exc:
            st.warning(f"No default capture location: {exc.message}")
            st.session_state[field] = ""
    return field


def capture_choice(settings: CloudSettings, key: str, *, on: bool = False) -> CaptureChoice | None:
    """The form's data capture option: None unless the operator turns it on."""
    wanted = st.checkbox(
        "Capture requests and answers (data capture)",
        value=on,
        key=f"{key}_capture",
        help="SageMaker writes a sample of what the endpoint is sent and answers to S3, as JSON Lines; "
        "the Monitor page reads them. Serving never waits for it.",
    )
    if not wanted:
        return None
    percent_col, parts_col = st.columns(2)
    percentage = percent_col.number_input(
        "Sampling (% of requests)", min_value=0, max_value=100, value=100, step=5, key=f"{key}_capture_percent"
    )
    capture_input = parts_col.checkbox("Requests (the photos)", value=True, key=f"{key}_capture_input")
    capture_output = parts_col.checkbox("Answers (the breeds)", value=True, key=f"{key}_capture_output")
    destination = st.text_input("Capture to", key=_default_destination(settings, key)).strip()
    return CaptureChoice(int(percentage), destination, capture_input, capture_output)


def capture_status(endpoint: EndpointView) -> None:
    """One line on what the endpoint captures now."""
    if endpoint.capture is None:
        st.caption("Data capture: off (its endpoint config has none).")
        return
    st.caption(endpoint.capture.sentence)


def capture_panel(settings: CloudSettings, endpoint: EndpointView) -> None:
    """Start capture (or change it) or stop it: a copy of the endpoint's config and UpdateEndpoint, keeping its
    instance counts; the current instances serve until the new ones do."""
    capture_status(endpoint)
    started = endpoint.capture is not None and endpoint.capture.status == "Started"
    choice = capture_choice(settings, f"capture_{endpoint.name}", on=True)
    label = "Change data capture" if started else "Start data capture"
    start, stop = st.columns(2)
    if start.button(label, key="capture_start", disabled=choice is None):
        _apply(settings, endpoint.name, choice)
    if started and stop.button("Stop data capture", key="capture_stop"):
        _apply(settings, endpoint.name, None)


def _apply(settings: CloudSettings, endpoint: str, choice: CaptureChoice | None) -> None:
    try:
        config = EndpointsService(settings).set_capture(endpoint, choice)
    except ServiceError as exc:
        st.error(exc.message)
        return
    what = "stopping data capture" if choice is None else f"capturing {choice.sampling_percentage}% of requests"
    st.success(f"Updating to endpoint config `{config}` ({what}): the current instances serve until the new ones do.")
