"""The Train page's job list: filters, paging, a Refresh button, details per job (duration, instances, final
objective metrics, notional cost), and row selection that opens one job or compares several, in this
session (st.switch_page), so the sidebar's settings stay."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.widgets.formatting import MISSING
from app.widgets.formatting import timestamp as when
from app.widgets.jobs import duration, live, usd
from services.core.errors import ServiceError
from services.core.pricing import COST_NOTE
from services.training.job_records import STATUSES, JobSummary, TrainingJob
from services.training.sagemaker_training import SORT_KEYS, TrainingService

OBJECTIVE_PREFIXES = ("validation:", "test:")
"""Final metrics that judge the model (the ones a tuning job would optimise), shown as columns."""


def jobs_frame(summaries: list[JobSummary], details: dict[str, TrainingJob], now: datetime) -> pd.DataFrame:
    """One row per job; the detail columns stay empty for a job that could not be described."""
    metrics = sorted(
        {m for job in details.values() for m in job.final_metrics if m.startswith(OBJECTIVE_PREFIXES)},
        key=lambda m: (not m.startswith("validation:"), m),
    )
    rows = []
    for summary in summaries:
        job = details.get(summary.name)
        row: dict[str, object] = {
            "job": summary.name,
            "status": summary.status,
            "stage": summary.secondary_status or "",
            "created": when(summary.created),
            "duration": duration(job.duration_s(now)) if job else "",
            "instances": f"{job.instance_count} × {job.instance_type}" if job else "",
        }
        row.update({m: job.final_metrics.get(m) if job else None for m in metrics})
        row["cost"] = usd(job.notional_cost(now)) if job else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _details(service: TrainingService, names: list[str]) -> dict[str, TrainingJob]:
    """Describe the page's jobs; ended ones are kept for the session (they no longer change)."""
    kept: dict[str, TrainingJob] = st.session_state.setdefault("jobs_ended_details", {})
    jobs, errors = service.describe_many([n for n in names if n not in kept])
    kept.update({name: job for name, job in jobs.items() if job.ended})
    if errors:
        st.caption(f"{len(errors)} jobs could not be described: {next(iter(errors.values()))}")
    return {**{n: kept[n] for n in names if n in kept}, **jobs}


def job_list(service: TrainingService, *, arrived: bool) -> None:
    """The Jobs tab. `arrived`: the visitor just came to this page, so the list starts again from page one."""
    status_col, name_col, sort_col, order_col, size_col = st.columns([2, 3, 2, 2, 1])
    status = status_col.selectbox("Status", ["Any", *STATUSES], key="jobs_status")
    name_filter = name_col.text_input("Name contains", key="jobs_name").strip()
    sort_by = sort_col.selectbox("Sort by", SORT_KEYS, key="jobs_sort")
    order = order_col.selectbox("Order", ["Descending", "Ascending"], key="jobs_order")
    page_size = size_col.selectbox("Per page", [25, 50, 100], index=1, key="jobs_page_size")
    query = (status, name_filter, sort_by, order, page_size)
    if arrived or st.session_state.get("jobs_query") != query:  # new filters or a new visit: first page
        st.session_state["jobs_query"] = query
        st.session_state["jobs_tokens"] = [None]
    tokens: list[str | None] = st.session_state["jobs_tokens"]

    def body() -> bool:
        try:
            page = service.list_jobs(
                status=None if status == "Any" else status,
                name_contains=name_filter or None,
                sort_by=sort_by,
                sort_order=order,
                next_token=tokens[-1],
                max_results=page_size,
            )
        except ServiceError as exc:
            st.error(exc.message)
            return False
        names = [job.name for job in page.jobs]
        st.session_state["jobs_names"] = names
        st.session_state["jobs_next"] = page.next_token
        now = datetime.now(UTC)
        if page.jobs:
            frame = jobs_frame(page.jobs, _details(service, names), now)
            selection = st.dataframe(
                frame,
                hide_index=True,
                width="stretch",
                key="jobs_table",
                on_select="rerun",
                selection_mode="multi-row",
                column_config={m: st.column_config.NumberColumn(m, format="%.4f") for m in frame.columns if ":" in m},
                placeholder=MISSING,
            )
            chosen = [names[i] for i in selection.selection.rows if i < len(names)]
            _actions(chosen)
        else:
            st.caption("No training jobs match." if len(tokens) == 1 else "No more jobs.")
        running = sum(job.status in {"InProgress", "Stopping"} for job in page.jobs)
        st.caption(
            f"Page {len(tokens)} · {len(page.jobs)} jobs · updated {when(now)}"
            + (f" · {running} running, refreshing every 3 s" if running else "")
            + f". {COST_NOTE}"
        )
        return page.any_running

    live("jobs", body, every="3s")
    refresh, previous, following, _ = st.columns([1, 1, 1, 5])
    if refresh.button("Refresh", key="jobs_refresh", icon=":material/refresh:"):
        st.rerun()
    if previous.button("← Previous", key="jobs_previous", disabled=len(tokens) == 1):
        tokens.pop()
        st.rerun()
    if following.button("Next →", key="jobs_next_page", disabled=not st.session_state.get("jobs_next")):
        tokens.append(st.session_state["jobs_next"])
        st.rerun()


def _actions(chosen: list[str]) -> None:
    """Open the one selected job, or compare the selected ones, in this session."""
    if not chosen:
        st.caption("Select a job's row to open it, or two or more to compare them.")
        return
    if len(chosen) == 1:
        if st.button(f"Open {chosen[0]}", key="jobs_open", type="primary"):
            st.switch_page("app_pages/job.py", query_params={"job": chosen[0]})
        return
    if st.button(f"Compare {len(chosen)} jobs", key="jobs_compare", type="primary"):
        st.switch_page("app_pages/compare.py", query_params={"jobs": ",".join(chosen)})
