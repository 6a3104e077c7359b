"""Train: the job list (refreshing itself while jobs run) and the launch form, for SageMaker or plain EC2."""

import pandas as pd
import streamlit as st

from app.deploy import deploy_panel
from app.forms import current, index_of
from app.jobs import duration, live, show_jobs, usd, when
from app.settings import current_settings
from services.ec2_training import (
    DEFAULT_AMI,
    DEFAULT_EC2_INSTANCE_TYPE,
    DEFAULT_INSTANCE_PROFILE,
    Ec2Options,
    Ec2TrainingService,
)
from services.errors import ServiceError
from services.pricing import DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES, PRICE_SOURCE, estimate_cost
from services.training import (
    DEFAULT_MAX_RUNTIME_S,
    DEFAULT_METRIC_DEFINITIONS,
    FINE_TUNE_CHOICES,
    SORT_KEYS,
    STATUSES,
    TrainingService,
    TrainingSpec,
    generate_job_name,
)

settings = current_settings()
service = TrainingService(settings=settings)
ec2 = Ec2TrainingService(settings=settings)

st.title("Training jobs")
# Links from other pages open a tab: `?tab=launch&dataset=s3://…` (Data page) fills the data channel,
# `?tab=ec2&instance=i-…` (Overview) picks the machine. Taken once, so later edits stay the visitor's.
TABS = {"jobs": "Jobs", "launch": "Launch", "ec2": "EC2 machines"}
if "dataset" in st.query_params:
    st.session_state["train_data_uri"] = st.query_params.pop("dataset")
if "instance" in st.query_params:
    st.session_state["ec2_chosen"] = st.query_params.pop("instance")
jobs_tab, launch_tab, ec2_tab = st.tabs(list(TABS.values()), default=TABS.get(st.query_params.get("tab", "jobs")))

# -- the job list ------------------------------------------------------------------------------------
with jobs_tab:
    status_col, name_col, sort_col, order_col, size_col = st.columns([2, 3, 2, 2, 1])
    status = status_col.selectbox("Status", ["Any", *STATUSES], key="jobs_status")
    name_filter = name_col.text_input("Name contains", key="jobs_name").strip()
    sort_by = sort_col.selectbox("Sort by", SORT_KEYS, key="jobs_sort")
    order = order_col.selectbox("Order", ["Descending", "Ascending"], key="jobs_order")
    page_size = size_col.selectbox("Per page", [25, 50, 100], index=1, key="jobs_page_size")
    query = (status, name_filter, sort_by, order, page_size)
    if st.session_state.get("jobs_query") != query:  # new filters: back to the first page
        st.session_state["jobs_query"] = query
        st.session_state["jobs_tokens"] = [None]
    tokens: list[str | None] = st.session_state["jobs_tokens"]

    def job_list() -> bool:
        try:
            page = service.list_jobs(
                status=None if status == "Any" else status,
                name_contains=name_filter or None,
                sort_by=sort_by,
                sort_order=order,
                next_token=tokens[-1],
                max_results=page_size,
            )
        except ServiceError as exc:
            st.error(exc.message)
            return False
        st.session_state["jobs_names"] = [job.name for job in page.jobs]
        st.session_state["jobs_next"] = page.next_token
        if page.jobs:
            show_jobs(page)
        else:
            st.caption("No training jobs match." if len(tokens) == 1 else "No more jobs.")
        running = sum(job.status in {"InProgress", "Stopping"} for job in page.jobs)
        st.caption(
            f"Page {len(tokens)} · {len(page.jobs)} jobs"
            + (f" · {running} running, refreshing every 3 s" if running else "")
        )
        return page.any_running

    live("jobs", job_list, every="3s")
    previous, following, _ = st.columns([1, 1, 6])
    if previous.button("← Previous", key="jobs_previous", disabled=len(tokens) == 1):
        tokens.pop()
        st.rerun()
    if following.button("Next →", key="jobs_next_page", disabled=not st.session_state.get("jobs_next")):
        tokens.append(st.session_state["jobs_next"])
        st.rerun()

