"""The Train page's launch form: a SageMaker training job or a plain EC2 machine, with a notional cost
estimate and clone. Its values live in session state (app/widgets/forms.py says why), so they survive reruns,
tab switches and the other target's fields being hidden."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.widgets.forms import current, index_of
from app.widgets.jobs import duration, usd
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE, DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES, estimate_cost, estimate_ec2_cost
from services.training.ec2_training import (
    DEFAULT_EC2_INSTANCE_TYPE,
    DEFAULT_INSTANCE_PROFILE,
    Ec2Options,
    Ec2TrainingService,
    ami_for,
)
from services.training.ec2_user_data import DEFAULT_EC2_MAX_RUNTIME_S
from services.training.job_spec import (
    DEFAULT_MAX_RUNTIME_S,
    DEFAULT_METRIC_DEFINITIONS,
    FINE_TUNE_CHOICES,
    TrainingSpec,
    generate_job_name,
)
from services.training.sagemaker_training import TrainingService

TARGETS = ["SageMaker training job", "Plain EC2 machine"]


FIELDS = {
    "train_target": "SageMaker training job",
    "train_job_name": "",
    "train_data_uri": "",
    "train_output": "",
    "train_lr": 0.001,
    "train_batch": 32,
    "train_epochs": 3,
    "train_fine_tune": "head",
    "train_instance_type": DEFAULT_INSTANCE_TYPE,
    "train_instance_count": 1,
    "train_max_runtime": DEFAULT_MAX_RUNTIME_S,
    "train_role": "",
    "ec2_ami": "",
    "ec2_type": DEFAULT_EC2_INSTANCE_TYPE,
    "ec2_profile": DEFAULT_INSTANCE_PROFILE,
    "ec2_max_runtime": DEFAULT_EC2_MAX_RUNTIME_S,
}
# Form defaults, put into session state once; session state then holds the form (clone writes these keys)
# and each widget also declares that value as its default (app/widgets/forms.py says why). A bare string here would
# be rendered on the page by Streamlit's magic.


def metrics_frame(definitions: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """Metric definitions as the form's editable table."""
    return pd.DataFrame([{"Name": name, "Regex": regex} for name, regex in definitions])


def prefill(spec: TrainingSpec) -> None:
    """Put a spec's values into the form's widgets (runs as a callback, before the widgets exist)."""
    st.session_state.update(
        {
            "train_job_name": spec.job_name,
            "train_data_uri": spec.data_uri,
            "train_output": spec.output_path,
            "train_lr": float(spec.learning_rate),
            "train_batch": int(spec.batch_size),
            "train_epochs": int(spec.epochs),
            "train_fine_tune": spec.fine_tune if spec.fine_tune in FINE_TUNE_CHOICES else "head",
            "train_instance_type": spec.instance_type
            if spec.instance_type in INSTANCE_TYPES
            else DEFAULT_INSTANCE_TYPE,
            "train_instance_count": int(spec.instance_count),
            "train_max_runtime": int(spec.max_runtime_s),
            "train_role": spec.role_arn or "",
            "train_metrics_source": metrics_frame(spec.metric_definitions),
        }
    )
    st.session_state.pop("train_metrics", None)  # the editor re-reads its (new) source


def clone(service: TrainingService, name: str) -> None:
    """Pre-fill the form from job `name` (a button callback)."""
    try:
        prefill(service.clone_spec(name))
        st.session_state["train_message"] = ("success", f"Form pre-filled from '{name}'.")
    except ServiceError as exc:
        st.session_state["train_message"] = ("error", exc.message)


