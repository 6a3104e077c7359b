"""The Tune page's launch form: the training definition (the Train form's fields), the objective, a range per
hyperparameter, the strategy and its limits, completion criteria, seed and warm start; the number of trials
and a cost ceiling before launch; refusals with AWS's reasons before any call. Values live in session state
(app/forms.py says why), so the preset and Clone can fill them."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from app.forms import current, index_of
from app.jobs import duration, usd
from services.errors import ServiceError
from services.pricing import COST_NOTE, DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES, estimate_cost
from services.training_spec import DEFAULT_MAX_RUNTIME_S, DEFAULT_METRIC_DEFINITIONS, FINE_TUNE_CHOICES, TrainingSpec
from services.tuning import TuningService
from services.tuning_spec import (
    EARLY_STOPPING,
    KINDS,
    OBJECTIVE_TYPES,
    SCALINGS,
    STRATEGIES,
    TUNABLE,
    WARM_START_TYPES,
    ParameterRange,
    TuningSpec,
    generate_tuning_name,
    grid_size,
    max_cost,
    original_preset,
    trial_count,
)

FIELDS = {
    "tune_name": "",
    "tune_data_uri": "",
    "tune_output": "",
    "tune_lr": 0.001,
    "tune_batch": 32,
    "tune_epochs": 1,
    "tune_fine_tune": "head",
    "tune_instance_type": DEFAULT_INSTANCE_TYPE,
    "tune_instance_count": 1,
    "tune_max_runtime": DEFAULT_MAX_RUNTIME_S,
    "tune_role": "",
    "tune_objective": "validation:loss",
    "tune_objective_type": "Minimize",
    "tune_strategy": "Bayesian",
    "tune_all_combinations": False,
    "tune_max_jobs": 4,
    "tune_max_parallel": 2,
    "tune_early_stopping": "Off",
    "tune_min_resource": 1,
    "tune_max_resource": 0,
    "tune_target": "",
    "tune_not_improving": 0,
    "tune_seed": "",
    "tune_warm_parents": [],
    "tune_warm_type": "TransferLearning",
}
RANGE_COLUMNS = ["Hyperparameter", "Kind", "Min", "Max", "Scaling", "Values"]
DEFAULT_RANGES = (
    ParameterRange("learning_rate", "Continuous", 0.0005, 0.05, "Logarithmic"),
    ParameterRange("batch_size", "Categorical", values=("16", "32")),
)


def ranges_frame(ranges: tuple[ParameterRange, ...]) -> pd.DataFrame:
    """Ranges as the form's editable table (categorical values comma-separated)."""
    rows = [
        {
            "Hyperparameter": r.name,
            "Kind": r.kind,
            "Min": r.min_value,
            "Max": r.max_value,
            "Scaling": r.scaling if r.kind != "Categorical" else None,
            "Values": ", ".join(r.values) if r.kind == "Categorical" else None,
        }
        for r in ranges
    ]
    return pd.DataFrame(rows, columns=RANGE_COLUMNS).astype({"Min": float, "Max": float})


def ranges_from(frame: pd.DataFrame) -> tuple[ParameterRange, ...]:
    """The table's rows as ranges; empty rows are skipped, the rest checked by the service."""
    out = []
    for row in frame.to_dict("records"):
        name = str(row.get("Hyperparameter") or "").strip()
        if not name:
            continue
        kind = str(row.get("Kind") or "Continuous")
        values = tuple(v.strip() for v in str(row.get("Values") or "").split(",") if v.strip())
        low, high = (_number(row.get("Min")), _number(row.get("Max")))
        out.append(ParameterRange(name, kind, low, high, str(row.get("Scaling") or "Auto"), values))
    return tuple(out)


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def prefill(spec: TuningSpec) -> None:
    """Put a spec's values into the form (a button callback, before the widgets exist)."""
    training = spec.training
    st.session_state.update(
        {
            "tune_name": spec.name,
            "tune_data_uri": training.data_uri,
            "tune_output": training.output_path,
            "tune_lr": float(training.learning_rate),
            "tune_batch": int(training.batch_size),
            "tune_epochs": int(training.epochs),
            "tune_fine_tune": training.fine_tune if training.fine_tune in FINE_TUNE_CHOICES else "head",
            "tune_instance_type": training.instance_type
            if training.instance_type in INSTANCE_TYPES
            else DEFAULT_INSTANCE_TYPE,
            "tune_instance_count": int(training.instance_count),
            "tune_max_runtime": int(training.max_runtime_s),
            "tune_role": training.role_arn or "",
            "tune_metrics_source": pd.DataFrame([{"Name": n, "Regex": r} for n, r in training.metric_definitions]),
            "tune_objective": spec.objective_metric,
            "tune_objective_type": spec.objective_type,
            "tune_ranges_source": ranges_frame(spec.ranges),
            "tune_strategy": spec.strategy,
            "tune_all_combinations": spec.max_jobs is None,
            "tune_max_jobs": int(spec.max_jobs or 1),
            "tune_max_parallel": int(spec.max_parallel),
            "tune_early_stopping": spec.early_stopping,
            "tune_min_resource": int(spec.min_resource or 1),
            "tune_max_resource": int(spec.max_resource or 0),
            "tune_target": "" if spec.target_value is None else f"{spec.target_value:g}",
            "tune_not_improving": int(spec.not_improving_jobs or 0),
            "tune_seed": "" if spec.random_seed is None else str(spec.random_seed),
            "tune_warm_parents": list(spec.warm_start_parents),
            "tune_warm_type": spec.warm_start_type,
        }
    )
    for editor in ("tune_metrics", "tune_ranges"):
        st.session_state.pop(editor, None)  # the editors re-read their (new) sources


