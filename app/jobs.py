"""UI pieces for the Data, Train and Job pages: live refresh, job tables, metric curves, money and time."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from app.formatting import timestamp as when  # one timestamp form across the dashboard
from services.datasets import DatasetSummary
from services.training import JobPage, MetricPoint

_CURVES = {
    "loss": ("train:loss", "validation:loss"),
    "accuracy": ("train:accuracy", "validation:accuracy"),
}


def live(key: str, body: Callable[[], bool], *, every: str = "2s") -> None:
    """Run `body` in a fragment that re-runs every `every` while `body` returns True (something is still
    running), and not at all once it returns False.

    A fragment's timer is fixed when it is created, so a change of state triggers one full rerun that
    re-creates it with or without the timer.
    """
    state_key = f"live_{key}"
    running = st.session_state.get(state_key, False)

    @st.fragment(run_every=every if running else None)
    def fragment() -> None:
        still_running = body()
        if still_running != st.session_state.get(state_key, False):
            st.session_state[state_key] = still_running
            st.rerun()

    fragment()


def usd(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def duration(seconds: float | None) -> str:
    """`45 s`, `12 min 3 s`, `2 h 05 min`."""
    if seconds is None:
        return "n/a"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def jobs_frame(page: JobPage) -> pd.DataFrame:
    """One row per job; the `job` column links to the job page (`job?job=<name>`)."""
    return pd.DataFrame(
        {
            "job": [f"job?job={job.name}" for job in page.jobs],
            "status": [job.status for job in page.jobs],
            "stage": [job.secondary_status or "" for job in page.jobs],
            "created": [when(job.created) for job in page.jobs],
            "ended": [when(job.ended_at) for job in page.jobs],
        }
    )


def show_jobs(page: JobPage) -> None:
    st.dataframe(
        jobs_frame(page),
        hide_index=True,
        width="stretch",
        column_config={"job": st.column_config.LinkColumn("job", display_text=r"job\?job=(.*)")},
    )


def dataset_frame(summary: DatasetSummary) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "class": [c.name for c in summary.classes],
            "train": [c.train for c in summary.classes],
            "valid": [c.valid for c in summary.classes],
            "test": [c.test for c in summary.classes],
        }
    )


def metric_charts(series: dict[str, list[MetricPoint]]) -> list[tuple[str, alt.Chart]]:
    """Loss and accuracy curves, train against validation, one point per epoch (the training script logs
    one line per epoch, so the n-th value of a metric is epoch n)."""
    charts: list[tuple[str, alt.Chart]] = []
    for title, names in _CURVES.items():
        rows = [
            {"epoch": i, "metric": name, "value": point.value, "time": point.timestamp.isoformat()}
            for name in names
            for i, point in enumerate(series.get(name, []), start=1)
        ]
        if not rows:
            continue
        chart = (
            alt.Chart(pd.DataFrame(rows))
            .mark_line(point=True)
            .encode(
                x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d"), title="epoch"),
                y=alt.Y("value:Q", title=title),
                color=alt.Color("metric:N", title=None),
                tooltip=["metric:N", "epoch:Q", alt.Tooltip("value:Q", format=".4f"), "time:N"],
            )
            .properties(height=260)
        )
        charts.append((title, chart))
    return charts
