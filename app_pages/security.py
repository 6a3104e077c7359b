"""Security: the account's roles with their policies and audit, least-privilege policies for the
function's and SageMaker's roles (generated with their evidence, applied, proven by real work as the role),
CloudTrail's event history, and IAM's simulator for any request."""

from __future__ import annotations

import json

import streamlit as st

from app.auth import operators_only
from app.security.event_history_view import event_history_view
from app.security.isolation_view import isolation_view
from app.security.least_privilege_panel import least_privilege_panel
from app.security.security_view import role_details, simulation_view
from app.settings import current_settings
from services.core.errors import ServiceError
from services.security.event_history import EventHistoryService
from services.security.isolation import IsolationService
from services.security.least_privilege import LeastPrivilegeService
from services.security.least_privilege_proof import LeastPrivilegeProof
from services.security.policy_audit import audit_role
from services.security.roles import RoleDetail, RoleService

caller = operators_only("Security")

settings = current_settings()
roles_service = RoleService(settings)
_ROLES = "security_roles"


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
if top[1].button("Refresh", key="security_refresh", icon=":material/refresh:"):
    st.session_state.pop(_ROLES, None)
try:
    all_roles = roles()
except ServiceError as exc:
    st.error(exc.message)
    st.stop()

# A radio, not tabs: the chosen view survives the reruns its buttons cause.
VIEWS = ["Roles", "Least privilege", "Event history", "Simulate", "Network isolation", "Manage roles"]
view = st.radio("View", VIEWS, horizontal=True, key="security_view", label_visibility="collapsed")

if view == "Roles":
    for role in all_roles:
        findings = audit_role(role)
        worst = f" · {findings[0].severity}" if findings else ""
        with st.expander(f"{role.name} — {len(findings)} finding(s){worst}"):
            role_details(role, findings)

elif view == "Least privilege":
    least_privilege_panel(caller, all_roles, LeastPrivilegeService(settings), LeastPrivilegeProof(settings), changed)

elif view == "Event history":
    event_history_view(EventHistoryService(settings))

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