def clone(service: TuningService, name: str) -> None:
    """Pre-fill the form from tuning job `name` (a button or link callback)."""
    try:
        prefill(service.clone_spec(name))
        st.session_state["tune_message"] = ("success", f"Form pre-filled from tuning job '{name}'.")
    except ServiceError as exc:
        st.session_state["tune_message"] = ("error", exc.message)


def _preset() -> None:
    prefill(original_preset(_training(), name=generate_tuning_name("hpo")))
    st.session_state["tune_message"] = (
        "info",
        "The original project's tuning: learning_rate 0.001–0.1, batch_size "
        '32/64/128/256/512, objective "Test Loss" (Minimize), 2 trials.',
    )


def _training() -> TrainingSpec:
    metrics = st.session_state.get("tune_metrics_edited", st.session_state["tune_metrics_source"])
    return TrainingSpec(
        job_name="x",
        data_uri=str(st.session_state["tune_data_uri"]).strip(),
        output_path=str(st.session_state["tune_output"]).strip(),
        learning_rate=float(st.session_state["tune_lr"]),
        batch_size=int(st.session_state["tune_batch"]),
        epochs=int(st.session_state["tune_epochs"]),
        fine_tune=st.session_state["tune_fine_tune"],
        instance_type=st.session_state["tune_instance_type"],
        instance_count=int(st.session_state["tune_instance_count"]),
        max_runtime_s=int(st.session_state["tune_max_runtime"]),
        role_arn=str(st.session_state["tune_role"]).strip() or None,
        metric_definitions=tuple(
            (str(r["Name"]), str(r["Regex"])) for r in metrics.to_dict("records") if r.get("Name") and r.get("Regex")
        ),
    )


def _defaults(service: TuningService) -> None:
    for key, default in FIELDS.items():
        st.session_state.setdefault(key, default)
    if "tune_metrics_source" not in st.session_state:
        st.session_state["tune_metrics_source"] = pd.DataFrame(
            [{"Name": n, "Regex": r} for n, r in DEFAULT_METRIC_DEFINITIONS]
        )
    st.session_state.setdefault("tune_ranges_source", ranges_frame(DEFAULT_RANGES))
    if not st.session_state["tune_name"] or st.session_state.pop("tune_fresh_name", False):
        st.session_state["tune_name"] = generate_tuning_name()
    if st.session_state["tune_output"] and st.session_state["tune_data_uri"]:
        return
    try:  # the default bucket and its newest-named dataset, as the Train form does
        output = st.session_state["tune_output"] or service.training.default_output_path()
        st.session_state["tune_output"] = output
        if not st.session_state["tune_data_uri"]:
            bucket = output.split("/")[2]
            prefixes = service.training.datasets().list_datasets(bucket)
            st.session_state["tune_data_uri"] = f"s3://{bucket}/{prefixes[-1]}" if prefixes else ""
    except ServiceError as exc:
        st.error(exc.message)


