"""Security: the account's roles with their policies and audit, least-privilege policies for the
function's and SageMaker's roles (generated with their evidence, applied, proven by real work as the role),
and IAM's simulator for any request."""

from __future__ import annotations

import json

import streamlit as st

from app.auth import operators_only
from app.security.isolation_view import isolation_view
from app.security.least_privilege_view import ProofRun, plan_view, proof_view, start_proof
from app.security.security_view import checks_frame, role_details, simulation_view
from app.settings import current_settings
from app.widgets.jobs import live
from services.core.errors import ServiceError
from services.security.isolation import IsolationService
from services.security.least_privilege import POLICY_NAME, LeastPrivilegeService, Plan
from services.security.least_privilege_proof import LeastPrivilegeProof
from services.security.policy_audit import audit_role
from services.security.roles import RoleDetail, RoleService

caller = operators_only("Security")

settings = current_settings()
roles_service = RoleService(settings)
least = LeastPrivilegeService(settings)
prover = LeastPrivilegeProof(settings)
_ROLES, _PLAN = "security_roles", "security_plan"
_APPLIED, _PROOF, _CHANNEL = "security_applied", "security_proof", "lp_channel"
_SIMULATED = "security_simulated"  # the simulator's checks of the plan on show


def roles(*, fresh: bool = False) -> list[RoleDetail]:
    """The account's roles, read once per visit and again after every change."""
    cached = st.session_state.get(_ROLES)
    if fresh or cached is None or cached[0] != settings:
        st.session_state[_ROLES] = (settings, roles_service.roles())
    return st.session_state[_ROLES][1]


def changed(message: str) -> None:
    """After a change: re-read the account and say what was done on the next run."""
    st.session_state.pop(_ROLES, None)
    st.session_state["security_note"] = message
    st.rerun()


st.title("Security")
if note := st.session_state.pop("security_note", None):
    st.success(note)
top = st.columns([6, 1])
top[0].caption("Roles, what they allow, and least privilege. Changes re-read the account.")
if top[1].button("Refresh", key="security_refresh"):
    st.session_state.pop(_ROLES, None)
try:
    all_roles = roles()
except ServiceError as exc:
    st.error(exc.message)
    st.stop()

# A radio, not tabs: the chosen view survives the reruns its buttons cause.
VIEWS = ["Roles", "Least privilege", "Simulate", "Network isolation", "Manage roles"]
view = st.radio("View", VIEWS, horizontal=True, key="security_view", label_visibility="collapsed")

if view == "Roles":
    for role in all_roles:
        findings = audit_role(role)
        worst = f" · {findings[0].severity}" if findings else ""
        with st.expander(f"{role.name} — {len(findings)} finding(s){worst}"):
            role_details(role, findings)

