"""Training curves: one job's loss and accuracy (train against validation), and several jobs overlaid for
the compare view. One point per epoch: the training script logs one metric line per epoch, so the n-th
value of a metric is epoch n."""

from __future__ import annotations

import altair as alt
import pandas as pd

from services.training_metrics import Series

CURVES = {
    "loss": ("train:loss", "validation:loss"),
    "accuracy": ("train:accuracy", "validation:accuracy"),
}


def _rows(series: Series, names: tuple[str, ...], job: str | None = None) -> list[dict[str, object]]:
    return [
        {
            "epoch": epoch,
            "metric": name,
            "split": name.split(":")[0],
            "job": job or "",
            "value": point.value,
            "time": point.timestamp.isoformat() if point.timestamp else "",
        }
        for name in names
        for epoch, point in enumerate(series.get(name, []), start=1)
    ]


def _line(rows: list[dict[str, object]], title: str, color: str, dash: str | None) -> alt.Chart:
    encoding = {
        "x": alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d"), title="epoch"),
        "y": alt.Y("value:Q", title=title),
        "color": alt.Color(f"{color}:N", title=None),
        "tooltip": ["job:N", "metric:N", "epoch:Q", alt.Tooltip("value:Q", format=".4f"), "time:N"],
    }
    if dash:
        encoding["strokeDash"] = alt.StrokeDash(f"{dash}:N", title=None)
    return alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(**encoding).properties(height=260)


def metric_charts(series: Series) -> list[tuple[str, alt.Chart]]:
    """Loss and accuracy of one job, train against validation; only the charts that have points."""
    charts: list[tuple[str, alt.Chart]] = []
    for title, names in CURVES.items():
        rows = _rows(series, names)
        if rows:
            charts.append((title, _line(rows, title, "metric", None)))
    return charts


def compare_charts(series_by_job: dict[str, Series]) -> list[tuple[str, alt.Chart]]:
    """Loss and accuracy of several jobs overlaid: a colour per job, solid for train, dashed for validation."""
    charts: list[tuple[str, alt.Chart]] = []
    for title, names in CURVES.items():
        rows = [row for job, series in series_by_job.items() for row in _rows(series, names, job)]
        if rows:
            charts.append((title, _line(rows, title, "job", "split")))
    return charts
