"""Endpoint (`?endpoint=<name>`): what it serves and where that came from — model, training or tuning
job, dataset — and the breeds the model names; each linked to its page in this session."""

import pandas as pd
import streamlit as st

from app.formatting import breed
from app.settings import current_settings
from services.errors import ServiceError
from services.lineage import LineageService

settings = current_settings()
service = LineageService(settings)

st.title("Endpoint")
name = (st.query_params.get("endpoint") or "").strip()
if not name:
    st.info("Open an endpoint from the Overview page.")
    st.page_link("pages/overview.py", label="Overview", icon="⬅️")
    st.stop()
st.subheader(name)
try:
    with st.spinner("Reading the endpoint, its models and their jobs…"):
        lineage = service.endpoint(name)
except ServiceError as exc:
    st.error(exc.message)
    st.stop()

st.caption(f"Status {lineage.status} · endpoint config `{lineage.config_name}`")
st.page_link(
    "pages/predict.py", label="Classify a photo with this endpoint", icon="🐕", query_params={"endpoint": name}
)
st.dataframe(
    pd.DataFrame(
        [
            {
                "variant": v.variant,
                "instance type": v.instance_type or "",
                "instances": v.current_instances,
                "model": v.model.model_name,
                "training job": v.model.training_job or "not from a training job here",
                "tuning job": v.model.tuning_job or "",
                "dataset": v.model.dataset_uri or "",
            }
            for v in lineage.variants
        ]
    ),
    hide_index=True,
    width="stretch",
)
for variant in lineage.variants:
    origin = variant.model
    if origin.training_job:
        st.page_link(
            "pages/job.py", label=f"Training job {origin.training_job}", query_params={"job": origin.training_job}
        )
    if origin.dataset_uri:
        st.page_link(
            "pages/train.py",
            label=f"Train again on {origin.dataset_uri}",
            query_params={"tab": "launch", "dataset": origin.dataset_uri},
        )
    if origin.model_data_url:
        st.caption(f"Model artifact: `{origin.model_data_url}`")

st.subheader("Breeds it names")
st.write(f"It serves {lineage.breed_source}.")
if lineage.breeds:
    with st.expander(f"All {len(lineage.breeds)}"):
        st.write(", ".join(breed(label) for label in lineage.breeds))
