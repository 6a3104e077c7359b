"""An endpoint without data capture: say so, and offer to turn it on (UpdateEndpoint, no downtime)."""

from __future__ import annotations

import streamlit as st

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.datasets import DatasetService
from services.monitoring.capture_setup import CaptureSetup
from services.serving.data_capture import CaptureChoice, CaptureService, checked
from services.serving.endpoint_management import EndpointsService


def capture_off_panel(settings: CloudSettings, setup: CaptureSetup) -> None:
    if setup.destination and not setup.enabled:
        st.info(
            f"Data capture of endpoint '{setup.endpoint}' is off: nothing new is recorded. Captures already written "
            f"stay in {setup.destination}."
        )
    else:
        st.info(
            f"Endpoint '{setup.endpoint}' has no data capture, so nothing records what it is sent or answers. Turn "
            "it on to monitor it: SageMaker writes each sampled request and answer to S3 as JSON Lines."
        )
    try:
        default = setup.destination or CaptureService(settings).default_destination()
    except ServiceError as exc:
        st.error(exc.message)
        return
    with st.form("monitor_capture_form"):
        destination = st.text_input("Capture to", value=default).strip()
        sampling = st.slider("Requests captured (%)", min_value=1, max_value=100, value=100)
        if st.form_submit_button("Turn data capture on"):
            try:  # SageMaker writes into a bucket that exists: the project's is made on first use
                choice = checked(CaptureChoice(int(sampling), destination))  # refused before any bucket is made
                DatasetService(settings=settings).ensure_bucket(destination.removeprefix("s3://").partition("/")[0])
                config = EndpointsService(settings).set_capture(setup.endpoint, choice)
            except ServiceError as exc:
                st.error(exc.message)
            else:
                st.success(
                    f"Endpoint '{setup.endpoint}' is updating to config {config}; it keeps serving meanwhile, and "
                    "captures start once it is InService again."
                )