def _definition_fields() -> TrainingSpec:
    """The training definition: the Train form's fields, the tuned ones acting as defaults only."""
    name_col, gen_col = st.columns([4, 1])
    name_col.text_input("Tuning job name", value=current("tune_name"), key="tune_name", max_chars=32)
    gen_col.button(
        "New name", key="tune_new_name", on_click=lambda: st.session_state.update(tune_name=generate_tuning_name())
    )
    st.text_input(
        "Data channel `training` (S3 prefix with train/ valid/ test/)",
        value=current("tune_data_uri"),
        key="tune_data_uri",
    )
    st.text_input("Output path (S3)", value=current("tune_output"), key="tune_output")
    st.caption("Static hyperparameters: a tuned one below overrides its value here.")
    lr_col, batch_col, epochs_col, fine_col = st.columns(4)
    lr_col.number_input("Learning rate", value=current("tune_lr"), step=0.0005, format="%.5f", key="tune_lr")
    batch_col.number_input("Batch size", value=current("tune_batch"), step=1, key="tune_batch")
    epochs_col.number_input("Epochs", value=current("tune_epochs"), step=1, key="tune_epochs")
    fine_col.selectbox(
        "Fine-tune",
        list(FINE_TUNE_CHOICES),
        index=index_of(list(FINE_TUNE_CHOICES), "tune_fine_tune"),
        key="tune_fine_tune",
    )
    type_col, count_col, runtime_col = st.columns([3, 1, 2])
    type_col.selectbox(
        "Instance type",
        list(INSTANCE_TYPES),
        index=index_of(list(INSTANCE_TYPES), "tune_instance_type"),
        format_func=lambda name: INSTANCE_TYPES[name].label,
        key="tune_instance_type",
    )
    count_col.number_input(
        "Instances", min_value=1, max_value=20, value=current("tune_instance_count"), key="tune_instance_count"
    )
    runtime_col.number_input(
        "Max runtime per trial (s)", min_value=1, step=60, value=current("tune_max_runtime"), key="tune_max_runtime"
    )
    with st.expander("Metric definitions and role"):
        edited = st.data_editor(
            st.session_state["tune_metrics_source"], num_rows="dynamic", width="stretch", key="tune_metrics"
        )
        st.session_state["tune_metrics_edited"] = edited
        st.text_input("Execution role ARN", value=current("tune_role"), key="tune_role", placeholder="default role")
    return _training()


def _search_fields(training: TrainingSpec, earlier: list[str]) -> TuningSpec:
    metrics = [name for name, _ in training.metric_definitions]
    objective_col, type_col = st.columns([3, 2])
    objective = objective_col.selectbox(
        "Objective metric", metrics, index=index_of(metrics, "tune_objective"), key="tune_objective"
    )
    objective_type = type_col.radio(
        "Goal",
        OBJECTIVE_TYPES,
        index=index_of(OBJECTIVE_TYPES, "tune_objective_type"),
        horizontal=True,
        key="tune_objective_type",
    )
    st.markdown("**Hyperparameter ranges**")
    ranges = ranges_from(
        st.data_editor(
            st.session_state["tune_ranges_source"],
            num_rows="dynamic",
            width="stretch",
            key="tune_ranges",
            column_config={
                "Hyperparameter": st.column_config.SelectboxColumn(options=list(TUNABLE), required=True),
                "Kind": st.column_config.SelectboxColumn(options=list(KINDS), required=True),
                "Scaling": st.column_config.SelectboxColumn(options=list(SCALINGS)),
                "Values": st.column_config.TextColumn(help="Categorical only: values separated by commas"),
            },
        )
    )
    strategy = st.radio(
        "Strategy", STRATEGIES, index=index_of(STRATEGIES, "tune_strategy"), horizontal=True, key="tune_strategy"
    )
    jobs_col, parallel_col, stop_col = st.columns(3)
    every = strategy == "Grid" and st.checkbox(
        "Every combination (Grid)", value=current("tune_all_combinations"), key="tune_all_combinations"
    )
    max_jobs = (
        None
        if every
        else int(
            jobs_col.number_input("Max training jobs", value=current("tune_max_jobs"), step=1, key="tune_max_jobs")
        )
    )
    max_parallel = parallel_col.number_input(
        "Max parallel jobs", value=current("tune_max_parallel"), step=1, key="tune_max_parallel"
    )
    early = stop_col.radio(
        "Early stopping",
        EARLY_STOPPING,
        index=index_of(EARLY_STOPPING, "tune_early_stopping"),
        horizontal=True,
        key="tune_early_stopping",
    )
    min_resource = max_resource = None
    if strategy == "Hyperband":
        low_col, high_col = st.columns(2)
        min_resource = int(
            low_col.number_input(
                "Min resource (epochs)", value=current("tune_min_resource"), step=1, key="tune_min_resource"
            )
        )
        max_resource = (
            int(
                high_col.number_input(
                    "Max resource (epochs; 0: the static epochs)",
                    value=current("tune_max_resource"),
                    step=1,
                    key="tune_max_resource",
                )
            )
            or None
        )
    with st.expander("Completion criteria, random seed, warm start"):
        target_col, improving_col, seed_col = st.columns(3)
        target = target_col.text_input(
            "Target objective value (empty: none)", value=current("tune_target"), key="tune_target"
        )
        not_improving = improving_col.number_input(
            "Stop when the best has not improved for N jobs (0: off)",
            value=current("tune_not_improving"),
            step=1,
            key="tune_not_improving",
        )
        seed = seed_col.text_input("Random seed (empty: none)", value=current("tune_seed"), key="tune_seed")
        parents = st.multiselect(
            "Warm start from earlier tuning jobs",
            earlier,
            default=[p for p in current("tune_warm_parents") if p in earlier],
            key="tune_warm_parents",
        )
        warm_type = st.radio(
            "Warm start type",
            WARM_START_TYPES,
            index=index_of(WARM_START_TYPES, "tune_warm_type"),
            horizontal=True,
            key="tune_warm_type",
        )
    problems: list[str] = []
    target_value = _optional(target, float, "The target objective value", problems)
    random_seed = _optional(seed, int, "The random seed", problems)
    for problem in problems:
        st.error(problem)
    return TuningSpec(
        name=str(st.session_state["tune_name"]).strip(),
        training=training,
        objective_metric=objective or "",
        objective_type=objective_type,
        ranges=ranges,
        strategy=strategy,
        max_jobs=max_jobs,
        max_parallel=int(max_parallel),
        early_stopping=early,
        min_resource=min_resource,
        max_resource=max_resource,
        target_value=target_value,
        not_improving_jobs=int(not_improving) or None,
        random_seed=random_seed,
        warm_start_parents=tuple(parents),
        warm_start_type=warm_type,
    )