def launch_form(service: TrainingService, ec2: Ec2TrainingService) -> None:
    """The Launch tab."""
    earlier = st.session_state.get("jobs_names") or []
    if earlier:
        clone_col, button_col = st.columns([4, 1])
        source = clone_col.selectbox("Clone an earlier job", earlier, key="train_clone_source")
        button_col.button("Clone", key="train_clone", on_click=clone, args=(service, source))
    message = st.session_state.pop("train_message", None)
    if message:
        getattr(st, message[0])(message[1])

    for key, default in FIELDS.items():
        st.session_state.setdefault(key, default)
    if "train_metrics_source" not in st.session_state:
        st.session_state["train_metrics_source"] = metrics_frame(DEFAULT_METRIC_DEFINITIONS)
    if not st.session_state.get("train_job_name") or st.session_state.pop("train_fresh_name", False):
        st.session_state["train_job_name"] = generate_job_name()
    if not st.session_state.get("train_output") or not st.session_state.get("train_data_uri"):
        try:
            output = st.session_state.get("train_output") or service.default_output_path()
            st.session_state["train_output"] = output
            if not st.session_state.get("train_data_uri"):  # the newest-named dataset in the default bucket
                bucket = output.split("/")[2]
                prefixes = service.datasets().list_datasets(bucket)
                st.session_state["train_data_uri"] = f"s3://{bucket}/{prefixes[-1]}" if prefixes else ""
        except ServiceError as exc:
            st.error(exc.message)

    target = st.radio(
        "Run on",
        TARGETS,
        index=index_of(TARGETS, "train_target"),
        horizontal=True,
        key="train_target",
        on_change=lambda: st.session_state.pop("train_launched", None),  # a launch message is for its target
    )
    name_col, gen_col = st.columns([4, 1])
    job_name = name_col.text_input("Job name", value=current("train_job_name"), key="train_job_name", max_chars=63)
    gen_col.button(
        "New name", key="train_new_name", on_click=lambda: st.session_state.update(train_job_name=generate_job_name())
    )
    data_uri = st.text_input(
        "Data channel `training` (S3 prefix with train/ valid/ test/)",
        value=current("train_data_uri"),
        key="train_data_uri",
        help="Upload or pick a dataset on the Data page.",
    )
    output_path = st.text_input("Output path (S3)", value=current("train_output"), key="train_output")
    lr_col, batch_col, epochs_col = st.columns(3)
    # No minimums here: the service's checks give the messages (learning rate > 0, batch size ≥ 1…).
    learning_rate = lr_col.number_input(
        "Learning rate", value=current("train_lr"), step=0.0005, format="%.5f", key="train_lr"
    )
    batch_size = batch_col.number_input("Batch size", value=current("train_batch"), step=1, key="train_batch")
    epochs = epochs_col.number_input("Epochs", value=current("train_epochs"), step=1, key="train_epochs")
    fine_tune = st.radio(
        "Fine-tune",
        list(FINE_TUNE_CHOICES),
        index=index_of(list(FINE_TUNE_CHOICES), "train_fine_tune"),
        format_func=lambda key: f"{key}: {FINE_TUNE_CHOICES[key]}",
        key="train_fine_tune",
    )
    if target == "SageMaker training job":
        type_col, count_col, runtime_col = st.columns([3, 1, 2])
        instance = type_col.selectbox(
            "Instance type",
            list(INSTANCE_TYPES),
            index=index_of(list(INSTANCE_TYPES), "train_instance_type"),
            format_func=lambda name: INSTANCE_TYPES[name].label,
            key="train_instance_type",
            persist_state="session",
        )
        count = count_col.number_input(
            "Instances",
            min_value=1,
            max_value=20,
            value=current("train_instance_count"),
            key="train_instance_count",
            persist_state="session",
        )
        max_runtime = runtime_col.number_input(
            "Max runtime (s)",
            min_value=1,
            step=60,
            value=current("train_max_runtime"),
            key="train_max_runtime",
            persist_state="session",
        )
        hourly = estimate_cost(instance, int(count), 3600)
        st.info(
            f"Estimated cost: {usd(hourly)} per hour for {int(count)} × {instance}; at most "
            f"{usd(estimate_cost(instance, int(count), int(max_runtime)))} if it runs the full "
            f"{duration(int(max_runtime))}."
        )
        st.caption(COST_NOTE)
        with st.expander("Metric definitions and role"):
            metrics = st.data_editor(
                st.session_state["train_metrics_source"], num_rows="dynamic", width="stretch", key="train_metrics"
            )
            role = st.text_input(
                "Execution role ARN",
                value=current("train_role"),
                key="train_role",
                persist_state="session",
                placeholder="default: arn:aws:iam::<account>:role/dog-breed-sagemaker-execution",
            )
        definitions = tuple(
            (str(row["Name"]), str(row["Regex"]))
            for row in metrics.to_dict("records")
            if row.get("Name") and row.get("Regex")
        )
    else:
        instance, count, max_runtime = DEFAULT_INSTANCE_TYPE, 1, DEFAULT_MAX_RUNTIME_S
        definitions, role = DEFAULT_METRIC_DEFINITIONS, ""
        ec2_type_col, profile_col, ec2_runtime_col = st.columns([2, 2, 2])
        ec2_type = ec2_type_col.text_input(
            "EC2 instance type", value=current("ec2_type"), key="ec2_type", persist_state="session"
        ).strip()
        profile = profile_col.text_input(
            "Instance profile", value=current("ec2_profile"), key="ec2_profile", persist_state="session"
        )
        ec2_runtime = ec2_runtime_col.number_input(
            "Maximum run time (s)",
            min_value=60,
            step=60,
            value=current("ec2_max_runtime"),
            key="ec2_max_runtime",
            persist_state="session",
            help="Then training gets SIGTERM (2 minutes to save its model) and the machine shuts itself down.",
        )
        ami = st.text_input(
            "AMI",
            value=current("ec2_ami"),
            key="ec2_ami",
            persist_state="session",
            placeholder=f"empty: {ami_for(ec2_type)}",
            help="An ami-… id or a resolve:ssm: parameter. Empty: the image that fits the type (the GPU Deep "
            "Learning AMI for g*/p* types, Ubuntu 22.04 with PyTorch installed at boot for the others).",
        )
        ec2_cost = estimate_ec2_cost(ec2_type, int(ec2_runtime))
        if ec2_cost is None:
            st.info(f"No list price for '{ec2_type}' here: no cost estimate.")
        else:
            st.info(
                f"Estimated cost: {usd(estimate_ec2_cost(ec2_type, 3600))} per hour for 1 × {ec2_type}; at most "
                f"{usd(ec2_cost)} if it runs the full {duration(int(ec2_runtime))}."
            )
        st.caption(
            "The machine fetches the data and code from S3, runs the same train.py, uploads model.tar.gz to "
            "<output>/<job>/output/ and shuts itself down (which terminates it). Its user data holds no "
            f"credentials: the instance profile's role grants S3 access. {COST_NOTE}"
        )

    spec = TrainingSpec(
        job_name=job_name.strip(),
        data_uri=data_uri.strip(),
        output_path=output_path.strip(),
        learning_rate=float(learning_rate),
        batch_size=int(batch_size),
        epochs=int(epochs),
        fine_tune=fine_tune,
        instance_type=instance,
        instance_count=int(count),
        max_runtime_s=int(max_runtime),
        role_arn=role.strip() or None,
        metric_definitions=definitions,
    )
    if st.button("Launch", key="train_launch", type="primary"):
        try:
            with st.spinner("Checking the dataset, packaging the code and launching…"):
                if target == "SageMaker training job":
                    service.launch(spec)
                    launched = f"Launched training job '{spec.job_name}'."
                else:
                    options = Ec2Options(
                        ami=ami.strip() or None,
                        instance_type=ec2_type,
                        instance_profile=profile.strip() or None,
                        max_runtime_s=int(ec2_runtime),
                    )
                    instance_id = ec2.launch_on_ec2(spec, options)
                    launched = f"Launched EC2 machine {instance_id} for '{spec.job_name}'."
        except ServiceError as exc:
            st.session_state.pop("train_launched", None)
            st.error(exc.message)
        else:
            # Kept across reruns (the job list's refresh reruns the page) until the next launch.
            watch = spec.job_name if target == "SageMaker training job" else None
            st.session_state["train_launched"] = (launched, watch)
            st.session_state["train_fresh_name"] = True  # the next launch gets a new name
            st.session_state["live_jobs"] = True
            st.rerun()  # the list above was drawn before the launch: draw it again, with the new job, refreshing
    if "train_launched" in st.session_state:
        launched, watch = st.session_state["train_launched"]
        st.success(launched)
        if watch:
            st.page_link("app_pages/job.py", label=f"Watch {watch}", query_params={"job": watch})
