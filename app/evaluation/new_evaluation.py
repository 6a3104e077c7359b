"""The form that starts an evaluation: a model (a training job's, a tuning job's best, an endpoint's, any model)
and a labelled set (a dataset's test split, or any S3 folder of class folders). Returns the started record."""

from __future__ import annotations

import time

import streamlit as st

from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.data.datasets import DatasetService
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.evaluations import TRANSFORM_INSTANCE_TYPES, EvaluationService
from services.evaluation.labelled_sets import LabelledSets
from services.evaluation.model_choices import KINDS, ModelChoice, ModelChoices

OTHER_FOLDER = "Another S3 folder of class folders…"
CHOICES_TTL_S = 30  # each list costs a describe per job or endpoint: read again only when it may have changed


def pick_model(settings: CloudSettings, focus: ModelChoice | None) -> ModelChoice | None:
    kind = st.radio(
        "Model from",
        KINDS,
        index=KINDS.index(focus.kind) if focus else 0,
        horizontal=True,
        key="evaluate_kind",
        format_func=lambda k: {"tuning job": "tuning job (best trial)", "model": "any SageMaker model"}.get(k, k),
    )
    cache = st.session_state.setdefault("evaluate_choices", {})
    if kind not in cache or time.monotonic() - cache[kind][0] > CHOICES_TTL_S:
        try:
            with st.spinner(f"Reading {kind}s…"):
                cache[kind] = (time.monotonic(), ModelChoices(settings).list(kind))
        except ServiceError as exc:
            st.error(exc.message)
            return None
    choices: list[ModelChoice] = list(cache[kind][1])
    if focus is not None and focus.kind == kind and focus not in choices:
        choices.insert(0, focus)
    if not choices:
        st.info(f"There is no {kind} with a model to evaluate yet.")
        return None
    labels = [c.label for c in choices]
    wanted = focus.label if focus is not None and focus.label in labels else labels[0]
    label = st.selectbox("Model", labels, index=labels.index(wanted), key=f"evaluate_model_{kind}")
    return choices[labels.index(label)]


def pick_set(settings: CloudSettings, service: EvaluationService) -> str:
    try:
        bucket = service.bucket()
        folders = [f"s3://{bucket}/{prefix}test/" for prefix in DatasetService(settings=settings).list_datasets(bucket)]
    except ServiceError as exc:
        st.caption(f"Datasets could not be listed: {exc.message}")
        folders = []
    option = st.selectbox(
        "Labelled set",
        [*folders, OTHER_FOLDER],
        key="evaluate_set",
        help="a dataset's test split as the Data page lays it out, or any folder holding one folder per breed",
    )
    if option != OTHER_FOLDER:
        return option
    return st.text_input("S3 folder", placeholder="s3://bucket/folder/", key="evaluate_folder").strip()


def new_evaluation(settings: CloudSettings, focus: ModelChoice | None) -> EvaluationRecord | None:
    service = EvaluationService(settings=settings)
    choice = pick_model(settings, focus)
    uri = pick_set(settings, service)
    kind_col, count_col = st.columns(2)
    instance_type = kind_col.selectbox("Transform instance type", TRANSFORM_INSTANCE_TYPES, key="evaluate_type")
    instances = int(count_col.number_input("Instances", 1, 4, 1, key="evaluate_instances"))
    st.caption(
        "A SageMaker batch transform sends every photo to the model's own serving code, one request each; the "
        "answers land beside the evaluation in S3 and the results fill in as they arrive."
    )
    if not st.button("Evaluate", type="primary", key="evaluate_start", icon=":material/play_arrow:"):
        return None
    if choice is None:
        st.error("Pick a model first: there is none to evaluate.")
        return None
    if not uri:
        st.error("Give the S3 folder of the labelled set, e.g. s3://bucket/datasets/dogs/test/.")
        return None
    try:
        with st.spinner("Reading the set and starting the batch transform…"):
            labelled = LabelledSets(settings).read(uri)
            return service.start(choice, labelled, instance_type=instance_type, instances=instances)
    except ServiceError as exc:
        st.error(exc.message)
        return None
