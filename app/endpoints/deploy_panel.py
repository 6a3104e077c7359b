"""The deploy panel: put a model.tar.gz on a new or existing endpoint, watch it go InService, and link
to Predict with that endpoint chosen. Used for SageMaker jobs and for EC2 training machines alike."""

import streamlit as st

from app.endpoints.capture_panel import capture_choice
from app.widgets.jobs import live
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.deploy import INFERENCE_INSTANCE_TYPES, DeployService, deploy_name


def deploy_panel(settings: CloudSettings, model_data_url: str, base_name: str, key: str) -> None:
    """`base_name` names the model (and the suggested endpoint); `key` keeps widgets apart per artifact."""
    st.markdown("#### Deploy")
    deployer = DeployService(settings=settings)
    mode = st.radio("Endpoint", ["New endpoint", "Existing endpoint"], horizontal=True, key=f"{key}_mode")
    if mode == "New endpoint":
        endpoint = st.text_input("Endpoint name", key=_suggested_endpoint(base_name, key)).strip()
    else:
        try:
            endpoints = deployer.list_endpoints()
        except ServiceError as exc:
            st.error(exc.message)
            endpoints = []
        endpoint = st.selectbox("Endpoint to update", endpoints, key=f"{key}_existing") or ""
    type_col, count_col = st.columns(2)
    instance = type_col.selectbox("Instance type", INFERENCE_INSTANCE_TYPES, key=f"{key}_deploy_type")
    count = count_col.number_input("Instances", min_value=1, max_value=10, value=1, key=f"{key}_deploy_count")
    capture = capture_choice(settings, key)
    if st.button("Deploy", key=f"{key}_deploy", type="primary"):
        try:
            done = deployer.deploy_model(
                model_data_url,
                model_name=deploy_name(base_name),
                endpoint_name=endpoint,
                instance_type=instance,
                instance_count=int(count),
                new_endpoint=mode == "New endpoint",
                capture=capture,
            )
        except ServiceError as exc:
            st.error(exc.message)
        else:
            # Kept, not just shown: the status part below reruns the page as the endpoint changes state.
            message = f"Endpoint '{done.endpoint_name}' {done.action} with model '{done.model_name}'."
            st.session_state[f"{key}_deployed"] = (done.endpoint_name, message)
    if f"{key}_deployed" not in st.session_state:
        return
    deployed, message = st.session_state[f"{key}_deployed"]
    st.success(message)

    def endpoint_part() -> bool:
        try:
            state = deployer.wait_status(deployed)
        except ServiceError as exc:
            st.error(exc.message)
            return False
        st.metric(f"Endpoint {deployed}", state.status)
        if state.failure_reason:
            st.error(state.failure_reason)
        if state.status == "InService":
            st.page_link(
                "app_pages/predict.py",
                label=f"Classify a photo with '{deployed}'",
                query_params={"endpoint": deployed},
            )
        return not state.settled

    live(f"{key}_endpoint", endpoint_part)


def _suggested_endpoint(base_name: str, key: str) -> str:
    """The endpoint name field's key, its value set to the name suggested by `base_name` unless the operator
    typed one: a keyed field keeps its first value, and `base_name` can change while the page is open (a tuning
    job's best trial is overtaken by a later one)."""
    field, suggested = f"{key}_endpoint", deploy_name(base_name, "-ep")
    if st.session_state.get(field) in (None, st.session_state.get(f"{field}_suggested")):
        st.session_state[field] = suggested
    st.session_state[f"{field}_suggested"] = suggested
    return field
