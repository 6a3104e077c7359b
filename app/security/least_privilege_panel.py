"""The Security page's Least privilege view: choose a role, generate its plan, apply it once the operator has
confirmed the policies it removes, prove it by real work and check it with IAM's simulator.

What is on show always belongs to the role chosen now: a plan generated for another choice, and a proof of
another role, stay out of sight until that choice comes back. The plan is read against the role as the page
read it last (the page re-reads the account after every change), so after Apply its diff shows what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import streamlit as st

from app.security.least_privilege_view import ProofRun, plan_view, proof_view, start_proof
from app.security.security_view import checks_frame
from app.widgets.jobs import live
from services.core.access import Caller
from services.core.errors import ServiceError
from services.security.least_privilege import POLICY_NAME, LeastPrivilegeService, Plan
from services.security.least_privilege_proof import LeastPrivilegeProof
from services.security.roles import RoleDetail

PLAN, PLAN_FOR, APPLIED, PROOF = "security_plan", "security_plan_for", "security_applied", "security_proof"
CHANNEL, SIMULATED, CONFIRMING = "lp_channel", "security_simulated", "lp_confirming"
FUNCTION_ROLE, SAGEMAKER_ROLE = "Lambda function's role", "SageMaker execution role"
Changed = Callable[[str], None]
"""Called with a sentence after a change: the page re-reads the account and shows it."""


def least_privilege_panel(
    caller: Caller,
    all_roles: list[RoleDetail],
    least: LeastPrivilegeService,
    prover: LeastPrivilegeProof,
    changed: Changed,
) -> None:
    """The whole view, for the role chosen in it."""
    functions = sorted({u.name for r in all_roles for u in r.used_by if u.kind == "function"})
    sagemaker_roles = [r.name for r in all_roles if any(u.kind == "model" for u in r.used_by)]
    kind = st.radio("Role", [FUNCTION_ROLE, SAGEMAKER_ROLE], horizontal=True, key="lp_kind")
    if kind == FUNCTION_ROLE:
        target = st.selectbox("Function", functions, key="lp_function")
    else:
        target = st.selectbox(SAGEMAKER_ROLE, sagemaker_roles, key="lp_role")
    choice = (kind, target)
    if st.button("Generate least-privilege policy", key="lp_generate", disabled=target is None):
        try:
            plan = least.for_function(target) if kind == FUNCTION_ROLE else least.for_sagemaker_role(target)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.session_state[PLAN], st.session_state[PLAN_FOR] = plan, choice
            for stale in (CHANNEL, SIMULATED, CONFIRMING):
                st.session_state.pop(stale, None)
    plan: Plan | None = st.session_state.get(PLAN)
    if plan is None or st.session_state.get(PLAN_FOR) != choice:
        if target is not None:
            st.caption(f"No plan for {target} yet: generate one.")
        return
    plan = as_the_role_is_now(plan, all_roles)
    plan_view(plan)
    apply_part(caller, plan, least, changed)
    proof_part(plan, prover)
    simulation_part(plan, least)


def as_the_role_is_now(plan: Plan, all_roles: list[RoleDetail]) -> Plan:
    """The plan against the role's policies as last read, not as they were when it was generated."""
    now = next((role for role in all_roles if role.name == plan.role.name), None)
    return plan if now is None else replace(plan, role=now)


def apply_part(caller: Caller, plan: Plan, least: LeastPrivilegeService, changed: Changed) -> None:
    """Apply, after the operator has seen and confirmed which policies go."""
    name, leaving = plan.role.name, plan.leaving
    if st.button(f"Apply to {name}", key="lp_apply", type="primary"):
        if leaving:
            st.session_state[CONFIRMING] = name
        else:
            _apply(caller, plan, least, changed)
    if st.session_state.get(CONFIRMING) != name or not leaving:
        return
    listed = ", ".join(f"{p.name} ({p.kind}, {'detached' if p.arn else 'deleted'})" for p in leaving)
    users = ", ".join(f"{u.kind} {u.name}" for u in plan.role.used_by) or "nothing yet"
    st.warning(
        f"Apply puts the inline policy {POLICY_NAME} on {name} and removes {len(leaving)} "
        f"polic{'y' if len(leaving) == 1 else 'ies'}: {listed}. What runs as the role ({users}) can then do only "
        "what the plan allows.",
        icon=":material/warning:",
    )
    confirm, cancel = st.columns([2, 1])
    noun = "policy" if len(leaving) == 1 else f"{len(leaving)} policies"
    if confirm.button(f"Remove {noun} and apply", key="lp_apply_confirm", type="primary"):
        st.session_state.pop(CONFIRMING, None)
        _apply(caller, plan, least, changed)
    if cancel.button("Cancel", key="lp_apply_cancel"):
        st.session_state.pop(CONFIRMING, None)
        st.rerun()


