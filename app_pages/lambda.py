"""Lambda (`?function=<name>`, operators): each function's configuration and the endpoint it calls; versions and
aliases with weighted routing; reserved and provisioned concurrency with the account's limits and the cost;
CloudWatch metrics; and a Test tab like the console's."""

from __future__ import annotations

import streamlit as st

from app.auth import operators_only
from app.endpoints.load_test_panel import load_test_panel
from app.functions.lambda_charts import metrics_view
from app.functions.lambda_concurrency_view import account_summary, provisioned_view, reserved_form
from app.functions.lambda_function_view import (
    endpoint_access_view,
    endpoint_form,
    function_details,
    functions_table,
    versions_view,
)
from app.functions.lambda_test_view import invoke_tab
from app.settings import current_settings
from app.widgets.forms import index_of
from services.core.errors import ServiceError
from services.functions.concurrency_settings import ConcurrencyService
from services.functions.invocation_metrics import LambdaMetricsService
from services.functions.lambda_functions import LATEST, LambdaFunctionService
from services.functions.test_events import LambdaTestService
from services.security.endpoint_access import EndpointAccessService
from services.serving.load_test import FunctionTarget

caller = operators_only("Lambda")

settings = current_settings()
functions_service = LambdaFunctionService(settings)
concurrency_service = ConcurrencyService(settings)
_NOTE, _FUNCTION = "lambda_note", "lambda_function"


def changed(message: str) -> None:
    """After a change: say what was done on the next run, which re-reads the cloud."""
    st.session_state[_NOTE] = message
    st.rerun()


st.title("Lambda")
if note := st.session_state.get(_NOTE):
    st.success(note)  # dropped at the end of a whole run: a live status part may re-run the page before it
try:
    functions = functions_service.functions()
except ServiceError as exc:
    st.error(exc.message)
    st.stop()
if not functions:
    st.info("There are no Lambda functions in this region.")
    st.stop()
functions_table(functions)

names = [f.name for f in functions]
if st.query_params.get("function") in names and _FUNCTION not in st.session_state:
    st.session_state[_FUNCTION] = st.query_params["function"]
name = st.selectbox("Function", names, index=index_of(names, _FUNCTION), key=_FUNCTION)
st.query_params["function"] = name
info = next(f for f in functions if f.name == name)

# A radio, not tabs: the chosen view survives the reruns its buttons cause, and only its data is read.
VIEWS = ["Configuration", "Versions & aliases", "Concurrency", "Metrics", "Test"]
view = st.radio("View", VIEWS, horizontal=True, key="lambda_view", label_visibility="collapsed")

try:
    if view == "Configuration":
        function_details(info)
        endpoint_access_view(EndpointAccessService(settings), caller, info, changed)
        endpoint_form(functions_service, caller, info, changed)
    elif view == "Versions & aliases":
        versions = functions_service.versions(name)
        versions_view(functions_service, caller, name, versions, functions_service.aliases(name), changed)
    elif view == "Concurrency":
        account, current = concurrency_service.account(), concurrency_service.function(name)
        account_summary(account, current)
        reserved_form(concurrency_service, caller, account, current, changed)
        qualifiers = [q for q in functions_service.qualifiers(name) if q != LATEST]
        provisioned_view(concurrency_service, caller, current, qualifiers, changed)
        st.subheader("Load test")
        st.caption(
            "Calls the function with photos at a steady rate: beyond its reserved concurrency the extra calls are "
            "throttled; through an alias with provisioned concurrency the first calls find a ready environment."
        )
        aimed = st.selectbox("Aim at", ["$LATEST", *qualifiers], key=f"lambda_load_{name}")
        qualifier = None if aimed == "$LATEST" else aimed
        load_test_panel(f"function_{name}", lambda: FunctionTarget(settings, name, qualifier))
    elif view == "Metrics":
        metrics_view(LambdaMetricsService(settings), name, functions_service.qualifiers(name))
    else:
        qualifiers = [q for q in functions_service.qualifiers(name) if q != LATEST]
        invoke_tab(LambdaTestService(settings), name, qualifiers)
except ServiceError as exc:
    st.error(exc.message)
st.session_state.pop(_NOTE, None)
