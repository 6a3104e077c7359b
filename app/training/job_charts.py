"""Training curves: one job's loss and accuracy (train against validation), and several jobs overlaid for
the compare view. One point per epoch: the training script logs one metric line per epoch, so the n-th
value of a metric is epoch n."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.colors import qualitative

from app.widgets.charts import LEGEND_ROW_PX, TOOLBAR_PX
from app.widgets.formatting import timestamp
from services.training.curves import Series

CURVES = {
    "loss": ("train:loss", "validation:loss"),
    "accuracy": ("train:accuracy", "validation:accuracy"),
}
COLOURS = qualitative.T10
"""Tableau's ten: a job keeps its colour across the loss and the accuracy chart."""
DASH = {"train": "solid", "validation": "dash"}
HEIGHT_PX = 260
"""The plot's height; the legend sits above it, a row per curve at worst (job names are long), under the band
kept for the toolbars."""


def _trace(series: Series, name: str, label: str, colour: str, job: str | None = None) -> go.Scatter | None:
    """One metric's curve, dashed for validation; None where the metric has no points yet."""
    points = series.get(name, [])
    if not points:
        return None
    times = [timestamp(point.timestamp) for point in points]
    hover = f"{job} · {name}" if job else name
    hover += "<br>epoch %{x}: %{y:.4f}" + ("<br>%{customdata}" if any(times) else "") + "<extra></extra>"
    return go.Scatter(
        x=list(range(1, len(points) + 1)),
        y=[point.value for point in points],
        mode="lines+markers",
        name=label,
        legendgroup=job,
        line={"color": colour, "dash": DASH[name.split(":")[0]]},
        customdata=times,
        hovertemplate=hover,
    )


def _figure(traces: list[go.Scatter], title: str) -> go.Figure:
    """Epochs on x as whole numbers (a tick every n epochs, so a long run's axis stays readable)."""
    epochs = max(len(trace.x) for trace in traces)
    figure = go.Figure(traces)
    figure.update_xaxes(title_text="epoch", tick0=1, dtick=max(1, math.ceil(epochs / 10)), tickformat="d")
    figure.update_yaxes(title_text=title)
    figure.update_layout(
        height=HEIGHT_PX + TOOLBAR_PX + LEGEND_ROW_PX * len(traces),
        margin={"t": TOOLBAR_PX + LEGEND_ROW_PX * len(traces)},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return figure


def metric_charts(series: Series) -> list[tuple[str, go.Figure]]:
    """Loss and accuracy of one job, train against validation; only the charts that have points."""
    charts: list[tuple[str, go.Figure]] = []
    for title, names in CURVES.items():
        traces = [_trace(series, name, name, COLOURS[i]) for i, name in enumerate(names)]
        drawn = [trace for trace in traces if trace is not None]
        if drawn:
            charts.append((title, _figure(drawn, title)))
    return charts


def compare_charts(series_by_job: dict[str, Series]) -> list[tuple[str, go.Figure]]:
    """Loss and accuracy of several jobs overlaid: a colour per job, solid for train, dashed for validation."""
    charts: list[tuple[str, go.Figure]] = []
    for title, names in CURVES.items():
        traces = [
            _trace(series, name, f"{job} · {name.split(':')[0]}", COLOURS[i % len(COLOURS)], job)
            for i, (job, series) in enumerate(series_by_job.items())
            for name in names
        ]
        drawn = [trace for trace in traces if trace is not None]
        if drawn:
            charts.append((title, _figure(drawn, title)))
    return charts
