"""Endpoints (Operate): every endpoint with its variants, counts and cost; `?endpoint=<name>` opens one with
its lineage, live CloudWatch charts, changes, autoscaling and a load test."""

import streamlit as st

from app.auth import operators_only
from app.endpoints.capture_panel import capture_panel, capture_status
from app.endpoints.endpoint_actions import delete_panel, deploy_new_panel, point_function_panel, update_panel
from app.endpoints.endpoint_view import fleet_table, live_charts, timing_note, variants_and_lineage
from app.endpoints.load_test_panel import load_test_panel
from app.endpoints.scaling_panel import scaling_panel, suggestion_keeper
from app.overview.cost_panel import cost_panel
from app.settings import current_settings
from services.core.errors import ServiceError
from services.serving.endpoint_management import EndpointsService
from services.serving.endpoint_metrics import cloud_timing
from services.serving.load_test import EndpointTarget

operators_only("Endpoints")

settings = current_settings()
service = EndpointsService(settings)
name = (st.query_params.get("endpoint") or "").strip()

st.title("Endpoints")
timing = cloud_timing(settings)
timing_note(timing)

if not name:
    try:
        with st.spinner("Reading the endpoints…"):
            endpoints = service.all()
    except ServiceError as exc:
        st.error(exc.message)
        st.stop()
    if endpoints:
        fleet_table(endpoints)
    else:
        st.info("No endpoints yet: deploy one below.")
    st.markdown("#### Deploy a model")
    deploy_new_panel(settings)
    st.markdown("#### Cost")
    cost_panel(settings)
    st.stop()

st.query_params["endpoint"] = name  # a link from the list to this same page leaves it out of the address
st.page_link("app_pages/endpoints.py", label="All endpoints", icon=":material/arrow_back:")
st.subheader(name)
try:
    with st.spinner("Reading the endpoint, its models and their jobs…"):
        endpoint = service.describe(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
variants_and_lineage(settings, endpoint)
capture_status(endpoint)
variant = endpoint.variants[0].name if endpoint.variants else "AllTraffic"
st.markdown("#### Live metrics")
live_charts(settings, name, variant, timing)

st.markdown("#### Load test")
load_test_panel(f"endpoint_{name}", lambda: EndpointTarget(settings, name), on_finish=suggestion_keeper(name))

st.markdown("#### Autoscaling")
scaling_panel(settings, name, variant, timing)

st.markdown("#### Change it")
update_tab, capture_tab, lambda_tab, delete_tab = st.tabs(["Update", "Data capture", "Lambda", "Delete"])
with update_tab:
    update_panel(settings, endpoint)
with capture_tab:
    capture_panel(settings, endpoint)
with lambda_tab:
    point_function_panel(settings, endpoint)
with delete_tab:
    delete_panel(settings, endpoint)
