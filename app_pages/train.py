"""Train: the job list (refreshing itself while jobs run), the launch form for SageMaker or plain EC2, and
the EC2 training machines."""

import streamlit as st

from app.auth import operators_only
from app.navigation import arrived
from app.settings import current_settings
from app.training.ec2_machines import ec2_machines
from app.training.job_list import job_list
from app.training.launch_form import FIELDS, launch_form
from services.training.ec2_training import Ec2TrainingService
from services.training.sagemaker_training import TrainingService

operators_only("Train")

settings = current_settings()
service = TrainingService(settings=settings)
ec2 = Ec2TrainingService(settings=settings)

st.title("Training jobs")
# Links from other pages open a tab: `?tab=launch&dataset=s3://…` (Data page) fills the data channel,
# `?tab=ec2&instance=i-…` (Overview) picks the machine. Taken once, so later edits stay the visitor's.
TABS = {"jobs": "Jobs", "launch": "Launch", "ec2": "EC2 machines"}
if "dataset" in st.query_params:
    st.session_state["train_data_uri"] = st.query_params.pop("dataset")
if (train_images := st.query_params.pop("train_images", "")).isdigit() and int(train_images) > 0:
    # A small dataset from the Data page: a batch no larger than its training split, which launch would refuse.
    st.session_state["train_batch"] = min(
        int(st.session_state.get("train_batch", FIELDS["train_batch"])), int(train_images)
    )
if "instance" in st.query_params:
    st.session_state["ec2_chosen"] = st.query_params.pop("instance")
jobs_tab, launch_tab, ec2_tab = st.tabs(list(TABS.values()), default=TABS.get(st.query_params.get("tab", "jobs")))
with jobs_tab:
    job_list(service, arrived=arrived("train"))
with launch_tab:
    launch_form(service, ec2)
with ec2_tab:
    ec2_machines(settings, ec2)