def _apply(caller: Caller, plan: Plan, least: LeastPrivilegeService, changed: Changed) -> None:
    try:
        st.session_state[APPLIED] = (plan.role.name, least.apply(caller, plan))
    except ServiceError as exc:
        st.error(exc.message)
        return
    st.session_state.pop(SIMULATED, None)  # decided on the policies before
    changed(f"Applied {POLICY_NAME} to {plan.role.name}")


def proof_part(plan: Plan, prover: LeastPrivilegeProof) -> None:
    """Real work as the role; the proof on show is this role's only."""
    st.subheader("Prove it")
    st.caption(
        "Real work as the role after Apply: a new training job with new code trains, its model deploys and "
        "classifies a photo, a job reading another bucket is refused; or the function classifies and a call to "
        "an endpoint outside the plan is refused. A policy that is too tight fails a step."
    )
    applied = st.session_state.get(APPLIED)
    applied_at = applied[1] if applied and applied[0] == plan.role.name else None
    data_uri = None
    if plan.target is None or plan.target[0] == "endpoint":
        data_uri = _channel_input(plan, prover)
    photo = st.file_uploader("A real photo to classify", type=["jpg", "jpeg", "png"], key="lp_photo")
    run: ProofRun | None = st.session_state.get(PROOF)
    busy = run is not None and run.running
    if st.button("Prove by real work", key="lp_prove", disabled=photo is None or busy):
        st.session_state[PROOF] = start_proof(prover, plan, photo.getvalue(), applied_at, data_uri)
    if busy and run is not None and run.role != plan.role.name:
        st.caption(f"The proof of {run.role} still runs: its steps show under that role's plan.")
    if applied_at is None:
        st.caption("Not applied in this session: the proof tests the role's policies as they are now.")
    shown: ProofRun | None = st.session_state.get(PROOF)
    if shown is not None and shown.role == plan.role.name:
        live("lp_proof", lambda: proof_view(st.session_state[PROOF]))


def _channel_input(plan: Plan, prover: LeastPrivilegeProof) -> str | None:
    """The proof's data channel: the role's newest, else the Data page's newest dataset; a hint when none."""
    if CHANNEL not in st.session_state:
        try:
            st.session_state[CHANNEL] = prover.default_channel(plan) or ""
        except ServiceError as exc:
            st.error(exc.message)
    channel = st.text_input(
        "Data channel for the proof's training job", key=CHANNEL, placeholder="s3://bucket/datasets/name/"
    )
    if not channel:
        st.caption("No dataset in S3 yet: upload one on the Data page, or type the s3:// channel of one.")
        st.page_link("app_pages/data.py", label="Upload a dataset on the Data page", icon=":material/upload:")
    return channel or None


def simulation_part(plan: Plan, least: LeastPrivilegeService) -> None:
    st.markdown("**IAM's simulator** (a quick check, not a proof)")
    st.caption("What the role needs must be allowed, dangerous requests denied, as IAM's simulator decides.")
    if st.button("Verify by simulation", key="lp_simulate"):
        try:
            st.session_state[SIMULATED] = least.verify_by_simulation(plan)
        except ServiceError as exc:
            st.error(exc.message)
    if (simulated := st.session_state.get(SIMULATED)) is not None:
        failed = [c for c in simulated if not c.ok]
        (st.error if failed else st.success)(
            f"{len(simulated) - len(failed)} of {len(simulated)} simulated requests decided as expected."
        )
        st.dataframe(checks_frame(simulated), hide_index=True, width="stretch")
