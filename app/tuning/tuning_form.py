"""The Tune page's launch form: the training definition (the Train form's fields), the objective, a range per
hyperparameter, the strategy and its limits, completion criteria, seed and warm start; the number of trials
and a cost ceiling before launch; refusals with AWS's reasons before any call. Values live in session state
(app/widgets/forms.py says why), so the preset and Clone can fill them."""

from __future__ import annotations

import math

import streamlit as st

from app.tuning.tuning_state import clone, defaults, preset, ranges_from, training_from_state
from app.widgets.forms import current, index_of
from app.widgets.jobs import duration, usd
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE, INSTANCE_TYPES, estimate_cost
from services.training.job_spec import FINE_TUNE_CHOICES, TrainingSpec
from services.tuning.spec import (
    EARLY_STOPPING,
    KINDS,
    OBJECTIVE_TYPES,
    SCALINGS,
    STRATEGIES,
    TUNABLE,
    WARM_START_TYPES,
    TuningSpec,
    generate_tuning_name,
    grid_size,
    max_cost,
    trial_count,
)
from services.tuning.tuner import TuningService


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
    return training_from_state()


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
    preset_col.button(
        "Original project's tuning",
        key="tune_preset",
        on_click=preset,
        args=(service,),
        icon=":material/content_paste:",
    )
    if earlier:
        source = clone_col.selectbox("Clone an earlier tuning job", earlier, key="tune_clone_source")
        button_col.button("Clone", key="tune_clone", on_click=clone, args=(service, source))
    defaults(service)
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
        st.page_link("app_pages/tuning_job.py", label=f"Watch {launched}", query_params={"tuning_job": launched})
