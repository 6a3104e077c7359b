"""Train: the job list (refreshing itself while jobs run), the launch form for SageMaker or plain EC2, and
the EC2 training machines."""

import streamlit as st

from app.ec2_machines import ec2_machines
from app.job_list import job_list
from app.launch_form import launch_form
from app.navigation import arrived
from app.settings import current_settings
from services.ec2_training import Ec2TrainingService
from services.training import TrainingService

settings = current_settings()
service = TrainingService(settings=settings)
ec2 = Ec2TrainingService(settings=settings)

st.title("Training jobs")
jobs_tab, launch_tab, ec2_tab = st.tabs(["Jobs", "Launch", "EC2 machines"])
with jobs_tab:
    job_list(service, arrived=arrived("train"))
with launch_tab:
    launch_form(service, ec2)
with ec2_tab:
    ec2_machines(settings, ec2)