elif view == "Least privilege":
    functions = sorted({u.name for r in all_roles for u in r.used_by if u.kind == "function"})
    sagemaker_roles = [r.name for r in all_roles if any(u.kind == "model" for u in r.used_by)]
    kind = st.radio("Role", ["Lambda function's role", "SageMaker execution role"], horizontal=True, key="lp_kind")
    if kind == "Lambda function's role":
        target = st.selectbox("Function", functions, key="lp_function")
    else:
        target = st.selectbox("SageMaker execution role", sagemaker_roles, key="lp_role")
    if st.button("Generate least-privilege policy", key="lp_generate", disabled=target is None):
        try:
            plan = least.for_function(target) if kind.startswith("Lambda") else least.for_sagemaker_role(target)
            st.session_state[_PLAN] = plan
            st.session_state.pop(_CHANNEL, None)
            st.session_state.pop(_SIMULATED, None)
        except ServiceError as exc:
            st.error(exc.message)
    plan: Plan | None = st.session_state.get(_PLAN)
    if plan is not None:
        plan_view(plan)
        if st.button(f"Apply to {plan.role.name}", key="lp_apply", type="primary"):
            try:
                st.session_state[_APPLIED] = (plan.role.name, least.apply(caller, plan))
                st.session_state.pop(_SIMULATED, None)  # decided on the policies before
                changed(f"Applied {POLICY_NAME} to {plan.role.name}")
            except ServiceError as exc:
                st.error(exc.message)
        st.subheader("Prove it")
        st.caption(
            "Real work as the role after Apply: a new training job with new code trains, its model deploys and "
            "classifies a photo, a job reading another bucket is refused; or the function classifies and a call to "
            "an endpoint outside the plan is refused. A policy that is too tight fails a step."
        )
        applied = st.session_state.get(_APPLIED)
        applied_at = applied[1] if applied and applied[0] == plan.role.name else None
        data_uri = None
        if plan.target is None or plan.target[0] == "endpoint":
            if _CHANNEL not in st.session_state:
                try:
                    st.session_state[_CHANNEL] = prover.default_channel(plan) or ""
                except ServiceError as exc:
                    st.error(exc.message)
            data_uri = st.text_input("Data channel for the proof's training job", key=_CHANNEL) or None
        photo = st.file_uploader("A real photo to classify", type=["jpg", "jpeg", "png"], key="lp_photo")
        run: ProofRun | None = st.session_state.get(_PROOF)
        busy = run is not None and run.running
        if st.button("Prove by real work", key="lp_prove", disabled=photo is None or busy):
            st.session_state[_PROOF] = start_proof(prover, plan, photo.getvalue(), applied_at, data_uri)
        if applied_at is None:
            st.caption("Not applied in this session: the proof tests the role's policies as they are now.")
        if st.session_state.get(_PROOF) is not None:
            live("lp_proof", lambda: proof_view(st.session_state[_PROOF]))
        st.markdown("**IAM's simulator** (a quick check, not a proof)")
        st.caption("What the role needs must be allowed, dangerous requests denied, as IAM's simulator decides.")
        if st.button("Verify by simulation", key="lp_simulate"):
            try:
                st.session_state[_SIMULATED] = least.verify_by_simulation(plan)
            except ServiceError as exc:
                st.error(exc.message)
        if (simulated := st.session_state.get(_SIMULATED)) is not None:
            failed = [c for c in simulated if not c.ok]
            (st.error if failed else st.success)(
                f"{len(simulated) - len(failed)} of {len(simulated)} simulated requests decided as expected."
            )
            st.dataframe(checks_frame(simulated), hide_index=True, width="stretch")

elif view == "Simulate":
    names = [r.name for r in all_roles]
    chosen = st.selectbox("Role", names, key="sim_role")
    action = st.text_input("Action", value="sagemaker:InvokeEndpoint", key="sim_action")
    resource = st.text_input("Resource ARN", value="*", key="sim_resource")
    if st.button("Simulate", key="sim_run") and chosen:
        try:
            simulation_view(roles_service.simulate(next(r for r in all_roles if r.name == chosen), action, resource))
        except ServiceError as exc:
            st.error(exc.message)

elif view == "Network isolation":
    st.caption("Training jobs and models whose containers can reach the network (EnableNetworkIsolation).")
    try:
        isolation_view(IsolationService(settings).report())
    except ServiceError as exc:
        st.error(exc.message)

else:
    st.markdown("**Create a role**")
    new_name = st.text_input("Role name", key="mg_new_name")
    service = st.selectbox("Trusted service", ["lambda.amazonaws.com", "sagemaker.amazonaws.com"], key="mg_new_service")
    if st.button("Create role", key="mg_create"):
        try:
            changed(f"Created {roles_service.create_role(caller, new_name.strip(), service)}")
        except ServiceError as exc:
            st.error(exc.message)
    st.divider()
    role_name = st.selectbox("Role to change", [r.name for r in all_roles], key="mg_role")
    st.markdown("**Put an inline policy**")
    policy_name = st.text_input("Policy name", key="mg_policy_name")
    example = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "", "Resource": ""}]}
    document = st.text_area("Policy document (JSON)", value=json.dumps(example, indent=2), key="mg_document")
    if st.button("Put policy", key="mg_put"):
        try:
            roles_service.put_inline_policy(caller, role_name, policy_name.strip(), document)
            changed(f"Put {policy_name} on {role_name}")
        except ServiceError as exc:
            st.error(exc.message)
    st.markdown("**Attach a managed policy**")
    policy_arn = st.text_input("Policy ARN", placeholder="arn:aws:iam::aws:policy/…", key="mg_arn")
    if st.button("Attach", key="mg_attach"):
        try:
            roles_service.attach(caller, role_name, policy_arn)
            changed(f"Attached {policy_arn} to {role_name}")
        except ServiceError as exc:
            st.error(exc.message)
    st.markdown("**Delete the role**")
    if st.button(f"Delete {role_name}", key="mg_delete"):
        try:
            roles_service.delete_role(caller, role_name)
            changed(f"Deleted {role_name}")
        except ServiceError as exc:
            st.error(exc.message)
