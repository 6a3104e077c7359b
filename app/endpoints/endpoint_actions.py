"""What an operator changes on the Endpoints page: deploy a model to a new endpoint, update one to another
model, instance type or count, delete one (with its config and models), point the Lambda function at one."""

from __future__ import annotations

import streamlit as st

from app.endpoints.deploy_panel import deploy_panel
from services.core.clients import CloudSettings
from services.core.errors import ServiceError
from services.serving.deploy import INFERENCE_INSTANCE_TYPES
from services.serving.endpoint_management import ENDPOINT_VARIABLE, EndpointsService, EndpointView
from services.serving.model_sources import ModelSource, ModelSources, pick
from services.serving.scaling import ScalingService

_SOURCES = {
    "A finished training job": ModelSources.finished_jobs,
    "A tuning job's best trial": ModelSources.tuning_bests,
    "An existing model": ModelSources.existing_models,
}


def deploy_new_panel(settings: CloudSettings) -> None:
    """Choose where the model comes from, then the shared deploy panel does the rest."""
    kind = st.radio("Deploy from", list(_SOURCES), horizontal=True, key="deploy_source_kind")
    try:
        sources: list[ModelSource] = _SOURCES[kind](ModelSources(settings))
    except ServiceError as exc:
        st.error(exc.message)
        return
    if not sources:
        st.info(f"Nothing to deploy from: no {kind.lower().removeprefix('a ').removeprefix('an ')} with a model.")
        return
    label = st.selectbox("Model", [s.label for s in sources], key="deploy_source")
    try:
        source = pick(sources, label)
    except ServiceError as exc:
        st.error(exc.message)
        return
    st.caption(f"Artifact: `{source.model_data_url}`")
    deploy_panel(settings, source.model_data_url, source.base_name, key="endpoints_deploy")


def update_panel(settings: CloudSettings, endpoint: EndpointView) -> None:
    """UpdateEndpoint to a new config: the old instances serve until the new ones are InService. On an autoscaled
    variant AWS allows a new model (keeping the instance count autoscaling set) but not another instance type."""
    service = EndpointsService(settings)
    variant = endpoint.variants[0] if endpoint.variants else None
    try:
        models = service.models()
        autoscaled = ScalingService(settings).capacity_range(endpoint.name, variant.name) if variant else None
    except ServiceError as exc:
        st.error(exc.message)
        return
    current_model = variant.model_name if variant else None
    current_count = (variant.current_instances or 1) if variant else 1
    if autoscaled:
        st.info(
            f"Autoscaled ({autoscaled[0]} to {autoscaled[1]} instances): a new model is fine, and it keeps the "
            f"{current_count} instance(s) autoscaling set now. Another instance type is refused by SageMaker until "
            "the autoscaling below is removed (set it again after the update)."
        )
    model = st.selectbox(
        "Model", models, index=models.index(current_model) if current_model in models else 0, key="update_model"
    )
    types = list(INFERENCE_INSTANCE_TYPES)
    current_type = variant.instance_type if variant else None
    type_col, count_col = st.columns(2)
    instance_type = type_col.selectbox(
        "Instance type", types, index=types.index(current_type) if current_type in types else 0, key="update_type"
    )
    keep = count_col.checkbox(
        f"Keep the current instance count ({current_count})",
        value=bool(autoscaled),
        key="update_keep_count",
        help="RetainAllVariantProperties: the variant keeps the instances it runs now, whatever autoscaling set.",
    )
    count = current_count
    if not keep:
        count = count_col.number_input("Instances", min_value=1, max_value=10, value=current_count, key="update_n")
    retyped = bool(autoscaled) and current_type is not None and instance_type != current_type
    if retyped:
        st.warning(
            f"The variant is autoscaled: SageMaker refuses to move it from {current_type} to {instance_type}. "
            "Remove its autoscaling first (Autoscaling, above), update, then set autoscaling again."
        )
    if st.button("Update without downtime", key="update_endpoint", disabled=retyped):
        try:
            config = service.update(
                endpoint.name,
                model_name=model,
                instance_type=instance_type,
                instance_count=int(count),
                keep_instance_count=keep,
            )
        except ServiceError as exc:
            st.error(exc.message)
        else:
            kept = f", keeping its {current_count} instance(s)" if keep else ""
            st.success(
                f"Updating to endpoint config `{config}`{kept}: the current instances serve until the new ones do."
            )


def point_function_panel(settings: CloudSettings, endpoint: EndpointView) -> None:
    """Set a function's ENDPOINT_NAME to this endpoint."""
    try:
        functions = EndpointsService(settings).function_names()
    except ServiceError as exc:
        st.error(exc.message)
        return
    if not functions:
        st.caption("No Lambda functions in this account and region.")
        return
    try:
        callers = EndpointsService(settings).functions_calling(endpoint.name)
    except ServiceError as exc:
        st.warning(exc.message)
        callers = []
    st.caption(
        f"Calling this endpoint now ({ENDPOINT_VARIABLE}): {', '.join(callers)}."
        if callers
        else "No function calls this endpoint now."
    )
    function = st.selectbox("Function", functions, key="point_function")
    if st.button(f"Point '{function}' at '{endpoint.name}'", key="point_function_go"):
        try:
            EndpointsService(settings).point_function(function, endpoint.name)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.success(f"Function '{function}' now calls endpoint '{endpoint.name}' ({ENDPOINT_VARIABLE}).")


def delete_panel(settings: CloudSettings, endpoint: EndpointView) -> None:
    """Delete the endpoint, its config and its models, after a confirmation that names the functions that
    still call it."""
    service = EndpointsService(settings)
    try:
        callers = service.functions_calling(endpoint.name)
    except ServiceError as exc:
        st.warning(f"Could not check which functions call it: {exc.message}")
        callers = []
    if callers:
        st.warning(
            f"Lambda function(s) {', '.join(callers)} still call this endpoint ({ENDPOINT_VARIABLE}); their "
            "invocations will fail once it is gone. Point them at another endpoint first."
        )
    models = ", ".join(sorted({v.model_name for v in endpoint.variants}))
    with_models = st.checkbox(f"Also delete its model(s): {models}", value=True, key="delete_models")
    sure = st.checkbox(
        f"Yes, delete endpoint '{endpoint.name}' and its config `{endpoint.config_name}`", key="delete_sure"
    )
    if st.button("Delete endpoint", key="delete_endpoint", disabled=not sure, type="primary"):
        try:
            done = service.delete(endpoint.name, with_models=with_models)
        except ServiceError as exc:
            st.error(exc.message)
            return
        removed = [f"endpoint {done.endpoint}"]
        removed += [f"config {done.config}"] if done.config else []
        removed += [f"model {m}" for m in done.models]
        st.success("Deleted " + ", ".join(removed) + ".")
        st.page_link("app_pages/endpoints.py", label="All endpoints", icon=":material/arrow_back:")