def _optional(text: str, kind: type, label: str, problems: list[str]):  # noqa: ANN202 (int or float)
    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        problems.append(f"{label} '{text}' is not {'a whole number' if kind is int else 'a number'}.")
        return None


def _estimate(spec: TuningSpec) -> None:
    """Trials to run (a Grid's combinations) and the cost if each runs its full max runtime."""
    trials = trial_count(spec)
    size = grid_size(spec.ranges)
    parts = []
    if spec.strategy == "Grid" and math.isfinite(size):
        parts.append(f"Grid: {int(size)} combinations, so {int(size)} trials")
    elif trials is not None:
        parts.append(f"Up to {trials} trials")
    try:
        hourly = estimate_cost(spec.training.instance_type, spec.training.instance_count, 3600) * max(
            1, spec.max_parallel
        )
        ceiling = max_cost(spec)
    except ServiceError as exc:
        st.warning(exc.message)
        return
    parts.append(f"{max(1, spec.max_parallel)} at a time: {usd(hourly)} per hour while they run")
    if ceiling is not None:
        parts.append(f"at most {usd(ceiling)} if every trial runs the full {duration(spec.training.max_runtime_s)}")
    st.info("; ".join(parts) + ".")
    st.caption(COST_NOTE)


def tuning_form(service: TuningService, earlier: list[str]) -> None:
    """The Launch tab: preset, clone, the fields, the estimate, Launch."""
    preset_col, clone_col, button_col = st.columns([2, 3, 1])
    preset_col.button("Original project's tuning", key="tune_preset", on_click=_preset, icon="📋")
    if earlier:
        source = clone_col.selectbox("Clone an earlier tuning job", earlier, key="tune_clone_source")
        button_col.button("Clone", key="tune_clone", on_click=clone, args=(service, source))
    _defaults(service)
    message = st.session_state.pop("tune_message", None)
    if message:
        getattr(st, message[0])(message[1])
    spec = _search_fields(_definition_fields(), earlier)
    _estimate(spec)
    if st.button("Launch tuning job", key="tune_launch", type="primary"):
        try:
            with st.spinner("Checking the dataset, packaging the code and launching…"):
                service.launch(spec)
        except ServiceError as exc:
            st.session_state.pop("tune_launched", None)
            st.error(exc.message)
        else:
            st.session_state["tune_launched"] = spec.name
            st.session_state["tune_fresh_name"] = True
            st.session_state["live_tunings"] = True
            st.rerun()
    launched = st.session_state.get("tune_launched")
    if launched:
        st.success(f"Launched tuning job '{launched}'.")
        st.page_link("pages/tuning_job.py", label=f"Watch {launched}", query_params={"tuning_job": launched})