# -- the launch form ------------------------------------------------------------------------------------
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
    "ec2_ami": DEFAULT_AMI,
    "ec2_type": DEFAULT_EC2_INSTANCE_TYPE,
    "ec2_profile": DEFAULT_INSTANCE_PROFILE,
}
# Form defaults, put into session state once; session state then holds the form (clone writes these keys)
# and each widget also declares that value as its default (app/forms.py says why). A bare string here would
# be rendered on the page by Streamlit's magic.


def metrics_frame(definitions: tuple[tuple[str, str], ...]) -> pd.DataFrame:
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


def clone(name: str) -> None:
    try:
        prefill(service.clone_spec(name))
        st.session_state["train_message"] = ("success", f"Form pre-filled from '{name}'.")
    except ServiceError as exc:
        st.session_state["train_message"] = ("error", exc.message)


with launch_tab:
    earlier = st.session_state.get("jobs_names") or []
    if earlier:
        clone_col, button_col = st.columns([4, 1])
        source = clone_col.selectbox("Clone an earlier job", earlier, key="train_clone_source")
        button_col.button("Clone", key="train_clone", on_click=clone, args=(source,))
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

    targets = ["SageMaker training job", "Plain EC2 machine"]
    target = st.radio("Run on", targets, index=index_of(targets, "train_target"), horizontal=True, key="train_target")
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
            f"{duration(int(max_runtime))}. ({PRICE_SOURCE}.)"
        )
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
        ami = st.text_input(
            "AMI",
            value=current("ec2_ami"),
            key="ec2_ami",
            persist_state="session",
            help="An ami-… id or a resolve:ssm: parameter.",
        )
        ec2_type_col, profile_col = st.columns(2)
        ec2_type = ec2_type_col.text_input(
            "EC2 instance type", value=current("ec2_type"), key="ec2_type", persist_state="session"
        )
        profile = profile_col.text_input(
            "Instance profile", value=current("ec2_profile"), key="ec2_profile", persist_state="session"
        )
        st.caption(
            "The machine fetches the data and code from S3, runs the same train.py, uploads model.tar.gz to "
            "<output>/<job>/output/ and shuts itself down (which terminates it). Its user data holds no "
            "credentials: the instance profile's role grants S3 access."
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
                        ami=ami.strip(), instance_type=ec2_type.strip(), instance_profile=profile.strip() or None
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
            st.page_link("pages/job.py", label=f"Watch {watch}", query_params={"job": watch})

# -- EC2 machines -------------------------------------------------------------------------------------------
with ec2_tab:
    try:
        machines = ec2.list_ec2_jobs()
    except ServiceError as exc:
        st.error(exc.message)
        machines = []
    if not machines:
        st.caption("No EC2 training machines launched from the dashboard.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "instance": m.instance_id,
                        "job": m.job_name,
                        "state": m.state,
                        "type": m.instance_type,
                        "launched": when(m.launched),
                        "artifact": m.artifact,
                    }
                    for m in machines
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        chosen = st.selectbox("Machine", [m.instance_id for m in machines], key="ec2_chosen")

        described_key = f"ec2_{chosen}_described"

        def machine() -> bool:
            try:
                job = ec2.describe_ec2_job(chosen)
            except ServiceError as exc:
                st.error(exc.message)
                return False
            st.session_state[described_key] = job  # for the deploy and terminate parts below
            state_col, artifact_col = st.columns(2)
            state_col.metric("State", job.state)
            artifact_col.metric("model.tar.gz", "uploaded" if job.artifact_present else "not yet")
            if job.state_reason:
                st.caption(job.state_reason)
            if job.artifact:
                st.caption(f"Artifact: {job.artifact}")
            st.code(job.console_output[-8000:] or "(no console output yet)", language=None)
            return job.state in {"pending", "running", "shutting-down", "stopping"}

        live(f"ec2_{chosen}", machine, every="3s")  # its state change reruns the page, redrawing what follows
        described = st.session_state.get(described_key)
        if described and described.artifact_present and described.artifact:  # it lands where a job's would
            deploy_panel(settings, described.artifact, described.job_name or chosen, f"ec2_{chosen}")
        if described and described.state != "terminated" and st.button("Terminate", key="ec2_terminate"):
            try:
                st.success(f"{chosen} is {ec2.terminate(chosen)}.")
            except ServiceError as exc:
                st.error(exc.message)
