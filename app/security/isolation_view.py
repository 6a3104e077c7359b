"""How the Security page shows which training jobs and models run without network isolation (no cloud calls)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.widgets.formatting import timestamp
from services.security.isolation import Isolation, IsolationReport

HOW_TO = (
    "Set `EnableNetworkIsolation=True` in CreateTrainingJob and CreateModel (SageMaker Python SDK: "
    "`enable_network_isolation=True` on the estimator or model). The container then has no network and no AWS "
    "credentials; SageMaker still downloads its data and uploads its model, as the execution role. Jobs and models "
    "cannot be changed: train again, or create the model again and update the endpoint to it."
)


def isolation_frame(items: tuple[Isolation, ...]) -> pd.DataFrame:
    """One row per training job or model: its isolation, its status, the VPC it was given, when it was made."""
    return pd.DataFrame(
        [
            {
                "kind": item.kind,
                "name": item.name,
                "network isolation": "✓ isolated" if item.isolated else "✗ not isolated",
                "status": item.status or "",
                "VPC": f"{len(item.subnets)} subnet(s), {len(item.security_groups)} security group(s)"
                if item.subnets
                else "",
                "created": timestamp(item.created),
            }
            for item in items
        ],  # fmt: skip
        columns=["kind", "name", "network isolation", "status", "VPC", "created"],
    )


def isolation_view(report: IsolationReport) -> None:
    """The counts, what runs with the network (first), then everything read, and how to isolate."""
    open_jobs = sum(not job.isolated for job in report.jobs)
    open_models = sum(not model.isolated for model in report.models)
    left, right = st.columns(2)
    left.metric("Training jobs without isolation", f"{open_jobs} of {len(report.jobs)}")
    right.metric("Models without isolation", f"{open_models} of {len(report.models)}")
    if not report.jobs and not report.models:
        st.info("No training jobs or models yet.")
        return
    if report.exposed:
        st.warning(f"{len(report.exposed)} run with the network: a script or handler can send data anywhere. {HOW_TO}")
        st.dataframe(isolation_frame(report.exposed), hide_index=True, width="stretch")
    else:
        st.success("Every training job and model listed runs with network isolation.")
    with st.expander("All training jobs and models read (the newest of each)"):
        st.dataframe(isolation_frame(report.jobs + report.models), hide_index=True, width="stretch")
