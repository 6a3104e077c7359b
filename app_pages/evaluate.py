"""Evaluate: how good a model is on a labelled set, breed by breed (a batch transform of every photo), and whether
one model really beats another. `?evaluation=<name>` opens one; `?job=`, `?tuning_job=`, `?endpoint=` or `?model=`
lists that model's evaluations and picks it for a new one."""

import streamlit as st

from app.auth import operators_only
from app.evaluation.compare_view import compare_view
from app.evaluation.evaluation_view import evaluation_table, evaluation_view
from app.evaluation.new_evaluation import new_evaluation
from app.settings import current_settings
from services.core.errors import ServiceError
from services.evaluation.evaluations import EvaluationService
from services.evaluation.model_choices import ModelChoice, ModelChoices

operators_only("Evaluate")

settings = current_settings()
service = EvaluationService(settings=settings)
TABS = {"evaluations": "Evaluations", "new": "New evaluation", "compare": "Compare two models"}
FOCUS_PARAMS = ("job", "tuning_job", "endpoint", "model")

st.title("Evaluate")


def focus() -> ModelChoice | None:
    """The model the link that opened the page names (the Job, Tuning job and Endpoint pages link here)."""
    given = {name: st.query_params.get(name, "").strip() for name in FOCUS_PARAMS}
    given = {name: value for name, value in given.items() if value}
    if not given:
        return None
    name, value = next(iter(given.items()))
    cached = st.session_state.get("evaluate_focus")
    if cached is not None and cached[0] == (name, value):
        return cached[1]
    choices = ModelChoices(settings)
    try:
        found = {
            "job": choices.training_job,
            "tuning_job": choices.tuning_job,
            "endpoint": choices.endpoint,
            "model": choices.model,
        }[name](value)
    except ServiceError as exc:
        st.error(exc.message)
        return None
    if found is None:
        st.error(f"Endpoint '{value}' is not there, or serves no model with an artifact.")
    st.session_state["evaluate_focus"] = ((name, value), found)
    return found


model = focus()
if model is not None:
    st.caption(f"Evaluations of {model.label}, `{model.model_data_url}`")
if st.session_state.pop("evaluate_tab_next", None):  # a started evaluation opens in the list view
    st.session_state["evaluate_tab"] = "evaluations"
chosen_tab = (
    st.segmented_control(
        "View",
        list(TABS),
        default=st.query_params.get("tab", "evaluations") if st.query_params.get("tab") in TABS else "evaluations",
        format_func=TABS.get,
        key="evaluate_tab",
        label_visibility="collapsed",
    )
    or "evaluations"
)

if chosen_tab == "new":
    started = new_evaluation(settings, model)
    if started is not None:
        st.query_params["evaluation"] = started.name
        st.query_params.pop("tab", None)  # a reload shows the evaluation, not the form again
        st.session_state["evaluate_tab_next"] = True
        st.rerun()
    st.stop()

try:
    evaluations = [service.settled(r) for r in service.list(model.model_data_url if model else None)]
except ServiceError as exc:
    st.error(exc.message)
    st.stop()

if chosen_tab == "compare":
    compare_view(settings, evaluations)
    st.stop()

opened = st.query_params.get("evaluation", "").strip()
if evaluations:
    selected = evaluation_table(evaluations, "evaluate_list")
    if selected and selected != opened:
        st.query_params["evaluation"] = selected
        st.rerun()
else:
    st.info("No evaluation yet" + (" of this model" if model else "") + ": start one under New evaluation.")
if opened:
    st.subheader(opened)
    evaluation_view(service, opened)
