"""The Lambda page's concurrency view: reserved concurrency against the account's limit and unreserved pool,
provisioned concurrency per version or alias with its status (followed live until READY) and its cost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.functions.lambda_function_view import Changed
from app.widgets.formatting import per_hour
from app.widgets.jobs import live
from services.core.access import Caller
from services.core.errors import ServiceError
from services.core.pricing import LAMBDA_PRICE_SOURCE
from services.functions.concurrency_settings import AccountConcurrency, ConcurrencyService, FunctionConcurrency

RESERVED_GUIDANCE = (
    "Reserved concurrency costs nothing. It caps the function (calls beyond it are throttled, HTTP 429) and "
    "guarantees it that many executions that no other function can take; 0 stops every call."
)
PROVISIONED_GUIDANCE = (
    "Provisioned concurrency costs money for every hour it is configured, used or not. It keeps environments "
    "initialised ahead of traffic, so calls meet no cold start; it needs a published version or an alias, and it "
    "must fit inside the reserved concurrency."
)


def account_summary(account: AccountConcurrency, current: FunctionConcurrency) -> None:
    cells = st.columns(4)
    cells[0].metric("Account limit", account.limit, help="Simultaneous executions for all functions in the region.")
    cells[1].metric("Unreserved pool", account.unreserved, help="Shared by functions without a reservation.")
    cells[2].metric("Must stay unreserved", account.minimum_unreserved)
    cells[3].metric("This function's reservation", "none" if current.reserved is None else current.reserved)


def reserved_form(
    service: ConcurrencyService,
    caller: Caller,
    account: AccountConcurrency,
    current: FunctionConcurrency,
    changed: Changed,
) -> None:
    st.markdown("##### Reserved concurrency")
    st.caption(RESERVED_GUIDANCE)
    held = current.reserved if current.reserved is not None else current.provisioned_total
    most = max(account.unreserved + held - account.minimum_unreserved, 0)
    with st.form("lambda_reserved_form"):
        value = st.number_input(
            f"Reserved executions (this account allows at most {most})",
            value=current.reserved if current.reserved is not None else 0,
            step=1,
            key="lambda_reserved_value",
        )
        set_it, clear = st.columns(2)
        if set_it.form_submit_button(
            "Set reserved concurrency", disabled=not caller.is_operator, key="lambda_reserved_set"
        ):
            _apply(lambda: service.set_reserved(caller, current.function, int(value)), changed, f"reserved {value}")
        if clear.form_submit_button(
            "Remove the reservation",
            disabled=not caller.is_operator or current.reserved is None,
            key="lambda_reserved_remove",
        ):
            _apply(lambda: service.set_reserved(caller, current.function, None), changed, "no reservation")


def _apply(action, changed: Changed, what: str) -> None:
    try:
        result = action()
    except ServiceError as exc:
        st.error(exc.message)
    else:
        changed(f"{result.function}: {what}.")


def provisioned_view(
    service: ConcurrencyService, caller: Caller, current: FunctionConcurrency, qualifiers: list[str], changed: Changed
) -> None:
    st.markdown("##### Provisioned concurrency")
    st.caption(PROVISIONED_GUIDANCE)
    live("lambda_provisioned", lambda: _status_part(service, current.function))
    if not qualifiers:
        st.caption("Publish a version (Versions & aliases) to provision it.")
        return
    with st.form("lambda_provisioned_form"):
        left, right = st.columns(2)
        qualifier = left.selectbox(
            "Version or alias", qualifiers, index=len(qualifiers) - 1 if qualifiers else 0, key="lambda_provisioned_on"
        )
        count = right.number_input("Provisioned environments", value=1, step=1, key="lambda_provisioned_count")
        put, remove = st.columns(2)
        if put.form_submit_button(
            "Set provisioned concurrency", disabled=not caller.is_operator, key="lambda_provisioned_set"
        ):
            try:
                config = service.set_provisioned(caller, current.function, qualifier, int(count))
            except ServiceError as exc:
                st.error(exc.message)
            else:
                changed(
                    f"{current.function}:{qualifier}: {config.requested} provisioned environments requested "
                    f"({config.status}), {per_hour(config.hourly_usd)}."
                )
        if remove.form_submit_button("Remove it", disabled=not caller.is_operator, key="lambda_provisioned_remove"):
            try:
                service.remove_provisioned(caller, current.function, qualifier)
            except ServiceError as exc:
                st.error(exc.message)
            else:
                changed(f"{current.function}:{qualifier}: no provisioned concurrency.")


def _status_part(service: ConcurrencyService, function: str) -> bool:
    """The configurations with status and allocated count; True while one is still IN_PROGRESS."""
    try:
        current = service.function(function)
    except ServiceError as exc:
        st.caption(exc.message)
        return False
    if not current.provisioned:
        st.caption("No provisioned concurrency: every new environment starts cold.")
        return False
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version or alias": c.qualifier,
                    "status": c.status,
                    "requested": c.requested,
                    "allocated": c.allocated,
                    "cost": per_hour(c.hourly_usd),
                    "reason": c.status_reason or "",
                }
                for c in current.provisioned
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"{current.provisioned_total} environments of {current.memory_mb} MB: {per_hour(current.hourly_usd)} "
        f"before calls are billed ({LAMBDA_PRICE_SOURCE}; localcloud bills nothing)."
    )
    return not current.settled
