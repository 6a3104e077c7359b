"""The Lambda page's function overview (with the endpoint it calls, which an operator may change, and a warning
when the function's role may not invoke it) and its versions and aliases (publish, create or move an alias,
weighted routing between two versions)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from app.widgets.formatting import size, timestamp
from services.core.access import Caller
from services.core.errors import ServiceError
from services.functions.lambda_functions import LATEST, Alias, FunctionInfo, LambdaFunctionService
from services.security.endpoint_access import EndpointAccessService
from services.security.least_privilege import POLICY_NAME

Changed = Callable[[str], None]
"""Called with a sentence after a change succeeded: the page re-reads the cloud and shows it."""


def functions_table(functions: list[FunctionInfo]) -> None:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "function": f.name,
                    "runtime": f.runtime or "container image",
                    "memory": f"{f.memory_mb} MB",
                    "timeout": f"{f.timeout_s} s",
                    "endpoint it calls": f.endpoint_name or "",
                    "code size": size(f.code_size_bytes),
                    "last update": timestamp(f.last_modified),
                    "role": f.role_arn.rsplit("/", 1)[-1],
                }
                for f in functions
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def function_details(info: FunctionInfo) -> None:
    """One function's configuration, as the console's Configuration tab lists it."""
    left, right = st.columns(2)
    left.markdown(
        f"**Runtime** {info.runtime or 'container image'} · **handler** `{info.handler or ''}`  \n"
        f"**Memory** {info.memory_mb} MB · **timeout** {info.timeout_s} s · **code** {size(info.code_size_bytes)}  \n"
        f"**Last update** {timestamp(info.last_modified)} ({info.last_update_status or 'n/a'})"
    )
    right.markdown(f"**Execution role** `{info.role_arn}`  \n**State** {info.state or 'n/a'}")
    if info.environment:
        right.dataframe(
            pd.DataFrame([{"variable": k, "value": v} for k, v in sorted(info.environment.items())]),
            hide_index=True,
        )


def endpoint_form(service: LambdaFunctionService, caller: Caller, info: FunctionInfo, changed: Changed) -> None:
    """Change which SageMaker endpoint the function calls (its ENDPOINT_NAME); other variables are kept."""
    with st.form("lambda_endpoint_form"):
        endpoint = st.text_input(
            "Endpoint it calls (ENDPOINT_NAME)",
            value=info.endpoint_name or "",
            help="The handler invokes this SageMaker endpoint. It must exist in this region.",
            key="lambda_endpoint_value",
        )
        if st.form_submit_button("Change endpoint", disabled=not caller.is_operator, key="lambda_endpoint_change"):
            try:
                updated = service.set_endpoint(caller, info.name, endpoint)
            except ServiceError as exc:
                st.error(exc.message)
            else:
                changed(f"{updated.name} now calls endpoint {updated.endpoint_name}.")


def endpoint_access_view(service: EndpointAccessService, caller: Caller, info: FunctionInfo, changed: Changed) -> None:
    """A warning when the function's role may not invoke the endpoint the function calls (its ENDPOINT_NAME
    changed after least privilege was applied, say), with the policy update that fixes it."""
    try:
        access = service.check(info)
    except ServiceError as exc:  # IAM's simulator refused or unreachable: the rest of the view still works
        st.caption(f"Could not check the role's access to the endpoint: {exc.message}")
        return
    if access is None or access.allowed:
        return
    refused = f"every call of {info.name} to endpoint {access.endpoint} will be refused (AccessDenied)"
    if access.least_privilege is None or access.decision == "explicitDeny":  # no policy of ours to update
        st.warning(
            f"Role {access.role} may not invoke endpoint {access.endpoint} (IAM's simulator: {access.decision}): "
            f"{refused}. Give the role sagemaker:InvokeEndpoint on `{access.endpoint_arn}` on the Security page.",
            icon=":material/block:",
        )
        return
    names = ", ".join(arn.rsplit("/", 1)[-1] for arn in access.least_privilege) or "no endpoint"
    st.warning(
        f"Role {access.role}'s {POLICY_NAME} policy lets it invoke only {names}: {refused}.",
        icon=":material/block:",
    )
    if st.button(
        f"Update {POLICY_NAME} to the endpoints the role's functions call",
        key="lambda_endpoint_policy_update",
        disabled=not caller.is_operator,
        icon=":material/sync_lock:",
    ):
        try:
            update = service.allow_called_endpoints(caller, info)
        except ServiceError as exc:
            st.error(exc.message)
            return
        allowed = ", ".join(arn.rsplit("/", 1)[-1] for arn in update.allowed)
        removed = ", ".join(arn.rsplit("/", 1)[-1] for arn in update.removed)
        no_longer = f"; no function of the role calls {removed} any more, so it left the policy" if removed else ""
        changed(f"{POLICY_NAME} of {update.role} now allows invoking {allowed}{no_longer}.")


def versions_view(
    service: LambdaFunctionService,
    caller: Caller,
    name: str,
    versions: list[FunctionInfo],
    aliases: list[Alias],
    changed: Changed,
) -> None:
    """Published versions and aliases, and the forms that change them."""
    routes = {v.version: [] for v in versions}
    for alias in aliases:
        routes.setdefault(alias.version, []).append(f"{alias.name} ({1 - alias.extra_weight:.0%})")
        if alias.extra_version:
            routes.setdefault(alias.extra_version, []).append(f"{alias.name} ({alias.extra_weight:.0%})")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version": v.version,
                    "aliases": ", ".join(routes.get(v.version, [])),
                    "published": timestamp(v.last_modified),
                    "description": v.description,
                    "code sha256": v.code_sha256[:12],
                }
                for v in versions
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    published = [v.version for v in versions if v.version != LATEST]
    with st.form("lambda_publish_form"):
        description = st.text_input("Description of the new version", max_chars=256, key="lambda_publish_description")
        if st.form_submit_button("Publish $LATEST as a version", disabled=not caller.is_operator, key="lambda_publish"):
            try:
                version = service.publish_version(caller, name, description)
            except ServiceError as exc:
                st.error(exc.message)
            else:
                changed(f"Version {version.version} of {name} is published.")

    st.markdown("##### Aliases")
    st.caption(
        "An alias is a stable name callers use; move it to release a version, or split calls between two "
        "versions (weighted routing) to try a new one on a share of the traffic."
    )
    if aliases:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "alias": a.name,
                        "version": a.version,
                        "its share": f"{1 - a.extra_weight:.0%}",
                        "second version": a.extra_version or "",
                        "second's share": f"{a.extra_weight:.0%}" if a.extra_version else "",
                        "description": a.description,
                    }
                    for a in aliases
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    with st.form("lambda_alias_form"):
        columns = st.columns(4)
        alias_name = columns[0].text_input(
            "Alias name", value=aliases[0].name if aliases else "live", key="lambda_alias_name"
        )
        choices = [LATEST, *published]
        version = columns[1].selectbox("Version", choices, index=len(choices) - 1, key="lambda_alias_version")
        extra = columns[2].selectbox("Second version (optional)", ["none", *published], key="lambda_alias_extra")
        weight = columns[3].number_input(
            "Its share of calls", value=0.1, step=0.05, format="%.2f", key="lambda_alias_weight"
        )
        if st.form_submit_button("Create or move the alias", disabled=not caller.is_operator, key="lambda_alias_save"):
            try:
                saved = service.save_alias(
                    caller,
                    name,
                    alias_name,
                    version,
                    extra_version=None if extra == "none" else extra,
                    extra_weight=float(weight) if extra != "none" else 0.0,
                )
            except ServiceError as exc:
                st.error(exc.message)
            else:
                split = f", {saved.extra_weight:.0%} to {saved.extra_version}" if saved.extra_version else ""
                changed(f"Alias {saved.name} points at version {saved.version}{split}.")

    if published:
        with st.form("lambda_delete_version_form"):
            doomed = st.selectbox("Version to delete", published, key="lambda_delete_version")
            if st.form_submit_button("Delete version", disabled=not caller.is_operator, key="lambda_delete"):
                try:
                    service.delete_version(caller, name, doomed)
                except ServiceError as exc:
                    st.error(exc.message)
                else:
                    changed(f"Version {doomed} of {name} is deleted.")
