"""How the Security page shows roles, findings, plans and checks (no cloud calls here)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from services.security.least_privilege import Check, Plan
from services.security.policy_audit import Finding
from services.security.roles import RoleDetail, Simulation

_DECISIONS = {
    "allowed": "✅ allowed",
    "explicitDeny": "⛔ denied by an explicit Deny",
    "implicitDeny": "⛔ denied: no policy allows it",
}
_SEVERITY_ICON = {"critical": "🟥", "high": "🟧", "medium": "🟨", "low": "⬜"}


def used_by(role: RoleDetail) -> str:
    """`function dog-breed-predict (calls dog-breed-classifier), model ...`, or that nothing uses it."""
    if not role.used_by:
        return "no function or model"
    return ", ".join(f"{u.kind} {u.name}" + (f" (calls {u.endpoint})" if u.endpoint else "") for u in role.used_by)


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "severity": f"{_SEVERITY_ICON[f.severity]} {f.severity}",
                "finding": f.kind,
                "policy": f.policy,
                "why": f.message,
            }
            for f in findings
        ],  # fmt: skip
        columns=["severity", "finding", "policy", "why"],
    )


def role_details(role: RoleDetail, findings: list[Finding]) -> None:
    """One role: who uses it, its audit, its trust policy and every policy document."""
    st.caption(f"`{role.arn}` · used by {used_by(role)}")
    if findings:
        worst = findings[0].severity
        st.markdown(f"**Audit:** {len(findings)} finding(s), worst {_SEVERITY_ICON[worst]} {worst}")
        st.dataframe(findings_frame(findings), hide_index=True, width="stretch")
    else:
        st.markdown("**Audit:** no findings")
    st.markdown("**Trust policy** (who may assume it)")
    st.json(role.trust, expanded=False)
    for policy in role.policies:
        where = f" `{policy.arn}`" if policy.arn else ""
        st.markdown(f"**{policy.kind} policy {policy.name}**{where}")
        st.json(policy.document, expanded=False)


def plan_view(plan: Plan) -> None:
    st.markdown(f"**Proposed inline policy for `{plan.role.name}`**")
    st.json(plan.document)
    st.markdown("**Against today's policies** (they all go; this one comes in)")
    st.code(plan.diff, language="diff")


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "check": "✅" if c.ok else "❌",
                "action": c.action,
                "resource": c.resource,
                "expected": "allowed" if c.expect_allowed else "denied",
                "IAM decided": c.decision,
            }
            for c in checks
        ],  # fmt: skip
        columns=["check", "action", "resource", "expected", "IAM decided"],
    )


def simulation_view(result: Simulation) -> None:
    text = _DECISIONS.get(result.decision, result.decision)
    (st.success if result.allowed else st.error)(f"{result.action} on {result.resource}: {text}")
    for policy, statement in result.statements:
        st.markdown(f"Decided by a statement of **{policy}**:")
        st.json(statement)
