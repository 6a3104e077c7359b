"""How the Security page shows roles, findings, plans and checks (no cloud calls here)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from services.security.least_privilege import Check
from services.security.policy_audit import Finding
from services.security.roles import RoleDetail, Simulation

_DECISIONS = {
    "allowed": ":material/check_circle: allowed",
    "explicitDeny": ":material/block: denied by an explicit Deny",
    "implicitDeny": ":material/block: denied: no policy allows it",
}
# Markdown only: Material icons draw where no emoji font is installed; table cells take plain words.
_SEVERITY_ICON = {
    "critical": ":red[:material/report:]",
    "high": ":orange[:material/warning:]",
    "medium": ":orange[:material/error:]",
    "low": ":gray[:material/info:]",
}
_CHAR_PX, _PADDING_PX, _LINE_PX, _MOST_LINES = 7.5, 20, 21, 8  # a cell's text and rows, as the grid draws them


def wrapped(frame: pd.DataFrame, widths: dict[str, int]) -> dict[str, Any]:
    """`st.dataframe` arguments that show the long-text columns of `widths` whole: that wide (px), and rows
    tall enough to wrap their longest text (Streamlit wraps cell text only in rows taller than 64 px)."""
    lines = max(
        (
            -(-len(str(value)) * _CHAR_PX // (width - _PADDING_PX))
            for column, width in widths.items()
            for value in frame[column]
        ),
        default=1,
    )
    lines = int(min(_MOST_LINES, lines))
    config = {column: st.column_config.TextColumn(width=width) for column, width in widths.items()}
    return {"column_config": config, "row_height": max(72, lines * _LINE_PX + 12) if lines > 1 else None}


def used_by(role: RoleDetail) -> str:
    """`function dog-breed-predict (calls dog-breed-classifier), model ...`, or that nothing uses it."""
    if not role.used_by:
        return "no function or model"
    return ", ".join(f"{u.kind} {u.name}" + (f" (calls {u.endpoint})" if u.endpoint else "") for u in role.used_by)


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table: severity, the finding's code and who judged it (parliament or the dashboard)."""
    return pd.DataFrame(
        [
            {
                "severity": f.severity,
                "finding": f.kind,
                "why": f.message,
                "code": f.code,
                "by": f.source,
                "policy": f.policy,
            }
            for f in findings
        ],  # fmt: skip
        columns=["severity", "finding", "why", "code", "by", "policy"],
    )


def document_with_findings(title: str, document: dict, findings: list[Finding]) -> None:
    """A policy document (folded) with its findings under it, the whole width: why each matters, read whole."""
    st.markdown(title)
    st.json(document, expanded=False)
    if findings:
        frame = findings_frame(findings).drop(columns=["policy"])
        st.dataframe(frame, hide_index=True, width="stretch", **wrapped(frame, {"why": 420}))
    else:
        st.caption("No findings (parliament and the dashboard's checks).")


def role_details(role: RoleDetail, findings: list[Finding]) -> None:
    """One role: who uses it, its audit, its trust policy and every policy document beside its findings."""
    st.caption(f"`{role.arn}` · used by {used_by(role)}")
    if findings:
        worst = findings[0].severity
        st.markdown(f"**Audit:** {len(findings)} finding(s), worst {_SEVERITY_ICON[worst]} {worst}")
    else:
        st.markdown("**Audit:** no findings")
    st.markdown("**Trust policy** (who may assume it)")
    st.json(role.trust, expanded=False)
    for policy in role.policies:
        where = f" `{policy.arn}`" if policy.arn else ""
        own = [f for f in findings if f.policy == policy.name]
        document_with_findings(f"**{policy.kind} policy {policy.name}**{where}", policy.document, own)


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "check": "✓ as expected" if c.ok else "✗ not as expected",
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
    types = dict(result.source_types)
    for policy, statement in result.statements:
        kind = f" ({types[policy]})" if types.get(policy) else ""
        st.markdown(f"Decided by a statement of **{policy}**{kind}:")
        st.json(statement)
    if result.missing_context:
        keys = ", ".join(result.missing_context)
        st.caption(f"Simulated without these context keys, which the policies read: {keys}")
