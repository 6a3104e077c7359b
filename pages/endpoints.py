"""Endpoints (Operate): every endpoint with its variants, counts and cost; `?endpoint=<name>` opens one with
its lineage, live CloudWatch charts, changes, autoscaling and a load test."""

import streamlit as st

from app.endpoint_view import fleet_table, live_charts, timing_note, variants_and_lineage
from app.settings import current_settings
from services.endpoint_metrics import cloud_timing
from services.endpoints import EndpointsService
from services.errors import ServiceError

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
        st.info("No endpoints. Deploy one from a finished training job (Job page) or below.")
    st.stop()

st.page_link("pages/endpoints.py", label="All endpoints", icon="⬅️")
st.subheader(name)
try:
    with st.spinner("Reading the endpoint, its models and their jobs…"):
        endpoint = service.describe(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
variants_and_lineage(settings, endpoint)
variant = endpoint.variants[0].name if endpoint.variants else "AllTraffic"
st.markdown("#### Live metrics")
live_charts(settings, name, variant, timing)
