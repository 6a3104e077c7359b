"""Kept evaluations as a table, and one evaluation live: its transform's progress while it runs (the page reads
the answers that landed since its last look every few seconds, and stops once the job ends), then its results."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.evaluation.results_view import results_view
from app.widgets.formatting import MISSING, percent
from app.widgets.jobs import live
from services.core.errors import ServiceError
from services.evaluation.evaluation_records import EvaluationRecord
from services.evaluation.evaluations import EvaluationService, Tracker


def utc(iso: str) -> str:
    """A kept ISO time as every time on the dashboard reads: `2026-12-07 10:52:19 UTC`."""
    return iso.replace("T", " ").replace("+00:00", " UTC")


def evaluation_table(evaluations: list[EvaluationRecord], key: str) -> str | None:
    """The evaluations, newest first; the name of the one whose row is selected."""
    frame = pd.DataFrame(
        {
            "Evaluation": [r.name for r in evaluations],
            "Model": [f"{r.model_kind} {r.model_origin}" for r in evaluations],
            # What an operator scans for first, before the long S3 URI that would push it out of view.
            "Status": [r.status for r in evaluations],
            "Top-1": [percent(r.top1) if r.top1 is not None else MISSING for r in evaluations],
            "Top-5": [percent(r.top5) if r.top5 is not None else MISSING for r in evaluations],
            "Photos": [r.photos for r in evaluations],
            "Created": [utc(r.created) for r in evaluations],
            "Set": [r.set_uri for r in evaluations],
        }
    )
    selection = st.dataframe(
        frame, hide_index=True, width="stretch", key=key, on_select="rerun", selection_mode="single-row"
    )
    rows = selection.selection.rows if selection else []
    return evaluations[rows[0]].name if rows and rows[0] < len(evaluations) else None


def status_line(tracker: Tracker) -> None:
    record = tracker.record
    done = len(tracker.results)
    if record.ended:
        st.caption(
            f"{record.status}: {record.scored} of {record.photos} photos answered · transform output "
            f"{record.output_uri}"
        )
    else:
        st.progress(done / max(1, record.photos), text=f"{record.status}: {done} of {record.photos} photos answered")
    if record.failure_reason:
        st.error(f"The batch transform failed: {record.failure_reason}")
    if tracker.problems:
        with st.expander(f"{len(tracker.problems)} answer(s) could not be read"):
            for photo, problem in sorted(tracker.problems.items())[:50]:
                st.caption(f"`{photo}`: {problem}")


def evaluation_view(service: EvaluationService, name: str) -> EvaluationRecord | None:
    """Draw evaluation `name`; returns its record (None when it cannot be read)."""
    key = f"evaluation_{name}"

    def body() -> bool:
        try:
            tracker: Tracker = st.session_state.get(key) or service.track(service.record(name))
            was_running = not tracker.record.ended
            tracker = service.refresh(tracker)
        except ServiceError as exc:
            st.error(exc.message)
            return False
        st.session_state[key] = tracker
        if was_running and tracker.record.ended:
            st.rerun()  # the list above was drawn from the record as it was: read it again, now it is kept
        record = tracker.record
        st.markdown(
            f"**{record.model_kind} {record.model_origin}** (model `{record.model_name}`) on `{record.set_uri}`, "
            f"{record.photos} photos of {record.classes} breeds, started {utc(record.created)}"
        )
        status_line(tracker)
        results = sorted(tracker.results.values(), key=lambda r: r.key)
        if results:
            results_view(results, record, key)
        elif record.ended:
            st.warning("The transform answered no photo, so there is nothing to score.")
        else:
            st.caption("Waiting for the first answers…")
        return not record.ended

    live(key, body, every="3s")
    tracker = st.session_state.get(key)
    if tracker is None:
        return None
    if not tracker.record.ended and st.button("Stop the transform", key=f"{key}_stop", icon=":material/stop:"):
        try:
            service.stop(name)
        except ServiceError as exc:
            st.error(exc.message)
        else:
            st.rerun()
    return tracker.record
