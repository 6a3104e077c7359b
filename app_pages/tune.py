"""Tune: the list of hyperparameter tuning jobs (refreshing itself while they run) and the launch form."""

import streamlit as st

from app.auth import operators_only
from app.navigation import arrived
from app.settings import current_settings
from app.tuning.tuning_form import tuning_form
from app.tuning.tuning_list import tuning_list
from app.tuning.tuning_state import clone
from services.tuning.tuner import TuningService

operators_only("Tune")

service = TuningService(settings=current_settings())

st.title("Hyperparameter tuning")
# `?tab=launch&clone=<tuning job>` (the tuning job page's Clone) opens the form filled from that job.
TABS = {"jobs": "Tuning jobs", "launch": "Launch"}
if "clone" in st.query_params:
    clone(service, st.query_params.pop("clone"))
jobs_tab, launch_tab = st.tabs(list(TABS.values()), default=TABS.get(st.query_params.get("tab", "jobs")))
with jobs_tab:
    tuning_list(service, arrived=arrived("tune"))
with launch_tab:
    tuning_form(service, st.session_state.get("tunings_names") or [])
