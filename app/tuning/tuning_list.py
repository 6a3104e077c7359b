"""The Tune page's list of tuning jobs: status, strategy, trial counters, best objective, created, duration;
filter, sort, refresh (itself while jobs run); a selected row opens the job's page in this session."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.widgets.formatting import MISSING
from app.widgets.formatting import timestamp as when
from app.widgets.jobs import duration, live
from services.core.errors import ServiceError
from services.tuning.tuner import LIST_SORT_KEYS, TuningService
from services.tuning.tuning_records import TUNING_STATUSES, TuningJob, TuningSummary


def tuning_frame(rows: list[TuningSummary], best: dict[str, TuningJob], now: datetime) -> pd.DataFrame:
    """One row per tuning job; `best` holds the described ones (for their best objective)."""
    out = []
    for job in rows:
        counters, objective = job.status_counters, job.objective_counters
        described = best.get(job.name)
        out.append(
            {
                "tuning job": job.name,
                "status": job.status,
                "strategy": job.strategy,
                "completed": counters.get("Completed", 0),
                "running": counters.get("InProgress", 0),
                "stopped": counters.get("Stopped", 0),
                "failed": counters.get("NonRetryableError", 0) + counters.get("RetryableError", 0),
                "objective failed": objective.get("Failed", 0),
                "best objective": described.best.objective if described and described.best else None,
                "objective": f"{described.objective_type} {described.objective_metric}" if described else "",
                "created": when(job.created),
                "duration": duration(job.duration_s(now)),
            }
        )
    return pd.DataFrame(out)


def _described(service: TuningService, names: list[str]) -> dict[str, TuningJob]:
    """DescribeHyperParameterTuningJob per listed job (the list has no best objective); ended ones are kept."""
    kept: dict[str, TuningJob] = st.session_state.setdefault("tunings_ended", {})
    out = {n: kept[n] for n in names if n in kept}
    for name in [n for n in names if n not in kept]:
        try:
            job = service.describe(name)
        except ServiceError:
            continue
        out[name] = job
        if job.ended:
            kept[name] = job
    return out


def tuning_list(service: TuningService, *, arrived: bool) -> None:
    """The Tuning jobs tab. `arrived`: a fresh visit starts again from the first page."""
    status_col, name_col, sort_col, order_col = st.columns([2, 3, 2, 2])
    status = status_col.selectbox("Status", ["Any", *TUNING_STATUSES], key="tunings_status")
    name_filter = name_col.text_input("Name contains", key="tunings_name").strip()
    sort_by = sort_col.selectbox("Sort by", LIST_SORT_KEYS, key="tunings_sort")
    order = order_col.selectbox("Order", ["Descending", "Ascending"], key="tunings_order")
    query = (status, name_filter, sort_by, order)
    if arrived or st.session_state.get("tunings_query") != query:
        st.session_state["tunings_query"] = query
        st.session_state["tunings_tokens"] = [None]
    tokens: list[str | None] = st.session_state["tunings_tokens"]

    def body() -> bool:
        try:
            page = service.list_jobs(
                status=None if status == "Any" else status,
                name_contains=name_filter or None,
                sort_by=sort_by,
                sort_order=order,
                next_token=tokens[-1],
                max_results=50,
            )
        except ServiceError as exc:
            st.error(exc.message)
            return False
        names = [job.name for job in page.jobs]
        st.session_state["tunings_names"] = names
        st.session_state["tunings_next"] = page.next_token
        now = datetime.now(UTC)
        if page.jobs:
            selection = st.dataframe(
                tuning_frame(page.jobs, _described(service, names), now),
                hide_index=True,
                width="stretch",
                key="tunings_table",
                on_select="rerun",
                selection_mode="single-row",
                column_config={"best objective": st.column_config.NumberColumn(format="%.4f")},
                placeholder=MISSING,
            )
            chosen = [names[i] for i in selection.selection.rows if i < len(names)]
            if chosen and st.button(f"Open {chosen[0]}", key="tunings_open", type="primary"):
                st.switch_page("app_pages/tuning_job.py", query_params={"tuning_job": chosen[0]})
            if not chosen:
                st.caption("Select a row to open that tuning job.")
        else:
            st.caption("No tuning jobs match." if len(tokens) == 1 else "No more tuning jobs.")
        running = sum(job.status in {"InProgress", "Stopping"} for job in page.jobs)
        st.caption(
            f"Page {len(tokens)} · {len(page.jobs)} tuning jobs · updated {when(now)}"
            + (f" · {running} running, refreshing every 3 s" if running else "")
        )
        return page.any_running

    live("tunings", body, every="3s")
    refresh, previous, following, _ = st.columns([1, 1, 1, 5])
    if refresh.button("Refresh", key="tunings_refresh", icon=":material/refresh:"):
        st.rerun()
    if previous.button("← Previous", key="tunings_previous", disabled=len(tokens) == 1):
        tokens.pop()
        st.rerun()
    if following.button("Next →", key="tunings_next_page", disabled=not st.session_state.get("tunings_next")):
        tokens.append(st.session_state["tunings_next"])
        st.rerun()
