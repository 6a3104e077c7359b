"""The Tune form's values in session state: defaults, the ranges table, and filling the form from a spec
(the original project's preset, Clone). Kept apart from the widgets (app/tuning/tuning_form.py), which read them."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from services.core.errors import ServiceError
from services.core.pricing import DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES
from services.training.job_spec import (
    DEFAULT_MAX_RUNTIME_S,
    DEFAULT_METRIC_DEFINITIONS,
    FINE_TUNE_CHOICES,
    TrainingSpec,
)
from services.tuning.spec import ParameterRange, TuningSpec, generate_tuning_name, original_preset
from services.tuning.tuner import TuningService

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


def preset(service: TuningService) -> None:
    """Fill the form with the original project's tuning, fitted to the chosen dataset (a button callback); the
    message says what was changed for it."""
    training, name = training_from_state(), generate_tuning_name("hpo")
    try:
        spec, changes = service.original_preset(training, name=name)
        fitted = f" Changed for {training.data_uri}: " + " ".join(changes) if changes else ""
    except ServiceError as exc:
        spec = original_preset(training, name=name)
        fitted = f" Its batch sizes could not be fitted to the dataset: {exc.message}"
    prefill(spec)
    st.session_state["tune_message"] = (
        "info",
        "The original project's tuning: learning_rate 0.001–0.1, batch_size "
        '32/64/128/256/512, objective "Test Loss" (Minimize), 2 trials.' + fitted,
    )


def training_from_state() -> TrainingSpec:
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


def defaults(service: TuningService) -> None:
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
