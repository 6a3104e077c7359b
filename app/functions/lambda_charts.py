"""Charts of a Lambda function's CloudWatch metrics: calls, errors and throttles; concurrency; duration
percentiles; cold starts with their init duration; provisioned utilisation and spillover."""

from __future__ import annotations

from datetime import timedelta

import plotly.graph_objects as go
import streamlit as st

from app.widgets.charts import RIGHT_AXIS, TIME_FORMAT, period_bars, time_axis
from services.functions.invocation_metrics import FunctionMetrics, LambdaMetricsService, Series

HEIGHT_PX = 260


def _line(series: Series, *, bars: bool = False) -> go.Scatter | go.Bar:
    """Times as dates (a time axis, not one category per formatted string), hovered in the dashboard's form."""
    hover = f"{series.label}<br>%{{x|{TIME_FORMAT}}}: %{{y:,.4g}} {series.unit}<extra></extra>"
    if bars:
        return go.Bar(x=series.timestamps, y=series.values, name=series.label, hovertemplate=hover)
    return go.Scatter(
        x=series.timestamps, y=series.values, mode="lines+markers", name=series.label, hovertemplate=hover
    )


def _figure(traces: list, title: str, y_title: str, period_s: int) -> go.Figure:
    """A time chart of the window, bars filling their period: a lone period is shown with a period either side."""
    figure = go.Figure(traces)
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=HEIGHT_PX,
        margin={"t": 40, "b": 30, "l": 50, "r": 10},
        legend={"orientation": "h", "y": -0.25},
        barmode="group",
    )
    figure.update_yaxes(title_text=y_title, rangemode="tozero")
    time_axis(figure, [t for trace in traces for t in trace.x], timedelta(seconds=period_s))
    period_bars(figure, timedelta(seconds=period_s))
    return figure


def metric_charts(metrics: FunctionMetrics) -> list[tuple[str, go.Figure]]:
    """(title, figure) for each view that has data; none for a function that has done nothing in the window."""
    s, period = metrics.series, metrics.period_s
    charts = []
    calls = [_line(s[k], bars=True) for k in ("invocations", "errors", "throttles") if s[k].values]
    if calls:
        charts.append(("Calls", _figure(calls, "Invocations, errors and throttles", "calls per period", period)))
    if s["concurrent"].values:
        concurrent = _figure([_line(s["concurrent"])], "Concurrent executions (max)", "executions", period)
        charts.append(("Concurrency", concurrent))
    durations = [_line(s[k]) for k in ("duration_p50", "duration_p99") if s[k].values]
    if durations:
        charts.append(("Duration", _figure(durations, "Duration p50 and p99", "ms", period)))
    if metrics.cold_starts:
        cold = go.Scatter(
            x=[c.at for c in metrics.cold_starts],
            y=[c.init_ms for c in metrics.cold_starts],
            mode="markers",
            name="Init duration",
            hovertemplate=f"cold start %{{x|{TIME_FORMAT}}}<br>init %{{y:.0f}} ms<extra></extra>",
        )
        title = f"Cold starts: {len(metrics.cold_starts)}"
        charts.append(("Cold starts", _figure([cold], title, "init duration (ms)", period)))
    provisioned = [_line(s[k], bars=True) for k in ("provisioned_invocations", "spillover") if s[k].values]
    if s["provisioned_utilization"].values:
        utilisation = _line(s["provisioned_utilization"])
        utilisation.update(yaxis="y2")
        provisioned.append(utilisation)
    if provisioned:
        title = "Provisioned: calls served or spilled over, utilisation"
        figure = _figure(provisioned, title, "calls per period", period)
        figure.update_layout(yaxis2={**RIGHT_AXIS, "range": [0, 1.05], "tickformat": ".0%"})
        charts.append(("Provisioned", figure))
    return charts


def metrics_view(service: LambdaMetricsService, function: str, qualifiers: list[str]) -> None:
    """Totals over the window first, then the charts, two to a row."""
    controls = st.columns(3)
    scope = controls[0].selectbox("Version or alias", ["all", *qualifiers], key="lambda_metrics_scope")
    minutes = controls[1].selectbox(
        "Window", [15, 60, 180, 1440], index=1, format_func=lambda m: f"{m} min", key="lambda_metrics_window"
    )
    period = controls[2].selectbox("Period", [60, 300], format_func=lambda s: f"{s // 60} min", key="lambda_period")
    metrics = service.metrics(function, None if scope == "all" else scope, minutes=minutes, period_s=period)
    totals = st.columns(4)
    totals[0].metric("Invocations", f"{metrics.total('invocations'):.0f}")
    totals[1].metric("Errors", f"{metrics.total('errors'):.0f}")
    totals[2].metric("Throttles", f"{metrics.total('throttles'):.0f}")
    totals[3].metric("Cold starts", len(metrics.cold_starts))
    if metrics.cold_start_note:
        st.caption(metrics.cold_start_note)
    charts = metric_charts(metrics)
    if not charts:
        st.caption("No calls in this window.")
    for pair in (charts[i : i + 2] for i in range(0, len(charts), 2)):
        for column, (_title, figure) in zip(st.columns(2), pair, strict=False):
            column.plotly_chart(figure)
