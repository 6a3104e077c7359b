"""How the Security page shows a least-privilege plan (statements with their evidence, the document beside
parliament's findings, the diff) and its proof by real work, which runs in a thread of its own so the page
stays responsive while a training job runs (no cloud calls here)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from app.security.security_view import document_with_findings, wrapped
from services.core.errors import ServiceError
from services.security.least_privilege import POLICY_NAME, Plan
from services.security.least_privilege_proof import LeastPrivilegeProof, Proof, ProofStep
from services.security.policy_audit import policy_findings

_OUTCOME_ICON = {"passed": "✓ passed", "failed": "✗ failed", "skipped": "– skipped"}  # table cells: plain glyphs
_SOURCE_ICON = {
    "CloudTrail": ":material/receipt_long:",
    "recent resources": ":material/inventory_2:",
    "dashboard layout": ":material/explore:",
}


def statements_frame(plan: Plan) -> pd.DataFrame:
    """One row a statement: what it allows, on what, and the evidence it came from."""
    rows = []
    for planned in plan.statements:
        statement = planned.statement
        resources = statement["Resource"]
        rows.append(
            {
                "statement": planned.sid,
                "actions": ", ".join(statement["Action"]),
                "resources": resources if isinstance(resources, str) else "\n".join(resources),
                "condition": ", ".join(
                    f"{key} {op} {values}"
                    for op, test in statement.get("Condition", {}).items()
                    for key, values in test.items()
                ),
                "evidence": " · ".join(f"{source}: {why}" for source, why in planned.evidence),
                "IAM definitions": " ".join(planned.problems) or "✓ actions, ARNs and keys exist",
            }
        )
    columns = ["statement", "evidence", "actions", "resources", "condition", "IAM definitions"]
    return pd.DataFrame(rows, columns=columns)


def plan_view(plan: Plan) -> None:
    """The plan: where its evidence came from, its statements, the document beside its findings, the diff."""
    st.markdown(f"**Proposed inline policy for `{plan.role.name}`**")
    st.caption(
        f"{plan.history} Evidence: {_SOURCE_ICON['CloudTrail']} CloudTrail events of the role, "
        f"{_SOURCE_ICON['recent resources']} its newest jobs, models, endpoints and functions, "
        f"{_SOURCE_ICON['dashboard layout']} where the Train, Data and Deploy pages put things."
    )
    frame = statements_frame(plan)
    st.dataframe(frame, hide_index=True, width="stretch", key="lp_statements", **wrapped(frame, {"evidence": 380}))
    if plan.refused:
        with st.expander(f"{len(plan.refused)} refused request(s) in the history, not granted"):
            st.dataframe(
                pd.DataFrame(
                    [{"action": a.action, "resource": ", ".join(a.resources), "at": a.at} for a in plan.refused]
                ),
                hide_index=True,
                width="stretch",
            )
    document_with_findings(
        f"**inline policy {POLICY_NAME}** (linted by parliament)",
        plan.document,
        policy_findings(plan.document, POLICY_NAME),
    )
    if plan.diff:
        st.markdown("**Against the role's policies now** (they all go; this one comes in)")
        st.code(plan.diff, language="diff")
    else:
        st.success(f"The role has this plan now: {POLICY_NAME} is its only policy.", icon=":material/verified:")


def proof_frame(steps: list[ProofStep]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "step": s.step,
                "what ran": s.ran,
                "outcome": _OUTCOME_ICON[s.outcome],
                "detail": s.detail,
                "seconds": s.seconds,
            }
            for s in steps
        ],
        columns=["step", "outcome", "detail", "what ran", "seconds"],
    )


@dataclass
class ProofRun:
    """A proof running in its own thread: the steps so far, then the proof or the error that stopped it."""

    role: str
    steps: list[ProofStep] = field(default_factory=list)
    proof: Proof | None = None
    error: str | None = None
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def start_proof(
    prover: LeastPrivilegeProof, plan: Plan, photo: bytes, applied_at: float | None, data_uri: str | None
) -> ProofRun:
    """Run the proof in a daemon thread; the page polls the returned run."""
    run = ProofRun(plan.role.name)

    def work() -> None:
        try:
            run.proof = prover.prove(plan, photo, applied_at=applied_at, data_uri=data_uri, progress=run.steps.append)
        except ServiceError as exc:
            run.error = exc.message

    run.thread = threading.Thread(target=work, name=f"least-privilege proof of {plan.role.name}", daemon=True)
    run.thread.start()
    return run


def proof_view(run: ProofRun) -> bool:
    """The run's steps under a status box; True while it still runs (the caller refreshes it)."""
    running = run.running
    if running:
        label, state = f"Proving {run.role} by real work… ({len(run.steps)} step(s) done)", "running"
    elif run.error or run.proof is None:
        label, state = f"The proof could not run: {run.error}", "error"
    elif run.proof.proven:
        since = run.proof.seconds_from_apply
        timing = f" {since:.0f} s after Apply" if since is not None else ""
        label, state = f"Proven{timing}: every step did what the plan says", "complete"
    else:
        label, state = "Not proven: a step did not do what the plan says", "error"
    with st.status(label, state=state, expanded=True):  # type: ignore[arg-type]
        if run.steps:
            frame = proof_frame(run.steps)
            shown = wrapped(frame, {"detail": 360, "what ran": 260})
            st.dataframe(frame, hide_index=True, width="stretch", key="lp_proof_steps", **shown)
        st.caption(
            "Every request is real and made as the role: SageMaker reads code and data and writes the model as the "
            "job's role, the endpoint reads its artifact as the model's role, the function calls as its own role. "
            "IAM's simulator stands in for none of these steps."
        )
    return running
